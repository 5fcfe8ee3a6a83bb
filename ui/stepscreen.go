package ui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"aginstall/steps"
)

// stepScreen shows one step: what it does, what its checks found, and its
// inputs as a form with the cluster file's values as defaults.
type stepScreen struct {
	step   steps.Step
	form   formBox
	apply  func()
	hasInp bool
	inputs string // the step's inputs before the form's values were applied
	err    string
}

// inputsOf fingerprints a step's inputs (as the engine's skip does).
func inputsOf(st steps.Step, c *steps.Cluster) string {
	if in, ok := st.(steps.Inputs); ok {
		return steps.Fingerprint(in.Inputs(c))
	}
	return ""
}

// stepAbout says in one sentence what each documented step does.
var stepAbout = map[string]string{
	"discover": "Reads each host's OS, resources, sudo, Docker and network; changes nothing.",
	"docker":   "Installs Docker Engine and docker-compose on every host and lets the SSH user use it.",
	"limits":   "Sets the open-files limit (nofile 1000000) in limits.conf as the guide says.",
	"swarm":    "Initialises the swarm on the manager and joins the other hosts.",
	"network":  "Creates the overlay network the stack's services share.",
	"source":   "Clones autograder-full-stack on the manager at the chosen ref.",
	"nfs":      "Exports the checkout from the manager and mounts it on the other hosts.",
	"labels":   "Puts the node labels that place each service.",
	"settings": "Writes the site settings and tuning into the checkout's files.",
	"registry": "Starts the swarm's image registry, with a pull-through proxy per node in host mode, and closes ports 5000 and 5001 on every host to all but the cluster's addresses (the images hold the site's secrets).",
	"deploy":   "Builds and pushes the images, deploys the stack, waits for every service.",
	"migrate":  "Runs the Django migrations.",
	"admin":    "Creates the first administrator and course.",
}

func newStepScreen(m *Model, st steps.Step) *stepScreen {
	f, _ := stepForm(m.cluster, m.facts, m.dbExists(), st.ID())
	return &stepScreen{step: st, hasInp: f != nil}
}

func (s *stepScreen) title() string  { return s.step.Title() }
func (s *stepScreen) stepID() string { return s.step.ID() }
func (s *stepScreen) typing() bool   { return s.form.active() }

func (s *stepScreen) keys() []key.Binding {
	if s.form.active() {
		return []key.Binding{bind("enter", "next field"), bind("shift+tab", "previous"), bind("esc", "leave the form")}
	}
	b := []key.Binding{bind("enter", "continue")}
	if s.hasInp {
		b = append(b, bind("e", "edit"))
	}
	if s.step.ID() == "admin" {
		b = append(b, bind("n", "no admin now"))
	}
	return append(b, bind("s", "skip…"), keyBack)
}

// init reads the cluster file again (an edit made outside the wizard is
// what the form shows), then opens the form.
func (s *stepScreen) init(m *Model) tea.Cmd {
	if !s.hasInp {
		return nil
	}
	return m.refresh()
}

func (s *stepScreen) startForm(m *Model) tea.Cmd {
	f, apply := stepForm(m.cluster, m.facts, m.dbExists(), s.step.ID())
	s.hasInp = f != nil
	if f == nil {
		return nil
	}
	s.apply = apply
	return s.form.start(m, f, func(m *Model) tea.Cmd {
		s.inputs = inputsOf(s.step, m.cluster)
		s.apply()
		return m.save()
	})
}

// noAdminReason is the skip the admin screen's n records; Done lists it.
const noAdminReason = "no administrator now (the operator adds one later)"

