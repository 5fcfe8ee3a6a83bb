package ui

import (
	"slices"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"aginstall/steps"
	"aginstall/steps/rules"
)

// labelsScreen: which node runs which services, as a matrix.
type labelsScreen struct {
	step steps.Step
	mx   *matrix
	err  string
}

// nodesOf is the cluster's hosts as the rules see them (sizes from discovery).
func nodesOf(m *Model, labels map[string][]string) []rules.Node {
	var nodes []rules.Node
	for _, h := range m.cluster.Hosts {
		n := rules.Node{Name: h.Name, Labels: slices.Clone(h.Labels)}
		if labels != nil {
			n.Labels = slices.Clone(labels[h.Name])
		}
		if f := m.facts[h.Name]; f != nil {
			n.CPUs, n.MemoryMB = f.CPUs, f.MemoryMB
		}
		nodes = append(nodes, n)
	}
	return nodes
}

func newLabels(m *Model, st steps.Step) *labelsScreen {
	s := &labelsScreen{step: st, mx: newMatrix(nodesOf(m, nil))}
	empty := true
	for _, n := range s.mx.nodes {
		empty = empty && len(n.Labels) == 0
	}
	if empty {
		s.mx.suggest(m.cluster.Manager)
	}
	return s
}

func (s *labelsScreen) title() string  { return "Node labels" }
func (s *labelsScreen) stepID() string { return s.step.ID() }

func (s *labelsScreen) keys() []key.Binding {
	return []key.Binding{bind("←↓↑→/hjkl", "move"), bind("space", "toggle"), bind("S", "suggest"),
		bind("enter", "save and continue"), keyBack}
}

func (s *labelsScreen) update(m *Model, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case savedMsg:
		m.doneWork()
		if msg.err != nil {
			s.err = msg.err.Error()
			return nil
		}
		m.cluster = msg.c
		return m.nextStep(s.step.ID())
	case tea.KeyPressMsg:
		if m.busy != "" {
			return nil
		}
		k := msg.String()
		if s.mx.move(k) {
			return nil
		}
		switch k {
		case "S", "s":
			s.mx.suggest(m.cluster.Manager)
		case "esc":
			return m.goBack()
		case "enter":
			if n := s.mx.errors(); n > 0 {
				m.flash = "Some services would never start: fix the errors (or S for the suggestion) first."
				return nil
			}
			a := s.mx.assignment()
			for i := range m.cluster.Hosts {
				m.cluster.Hosts[i].Labels = a[m.cluster.Hosts[i].Name]
			}
			return m.save()
		}
	}
	return nil
}

func (s *labelsScreen) view(m *Model, w, h int) string {
	head := stTitle.Render("Node labels") + stDim.Render(" · ● runs there; rules checked live") + "\n"
	if s.err != "" {
		head += stErr.Render(cut(s.err, w)) + "\n"
	}
	return head + s.mx.view(w, h-2, m.opt.Accessible)
}
