package ui

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"aginstall/steps"
)

// planScreen: before anything changes, the exact commands per host and the
// file diffs, from the dry run's records; confirm to run.
type planScreen struct {
	records   []steps.Record
	lines     []string // rendered once per plan and width, scrolled per frame
	width     int
	hostOrder []string // the cluster's hosts, in file order
	top       int
	reads     bool // show read-only queries too
	err       error
	done      bool
	confirm   bool
	// replanned: keys of the cluster file edited outside the wizard after
	// the last plan was made; the plan was made again with them.
	replanned []string
}

func newPlan() *planScreen { return &planScreen{} }

func (s *planScreen) title() string { return "Plan" }
func (s *planScreen) keys() []key.Binding {
	if s.confirm {
		return []key.Binding{bind("y", "run it"), bind("n/esc", "not now")}
	}
	return []key.Binding{keyUp, keyDown, bind("pgup/pgdown", "page"), bind("r", "show reads"), bind("enter", "run…"), keyBack}
}

type plannedMsg struct {
	records []steps.Record
	err     error
}

func (s *planScreen) init(m *Model) tea.Cmd {
	s.done, s.confirm = false, false
	c := m.cluster
	return m.work("planning: a dry run of every step", func(ctx context.Context) tea.Msg {
		r, err := m.be.Plan(ctx, c, m.sink())
		return plannedMsg{r, err}
	})
}

func (s *planScreen) mutations() (n int, hosts map[string]bool) {
	hosts = map[string]bool{}
	for _, r := range s.records {
		if r.Mutating {
			n++
			hosts[r.Host] = true
		}
	}
	return n, hosts
}

// render lays the records out once: by host, then step, each mutating
// command or diff in full.
func (s *planScreen) render(w int) {
	s.lines, s.width = s.lines[:0], w
	add := func(prefix, text string) {
		s.lines = append(s.lines, strings.Split(wrapIndent(prefix, text, w), "\n")...)
	}
	byHost := map[string][]steps.Record{}
	var order []string
	for _, r := range s.records {
		if !r.Mutating && !s.reads {
			continue
		}
		if _, ok := byHost[r.Host]; !ok {
			order = append(order, r.Host)
		}
		byHost[r.Host] = append(byHost[r.Host], r)
	}
	// Hosts in the cluster file's order, whatever order the steps ran them in.
	if m := s.hostOrder; len(m) > 0 {
		rank := func(h string) int {
			if i := slices.Index(m, h); i >= 0 {
				return i
			}
			return len(m)
		}
		slices.SortStableFunc(order, func(a, b string) int { return rank(a) - rank(b) })
	}
	for _, h := range order {
		s.lines = append(s.lines, stHeader.Render("── "+h+" ──"))
		step := ""
		for _, r := range byHost[h] {
			if r.Step != step {
				step = r.Step
				s.lines = append(s.lines, stTitle.Render(" "+step))
			}
			mark := "  "
			if !r.Mutating {
				mark = stDim.Render("  (read) ")
			}
			add(mark, r.Purpose)
			if r.Command != "" {
				add("    $ ", r.Command)
			}
			for _, d := range strings.Split(strings.TrimRight(r.Diff, "\n"), "\n") {
				switch {
				case d == "":
				case strings.HasPrefix(d, "+") && !strings.HasPrefix(d, "+++"):
					s.lines = append(s.lines, "    "+stOK.Render(d))
				case strings.HasPrefix(d, "-") && !strings.HasPrefix(d, "---"):
					s.lines = append(s.lines, "    "+stErr.Render(d))
				default:
					s.lines = append(s.lines, "    "+d)
				}
			}
		}
	}
	if len(s.lines) == 0 {
		s.lines = append(s.lines, stOK.Render("Nothing to change: every step is done."))
	}
}

func (s *planScreen) update(m *Model, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case plannedMsg:
		m.doneWork()
		s.records, s.err, s.done = msg.records, msg.err, true
		s.hostOrder = m.cluster.HostNames()
		s.render(s.width)
	case refreshedMsg:
		// Read on "y": an edit of the cluster file made while this plan was
		// on screen would not be in what runs. Plan again with it, and let
		// the operator read that plan before it runs.
		m.doneWork()
		if msg.err != nil {
			s.err = msg.err
			return nil
		}
		m.cluster = msg.c
		if len(msg.taken) > 0 {
			s.replanned = msg.taken
			return s.init(m)
		}
		return m.goTo(newRun(m, s.records))
	case tea.KeyPressMsg:
		if m.busy != "" {
			return nil
		}
		if s.confirm {
			switch msg.String() {
			case "y", "Y":
				s.confirm = false
				return m.refresh()
			case "n", "N", "esc":
				s.confirm = false
			}
			return nil
		}
		page := max(m.h-8, 1)
		switch msg.String() {
		case "up", "k":
			s.top = max(s.top-1, 0)
		case "down", "j":
			s.top = min(s.top+1, max(len(s.lines)-1, 0))
		case "pgup":
			s.top = max(s.top-page, 0)
		case "pgdown", "space":
			s.top = min(s.top+page, max(len(s.lines)-1, 0))
		case "r":
			s.reads = !s.reads
			s.top = 0
			s.render(s.width)
		case "enter":
			if s.done {
				s.confirm = true
			}
		case "esc":
			return m.goBack()
		}
	}
	return nil
}

func (s *planScreen) view(m *Model, w, h int) string {
	var b strings.Builder
	b.WriteString(stTitle.Render("Plan") + stDim.Render(" · nothing has changed yet") + "\n")
	if !s.done {
		b.WriteString("Dry run of every step: reading each host and recording what apply would do…\n")
		return b.String()
	}
	n, hosts := s.mutations()
	b.WriteString(cut(fmt.Sprintf("%d change(s) on %d host(s).", n, len(hosts)), w) + "\n")
	used := 2
	if s.err != nil {
		e := stWarn.Render(wrap(s.err.Error(), w))
		b.WriteString(e + "\n")
		used += strings.Count(e, "\n") + 1
	}
	if len(s.replanned) > 0 {
		e := stWarn.Render(wrap("Planned again: the cluster file was edited after the last plan ("+strings.Join(s.replanned, ", ")+"). This plan has the edit; read it before you run it.", w))
		b.WriteString(e + "\n")
		used += strings.Count(e, "\n") + 1
	}
	if s.confirm {
		b.WriteString(stErr.Render(cut(fmt.Sprintf("Run these %d change(s) now? y/n", n), w)) + "\n")
		used++
	}
	if s.width != w {
		s.render(w)
	}
	rows := max(h-used, 1)
	end := min(s.top+rows, len(s.lines))
	for _, l := range s.lines[s.top:end] {
		b.WriteString(cut(l, w) + "\n")
	}
	return b.String()
}
