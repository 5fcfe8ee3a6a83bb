package ui

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"aginstall/internal/hosttext"
	"aginstall/steps"
)

// runScreen applies the steps in order, with a pane per host; a failure
// stops and offers retry, skip with a reason, or abort.
type runScreen struct {
	queue  []string // step IDs to apply: those not found done or skipped
	idx    int
	failed error
	focus  int // focused pane
	back   int // lines scrolled back in the focused pane
}

// newRun queues the steps to apply as the CLI's apply does: from the first
// step that is not done, or that the confirmed plan (planned) changes, every
// step but the skipped ones. A step found done before that first change is
// left alone; after it, each is checked afresh when its turn comes (a deploy
// is done until the settings step edits the checkout), and one still done
// changes nothing.
func newRun(m *Model, planned []steps.Record) *runScreen {
	changes := map[string]bool{}
	for _, r := range planned {
		if r.Mutating {
			changes[r.Step] = true
		}
	}
	s := &runScreen{}
	started := false
	for _, st := range m.steps {
		it := m.side[st.ID()]
		if it != nil && it.status == steps.Skipped {
			continue
		}
		started = started || it == nil || it.status != steps.Done || changes[st.ID()]
		if started {
			s.queue = append(s.queue, st.ID())
		}
	}
	return s
}

func (s *runScreen) title() string { return "Install" }
func (s *runScreen) stepID() string {
	if s.idx < len(s.queue) {
		return s.queue[s.idx]
	}
	return ""
}

func (s *runScreen) keys() []key.Binding {
	if s.failed != nil {
		return []key.Binding{bind("r", "retry"), bind("s", "skip…"), bind("a", "abort"), keyTab, bind("↑/↓", "scroll")}
	}
	return []key.Binding{keyTab, bind("↑/↓/pgup/pgdown", "scroll"), bind("end", "follow")}
}

func (s *runScreen) init(m *Model) tea.Cmd {
	if s.idx >= len(s.queue) {
		return m.replace(newDone(false))
	}
	s.failed = nil
	return m.applyStep(s.queue[s.idx])
}

func (s *runScreen) update(m *Model, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case appliedMsg:
		m.doneWork()
		if msg.err != nil {
			s.failed = msg.err
			// Show the failed host's pane first.
			var se *steps.StepError
			if errors.As(msg.err, &se) {
				for i, h := range m.paneHosts() {
					if h == se.Host {
						s.focus, s.back = i, 0
					}
				}
			}
			return nil
		}
		if msg.step == m.discoverID() {
			m.facts = m.be.Facts(m.cluster)
		}
		s.idx++
		return s.init(m)
	case tea.KeyPressMsg:
		k := msg.String()
		switch k {
		case "tab":
			if n := len(m.paneHosts()); n > 0 {
				s.focus, s.back = (s.focus+1)%n, 0
			}
			return nil
		case "shift+tab":
			if n := len(m.paneHosts()); n > 0 {
				s.focus, s.back = (s.focus+n-1)%n, 0
			}
			return nil
		case "up", "k":
			s.back++
		case "down", "j":
			s.back = max(s.back-1, 0)
		case "pgup":
			s.back += 10
		case "pgdown":
			s.back = max(s.back-10, 0)
		case "end", "G":
			s.back = 0
		}
		if s.failed == nil || m.busy != "" {
			return nil
		}
		switch k {
		case "r":
			return s.init(m)
		case "s":
			id := s.queue[s.idx]
			return m.goTo(newSkip(id, id, func(m *Model) tea.Cmd {
				m.leave()
				s.idx++
				return s.init(m)
			}))
		case "a":
			return m.replace(newDone(true))
		}
	}
	return nil
}

func (s *runScreen) view(m *Model, w, h int) string {
	var b strings.Builder
	step := s.stepID()
	b.WriteString(stTitle.Render(fmt.Sprintf("Step %d of %d: %s", min(s.idx+1, len(s.queue)), len(s.queue), m.stepTitle(step))) + "\n")
	used := 1
	if s.failed != nil {
		f := failureText(s.failed, w)
		b.WriteString(f + "\n")
		used += strings.Count(f, "\n") + 1
	}
	if step == "deploy" && len(m.converge) > 0 {
		t := m.convergeTable(w, min(len(m.converge)+1, (h-used)/2))
		b.WriteString(t + "\n")
		used += strings.Count(t, "\n") + 1
	}
	b.WriteString(m.panes(w, h-used, s))
	return b.String()
}

