package hosttext

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Escape returns s with every control character shown as an escape
// (ESC as \x1b, CR as \r, …): for host text quoted inside a message — a
// check's reason naming a checkout's remote.origin.url, an error quoting a
// daemon — where a carriage return or an erase-line must not hide or
// rewrite the message around it. Newlines and tabs are kept (multi-line
// errors, file diffs); bytes that are not UTF-8 are shown as \xNN; the
// bidirectional controls as \uNNNN. The operator sees that the host sent
// something odd, and nothing of it acts on the terminal.
//
// Escape is idempotent, and Escape(Clean(s)) == Clean(s) for one line.
func Escape(s string) string {
	if plainOrTab(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r == '\r':
			b.WriteString(`\r`)
		case hidden(r) && r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case hidden(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func plainOrTab(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\n' && c != '\t') || c >= 0x7f {
			return false
		}
	}
	return true
}
