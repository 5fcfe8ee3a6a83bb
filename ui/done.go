package ui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"aginstall/steps"
)

// doneScreen: the summary, the site URL, the log path and what to do next.
type doneScreen struct{ aborted bool }

func newDone(aborted bool) *doneScreen { return &doneScreen{aborted: aborted} }

func (s *doneScreen) title() string { return "Done" }
func (s *doneScreen) keys() []key.Binding {
	return []key.Binding{bind("enter", "finish")}
}

func (s *doneScreen) update(m *Model, msg tea.Msg) tea.Cmd {
	if k, ok := msg.(tea.KeyPressMsg); ok && k.String() == "enter" {
		m.cancel()
		return tea.Quit
	}
	return nil
}

// siteURL is where the site answers: the domain, else the manager's address.
func siteURL(c *steps.Cluster) string {
	if c.Site.Domain != "" {
		return "https://" + c.Site.Domain + "/"
	}
	if h, ok := c.Host(c.Manager); ok {
		return "http://" + h.Address + "/"
	}
	return ""
}

func (s *doneScreen) view(m *Model, w, h int) string {
	var b strings.Builder
	n := map[steps.Status]int{}
	for _, st := range m.steps {
		n[m.side[st.ID()].status]++
	}
	switch {
	case s.aborted:
		b.WriteString(stErr.Render("Stopped.") + " Finished steps stay done; resume continues where this stopped.\n\n")
	case n[steps.Failed] > 0:
		b.WriteString(stErr.Render("Finished with failures.") + "\n\n")
	default:
		b.WriteString(stOK.Render("autograder.io is installed.") + "\n\n")
	}
	var parts []string
	for _, st := range []steps.Status{steps.Done, steps.Skipped, steps.Failed, steps.Todo} {
		if n[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[st], st))
		}
	}
	b.WriteString("Steps: " + strings.Join(parts, ", ") + "\n")
	for _, st := range m.steps {
		if it := m.side[st.ID()]; it.status == steps.Skipped {
			b.WriteString(cut(fmt.Sprintf("  skipped %s: %s", st.Title(), it.note), w) + "\n")
		}
	}
	if u := siteURL(m.cluster); u != "" && !s.aborted {
		b.WriteString("\nSite:     " + u + "\n")
	}
	// Paths are wrapped, never cut: the operator copies them.
	b.WriteString(wrapIndent("Log:      ", m.be.LogPath(), w) + "\n")
	b.WriteString(wrapIndent("Cluster:  ", m.path, w) + "\n\n")
	b.WriteString(stHeader.Render("Next") + "\n")
	next := []string{
		"Sign in as " + orElse(m.cluster.Admin.Email, "the administrator") + " and open the course.",
		"aginstall review checks every step again at any time (read-only).",
		"aginstall relabel moves services between nodes later.",
		"Keep the cluster file and its .aginstall directory: they are how resume knows the cluster.",
	}
	if s.aborted || n[steps.Failed] > 0 {
		next = []string{"Fix what failed (the log has every command and its output), then run aginstall and choose Resume."}
	}
	for _, l := range next {
		b.WriteString(wrap("• "+l, w) + "\n")
	}
	return b.String()
}

func orElse(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
