package edit

import (
	"fmt"
	"slices"
	"strings"
)

// text is a file split into lines, each remembering its own line ending, so
// that a rewrite of one line leaves every other byte (CRLF, a missing final
// newline) exactly as it was.
type text struct {
	file  string
	lines []line
	edits []Change
	// secret holds, by 1-based line number, the masked form of lines that
	// carry a password: old (as given) and new. Changes and the plan's diff
	// show these instead, so a password never reaches a log or the state.
	secretOld, secretNew map[int]string
}

type line struct {
	s   string // content without the line ending
	eol string // "\n", "\r\n" or "" (last line without newline)
}

func splitText(file string, src []byte) *text {
	t := &text{file: file}
	s := string(src)
	for len(s) > 0 {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			t.lines = append(t.lines, line{s: s})
			break
		}
		l := line{s: s[:i], eol: "\n"}
		if strings.HasSuffix(l.s, "\r") {
			l.s, l.eol = l.s[:len(l.s)-1], "\r\n"
		}
		t.lines = append(t.lines, l)
		s = s[i+1:]
	}
	return t
}

// bytes joins the lines again. A replacement that holds several lines
// (written with "\n") gets the replaced line's own ending between them.
func (t *text) bytes() []byte { return t.join(t.lines) }

func (t *text) join(lines []line) []byte {
	var b strings.Builder
	for _, l := range lines {
		if l.eol != "\n" && l.eol != "" {
			b.WriteString(strings.ReplaceAll(l.s, "\n", l.eol))
		} else if l.eol == "" && strings.Contains(l.s, "\n") {
			b.WriteString(strings.ReplaceAll(l.s, "\n", t.eol()))
		} else {
			b.WriteString(l.s)
		}
		b.WriteString(l.eol)
	}
	return []byte(b.String())
}

// lf is the text with every line ending written as "\n". The YAML parser
// is given this form: goccy/go-yaml counts a CRLF after a comment as two
// lines, which would put every later token on the wrong line.
func (t *text) lf() []byte {
	var b strings.Builder
	for _, l := range t.lines {
		b.WriteString(l.s)
		if l.eol != "" {
			b.WriteByte('\n')
		}
	}
	return []byte(b.String())
}

// eol is the file's dominant line ending (for a multi-line replacement of a
// last line that has none).
func (t *text) eol() string {
	crlf := 0
	for _, l := range t.lines {
		if l.eol == "\r\n" {
			crlf++
		}
	}
	if crlf*2 > len(t.lines) {
		return "\r\n"
	}
	return "\n"
}

// set replaces line n (1-based) and records the change; setting a line to
// what it already holds records nothing, which makes every editor idempotent.
func (t *text) set(n int, s, what string) {
	old := t.lines[n-1].s
	if old == s {
		return
	}
	t.lines[n-1].s = s
	t.edits = append(t.edits, Change{File: t.file, Line: n, Old: old, New: s, What: what})
}

// Masks shown instead of a password (they differ so the diff still shows
// that the line changes).
const (
	maskOld = "<old password hidden>"
	maskNew = "<new password hidden>"
)

// setSecret is set for a line that holds a secret: the recorded Change
// carries masked text (oldMasked, newMasked) and so does the display copy.
func (t *text) setSecret(n int, s, oldMasked, newMasked, what string) {
	if t.lines[n-1].s == s {
		return
	}
	if t.secretOld == nil {
		t.secretOld, t.secretNew = map[int]string{}, map[int]string{}
	}
	if _, seen := t.secretOld[n]; !seen {
		t.secretOld[n] = oldMasked
	}
	t.secretNew[n] = newMasked
	t.lines[n-1].s = s
	t.edits = append(t.edits, Change{File: t.file, Line: n, Old: oldMasked, New: newMasked, What: what, Secret: true})
}

// shown returns the given and the edited file with secret lines masked:
// what the plan may display.
func (t *text) shown(src []byte) (old, new []byte) {
	if len(t.secretOld) == 0 {
		return src, t.bytes()
	}
	o := splitText(t.file, src).lines
	n := slices.Clone(t.lines)
	for i, s := range t.secretOld {
		o[i-1].s = s
		n[i-1].s = t.secretNew[i]
	}
	return t.join(o), t.join(n)
}

// missing builds the error every editor returns for a layout it does not know.
func (t *text) missing(what, lookedFor string) error {
	return fmt.Errorf("%s: no %s (looked for: %s); the file's layout is newer than this version of aginstall knows", t.file, what, lookedFor)
}
