package edit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// tsQuote writes v as a single-quoted TypeScript string literal on one
// line that evaluates to exactly v. Besides \ and ', it escapes every
// character that is not printable (controls, line/paragraph separators,
// bidi overrides, odd spaces), so the source stays readable and one line.
func tsQuote(v string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range v {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '\'':
			b.WriteString(`\'`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			switch {
			case r < 0x20 || r == 0x7F:
				fmt.Fprintf(&b, `\x%02X`, r)
			case !unicode.IsPrint(r) || r == '\uFEFF' || r == unicode.ReplacementChar:
				if r <= 0xFFFF {
					fmt.Fprintf(&b, `\u%04X`, r)
				} else {
					fmt.Fprintf(&b, `\u{%X}`, r)
				}
			default:
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// tsUnquote evaluates a one-line single- or double-quoted JS/TS string
// literal (ES2015 escapes). It is used to compare the current value with
// the wanted one; a literal it cannot read is simply rewritten.
func tsUnquote(lit string) (string, error) {
	if len(lit) < 2 || lit[0] != lit[len(lit)-1] || (lit[0] != '\'' && lit[0] != '"') {
		return "", errors.New("not a quoted string")
	}
	q, s := lit[0], lit[1:len(lit)-1]
	var u []uint16 // JS strings are UTF-16: \uD83D\uDE00 is one character
	flush := func(r rune) { u = utf16.AppendRune(u, r) }
	for i := 0; i < len(s); {
		c := s[i]
		if c == q || c == '\n' || c == '\r' {
			return "", errors.New("unescaped quote or line break")
		}
		if c != '\\' {
			r, n := decodeRune(s[i:])
			flush(r)
			i += n
			continue
		}
		if i+1 >= len(s) {
			return "", errors.New("trailing backslash")
		}
		e := s[i+1]
		i += 2
		switch e {
		case 'n':
			flush('\n')
		case 'r':
			flush('\r')
		case 't':
			flush('\t')
		case 'b':
			flush('\b')
		case 'f':
			flush('\f')
		case 'v':
			flush('\v')
		case '0':
			if i < len(s) && s[i] >= '0' && s[i] <= '9' {
				return "", errors.New("octal escape")
			}
			flush(0)
		case 'x':
			if i+2 > len(s) {
				return "", errors.New("short \\x escape")
			}
			n, err := strconv.ParseUint(s[i:i+2], 16, 8)
			if err != nil {
				return "", err
			}
			flush(rune(n))
			i += 2
		case 'u':
			hex := ""
			if i < len(s) && s[i] == '{' {
				end := strings.IndexByte(s[i:], '}')
				if end < 0 {
					return "", errors.New("unclosed \\u{")
				}
				hex, i = s[i+1:i+end], i+end+1
			} else if i+4 <= len(s) {
				hex, i = s[i:i+4], i+4
			}
			n, err := strconv.ParseUint(hex, 16, 32)
			if err != nil || hex == "" || n > unicode.MaxRune {
				return "", fmt.Errorf("bad \\u escape %q", hex)
			}
			if n > 0xFFFF {
				flush(rune(n))
			} else {
				u = append(u, uint16(n))
			}
		default:
			if e >= '1' && e <= '9' {
				return "", errors.New("octal escape")
			}
			r, n := decodeRune(s[i-1:])
			flush(r)
			i += n - 1
		}
	}
	// Lone surrogates have no UTF-8 form: refuse rather than guess.
	for k := 0; k < len(u); k++ {
		if utf16.IsSurrogate(rune(u[k])) {
			if k+1 < len(u) && utf16.DecodeRune(rune(u[k]), rune(u[k+1])) != unicode.ReplacementChar {
				k++
				continue
			}
			return "", errors.New("lone surrogate")
		}
	}
	return string(utf16.Decode(u)), nil
}

func decodeRune(s string) (rune, int) { return utf8.DecodeRuneInString(s) }
