package ui

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"

	"aginstall/steps"
)

// hostsScreen: the servers of the swarm. Add one, paste many, import
// ssh_config Host entries, test the logins, then continue to the host keys.
type hostsScreen struct {
	sel    int
	form   formBox
	checks map[string]steps.HostCheck
	err    string
}

func newHosts() *hostsScreen { return &hostsScreen{checks: map[string]steps.HostCheck{}} }

func (s *hostsScreen) title() string { return "Hosts" }
func (s *hostsScreen) typing() bool  { return s.form.active() }

func (s *hostsScreen) keys() []key.Binding {
	if s.form.active() {
		return []key.Binding{bind("esc", "cancel")}
	}
	return []key.Binding{keyUp, keyDown, bind("a", "add"), bind("p", "paste many"), bind("i", "import ~/.ssh/config"),
		bind("d", "delete"), bind("m", "make manager"), bind("t", "test logins"), bind("enter", "continue"), keyBack}
}

// connTestedMsg: the logins were tried.
type connTestedMsg struct{ checks []steps.HostCheck }

// savedMsg: the cluster file was written and read back.
type savedMsg struct {
	c     *steps.Cluster
	taken []string // keys edited outside the wizard, now taken in
	err   error
}

// save writes the wizard's changes into the cluster file (only its keys,
// merged with any outside edit) and reads it back, so the file's own checks
// (with line numbers) judge what the forms produced.
func (m *Model) save() tea.Cmd {
	c := m.cluster
	return m.work("saving "+m.path, func(context.Context) tea.Msg {
		res, err := m.be.SaveCluster(c)
		return savedMsg{c: res.Cluster, taken: res.Taken, err: err}
	})
}

func (s savedMsg) result() (*steps.Cluster, error) { return s.c, s.err }

// refreshedMsg: the cluster file was read again.
type refreshedMsg struct {
	c     *steps.Cluster
	taken []string
	err   error
}

func (s refreshedMsg) result() (*steps.Cluster, error) { return s.c, s.err }

// refresh reads the cluster file again, so an edit made outside the wizard
// is what the next screen shows (the wizard's unsaved changes stay on top).
func (m *Model) refresh() tea.Cmd {
	return m.refreshAs(func(r refreshedMsg) tea.Msg { return r })
}

// refreshAs reads the cluster file again and hands the result to the screen
// as as makes it (a screen that must not flash "Took your edit" wraps it).
func (m *Model) refreshAs(as func(refreshedMsg) tea.Msg) tea.Cmd {
	c := m.cluster
	return m.work("reading "+m.path, func(context.Context) tea.Msg {
		res, err := m.be.RefreshCluster(c)
		return as(refreshedMsg{c: res.Cluster, taken: res.Taken, err: err})
	})
}

// tookOutside says which outside edits the wizard took in.
func (m *Model) tookOutside(keys []string) {
	if len(keys) > 0 {
		m.flash = "Took your edit of the cluster file: " + strings.Join(keys, ", ")
	}
}

func (s *hostsScreen) update(m *Model, msg tea.Msg) tea.Cmd {
	if ok, cmd := s.form.update(m, msg); ok {
		return cmd
	}
	c := m.cluster
	switch msg := msg.(type) {
	case connTestedMsg:
		m.doneWork()
		for _, ch := range msg.checks {
			s.checks[ch.Host] = ch
		}
	case savedMsg:
		m.doneWork()
		if msg.err != nil {
			s.err = msg.err.Error()
			return nil
		}
		s.err = ""
		m.cluster = msg.c
		return m.goTo(newHostKeys())
	case tea.KeyPressMsg:
		if m.busy != "" {
			return nil
		}
		switch msg.String() {
		case "up", "k":
			s.sel = max(s.sel-1, 0)
		case "down", "j":
			s.sel = min(s.sel+1, max(len(c.Hosts)-1, 0))
		case "a":
			return s.addForm(m)
		case "p":
			return s.pasteForm(m)
		case "i":
			return s.importForm(m)
		case "d":
			if s.sel < len(c.Hosts) {
				c.Hosts = append(c.Hosts[:s.sel], c.Hosts[s.sel+1:]...)
				s.sel = max(min(s.sel, len(c.Hosts)-1), 0)
			}
		case "m":
			if s.sel < len(c.Hosts) {
				c.Manager = c.Hosts[s.sel].Name
			}
		case "t":
			if len(c.Hosts) == 0 {
				return nil
			}
			return m.work("logging in to every host", func(ctx context.Context) tea.Msg {
				return connTestedMsg{m.be.TestConnections(ctx, c)}
			})
		case "enter":
			if len(c.Hosts) == 0 {
				s.err = "Add at least one host (a, p or i)."
				return nil
			}
			if c.Manager == "" {
				c.Manager = c.Hosts[0].Name
			}
			if c.Source.Path == "" {
				c.Source.Path = defaultSourcePath(c)
			}
			return m.save()
		case "esc":
			return m.goBack()
		}
	}
	return nil
}

