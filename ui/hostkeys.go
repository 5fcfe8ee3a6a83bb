package ui

import (
	"context"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"aginstall/remote"
)

// hostKeysScreen: every host key this machine has not seen, in one table, to
// accept together or one by one. A changed key is a red stop with the fix.
type hostKeysScreen struct {
	found   []remote.HostKey
	pick    []bool
	sel     int
	scanned bool
	err     string
}

func newHostKeys() *hostKeysScreen { return &hostKeysScreen{} }

func (s *hostKeysScreen) title() string { return "Host keys" }

func (s *hostKeysScreen) keys() []key.Binding {
	return []key.Binding{keyUp, keyDown, bind("space", "toggle"), bind("a", "select all new"),
		bind("enter", "accept selected and continue"), bind("r", "scan again"), keyBack}
}

type scannedMsg struct {
	keys []remote.HostKey
	err  error
}

type acceptedMsg struct {
	keys  []remote.HostKey // pinned in the cluster file
	err   error
	again bool // a bastion's key was accepted: the hosts behind it are scanned now
}

func (s *hostKeysScreen) init(m *Model) tea.Cmd { return s.scan(m) }

func (s *hostKeysScreen) scan(m *Model) tea.Cmd {
	c := m.cluster
	return m.work("reading every host's SSH key", func(ctx context.Context) tea.Msg {
		keys, err := m.be.ScanHostKeys(ctx, c)
		return scannedMsg{keys, err}
	})
}

func (s *hostKeysScreen) changed() int {
	n := 0
	for _, k := range s.found {
		if k.Status == remote.KeyChanged {
			n++
		}
	}
	return n
}

func (s *hostKeysScreen) update(m *Model, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case scannedMsg:
		m.doneWork()
		s.scanned = true
		s.found, s.err = msg.keys, ""
		if msg.err != nil {
			s.err = msg.err.Error()
		}
		s.pick = make([]bool, len(s.found))
		for i, k := range s.found {
			s.pick[i] = k.Status == remote.KeyUnknown
		}
	case acceptedMsg:
		m.doneWork()
		if msg.err != nil {
			s.err = msg.err.Error()
			return nil
		}
		// The keys are pinned in the file; the wizard's copy says so too, so
		// its next save finds them there already.
		for _, k := range msg.keys {
			for i := range m.cluster.Hosts {
				if m.cluster.Hosts[i].Name == k.Host && !k.Bastion {
					m.cluster.Hosts[i].HostKey = k.Fingerprint
				}
			}
		}
		if msg.again {
			// Rounds, as the CLI does: nothing went through a bastion
			// before its key was confirmed.
			s.scanned = false
			return s.scan(m)
		}
		return m.goTo(newDiscovery())
	case tea.KeyPressMsg:
		if m.busy != "" {
			return nil
		}
		switch msg.String() {
		case "up", "k":
			s.sel = max(s.sel-1, 0)
		case "down", "j":
			s.sel = min(s.sel+1, max(len(s.found)-1, 0))
		case "space":
			if s.sel < len(s.found) && s.found[s.sel].Status == remote.KeyUnknown {
				s.pick[s.sel] = !s.pick[s.sel]
			}
		case "a":
			for i, k := range s.found {
				s.pick[i] = k.Status == remote.KeyUnknown
			}
		case "r":
			return s.scan(m)
		case "esc":
			return m.goBack()
		case "enter":
			if !s.scanned {
				return nil
			}
			if s.changed() > 0 {
				s.err = "A changed key stops the install: fix it as shown, then press r to scan again."
				return nil
			}
			var accept []remote.HostKey
			again := false
			for i, k := range s.found {
				if k.Status == remote.KeyUnknown && s.pick[i] {
					accept = append(accept, k)
					again = again || k.Bastion
				}
				if k.Status == remote.KeyUnknown && !s.pick[i] {
					s.err = fmt.Sprintf("%s's key is not accepted: select it (space) after checking its fingerprint, or remove the host.", k.Host)
					return nil
				}
			}
			c := m.cluster
			return m.work("pinning the accepted keys", func(ctx context.Context) tea.Msg {
				if len(accept) > 0 {
					if err := m.be.AcceptHostKeys(ctx, c, accept); err != nil {
						return acceptedMsg{err: err}
					}
				}
				return acceptedMsg{keys: accept, again: again}
			})
		}
	}
	return nil
}

func (s *hostKeysScreen) view(m *Model, w, h int) string {
	var b strings.Builder
	b.WriteString(stTitle.Render("Host keys") + "\n")
	if s.err != "" {
		b.WriteString(stErr.Render(wrap(s.err, w)) + "\n")
	}
	if !s.scanned {
		return b.String() + "Reading each host's SSH key…\n"
	}
	unknown := 0
	for _, k := range s.found {
		if k.Status == remote.KeyUnknown {
			unknown++
		}
	}
	switch {
	case s.changed() > 0:
		b.WriteString(stErr.Render(wrap("STOP: a host key changed. Someone may be intercepting the connection, or the host was reinstalled.", w)) + "\n\n")
	case unknown > 0:
		b.WriteString(wrap(fmt.Sprintf("%d new key(s). Compare each fingerprint with the host's own (on its console: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) before accepting.", unknown), w) + "\n\n")
	default:
		b.WriteString(stOK.Render("Every host key is already known.") + " Enter continues.\n\n")
	}
	b.WriteString(stHeader.Render(pad("    Host", 14)+pad("Address", 16)+"Type / SHA256 fingerprint") + "\n")
	for i, k := range s.found {
		box := "   "
		switch k.Status {
		case remote.KeyUnknown:
			box = "[ ]"
			if s.pick[i] {
				box = "[x]"
			}
		case remote.KeyKnown:
			box = stOK.Render(" ✓ ")
			if m.opt.Accessible {
				box = "ok "
			}
		case remote.KeyChanged:
			box = stErr.Render(" ✗ ")
			if m.opt.Accessible {
				box = "BAD"
			}
		}
		addr := k.Address
		if k.Port != 0 && k.Port != 22 {
			addr = fmt.Sprintf("%s:%d", k.Address, k.Port)
		}
		line := box + " " + col(k.Host, 10) + col(addr, 16) + k.Type
		if i == s.sel {
			line = stSel.Render(cut(line, w))
		}
		b.WriteString(cut(line, w) + "\n")
		b.WriteString(cut("    "+k.Fingerprint, w) + "\n")
	}
	for _, k := range s.found {
		if k.Status != remote.KeyChanged {
			continue
		}
		b.WriteString("\n" + stErr.Render(k.Host+": the key changed") + "\n")
		b.WriteString(wrapIndent("  ", fmt.Sprintf("now %s, expected %s (%s).", k.Fingerprint, strings.Join(k.Want, " or "), strings.Join(k.Sources, ", ")), w) + "\n")
		b.WriteString(wrapIndent("  ", fmt.Sprintf("Fix: confirm the new key on the host's console (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub); if it matches, remove the old entry (ssh-keygen -R %s, or the host_key line of %s in the cluster file), then press r.", k.Address, k.Host), w) + "\n")
	}
	return b.String()
}