// failureText shows a failure as the runner reports it: host, command, what
// the host said, and what to do next.
func failureText(err error, w int) string {
	var b strings.Builder
	b.WriteString(stErr.Render("✗ The step failed.") + "\n")
	var se *steps.StepError
	if errors.As(err, &se) {
		b.WriteString(cut("  host:    "+se.Host, w) + "\n")
		if se.Command != "" {
			b.WriteString(cut("  command: "+hosttext.Escape(se.Command), w) + "\n")
		}
		// The error quotes the host: cleaned, as every host text is (hosttext).
		b.WriteString(wrapIndent("  error:   ", firstLine(hosttext.Escape(fmt.Sprint(se.Err))), w) + "\n")
		next := se.Next
		if next == "" {
			next = "fix the cause on the host, then r retries (finished work is not repeated)"
		}
		b.WriteString(wrapIndent("  next:    ", next, w) + "\n")
	} else {
		for _, l := range strings.Split(hosttext.Escape(err.Error()), "\n") {
			b.WriteString(wrapIndent("  ", l, w) + "\n")
		}
	}
	b.WriteString(stDim.Render("r retry · s skip with a reason · a abort"))
	return b.String()
}

// panes draws a pane per host: a header with its work and progress, then its
// last lines. Only visible lines are read from the ring buffers.
func (m *Model) panes(w, h int, rs *runScreen) string {
	hosts := m.paneHosts()
	n := len(hosts)
	if n == 0 || h <= 0 {
		return ""
	}
	focus, back := 0, 0
	if rs != nil {
		focus, back = rs.focus%n, rs.back
	}
	heights := make([]int, n)
	if h >= n*4 {
		for i := range heights {
			heights[i] = h / n
		}
	} else {
		for i := range heights {
			heights[i] = 1
		}
		heights[focus] = max(h-(n-1), 1)
	}
	var b strings.Builder
	for i, host := range hosts {
		if i > 0 {
			b.WriteByte('\n')
		}
		l := m.logs[host]
		st := icon(l.status, m.opt.Accessible)
		if l.status == running {
			st = m.spinner()
		}
		mark := " "
		if i == focus && n > 1 {
			mark = "›"
		}
		head := mark + st + " " + host
		if l.purpose != "" {
			head += " · " + l.purpose
		}
		if p := bar(l.done, l.total, 12); p != "" {
			head += " " + p + " " + strconv.Itoa(l.done) + "/" + strconv.Itoa(l.total)
		}
		body := heights[i] - 1
		bk := 0
		if i == focus {
			bk = min(back, max(l.lines.len()-body, 0))
		}
		if bk > 0 {
			head += fmt.Sprintf(" · %d lines back (end follows)", bk)
		}
		if i == focus && n > 1 {
			head = stSel.Render(cut(ansiStrip(head), w))
		}
		b.WriteString(cut(head, w))
		if body <= 0 {
			continue
		}
		lines := l.lines.window(body, bk)
		for j := 0; j < body; j++ {
			b.WriteString("\n  ")
			if j < len(lines) {
				b.WriteString(cut(lines[j], w-2))
			}
		}
	}
	return b.String()
}

// paneHosts are the hosts shown: those of the step running (or last run),
// else every host that printed something.
func (m *Model) paneHosts() []string {
	var out []string
	for _, h := range m.paneOf {
		if m.logs[h] != nil {
			out = append(out, h)
		}
	}
	if len(out) == 0 {
		return m.hosts
	}
	return out
}

// convRow is one service of the deploy step's convergence, read from the
// lines deploy prints (steps.ServiceRow.String).
type convRow struct {
	service, count, problems string
	converged                bool
}

var convLine = regexp.MustCompile(`^(\S+) (\d+)/(\d+)((?: \(global\))?)(?:: (.*))?$`)

// noteConvergence keeps the latest row per service.
func (m *Model) noteConvergence(text string) {
	g := convLine.FindStringSubmatch(text)
	if g == nil {
		return
	}
	row := convRow{service: g[1], count: g[2] + "/" + g[3] + g[4], problems: g[5], converged: g[2] == g[3] && g[5] == ""}
	for i := range m.converge {
		if m.converge[i].service == row.service {
			m.converge[i] = row
			return
		}
	}
	m.converge = append(m.converge, row)
}

func (m *Model) convergeTable(w, h int) string {
	var b strings.Builder
	b.WriteString(stHeader.Render(pad("Service", 26) + pad("Tasks", 14) + "Why not running"))
	for i, r := range m.converge {
		if i+1 >= h {
			break
		}
		mark := icon(steps.Todo, m.opt.Accessible)
		if r.converged {
			mark = icon(steps.Done, m.opt.Accessible)
		}
		b.WriteString("\n" + cut(mark+" "+col(r.service, 24)+col(r.count, 14)+r.problems, w))
	}
	return b.String()
}
