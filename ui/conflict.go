package ui

import (
	"errors"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"aginstall/steps"
)

// conflictScreen: the cluster file was edited outside the wizard on keys
// the wizard changed too. Nothing was written; the operator chooses, key by
// key set at once: the file's values or the wizard's. Their other edits are
// kept either way.
type conflictScreen struct {
	err  *steps.ConflictError
	save bool // a save met it (else a re-read): save again once settled
}

func (s *conflictScreen) title() string { return "Cluster file changed" }

func (s *conflictScreen) keys() []key.Binding {
	return []key.Binding{bind("f", "keep the file's values"), bind("w", "write the wizard's values")}
}

// conflictOf finds a conflict in a save or re-read result.
func conflictOf(msg tea.Msg) (*steps.ConflictError, bool) {
	var err error
	save := false
	switch msg := msg.(type) {
	case savedMsg:
		err, save = msg.err, true
	case refreshedMsg:
		err = msg.err
	default:
		return nil, false
	}
	var ce *steps.ConflictError
	if errors.As(err, &ce) {
		return ce, save
	}
	return nil, false
}

func (s *conflictScreen) update(m *Model, msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok || m.busy != "" {
		return nil
	}
	keepFile := false
	switch k.String() {
	case "f":
		keepFile = true
	case "w":
	default:
		return nil
	}
	c, err := s.err.Resolve(keepFile)
	if err != nil {
		m.flash = "settling the cluster file: " + err.Error()
		return nil
	}
	m.cluster = c
	m.leave()
	if s.save {
		return m.save()
	}
	return m.initScreen()
}

func (s *conflictScreen) view(m *Model, w, h int) string {
	var b strings.Builder
	b.WriteString(stTitle.Render("The cluster file changed outside the wizard") + "\n")
	b.WriteString(wrap("Someone edited "+s.err.Path+" since the wizard read it, and changed keys the wizard changed too. Nothing was written. Their other edits are kept either way.", w) + "\n\n")
	b.WriteString(stHeader.Render(pad("Key", 34)+pad("In the file", 20)+"In the wizard") + "\n")
	for _, c := range s.err.Conflicts {
		b.WriteString(cut(col(c.Key, 34)+col(orElse(c.File, "(none)"), 20)+orElse(c.Wizard, "(none)"), w) + "\n")
	}
	b.WriteString("\n" + wrap("f keeps the file's values for these keys; w writes the wizard's values over them.", w) + "\n")
	return b.String()
}
