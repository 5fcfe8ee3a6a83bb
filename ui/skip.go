package ui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"aginstall/steps"
)

// skipScreen asks why a step is skipped; the reason is recorded in the state
// (Backend.Skip) and shown in the sidebar and the review.
type skipScreen struct {
	id, name string
	in       textinput.Model
	then     func(m *Model) tea.Cmd
}

func newSkip(id, name string, then func(m *Model) tea.Cmd) *skipScreen {
	ti := textinput.New()
	ti.Prompt = "Reason: "
	ti.Placeholder = "e.g. Docker is managed by our config management"
	ti.SetWidth(60)
	return &skipScreen{id: id, name: name, in: ti, then: then}
}

func (s *skipScreen) title() string  { return "Skip " + s.name }
func (s *skipScreen) stepID() string { return s.id }
func (s *skipScreen) typing() bool   { return true }
func (s *skipScreen) keys() []key.Binding {
	return []key.Binding{bind("enter", "skip with this reason"), keyBack}
}
func (s *skipScreen) init(m *Model) tea.Cmd { return s.in.Focus() }

func (s *skipScreen) update(m *Model, msg tea.Msg) tea.Cmd {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch k.String() {
		case "esc":
			return m.goBack()
		case "enter":
			reason := strings.TrimSpace(s.in.Value())
			if reason == "" {
				m.flash = "Say why: the reason is kept with the step so the next person knows."
				return nil
			}
			if err := m.be.Skip(m.cluster, s.id, reason); err != nil {
				m.flash = "recording the skip: " + err.Error()
				return nil
			}
			if it := m.side[s.id]; it != nil {
				it.status, it.note = steps.Skipped, reason
			}
			return s.then(m)
		}
	}
	var cmd tea.Cmd
	s.in, cmd = s.in.Update(msg)
	return cmd
}

func (s *skipScreen) view(m *Model, w, h int) string {
	return stTitle.Render("Skip "+s.name) + "\n\n" +
		wrap("A skipped step is not applied, and apply leaves it alone until its inputs change. Later steps may need what it does.", w) +
		"\n\n" + s.in.View() + "\n"
}
