package ui

import (
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"aginstall/steps"
)

var (
	stTitle  = lipgloss.NewStyle().Bold(true)
	stDim    = lipgloss.NewStyle().Faint(true)
	stOK     = lipgloss.NewStyle().Foreground(lipgloss.Green)
	stWarn   = lipgloss.NewStyle().Foreground(lipgloss.Yellow)
	stErr    = lipgloss.NewStyle().Foreground(lipgloss.Red).Bold(true)
	stSel    = lipgloss.NewStyle().Reverse(true)
	stHeader = lipgloss.NewStyle().Bold(true).Underline(true)
)

// icon is a step's or host's status as one symbol, or a word in accessible
// mode (screen readers read "done", not "✓").
func icon(s steps.Status, accessible bool) string {
	if accessible {
		return accessibleWord[s]
	}
	switch s {
	case steps.Done:
		return stOK.Render("✓")
	case steps.Todo:
		return "○"
	case steps.Drifted:
		return stWarn.Render("~")
	case steps.Unknown:
		return stWarn.Render("?")
	case steps.Failed:
		return stErr.Render("✗")
	case steps.Skipped:
		return stDim.Render("↷")
	case running:
		return "…"
	}
	return " "
}

// accessibleWord: short words a screen reader says instead of symbols.
var accessibleWord = map[steps.Status]string{
	steps.Done: "ok", steps.Todo: "todo", steps.Drifted: "drift", steps.Unknown: "unknown",
	steps.Failed: "FAIL", steps.Skipped: "skip", running: "run", "": "",
}

// running is the sidebar's own status for a step at work.
const running steps.Status = "running"

// fit cuts or pads s to exactly w columns and h lines, so every screen keeps
// the layout whatever its content.
func fit(s string, w, h int) string {
	if w <= 0 || h <= 0 {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	var b strings.Builder
	for i := 0; i < h; i++ {
		l := ""
		if i < len(lines) {
			l = lines[i]
		}
		if ansi.StringWidth(l) > w {
			l = ansi.Truncate(l, w, "…")
		}
		b.WriteString(l)
		if pad := w - ansi.StringWidth(l); pad > 0 {
			b.WriteString(strings.Repeat(" ", pad))
		}
		if i < h-1 {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// cut truncates one line to w columns.
func cut(s string, w int) string {
	if w <= 0 {
		return ""
	}
	return ansi.Truncate(s, w, "…")
}

// wrap word-wraps text to w columns at spaces only, so commands and names
// with hyphens stay whole and can be copied; a word wider than w is cut hard.
func wrap(s string, w int) string {
	if w < 10 {
		w = 10
	}
	var out []string
	for _, para := range strings.Split(s, "\n") {
		line, lw := "", 0
		for _, word := range strings.Fields(para) {
			ww := ansi.StringWidth(word)
			for ww > w {
				if lw > 0 {
					out = append(out, line)
					line, lw = "", 0
				}
				out = append(out, ansi.Truncate(word, w, ""))
				word = ansi.TruncateLeft(word, w, "")
				ww = ansi.StringWidth(word)
			}
			switch {
			case lw == 0:
				line, lw = word, ww
			case lw+1+ww <= w:
				line, lw = line+" "+word, lw+1+ww
			default:
				out = append(out, line)
				line, lw = word, ww
			}
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

// pad right-pads s to w columns (cutting it if longer).
func pad(s string, w int) string {
	s = cut(s, w)
	if n := w - ansi.StringWidth(s); n > 0 {
		return s + strings.Repeat(" ", n)
	}
	return s
}

// col is a table cell: s in w columns, always with a space after it.
func col(s string, w int) string { return pad(cut(s, w-1), w) }

// bar is a text progress bar: [█████░░░░░] 5/10.
func bar(done, total, w int) string {
	if total <= 0 || w < 3 {
		return ""
	}
	done = min(done, total)
	fill := done * w / total
	return "[" + strings.Repeat("█", fill) + strings.Repeat("░", w-fill) + "]"
}

func ansiStrip(s string) string { return ansi.Strip(s) }

// wrapIndent wraps text after a prefix, indenting the continuation lines
// under the text: "  next:    add the …\n           and then …".
func wrapIndent(prefix, text string, w int) string {
	ind := ansi.StringWidth(prefix)
	body := wrap(text, w-ind)
	return prefix + strings.ReplaceAll(body, "\n", "\n"+strings.Repeat(" ", ind))
}