func (s *stepScreen) update(m *Model, msg tea.Msg) tea.Cmd {
	if ok, cmd := s.form.update(m, msg); ok {
		return cmd
	}
	switch msg := msg.(type) {
	case refreshedMsg:
		m.doneWork()
		if msg.err != nil {
			s.err = msg.err.Error()
			return nil
		}
		m.cluster = msg.c
		return s.startForm(m)
	case savedMsg:
		m.doneWork()
		if msg.err != nil {
			s.err = msg.err.Error()
			return nil
		}
		s.err = ""
		m.cluster = msg.c
		// A skip holds while the step's inputs stay as they were: new
		// values (an administrator after "no admin now") make it to do.
		if it := m.side[s.step.ID()]; it != nil && it.status == steps.Skipped && inputsOf(s.step, m.cluster) != s.inputs {
			it.status, it.note = steps.Todo, ""
		}
		return m.nextStep(s.step.ID())
	case tea.KeyPressMsg:
		if m.busy != "" {
			return nil
		}
		switch msg.String() {
		case "enter":
			if s.step.ID() == "admin" && formMissing(m.cluster, "admin") && m.side["admin"].status != steps.Skipped {
				m.flash = "No administrator yet: e gives one, n goes on without (the Done screen lists it)."
				return nil
			}
			return m.nextStep(s.step.ID())
		case "e":
			if s.hasInp {
				return s.init(m)
			}
		case "n":
			if s.step.ID() != "admin" {
				return nil
			}
			if err := m.be.Skip(m.cluster, "admin", noAdminReason); err != nil {
				m.flash = "recording the skip: " + err.Error()
				return nil
			}
			if it := m.side["admin"]; it != nil {
				it.status, it.note = steps.Skipped, noAdminReason
			}
			return m.nextStep(s.step.ID())
		case "s":
			return m.goTo(newSkip(s.step.ID(), s.step.Title(), func(m *Model) tea.Cmd {
				m.leave()
				return m.nextStep(s.step.ID())
			}))
		case "esc":
			return m.goBack()
		}
	}
	return nil
}

func (s *stepScreen) view(m *Model, w, h int) string {
	var b strings.Builder
	b.WriteString(stTitle.Render(s.step.Title()) + "\n")
	if a := stepAbout[s.step.ID()]; a != "" {
		b.WriteString(stDim.Render(wrap(a, w)) + "\n")
	}
	b.WriteString("\n")
	if s.form.active() {
		b.WriteString(s.form.view())
		return b.String()
	}
	for _, r := range m.reports {
		if r.ID != s.step.ID() {
			continue
		}
		for _, c := range r.Checks {
			b.WriteString(cut(icon(c.Status, m.opt.Accessible)+" "+col(c.Host, 10)+c.Reason, w) + "\n")
		}
		b.WriteString("\n")
	}
	if s.step.ID() == "admin" && formMissing(m.cluster, "admin") {
		b.WriteString(stWarn.Render(wrap("Not asked yet: e gives the administrator and the first course; n goes on without one (listed on the Done screen).", w)) + "\n")
	} else if s.hasInp {
		b.WriteString(stDim.Render(wrap("Enter continues with the values in the cluster file; e edits them.", w)) + "\n")
	} else {
		b.WriteString(stDim.Render("Nothing to choose here: the plan shows what it will do on each host.") + "\n")
	}
	if s.err != "" {
		b.WriteString("\n" + stErr.Render("The cluster file refused the values:") + "\n" + wrap(s.err, w) + "\n")
	}
	return b.String()
}

// nextStep shows the screen of the step after id (skipping the ones the
// checks found done when resuming), or the plan when none is left.
func (m *Model) nextStep(id string) tea.Cmd {
	i := 0
	for j, s := range m.steps {
		if s.ID() == id {
			i = j + 1
		}
	}
	for ; i < len(m.steps); i++ {
		st := m.steps[i]
		// Resume passes over what is done or skipped, but not a form whose
		// values were never given (n on it skips it again).
		if it := m.side[st.ID()]; m.opt.Mode == ModeResume && it != nil && (it.status == steps.Done || it.status == steps.Skipped) && !formMissing(m.cluster, st.ID()) {
			continue
		}
		if st.ID() == "labels" {
			return m.goTo(newLabels(m, st))
		}
		return m.goTo(newStepScreen(m, st))
	}
	return m.goTo(newPlan())
}
