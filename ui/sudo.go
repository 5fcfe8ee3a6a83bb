package ui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
)

// sudoScreen asks once for the sudo password, masked; the Backend keeps it in
// memory only and sends it on stdin.
type sudoScreen struct {
	in textinput.Model
	// recheck: back to the review (or resume) that asked, which checks
	// again, instead of on to the next step.
	recheck bool
}

func newSudo() *sudoScreen {
	ti := textinput.New()
	ti.Prompt = "sudo password: "
	ti.EchoMode = textinput.EchoPassword
	ti.EchoCharacter = '•'
	return &sudoScreen{in: ti}
}

func (s *sudoScreen) title() string { return "sudo password" }
func (s *sudoScreen) typing() bool  { return true }
func (s *sudoScreen) keys() []key.Binding {
	return []key.Binding{bind("enter", "use it"), keyBack}
}
func (s *sudoScreen) init(m *Model) tea.Cmd { return s.in.Focus() }

func (s *sudoScreen) update(m *Model, msg tea.Msg) tea.Cmd {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch k.String() {
		case "esc":
			return m.goBack()
		case "enter":
			if s.in.Value() == "" {
				m.flash = "The password is empty; sudo on these hosts asks for one."
				return nil
			}
			m.be.SudoPassword([]byte(s.in.Value()))
			s.in.SetValue("")
			m.sudoDone = true
			m.leave()
			if s.recheck {
				// The checks that need sudo said "unknown": the screen that
				// asked (left above) checks again with the password, so the
				// list says what is done (and, resuming, where to continue).
				// Re-run in place: a new screen would leave the stale one
				// behind it for esc to return to.
				return m.initScreen()
			}
			return m.nextStep(m.discoverID())
		}
	}
	var cmd tea.Cmd
	s.in, cmd = s.in.Update(msg)
	return cmd
}

func (s *sudoScreen) view(m *Model, w, h int) string {
	var b strings.Builder
	b.WriteString(stTitle.Render("sudo needs a password") + "\n\n")
	b.WriteString(wrap("These hosts run sudo with a password: "+strings.Join(m.needsSudo(), ", ")+". It is asked once, kept in memory only, sent to sudo on stdin and never written to the log or the state.", w) + "\n\n")
	b.WriteString(s.in.View() + "\n")
	return b.String()
}
