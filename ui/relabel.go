package ui

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"aginstall/steps"
	"aginstall/steps/rules"
)

// relabelScreen: the matrix on the live swarm, then the diff with the rules
// and the data-move warnings, a typed confirmation, and the change.
type relabelScreen struct {
	phase   int // relabelReading, relabelEdit, relabelReview, relabelApplied
	before  map[string][]string
	sizes   map[string]rules.Node
	mx      *matrix
	plan    steps.RelabelPlan
	result  steps.RelabelResult
	confirm textinput.Model
	err     error
	top     int
}

const (
	relabelReading = iota
	relabelEdit
	relabelChecking // the prerequisites on the target nodes
	relabelReview
	relabelApplied
)

func newRelabel() *relabelScreen {
	ti := textinput.New()
	ti.Prompt = "Type to confirm: "
	ti.SetWidth(40)
	return &relabelScreen{confirm: ti}
}

func (s *relabelScreen) title() string { return "Re-label" }
func (s *relabelScreen) typing() bool  { return s.phase == relabelReview && s.confirm.Focused() }

func (s *relabelScreen) keys() []key.Binding {
	switch s.phase {
	case relabelEdit:
		return []key.Binding{bind("←↓↑→/hjkl", "move"), bind("space", "toggle"), bind("S", "suggest"), bind("enter", "review the change"), keyBack}
	case relabelReview:
		if _, ok := s.plan.CanCopyTLS(); ok {
			return []key.Binding{bind("enter", "apply"), bind("tab", "copy the TLS files"), bind("esc", "back to the matrix")}
		}
		return []key.Binding{bind("enter", "apply"), bind("esc", "back to the matrix")}
	}
	return []key.Binding{bind("r", "read again"), keyBack}
}

type labelsReadMsg struct {
	labels map[string][]string
	sizes  map[string]rules.Node
	err    error
}

type relabelCheckedMsg struct {
	plan steps.RelabelPlan
	err  error
}

type relabeledMsg struct {
	res steps.RelabelResult
	err error
}

func (s *relabelScreen) init(m *Model) tea.Cmd {
	s.phase, s.err = relabelReading, nil
	c := m.cluster
	return m.work("reading the swarm's node labels", func(ctx context.Context) tea.Msg {
		l, sz, err := m.be.ReadLabels(ctx, c)
		return labelsReadMsg{l, sz, err}
	})
}

func (s *relabelScreen) update(m *Model, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case labelsReadMsg:
		m.doneWork()
		if msg.err != nil {
			s.err = msg.err
			return nil
		}
		s.before, s.sizes = msg.labels, msg.sizes
		var nodes []rules.Node
		for _, name := range sortedNames(msg.labels) {
			n := msg.sizes[name]
			n.Name, n.Labels = name, slices.Clone(msg.labels[name])
			nodes = append(nodes, n)
		}
		s.mx = newMatrix(nodes)
		s.phase = relabelEdit
	case relabelCheckedMsg:
		m.doneWork()
		if msg.err != nil {
			s.plan.Checks = []steps.RelabelCheck{{Blocks: true, Message: "cannot check the target nodes: " + msg.err.Error()}}
		} else {
			s.plan = msg.plan
		}
		s.phase = relabelReview
		return s.confirm.Focus()
	case relabeledMsg:
		m.doneWork()
		s.err, s.result = msg.err, msg.res
		s.phase = relabelApplied
	case tea.KeyPressMsg:
		if m.busy != "" {
			return nil
		}
		k := msg.String()
		switch s.phase {
		case relabelEdit:
			if s.mx.move(k) {
				return nil
			}
			switch k {
			case "S", "s":
				s.mx.suggest(m.cluster.Manager)
			case "esc":
				return m.goBack()
			case "enter":
				s.plan = steps.PlanRelabelFor(s.sizes, s.before, s.mx.assignment())
				s.phase, s.top = relabelReview, 0
				s.confirm.SetValue("")
				if len(s.plan.Errors()) == 0 && len(s.plan.Diff) > 0 {
					// What each moved label needs on its new node, read
					// before the operator is asked to confirm.
					s.phase = relabelChecking
					c, plan := m.cluster, s.plan
					return m.work("checking the target nodes", func(ctx context.Context) tea.Msg {
						p, err := m.be.CheckRelabel(ctx, c, plan)
						return relabelCheckedMsg{p, err}
					})
				}
			}
		case relabelReview:
			switch k {
			case "esc":
				s.phase = relabelEdit
				s.confirm.Blur()
				return nil
			case "tab":
				if _, ok := s.plan.CanCopyTLS(); ok {
					s.plan.CopyTLS = !s.plan.CopyTLS
				}
				return nil
			case "enter":
				if len(s.plan.Errors()) > 0 || len(s.plan.Diff) == 0 {
					return nil
				}
				if bl := s.plan.Blocking(); len(bl) > 0 {
					m.flash = "Not yet: " + bl[0].Message
					return nil
				}
				typed := strings.Fields(s.confirm.Value())
				want := s.plan.NeedsTypedConfirm()
				if len(want) == 0 {
					want = []string{"relabel"}
				}
				for _, l := range want {
					if !slices.Contains(typed, l) {
						m.flash = fmt.Sprintf("Type %s to confirm.", strings.Join(want, " "))
						return nil
					}
				}
				c, plan := m.cluster, s.plan
				s.confirm.Blur()
				return m.work("changing the node labels and waiting for the services", func(ctx context.Context) tea.Msg {
					res, err := m.be.ApplyRelabel(ctx, c, plan, typed, m.sink())
					return relabeledMsg{res, err}
				})
			case "pgdown":
				s.top += 5
				return nil
			case "pgup":
				s.top = max(s.top-5, 0)
				return nil
			}
			var cmd tea.Cmd
			s.confirm, cmd = s.confirm.Update(msg)
			return cmd
		default:
			switch k {
			case "r":
				return s.init(m)
			case "esc":
				return m.goBack()
			}
		}
	}
	return nil
}

