package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"aginstall/steps"
)

// discoveryScreen runs the discover step and shows what it found: a table of
// facts and the preflight findings. Errors block; warnings are acknowledged.
type discoveryScreen struct {
	ran   bool
	err   error
	acked bool
	fixed []string // cluster-file fixes made here, "key: value"
}

// fixKeys: the key that applies each cluster-file fix (steps.FixFor), by
// finding code.
var fixKeys = map[string]string{"ipvs": "h", "nfs": "n", "docker": "o"}

// fixes are the cluster-file fixes the blocking findings offer, once each.
func (s *discoveryScreen) fixes(m *Model) []steps.PreflightFix {
	errs, _ := s.findings(m)
	var out []steps.PreflightFix
	seen := map[string]bool{}
	for _, fd := range errs {
		if fx, ok := steps.FixFor(m.cluster, fd); ok && !seen[fx.Code] && fixKeys[fx.Code] != "" {
			seen[fx.Code] = true
			out = append(out, fx)
		}
	}
	return out
}

func newDiscovery() *discoveryScreen { return &discoveryScreen{} }

func (s *discoveryScreen) title() string  { return "Discovery" }
func (s *discoveryScreen) stepID() string { return "discover" }

func (s *discoveryScreen) keys() []key.Binding {
	return []key.Binding{bind("a", "acknowledge warnings"), bind("r", "read the file, run again"), bind("enter", "continue"), keyBack}
}

// appliedMsg: one step's apply ended (err nil: its checks say done).
type appliedMsg struct {
	step string
	err  error
}

func (m *Model) applyStep(id string) tea.Cmd {
	c := m.cluster
	return m.work("applying "+id, func(ctx context.Context) tea.Msg {
		return appliedMsg{id, m.be.ApplyStep(ctx, c, id, m.sink())}
	})
}

// discoverID is the discover step's ID as registered (the first step if none
// is called that).
func (m *Model) discoverID() string {
	for _, s := range m.steps {
		if s.ID() == "discover" {
			return s.ID()
		}
	}
	if len(m.steps) > 0 {
		return m.steps[0].ID()
	}
	return "discover"
}

func (s *discoveryScreen) init(m *Model) tea.Cmd {
	s.ran, s.err = false, nil
	return m.applyStep(m.discoverID())
}

func (s *discoveryScreen) findings(m *Model) (errs, warns []steps.Finding) {
	for _, h := range m.cluster.HostNames() {
		f := m.facts[h]
		if f == nil {
			continue
		}
		for _, fd := range f.Findings {
			if fd.Host == "" {
				fd.Host = h
			}
			if fd.Severity == steps.Blocker {
				errs = append(errs, fd)
			} else {
				warns = append(warns, fd)
			}
		}
	}
	return errs, warns
}

func (s *discoveryScreen) update(m *Model, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case appliedMsg:
		m.doneWork()
		s.ran, s.err = true, msg.err
		m.facts = m.be.Facts(m.cluster)
	case refreshedMsg, savedMsg:
		// r read the file again, or a fix was saved: discover again with it.
		m.doneWork()
		c, err := msg.(interface {
			result() (*steps.Cluster, error)
		}).result()
		if err != nil {
			m.flash = firstLine(err.Error())
			return nil
		}
		m.cluster = c
		return s.init(m)
	case tea.KeyPressMsg:
		if m.busy != "" {
			return nil
		}
		for _, fx := range s.fixes(m) {
			if msg.String() == fixKeys[fx.Code] {
				fx.Set(m.cluster)
				s.fixed = append(s.fixed, fx.Key+": "+fx.Value)
				return m.save()
			}
		}
		switch msg.String() {
		case "r":
			return m.refresh()
		case "a":
			s.acked = true
		case "esc":
			return m.goBack()
		case "enter":
			if !s.ran {
				return nil
			}
			errs, warns := s.findings(m)
			if len(errs) > 0 || s.err != nil {
				m.flash = "Fix the errors first (on the hosts, or with the keys shown), then r runs discovery again."
				return nil
			}
			if len(warns) > 0 && !s.acked {
				m.flash = "Read the warnings, then a acknowledges them."
				return nil
			}
			return m.afterDiscovery()
		}
	}
	return nil
}

// afterDiscovery asks for the sudo password if a host needs one, then shows
// the first step's screen.
func (m *Model) afterDiscovery() tea.Cmd {
	if !m.sudoDone && m.needsSudo() != nil {
		return m.goTo(newSudo())
	}
	return m.nextStep(m.discoverID())
}

