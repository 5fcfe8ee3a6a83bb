package ui

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"strconv"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"

	"aginstall/steps"
	"aginstall/steps/edit"
)

// formBox hosts one huh form inside a screen. In accessible mode the form
// runs as huh's line-by-line prompts with the terminal released (tea.Exec),
// which screen readers follow; otherwise it is drawn inside the screen.
type formBox struct {
	form   *huh.Form
	onDone func(m *Model) tea.Cmd
}

// formDoneMsg: an accessible form finished.
type formDoneMsg struct{ err error }

// accessibleForm runs a form in huh's accessible mode on the released terminal.
type accessibleForm struct {
	f      *huh.Form
	in     io.Reader
	out    io.Writer
	errOut io.Writer
}

func (a *accessibleForm) Run() error {
	return a.f.WithAccessible(true).WithInput(a.in).WithOutput(a.out).Run()
}
func (a *accessibleForm) SetStdin(r io.Reader)  { a.in = r }
func (a *accessibleForm) SetStdout(w io.Writer) { a.out = w }
func (a *accessibleForm) SetStderr(w io.Writer) { a.errOut = w }

func (fb *formBox) active() bool { return fb.form != nil }

func (fb *formBox) start(m *Model, f *huh.Form, onDone func(m *Model) tea.Cmd) tea.Cmd {
	fb.onDone = onDone
	if m.opt.Accessible {
		return tea.Exec(&accessibleForm{f: f}, func(err error) tea.Msg { return formDoneMsg{err} })
	}
	fb.form = f.WithWidth(min(m.w-26, 70)).WithShowHelp(true)
	init := fb.form.Init()
	// Size the form to the screen's content area now, rather than when the
	// terminal answers the form's own size request.
	fm, _ := fb.form.Update(tea.WindowSizeMsg{Width: m.w - 26, Height: max(m.h-8, 6)})
	fb.form = fm.(*huh.Form)
	return init
}

// update feeds the form; it reports whether the message was the form's.
func (fb *formBox) update(m *Model, msg tea.Msg) (bool, tea.Cmd) {
	if d, ok := msg.(formDoneMsg); ok {
		if d.err != nil {
			m.flash = "form: " + d.err.Error()
			return true, nil
		}
		return true, fb.onDone(m)
	}
	if fb.form == nil {
		return false, nil
	}
	if k, ok := msg.(tea.KeyPressMsg); ok && k.String() == "esc" {
		fb.form = nil
		return true, nil
	}
	fm, cmd := fb.form.Update(msg)
	fb.form = fm.(*huh.Form)
	switch fb.form.State {
	case huh.StateCompleted:
		fb.form = nil
		return true, tea.Batch(cmd, fb.onDone(m))
	case huh.StateAborted:
		fb.form = nil
	}
	return true, cmd
}

func (fb *formBox) view() string { return fb.form.View() }

// Validators shared by the forms: they say what is wrong and what is expected.
func notEmpty(what string) func(string) error {
	return func(s string) error {
		if strings.TrimSpace(s) == "" {
			return fmt.Errorf("%s is required", what)
		}
		return nil
	}
}

// required refuses an empty answer unless the field has a value already:
// huh's accessible prompts validate the raw line before falling back to the
// default, so "enter keeps the default" must pass.
func required(what string, v *string) func(string) error {
	return func(s string) error {
		if strings.TrimSpace(s) == "" && strings.TrimSpace(*v) == "" {
			return fmt.Errorf("%s is required", what)
		}
		return nil
	}
}

func validPort(s string) error {
	if s == "" {
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return errors.New("a port is a number from 1 to 65535")
	}
	return nil
}

func validIP(s string) error {
	if s == "" {
		return nil
	}
	if net.ParseIP(s) == nil {
		return errors.New("an IP address of the manager, like 10.0.0.11")
	}
	return nil
}

func positiveInt(s string) error {
	if s == "" {
		return nil
	}
	if n, err := strconv.Atoi(s); err != nil || n < 0 {
		return errors.New("a whole number (0 or empty keeps the compose file's value)")
	}
	return nil
}

func validEmail(s string) error {
	if s == "" {
		return nil
	}
	if _, err := mail.ParseAddress(s); err != nil {
		return errors.New("an e-mail address like admin@university.edu")
	}
	return nil
}

