package ui

import (
	"strings"

	"aginstall/internal/hosttext"
)

// ring is a bounded log of lines: a chatty apt-get overwrites its oldest
// lines instead of growing memory.
type ring struct {
	lines []string
	start int // index of the oldest line
	n     int // lines held
	total int // lines ever added
}

func newRing(capacity int) *ring { return &ring{lines: make([]string, capacity)} }

// add keeps a line as a terminal would show it, on one row (hosttext.Clean):
// host output arrives so already (remote), but a pane is the last door
// before the screen, and one line with a carriage return, a tab or an
// escape would overwrite the step list or shift its column.
func (r *ring) add(s string) {
	s = strings.ReplaceAll(hosttext.Clean(s), "\n", " ")
	r.total++
	if r.n < len(r.lines) {
		r.lines[(r.start+r.n)%len(r.lines)] = s
		r.n++
		return
	}
	r.lines[r.start] = s
	r.start = (r.start + 1) % len(r.lines)
}

// line is the i-th held line, oldest first.
func (r *ring) line(i int) string { return r.lines[(r.start+i)%len(r.lines)] }

func (r *ring) len() int { return r.n }

// window returns at most h lines ending back lines before the newest:
// only the visible lines are touched, whatever the log holds.
func (r *ring) window(h, back int) []string {
	end := r.n - back
	if end < 0 {
		end = 0
	}
	begin := max(end-h, 0)
	out := make([]string, 0, end-begin)
	for i := begin; i < end; i++ {
		out = append(out, r.line(i))
	}
	return out
}