// defaultSourcePath is the guide's checkout place: the manager user's home.
func defaultSourcePath(c *steps.Cluster) string {
	h, _ := c.Host(c.Manager)
	switch h.User {
	case "", "root":
		return "/root/autograder-full-stack"
	default:
		return "/home/" + h.User + "/autograder-full-stack"
	}
}

func (s *hostsScreen) addForm(m *Model) tea.Cmd {
	var name, addr, user, port = "", "", "root", "22"
	f := huh.NewForm(huh.NewGroup(
		huh.NewInput().Title("Name").Description("How aginstall and the swarm call it, e.g. node1.").Value(&name).
			Validate(func(v string) error {
				if err := notEmpty("a name")(v); err != nil {
					return err
				}
				if _, dup := m.cluster.Host(v); dup {
					return fmt.Errorf("%s is already in the list", v)
				}
				return nil
			}),
		huh.NewInput().Title("Address").Description("IP or DNS name; empty means the name.").Value(&addr),
		huh.NewInput().Title("SSH user").Description("empty means root").Value(&user),
		huh.NewInput().Title("SSH port").Value(&port).Validate(validPort)))
	return s.form.start(m, f, func(m *Model) tea.Cmd {
		m.cluster.Hosts = append(m.cluster.Hosts, steps.HostSpec{Name: strings.TrimSpace(name), Address: strings.TrimSpace(addr), User: orElse(strings.TrimSpace(user), "root"), Port: atoi(port)})
		return nil
	})
}

func (s *hostsScreen) pasteForm(m *Model) tea.Cmd {
	var text string
	f := huh.NewForm(huh.NewGroup(
		huh.NewText().Title("Paste hosts, one a line").
			Description("name address [user] [port], or user@address[:port], or just an address.").
			Lines(6).Value(&text).Validate(func(v string) error { _, err := parseHostLines(v); return err })))
	return s.form.start(m, f, func(m *Model) tea.Cmd {
		hosts, _ := parseHostLines(text)
		for _, h := range hosts {
			if _, dup := m.cluster.Host(h.Name); !dup {
				m.cluster.Hosts = append(m.cluster.Hosts, h)
			}
		}
		return nil
	})
}

var hostNameRe = regexp.MustCompile(`[^a-z0-9-]+`)

// parseHostLines reads pasted host lines; an error names the bad line.
func parseHostLines(text string) ([]steps.HostSpec, error) {
	var out []steps.HostSpec
	for i, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		var h steps.HostSpec
		if strings.ContainsAny(f[0], "@:") || len(f) == 1 {
			user, hostport, ok := strings.Cut(f[0], "@")
			if !ok {
				user, hostport = "", f[0]
			}
			host, port, hasPort := strings.Cut(hostport, ":")
			h = steps.HostSpec{Address: host, User: user}
			if hasPort {
				if validPort(port) != nil {
					return nil, fmt.Errorf("line %d: %q is not a port", i+1, port)
				}
				h.Port = atoi(port)
			}
			short := strings.Split(host, ".")[0]
			if net.ParseIP(host) != nil {
				short = host // 10.0.0.9 → 10-0-0-9, not "10"
			}
			h.Name = strings.Trim(hostNameRe.ReplaceAllString(strings.ToLower(short), "-"), "-")
		} else {
			h = steps.HostSpec{Name: f[0], Address: f[1]}
			if len(f) > 2 {
				h.User = f[2]
			}
			if len(f) > 3 {
				if validPort(f[3]) != nil {
					return nil, fmt.Errorf("line %d: %q is not a port", i+1, f[3])
				}
				h.Port = atoi(f[3])
			}
		}
		if h.Name == "" {
			return nil, fmt.Errorf("line %d: no host name in %q", i+1, line)
		}
		out = append(out, h)
	}
	return out, nil
}

