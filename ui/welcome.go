package ui

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"aginstall/steps"
)

// welcomeScreen: choose what to do and with which cluster file.
type welcomeScreen struct {
	sel     int // 0..3 the modes, 4.. the recent files
	path    textinput.Model
	editing bool
	err     string
}

var welcomeChoices = []struct {
	mode       Mode
	name, desc string
}{
	{ModeInstall, "New install", "Describe the servers, check them, and install step by step."},
	{ModeResume, "Resume", "Check what is already done, then continue where it stopped."},
	{ModeReview, "Review", "Read-only: every step's state on every host, with fixes."},
	{ModeRelabel, "Re-label", "Move services between nodes on the live swarm."},
}

func newWelcome(m *Model) *welcomeScreen {
	ti := textinput.New()
	ti.Prompt = "Cluster file: "
	ti.SetValue(m.path)
	ti.SetWidth(50)
	s := &welcomeScreen{path: ti}
	// A state directory beside the cluster file means an install was started:
	// offer to resume it.
	if m.path != "" {
		if _, err := os.Stat(filepath.Join(filepath.Dir(m.path), ".aginstall")); err == nil {
			s.sel = 1
		}
	}
	return s
}

func (s *welcomeScreen) title() string { return "Welcome" }
func (s *welcomeScreen) typing() bool  { return s.editing }

func (s *welcomeScreen) keys() []key.Binding {
	if s.editing {
		return []key.Binding{bind("enter", "use this file"), bind("esc", "done")}
	}
	return []key.Binding{keyUp, keyDown, bind("enter", "choose"), bind("1-4", "choose by number"), bind("e", "edit file path")}
}

func (s *welcomeScreen) init(m *Model) tea.Cmd {
	if m.opt.Mode != ModeWelcome {
		return m.load(m.opt.Mode)
	}
	return nil
}

// loadedMsg: the cluster file was read (or could not be).
type loadedMsg struct {
	mode Mode
	c    *steps.Cluster
	err  error
}

func (m *Model) load(mode Mode) tea.Cmd {
	path := m.path
	return m.work("reading "+path, func(context.Context) tea.Msg {
		c, err := m.be.LoadCluster(path)
		if err != nil && mode == ModeInstall && errors.Is(err, fs.ErrNotExist) {
			return loadedMsg{mode: mode, c: newCluster(path)}
		}
		if err != nil && mode == ModeInstall {
			if _, statErr := os.Stat(path); errors.Is(statErr, fs.ErrNotExist) {
				return loadedMsg{mode: mode, c: newCluster(path)}
			}
		}
		return loadedMsg{mode: mode, c: c, err: err}
	})
}

// newCluster is the start of a new install: the documented defaults, no hosts yet.
func newCluster(path string) *steps.Cluster {
	return &steps.Cluster{
		Name: "autograder", Stack: "ag-stack", Path: path,
		Docker: steps.DockerSpec{Install: "official"},
		Source: steps.SourceSpec{Repo: "https://github.com/eecs-autograder/autograder-full-stack.git", Ref: "master"},
		NFS:    steps.NFSSpec{Mode: "export", Clients: "cluster"},
		Swarm:  steps.SwarmSpec{PublishMode: "ingress"},
		Site:   steps.SiteSpec{OAuthProvider: "google"},
	}
}

func (s *welcomeScreen) update(m *Model, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case loadedMsg:
		m.doneWork()
		if msg.err != nil {
			s.err = msg.err.Error()
			return nil
		}
		s.err = ""
		m.cluster = msg.c
		return m.startMode(msg.mode)
	case tea.KeyPressMsg:
		if s.editing {
			switch msg.String() {
			case "enter", "esc":
				s.editing = false
				s.path.Blur()
				m.path = strings.TrimSpace(s.path.Value())
				return nil
			}
			var cmd tea.Cmd
			s.path, cmd = s.path.Update(msg)
			return cmd
		}
		n := len(welcomeChoices) + len(m.opt.Recent)
		switch msg.String() {
		case "up", "k":
			s.sel = (s.sel + n - 1) % n
		case "down", "j":
			s.sel = (s.sel + 1) % n
		case "1", "2", "3", "4": // direct choice, handy for scripts driving the wizard
			if m.busy == "" && m.path != "" {
				s.sel = int(msg.String()[0] - '1')
				return m.load(welcomeChoices[s.sel].mode)
			}
		case "e", "tab":
			s.editing = true
			return s.path.Focus()
		case "enter":
			if m.busy != "" {
				return nil
			}
			if s.sel >= len(welcomeChoices) {
				m.path = m.opt.Recent[s.sel-len(welcomeChoices)]
				s.path.SetValue(m.path)
				s.sel = 1 // a recent file is most often resumed
				return nil
			}
			if m.path == "" {
				s.err = "Give the cluster file first (e), e.g. ./aginstall.yaml: it is created if it does not exist."
				return nil
			}
			return m.load(welcomeChoices[s.sel].mode)
		}
	}
	return nil
}

// startMode goes to the first screen of a mode once the cluster is loaded.
func (m *Model) startMode(mode Mode) tea.Cmd {
	if m.cluster == nil {
		return m.load(mode)
	}
	m.opt.Mode = mode
	switch mode {
	case ModeResume:
		return m.goTo(newReview(true))
	case ModeReview:
		return m.goTo(newReview(false))
	case ModeRelabel:
		return m.goTo(newRelabel())
	default:
		return m.goTo(newHosts())
	}
}

func (s *welcomeScreen) view(m *Model, w, h int) string {
	var b strings.Builder
	b.WriteString(stTitle.Render("Install autograder.io on a Docker Swarm") + "\n")
	b.WriteString(wrap("Each step of the deployment guide is checked first, shown as a plan, and applied only when you confirm.", w) + "\n\n")
	for i, c := range welcomeChoices {
		name := fmt.Sprintf("%d %s", i+1, c.name)
		line := "  " + pad(name, 15) + stDim.Render(c.desc)
		if i == s.sel {
			line = stSel.Render("› "+pad(name, 15)) + c.desc
		}
		b.WriteString(cut(line, w) + "\n")
	}
	b.WriteString("\n" + s.path.View() + "\n")
	if len(m.opt.Recent) > 0 {
		b.WriteString("\n" + stHeader.Render("Recent cluster files") + "\n")
		for i, r := range m.opt.Recent {
			line := "  " + r
			if s.sel == len(welcomeChoices)+i {
				line = stSel.Render("› " + r)
			}
			b.WriteString(cut(line, w) + "\n")
		}
	}
	if s.err != "" {
		b.WriteString("\n" + stErr.Render("The cluster file was refused:") + "\n" + wrap(s.err, w) + "\n")
	}
	return b.String()
}
