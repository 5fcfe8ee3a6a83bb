package ui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"aginstall/steps"
)

// doneScreen: the summary, the site URL, the log path and what to do next.
type doneScreen struct {
	aborted bool
	// changed: the cluster file's keys edited outside the wizard while the
	// steps ran. The hosts got the values planned before the edit, so Done
	// says so and offers the run that takes them, instead of a silent
	// "installed" that the next review contradicts.
	changed []string
	readErr string
}

func newDone(aborted bool) *doneScreen { return &doneScreen{aborted: aborted} }

// doneReadMsg: the cluster file as it is when the run ended. Its own type,
// not refreshedMsg, so no "Took your edit" flash suggests it was applied.
type doneReadMsg struct{ refreshedMsg }

func (s *doneScreen) init(m *Model) tea.Cmd {
	return m.refreshAs(func(r refreshedMsg) tea.Msg { return doneReadMsg{r} })
}

func (s *doneScreen) title() string { return "Done" }
func (s *doneScreen) keys() []key.Binding {
	if len(s.changed) > 0 {
		return []key.Binding{bind("r", "check and apply the edit"), bind("enter", "finish")}
	}
	return []key.Binding{bind("enter", "finish")}
}

func (s *doneScreen) update(m *Model, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case doneReadMsg:
		m.doneWork()
		if msg.err != nil {
			s.readErr = firstLine(msg.err.Error())
			return nil
		}
		if len(msg.taken) > 0 {
			m.cluster, s.changed = msg.c, msg.taken
		}
	case tea.KeyPressMsg:
		switch msg.String() {
		case "enter":
			m.cancel()
			return tea.Quit
		case "r":
			if len(s.changed) > 0 && m.busy == "" {
				return m.startMode(ModeResume)
			}
		}
	}
	return nil
}

// siteURL is where the site answers: only a domain says it (the
// webserver's node address is no URL to hand out).
func siteURL(c *steps.Cluster) string {
	if c.Site.Domain != "" {
		scheme := "https://"
		if c.Site.TLSCert == "" {
			scheme = "http://"
		}
		return scheme + c.Site.Domain + "/"
	}
	return ""
}

// webserverNode is the host labelled webserver ("" when none is).
func webserverNode(c *steps.Cluster) string {
	for _, h := range c.Hosts {
		for _, l := range h.Labels {
			if l == "webserver" {
				return h.Name
			}
		}
	}
	return ""
}

func (s *doneScreen) view(m *Model, w, h int) string {
	var b strings.Builder
	n := map[steps.Status]int{}
	for _, st := range m.steps {
		n[m.side[st.ID()].status]++
	}
	notDone := len(m.steps) - n[steps.Done] - n[steps.Skipped]
	switch {
	case s.aborted:
		b.WriteString(stErr.Render("Stopped.") + " Finished steps stay done; resume continues where this stopped.\n\n")
	case n[steps.Failed] > 0:
		b.WriteString(stErr.Render("Finished with failures.") + "\n\n")
	case notDone > 0:
		b.WriteString(stWarn.Render("Not finished:") + fmt.Sprintf(" %d step(s) still to do.\n\n", notDone))
	case n[steps.Skipped] > 0:
		b.WriteString(stOK.Render("autograder.io is installed,") + fmt.Sprintf(" with %d step(s) skipped.\n\n", n[steps.Skipped]))
	default:
		b.WriteString(stOK.Render("autograder.io is installed.") + "\n\n")
	}
	var parts []string
	for _, st := range []steps.Status{steps.Done, steps.Skipped, steps.Failed, steps.Todo, steps.Drifted, steps.Unknown} {
		if n[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[st], st))
		}
	}
	b.WriteString("Steps: " + strings.Join(parts, ", ") + "\n")
	if len(s.changed) > 0 {
		b.WriteString("\n" + stWarn.Render(wrap("The cluster file changed while this ran: "+strings.Join(s.changed, ", ")+".", w)) + "\n")
		b.WriteString(wrap("The hosts have the values planned before that edit. r checks every step again and plans the edit (aginstall review shows it too).", w) + "\n")
	}
	if s.readErr != "" {
		b.WriteString("\n" + stWarn.Render(wrap("Could not read the cluster file again: "+s.readErr, w)) + "\n")
	}
	for _, st := range m.steps {
		it := m.side[st.ID()]
		switch it.status {
		case steps.Done:
		case steps.Skipped:
			b.WriteString(wrapIndent("  skipped ", st.Title()+": "+it.note, w) + "\n")
		case steps.Failed:
			b.WriteString(stErr.Render(wrapIndent("  failed  ", st.Title()+": "+orElse(it.note, "see the log"), w)) + "\n")
		default:
			b.WriteString(cut(fmt.Sprintf("  %-7s %s", it.status, st.Title()), w) + "\n")
		}
	}
	finished := !s.aborted && n[steps.Failed] == 0 && notDone == 0
	b.WriteString("\n")
	if u := siteURL(m.cluster); u != "" && finished {
		b.WriteString("Site:     " + u + "\n")
	}
	// Paths are wrapped, never cut: the operator copies them.
	b.WriteString(wrapIndent("Log:      ", m.be.LogPath(), w) + "\n")
	b.WriteString(wrapIndent("Cluster:  ", m.path, w) + "\n\n")
	b.WriteString(stHeader.Render("Next") + "\n")
	for _, l := range s.next(m, finished) {
		b.WriteString(wrap("• "+l, w) + "\n")
	}
	return b.String()
}

// next lists what is true to do now, from the steps' outcomes and the file.
func (s *doneScreen) next(m *Model, finished bool) []string {
	c := m.cluster
	if !finished {
		return []string{"Fix what failed or is left (the log has every command and its output), then run aginstall and choose Resume."}
	}
	var out []string
	web := webserverNode(c)
	switch {
	case c.Site.Domain == "" && web != "":
		out = append(out, "No site.domain yet: the site answers on "+web+" (the webserver host); give a domain in the cluster file (Site settings) and run aginstall again for its address and HTTPS.")
	case c.Site.Domain != "" && web != "":
		out = append(out, "Point "+c.Site.Domain+" at "+web+" (the webserver host) in your DNS, if it is not yet.")
	}
	if it := m.side["admin"]; it != nil && it.status == steps.Done && c.Admin.Email != "" {
		sign := "Sign in as " + c.Admin.Email
		if c.Admin.Course != "" {
			sign += " and open the course " + c.Admin.Course
		}
		out = append(out, sign+".")
	} else if it != nil && it.status == steps.Skipped {
		out = append(out, "No administrator yet: add admin.email and admin.course to the cluster file (or run aginstall, Resume, and answer the Admin screen).")
	}
	return append(out,
		"aginstall review checks every step again at any time (read-only); aginstall relabel moves services between nodes.",
		"Keep the cluster file and its .aginstall directory: they are how resume knows the cluster.")
}

func orElse(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
