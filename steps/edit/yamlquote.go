package edit

import (
	"fmt"
	"strings"
	"unicode"
)

// yamlQuote writes v as a YAML flow scalar that reads back as exactly v, on
// one line. Single quotes (” escapes a quote) when every character is
// printable; otherwise double quotes with escapes, because a single-quoted
// scalar cannot hold a line break or tab literally (YAML folds them).
func yamlQuote(v string) string {
	if !strings.ContainsFunc(v, needsYAMLEscape) {
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range v {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case needsYAMLEscape(r):
			if r <= 0xFF {
				fmt.Fprintf(&b, "\\x%02X", r)
			} else if r <= 0xFFFF {
				fmt.Fprintf(&b, "\\u%04X", r)
			} else {
				fmt.Fprintf(&b, "\\U%08X", r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// needsYAMLEscape: anything but printable characters and the plain space,
// plus the BOM and the Unicode line/paragraph separators.
func needsYAMLEscape(r rune) bool {
	return !unicode.IsPrint(r) && r != ' ' || r == '\uFEFF' || r == '\u2028' || r == '\u2029' || r == '\u0085' || r == unicode.ReplacementChar
}
