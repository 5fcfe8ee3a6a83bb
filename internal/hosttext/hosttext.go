// Package hosttext makes text that came from a host safe and tidy to show:
// on a terminal (the TUI's panes, plain `host | step | message` lines), in a
// file (the log, the state) or in JSON.
//
// Host text is hostile and messy. A checkout's git config, a package's
// description or a container's log can hold escape sequences that set the
// clipboard (OSC 52), retitle the window, erase lines or move the cursor over
// what aginstall drew; apt, dpkg and docker redraw progress with carriage
// returns and backspaces. Clean turns such text into what a terminal would
// finally show on each line, with no control left but the newline.
//
// The escape sequences are recognised by charmbracelet/x/ansi's decoder (the
// same parser lipgloss and bubbletea use), not by a parser of our own; this
// package only decides what each decoded piece does to the line.
package hosttext

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
)

const tabStop = 8

// Clean returns s as a terminal would show it, line by line:
//   - a carriage return goes back to the line's start, and what follows
//     overwrites what was there ("50%\r100%" is "100%"; "\r\n" ends a line);
//   - a backspace moves back one character, which the next one overwrites;
//   - a tab becomes spaces up to the next multiple of 8 columns;
//   - "erase in line" (CSI K) erases as a terminal does; every other escape
//     sequence (CSI, OSC including OSC 52, DCS, APC, PM, SOS, plain ESC x) is
//     dropped, with its payload;
//   - every other C0 and C1 control, DEL and the bidirectional overrides
//     (which reorder what the reader sees) are dropped;
//   - bytes that are not UTF-8 become U+FFFD.
//
// Newlines are kept, so multi-line text (an error, a diff) keeps its lines.
// Clean is idempotent: Clean(Clean(s)) == Clean(s).
func Clean(s string) string {
	if plain(s) {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.Grow(len(s))
	for i, line := range strings.Split(s, "\n") {
		if i > 0 {
			b.WriteByte('\n')
		}
		cleanLine(&b, line)
	}
	return b.String()
}

// plain reports whether s is printable ASCII and newlines only: nothing to do
// (the common case, kept cheap for chatty hosts).
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\n') || c >= 0x7f {
			return false
		}
	}
	return true
}

// cell is one character on the line: a grapheme cluster and its width.
type cell struct {
	g string
	w int
}

// cleanLine replays one line (no newline in it) on a one-line screen.
func cleanLine(b *strings.Builder, line string) {
	var (
		cells []cell
		cur   int  // cursor, in cells
		col   int  // cursor, in columns: the widths of cells[:cur]
		moved bool // the cursor went back: trailing blanks are an artefact
		state byte
	)
	put := func(c cell) {
		col += c.w
		if cur < len(cells) {
			cells[cur] = c
		} else {
			cells = append(cells, c)
		}
		cur++
	}
	for len(line) > 0 {
		seq, width, n, next := ansi.DecodeSequence(line, state, nil)
		if n <= 0 { // never expected; do not loop forever on a decoder surprise
			n, seq = 1, line[:1]
		}
		line, state = line[n:], next
		if state != ansi.NormalState {
			// An unfinished sequence at the end of the line: the decoder
			// has swallowed it; nothing of it is shown.
			continue
		}
		switch {
		case seq == "\r":
			cur, col, moved = 0, 0, true
		case seq == "\b":
			if cur > 0 {
				cur--
				col -= cells[cur].w
			}
			moved = true
		case seq == "\t":
			put(cell{" ", 1})
			for col%tabStop != 0 {
				put(cell{" ", 1})
			}
		case len(seq) > 1 && seq[0] == ansi.ESC:
			if mode, ok := eraseInLine(seq); ok {
				moved = true
				switch mode {
				case 0:
					cells = cells[:min(cur, len(cells))]
				case 1:
					for i := 0; i < cur && i < len(cells); i++ {
						cells[i] = cell{" ", 1}
					}
				case 2:
					for i := range cells {
						cells[i] = cell{" ", 1}
					}
				}
			}
		case width == 0 && len(seq) == 1:
			// A C0 control, DEL or an ESC/CSI left alone: dropped.
		default:
			if g := printable(seq); g == seq {
				put(cell{g, width})
			} else if g != "" {
				put(cell{g, ansi.StringWidth(g)})
			}
		}
	}
	// Blanks a redraw left at the end (after a carriage return, a backspace or
	// an erase) show nothing: trimmed, so a shorter final state is not padded.
	end := len(cells)
	if moved {
		for end > 0 && cells[end-1].g == " " {
			end--
		}
	}
	for _, c := range cells[:end] {
		b.WriteString(c.g)
	}
}

// eraseInLine recognises CSI [0|1|2] K (EL) and its selective form CSI ? K.
func eraseInLine(seq string) (int, bool) {
	// (The 8-bit CSI byte cannot start a sequence: the text is valid UTF-8.)
	body, ok := strings.CutPrefix(seq, "\x1b[")
	if !ok || !strings.HasSuffix(body, "K") {
		return 0, false
	}
	body = strings.TrimPrefix(strings.TrimSuffix(body, "K"), "?")
	switch body {
	case "", "0":
		return 0, true
	case "1":
		return 1, true
	case "2":
		return 2, true
	}
	return 0, false
}

// printable returns the grapheme without the runes no one should see: C0 and
// C1 controls, DEL and the bidirectional controls.
func printable(g string) string {
	ok := true
	for _, r := range g {
		if hidden(r) {
			ok = false
			break
		}
	}
	if ok {
		return g
	}
	var b strings.Builder
	for _, r := range g {
		if !hidden(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func hidden(r rune) bool {
	switch {
	case r == utf8.RuneError:
		return false // shown: it stands for bytes that were not text
	case unicode.IsControl(r): // C0, DEL, C1
		return true
	case r == '\u061c', r == '\u200e', r == '\u200f',
		r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069':
		return true
	}
	return false
}