func sortedNames(m map[string][]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func (s *relabelScreen) view(m *Model, w, h int) string {
	head := stTitle.Render("Re-label the live swarm") + "\n"
	switch s.phase {
	case relabelReading:
		if s.err != nil {
			return head + stErr.Render("Cannot read the labels:") + "\n" + failureText(s.err, w) + "\n"
		}
		return head + "Reading every node's labels from the manager…\n"
	case relabelEdit:
		return head + s.mx.view(w, h-1, m.opt.Accessible)
	case relabelChecking:
		return head + "Checking what the moved labels need on their new nodes…\n"
	case relabelApplied:
		return head + s.appliedView(w)
	}
	var lines []string
	add := func(s string) { lines = append(lines, strings.Split(s, "\n")...) }
	if len(s.plan.Diff) == 0 {
		add("No label changes.")
	}
	for _, d := range s.plan.Diff {
		line := pad(d.Node, 10)
		for _, l := range d.Added {
			line += stOK.Render(" +" + l)
		}
		for _, l := range d.Removed {
			line += stErr.Render(" -" + l)
		}
		add(cut(line, w))
	}
	for _, v := range s.plan.Violations {
		st := stWarn
		if v.Severity == rules.Error {
			st = stErr
		}
		add(st.Render(wrap(v.Severity.String()+": "+v.Message, w)))
	}
	for _, mv := range s.plan.Moves {
		add("")
		add(stErr.Render(wrap(fmt.Sprintf("DATA: %s moves from %s to %s; volume %s stays on %s.", mv.Label, mv.From, mv.To, mv.Volume, mv.From), w)))
		add(wrap(mv.HowTo, w))
	}
	for _, k := range s.plan.Kept {
		add(stDim.Render(wrap(k, w)))
	}
	if len(s.plan.Checks) > 0 {
		add("")
		add(stTitle.Render("On the target nodes"))
	}
	for _, c := range s.plan.Checks {
		switch {
		case c.Blocks && c.Kind == "tls" && c.CopyTLSFrom != "" && s.plan.CopyTLS:
			add(stOK.Render(wrap("✓ "+c.Message+" — they will be copied first.", w)))
		case c.Blocks:
			add(stErr.Render(wrap("✗ "+c.Message, w)))
		case c.Kind == "address":
			add(stWarn.Render(wrap("! "+c.Message, w)))
		default:
			add(stDim.Render(wrap("✓ "+c.Message, w)))
		}
	}
	if c, ok := s.plan.CanCopyTLS(); ok {
		choice := "no"
		if s.plan.CopyTLS {
			choice = "yes"
		}
		add(wrap(fmt.Sprintf("tab: copy the TLS certificate and key from %s to %s (mode 0600): %s", c.CopyTLSFrom, c.Node, choice), w))
	}
	var foot []string
	switch {
	case len(s.plan.Errors()) > 0:
		foot = append(foot, stErr.Render("A rule is broken: esc goes back to the matrix."))
	case len(s.plan.Blocking()) > 0:
		foot = append(foot, stErr.Render(cut("A target node is not ready (✗ above): fix it, or esc goes back to the matrix.", w)))
	case len(s.plan.Diff) > 0:
		want := s.plan.NeedsTypedConfirm()
		if len(want) == 0 {
			want = []string{"relabel"}
		}
		foot = append(foot, cut("Type "+strings.Join(want, " ")+" and press enter to apply (pgup/pgdown scroll).", w), s.confirm.View())
	}
	// The confirmation stays in view however long the warnings are.
	rows := max(h-1-len(foot)-1, 1)
	top := min(s.top, max(len(lines)-rows, 0))
	end := min(top+rows, len(lines))
	return head + strings.Join(lines[top:end], "\n") + "\n\n" + strings.Join(foot, "\n")
}

// appliedView is the outcome: what was copied, the services as deploy
// reports them, and what the operator must do now.
func (s *relabelScreen) appliedView(w int) string {
	var b strings.Builder
	r := s.result
	if s.err != nil {
		if r.Applied {
			b.WriteString(stWarn.Render("The labels are changed, but the services did not settle:") + "\n")
		}
		b.WriteString(failureText(s.err, w) + "\n")
	} else {
		b.WriteString(stOK.Render("The labels are changed.") + "\n")
	}
	for _, c := range r.Copied {
		b.WriteString(stOK.Render("✓ ") + wrap(c, w-2) + "\n")
	}
	for _, row := range r.Rows {
		mark := stOK.Render("✓ ")
		if !row.Converged {
			mark = stErr.Render("✗ ")
		}
		b.WriteString(mark + cut(row.String(), w-2) + "\n")
	}
	for _, n := range r.Notes {
		b.WriteString(stWarn.Render("! ") + wrap(n, w-2) + "\n")
	}
	b.WriteString("r reads the labels again.\n")
	return b.String()
}