// needsSudo lists the hosts whose sudo asks for a password.
func (m *Model) needsSudo() []string {
	var out []string
	for _, h := range m.cluster.HostNames() {
		if f := m.facts[h]; f != nil && !f.IsRoot && f.Sudo == "password" {
			out = append(out, h)
		}
	}
	return out
}

func (s *discoveryScreen) view(m *Model, w, h int) string {
	var b strings.Builder
	b.WriteString(stTitle.Render("Discovery") + stDim.Render(" · read-only: what each host is") + "\n")
	if !s.ran {
		return b.String() + "\n" + m.panes(w, h-2, nil)
	}
	b.WriteString(stHeader.Render(pad("Host", 8)+pad("OS", 10)+pad("CPU", 4)+pad("Mem", 5)+pad("Disk", 5)+pad("Docker", 9)+pad("Sudo", 9)+"Swarm") + "\n")
	for _, name := range m.cluster.HostNames() {
		f := m.facts[name]
		if f == nil {
			b.WriteString(pad(name, 8) + stWarn.Render("not reached") + "\n")
			continue
		}
		os := f.OSID + " " + f.OSVersion // "debian 12": the pretty name is too long here
		if f.OSID == "" {
			os = f.OSName
		}
		docker, _, _ := strings.Cut(f.Docker, "+") // 20.10.24+dfsg1 → 20.10.24
		if docker == "" {
			docker = "none"
		}
		sudo := f.Sudo
		if f.IsRoot {
			sudo = "root"
		}
		line := col(name, 8) + col(os, 10) + col(fmt.Sprint(f.CPUs), 4) + col(gb(f.MemoryMB), 5) + col(gb(f.DiskFreeMB), 5) +
			col(docker, 9) + col(sudo, 9) + f.Swarm
		b.WriteString(cut(line, w) + "\n")
	}
	errs, warns := s.findings(m)
	// Preflight's refusal is the findings below, each with its fix: not
	// said twice.
	var pe *steps.PreflightError
	failed := s.err != nil && !errors.As(s.err, &pe)
	if failed {
		b.WriteString("\n" + stErr.Render("Discovery failed:") + "\n" + wrap(s.err.Error(), w) + "\n")
	}
	if len(errs)+len(warns) == 0 && !failed {
		b.WriteString("\n" + stOK.Render("No preflight findings: every host is ready.") + "\n")
	}
	for _, g := range groupFindings(errs) {
		b.WriteString("\n" + stErr.Render(wrapIndent("✗ "+strings.Join(g.hosts, ", ")+": ", g.message, w)) + "\n")
		if fx, ok := steps.FixFor(m.cluster, g.first); ok && fixKeys[fx.Code] != "" {
			b.WriteString(stSel.Render(cut("  "+fixKeys[fx.Code]+": "+fx.Action+" ("+fx.Key+": "+fx.Value+")", w)) + "\n")
			b.WriteString(stDim.Render(wrapIndent("     ", fx.Why, w)) + "\n")
			continue
		}
		b.WriteString(stDim.Render(wrapIndent("  fix: ", g.first.Fix, w)) + "\n")
	}
	if len(s.fixed) > 0 {
		b.WriteString("\n" + stOK.Render(wrap("Set in the cluster file: "+strings.Join(s.fixed, ", "), w)) + "\n")
	}
	for _, g := range groupFindings(warns) {
		mark := "! "
		if s.acked {
			mark = "✓ "
		}
		b.WriteString("\n" + stWarn.Render(wrapIndent(mark+strings.Join(g.hosts, ", ")+": ", g.message, w)) + "\n" + stDim.Render(wrapIndent("  fix: ", g.first.Fix, w)) + "\n")
	}
	return b.String()
}

func gb(mb int) string {
	if mb <= 0 {
		return "?"
	}
	if mb >= 10*1024 {
		return fmt.Sprintf("%.0fG", float64(mb)/1024)
	}
	return fmt.Sprintf("%.1fG", float64(mb)/1024)
}

// findingGroup is one finding as several hosts report it.
type findingGroup struct {
	hosts   []string
	message string
	first   steps.Finding
}

// groupFindings folds the same finding on several hosts into one line.
func groupFindings(fds []steps.Finding) []findingGroup {
	var out []findingGroup
	at := map[string]int{}
	for _, fd := range fds {
		msg := strings.TrimPrefix(fd.Message, fd.Host+": ")
		k := fd.Code + "\x00" + msg + "\x00" + fd.Fix
		if i, ok := at[k]; ok {
			out[i].hosts = append(out[i].hosts, fd.Host)
			continue
		}
		at[k] = len(out)
		out = append(out, findingGroup{hosts: []string{fd.Host}, message: msg, first: fd})
	}
	return out
}