func atoi(s string) int { n, _ := strconv.Atoi(strings.TrimSpace(s)); return n }

func itoa(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// celeryAsked are the graders whose celery concurrency the settings form asks.
var celeryAsked = []string{"grader", "fast_grader", "deferred_grader", "rerun_grader"}

// webserverHost names the host whose nginx reads the TLS files.
func webserverHost(c *steps.Cluster) string {
	for _, h := range c.Hosts {
		for _, l := range h.Labels {
			if l == "webserver" {
				return h.Name + " (the webserver host)"
			}
		}
	}
	return "the host labelled webserver"
}

// formMissing: a form whose values were never given, so Resume asks it.
func formMissing(c *steps.Cluster, id string) bool {
	switch id {
	case "admin":
		return c.Admin.Email == "" || c.Admin.Course == ""
	}
	return false
}

// dbExists: a database may already hold data (the checks found the stack
// deployed or migrated), so a new postgres image needs a typed confirmation.
func (m *Model) dbExists() bool {
	for _, id := range []string{"deploy", "migrate"} {
		if it := m.side[id]; it != nil && it.status == steps.Done {
			return true
		}
	}
	return false
}

// stepForm builds the inputs of one step, bound to the cluster; nil when the
// step takes none. Values are copied back by the returned apply func, so esc
// leaves the cluster untouched.
func stepForm(c *steps.Cluster, facts map[string]*steps.Facts, dbExists bool, id string) (*huh.Form, func()) {
	switch id {
	case "docker":
		v := c.Docker.Install
		f := huh.NewForm(huh.NewGroup(
			huh.NewSelect[string]().Title("How does Docker get onto each host?").
				Options(huh.NewOption("Docker's official apt repository (the guide's way)", "official"),
					huh.NewOption("The distribution's docker.io package", "distro"),
					huh.NewOption("Skip: Docker is already installed and managed by you", "skip")).
				Value(&v)))
		return f, func() { c.Docker.Install = v }
	case "swarm":
		addr, mode := c.Swarm.AdvertiseAddress, c.Swarm.PublishMode
		if addr == "" {
			if f := facts[c.Manager]; f != nil && f.ReachableAt != "" {
				addr = f.ReachableAt
			} else if h, ok := c.Host(c.Manager); ok && net.ParseIP(h.Address) != nil {
				addr = h.Address
			}
		}
		f := huh.NewForm(huh.NewGroup(
			huh.NewInput().Title("Swarm advertise address").Description("The manager's address the other hosts reach (docker swarm init --advertise-addr).").
				Value(&addr).Validate(validIP),
			huh.NewSelect[string]().Title("How services publish ports 80 and 443").
				Options(huh.NewOption("ingress: the routing mesh (needs IPVS in the kernel)", "ingress"),
					huh.NewOption("host: bound on the node that runs the webserver", "host")).
				Value(&mode)))
		return f, func() { c.Swarm.AdvertiseAddress, c.Swarm.PublishMode = strings.TrimSpace(addr), mode }
	case "source":
		repo, ref, path := c.Source.Repo, c.Source.Ref, c.Source.Path
		f := huh.NewForm(huh.NewGroup(
			huh.NewInput().Title("autograder-full-stack repository").Value(&repo).Validate(required("the repository URL", &repo)),
			huh.NewInput().Title("Branch, tag or commit").Value(&ref).Validate(required("the ref", &ref)),
			huh.NewInput().Title("Checkout path on the manager").Placeholder("default: the guide's path").Value(&path)))
		return f, func() {
			c.Source.Repo, c.Source.Ref, c.Source.Path = strings.TrimSpace(repo), strings.TrimSpace(ref), strings.TrimSpace(path)
		}
	case "nfs":
		mode, clients := c.NFS.Mode, c.NFS.Clients
		f := huh.NewForm(huh.NewGroup(
			huh.NewSelect[string]().Title("Share the checkout with the other hosts over NFS").
				Options(huh.NewOption("export it from the manager (the guide's way)", "export"),
					huh.NewOption("skip: every host has the checkout another way", "skip")).Value(&mode),
			huh.NewSelect[string]().Title("Who may mount it").
				Options(huh.NewOption("only this cluster's addresses", "cluster"),
					huh.NewOption("* (anyone, as the guide writes it)", "*")).Value(&clients)))
		return f, func() { c.NFS.Mode, c.NFS.Clients = mode, clients }
	case "settings":
		t, s := c.Tuning, c.Site
		workers, timeout := itoa(t.GunicornWorkers), itoa(t.MaxSubprocessTimeout)
		web := webserverHost(c)
		celery := make([]string, len(celeryAsked))
		for i, svc := range celeryAsked {
			celery[i] = itoa(t.CeleryConcurrency[svc])
		}
		var celeryInputs []huh.Field
		for i, svc := range celeryAsked {
			celeryInputs = append(celeryInputs, huh.NewInput().Title("Celery concurrency: "+svc).
				Placeholder("empty keeps the compose file's -c").Value(&celery[i]).Validate(positiveInt))
		}
		oldImage, confirm := s.PostgresImage, ""
		f := huh.NewForm(
			huh.NewGroup(
				huh.NewInput().Title("Site domain").Placeholder("autograder.example.edu").Value(&s.Domain),
				huh.NewInput().Title("TLS certificate: a path on "+web).Description("nginx reads it on the webserver host; put the file there first.").Value(&s.TLSCert),
				huh.NewInput().Title("TLS key: a path on "+web).Value(&s.TLSKey),
				huh.NewSelect[string]().Title("Login provider").Options(huh.NewOptions("google", "azure")...).Value(&s.OAuthProvider),
				huh.NewInput().Title("OAuth client JSON (a path on this machine)").Value(&s.OAuthSecrets)),
			huh.NewGroup(
				huh.NewInput().Title("Gunicorn workers").Value(&workers).Validate(positiveInt),
				huh.NewInput().Title("client_max_body_size").Placeholder("e.g. 50m").Value(&t.ClientMaxBodySize),
				huh.NewInput().Title("Max subprocess timeout (s)").Value(&timeout).Validate(positiveInt),
				huh.NewInput().Title("Sysadmin contact").Description("Shown to users when something breaks.").Value(&t.SysadminContact)),
			huh.NewGroup(celeryInputs...).Description("How many submissions each grader service runs at once (celery -c)."),
			huh.NewGroup(
				huh.NewInput().Title("Postgres image").Placeholder("empty keeps the compose file's, e.g. postgres:15").
					Description(edit.PostgresUpgradeWarning).Value(&s.PostgresImage)),
			huh.NewGroup(
				huh.NewInput().Title("A database exists: type the new image again to confirm").
					Description("The data stays in the old major version's format: dump and restore it as said above, or it will not be there.").
					Value(&confirm).Validate(func(v string) error {
					if strings.TrimSpace(v) != strings.TrimSpace(s.PostgresImage) {
						return fmt.Errorf("type %q exactly, or shift+tab back and keep %q", strings.TrimSpace(s.PostgresImage), oldImage)
					}
					return nil
				})).WithHideFunc(func() bool { return !dbExists || strings.TrimSpace(s.PostgresImage) == oldImage }))
		return f, func() {
			t.GunicornWorkers, t.MaxSubprocessTimeout = atoi(workers), atoi(timeout)
			cc := map[string]int{}
			for k, v := range t.CeleryConcurrency {
				cc[k] = v
			}
			for i, svc := range celeryAsked {
				if n := atoi(celery[i]); n > 0 {
					cc[svc] = n
				} else {
					delete(cc, svc)
				}
			}
			t.CeleryConcurrency = nil
			if len(cc) > 0 {
				t.CeleryConcurrency = cc
			}
			s.PostgresImage = strings.TrimSpace(s.PostgresImage)
			c.Tuning, c.Site = t, s
		}
	case "admin":
		a := c.Admin
		f := huh.NewForm(huh.NewGroup(
			huh.NewInput().Title("Administrator e-mail").Description("The first superuser; they sign in with the login provider. (esc, then n: no admin now)").
				Value(&a.Email).Validate(func(v string) error {
				if err := required("the administrator's e-mail", &a.Email)(v); err != nil {
					return err
				}
				return validEmail(strings.TrimSpace(v))
			}),
			huh.NewInput().Title("First course").Placeholder("EECS 280 Fall").Value(&a.Course).Validate(required("the course's name", &a.Course))))
		return f, func() {
			a.Email, a.Course = strings.TrimSpace(a.Email), strings.TrimSpace(a.Course)
			c.Admin = a
		}
	}
	return nil, nil
}