func (s *hostsScreen) importForm(m *Model) tea.Cmd {
	path := m.opt.SSHConfig
	if path == "none" {
		s.err = "Importing is off: aginstall runs with --ssh-config none. Add hosts with a or p."
		return nil
	}
	if path == "" {
		home, _ := os.UserHomeDir()
		path = filepath.Join(home, ".ssh", "config")
	}
	entries, err := sshConfigHosts(path)
	if err != nil || len(entries) == 0 {
		s.err = fmt.Sprintf("No Host entries to import from %s (%v). Add hosts with a or p.", path, err)
		return nil
	}
	var picked []string
	var opts []huh.Option[string]
	for _, e := range entries {
		opts = append(opts, huh.NewOption(e.Name+"  "+stDim.Render(e.Address), e.Name))
	}
	f := huh.NewForm(huh.NewGroup(huh.NewMultiSelect[string]().
		Title("Hosts from " + path).Description("space or x selects, enter imports; ssh_config still applies at login").
		Options(opts...).Height(min(len(opts)+4, 14)).Value(&picked)))
	return s.form.start(m, f, func(m *Model) tea.Cmd {
		for _, e := range entries {
			for _, p := range picked {
				if p == e.Name {
					if _, dup := m.cluster.Host(e.Name); !dup {
						m.cluster.Hosts = append(m.cluster.Hosts, e)
					}
				}
			}
		}
		return nil
	})
}

// sshConfigHosts lists the concrete Host aliases of an ssh_config (no
// wildcards), with HostName, User and Port when given. Name and address are
// the alias: the SSH layer resolves the rest from the same file.
func sshConfigHosts(path string) ([]steps.HostSpec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []steps.HostSpec
	var cur []int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(strings.ReplaceAll(sc.Text(), "=", " "))
		if len(fields) < 2 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		switch strings.ToLower(fields[0]) {
		case "host":
			cur = nil
			for _, alias := range fields[1:] {
				if strings.ContainsAny(alias, "*?!") {
					continue
				}
				out = append(out, steps.HostSpec{Name: alias, Address: alias})
				cur = append(cur, len(out)-1)
			}
		case "match":
			cur = nil
		case "hostname":
			for _, i := range cur {
				out[i].Address = fields[1]
			}
		case "user":
			for _, i := range cur {
				out[i].User = fields[1]
			}
		case "port":
			for _, i := range cur {
				out[i].Port, _ = strconv.Atoi(fields[1])
			}
		}
	}
	return out, sc.Err()
}

func (s *hostsScreen) view(m *Model, w, h int) string {
	if s.form.active() {
		return s.form.view()
	}
	c := m.cluster
	var b strings.Builder
	b.WriteString(stTitle.Render("The servers of the swarm") + "\n")
	b.WriteString(stDim.Render(cut("Logins use your ssh agent, keys and ~/.ssh/config.", w)) + "\n\n")
	b.WriteString(stHeader.Render(pad("  Name", 12)+pad("Address", 16)+pad("User", 10)+pad("Port", 6)+"Login") + "\n")
	if len(c.Hosts) == 0 {
		b.WriteString(stDim.Render("  no hosts yet: a adds one, p pastes several, i imports from ~/.ssh/config") + "\n")
	}
	for i, hs := range c.Hosts {
		name := hs.Name
		if hs.Name == c.Manager {
			name += "*"
		}
		port := "22"
		if hs.Port != 0 {
			port = strconv.Itoa(hs.Port)
		}
		login := stDim.Render("not tested")
		if ch, ok := s.checks[hs.Name]; ok {
			login = icon(ch.Status, m.opt.Accessible) + " " + ch.Reason
		}
		line := "  " + col(name, 10) + col(hs.Address, 16) + col(hs.User, 10) + col(port, 6)
		if i == s.sel {
			line = stSel.Render("›" + line[1:])
		}
		b.WriteString(cut(line+login, w) + "\n")
	}
	b.WriteString(stDim.Render("\n  * the manager (m changes it)") + "\n")
	for _, hs := range c.Hosts {
		if ch, ok := s.checks[hs.Name]; ok && ch.Status != steps.Done {
			b.WriteString(stWarn.Render(wrapIndent(hs.Name+": ", ch.Reason, w)) + "\n")
			if ch.Fix != "" {
				b.WriteString(stDim.Render(wrapIndent("  fix: ", ch.Fix, w)) + "\n")
			}
		}
	}
	if s.err != "" {
		b.WriteString("\n" + stErr.Render(wrap(s.err, w)) + "\n")
	}
	return b.String()
}
