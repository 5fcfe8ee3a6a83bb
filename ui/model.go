package ui

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"aginstall/steps"
)

// screen is one page of the wizard. Screens share the wizard's state through
// *Model; each handles its own keys and the results of its own commands.
type screen interface {
	title() string
	update(m *Model, msg tea.Msg) tea.Cmd
	view(m *Model, w, h int) string
	keys() []key.Binding
}

// typer is a screen with a focused text field: q and ? are text there.
type typer interface{ typing() bool }

// Model is the wizard.
type Model struct {
	opt    Options
	be     Backend
	ctx    context.Context
	cancel context.CancelFunc

	w, h        int
	help        help.Model
	spin        spinner.Model
	showHelp    bool
	confirmQuit bool
	interrupted bool   // the operator quit while work ran
	busy        string // what runs now, "" when idle
	flash       string // last error or notice, one line
	q           *eventQueue
	evbuf       []steps.Event

	path     string
	cluster  *steps.Cluster
	steps    []steps.Step
	side     map[string]*sideItem
	facts    map[string]*steps.Facts
	reports  []steps.StepReport
	sudoDone bool
	hosts    []string // hosts with a log, in cluster order
	paneOf   []string // hosts the running step acts on: the panes shown
	logs     map[string]*hostLog
	runStep  string // the step applying now
	converge []convRow
	waits    checkWaits // the checks a review still waits for, by host

	screen screen
	back   []screen
}

// sideItem is one step in the sidebar checklist.
type sideItem struct {
	status     steps.Status
	note       string       // skip reason or failure, one line
	mode       string       // the engine mode it runs in (check, plan, apply)
	before     steps.Status // status before a plan, restored after it
	beforeNote string
}

// hostLog is one host's pane: what it does now and its last lines.
type hostLog struct {
	lines       *ring
	purpose     string
	done, total int
	status      steps.Status
}

// logLines is how many lines each host keeps for its pane.
const logLines = 2000

// NewModel builds the wizard (tests drive it directly).
func NewModel(opt Options) tea.Model { return newModel(opt) }

func newModel(opt Options) *Model {
	ctx, cancel := context.WithCancel(context.Background())
	m := &Model{
		opt: opt, be: opt.Backend, ctx: ctx, cancel: cancel,
		w: 100, h: 30,
		help: help.New(), spin: spinner.New(spinner.WithSpinner(spinner.MiniDot)),
		q: &eventQueue{}, path: opt.ClusterPath,
		side: map[string]*sideItem{}, logs: map[string]*hostLog{},
	}
	m.help.Styles = help.Styles{}
	m.steps = m.be.Steps()
	for _, s := range m.steps {
		m.side[s.ID()] = &sideItem{status: steps.Todo}
	}
	// Welcome is always the first screen; with a mode given, its Init loads
	// the cluster file and moves on at once.
	m.screen = newWelcome(m)
	return m
}

// Init starts whatever the first screen needs.
func (m *Model) Init() tea.Cmd {
	if i, ok := m.screen.(interface{ init(*Model) tea.Cmd }); ok {
		return i.init(m)
	}
	return nil
}

// Update routes messages: global keys first, then the queued events, then the screen.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.w, m.h = msg.Width, msg.Height
		return m, m.screen.update(m, msg)
	case drainMsg:
		m.applyQueued()
		return m, nil
	case spinner.TickMsg:
		if m.busy == "" || m.opt.Accessible {
			return m, nil
		}
		var cmd tea.Cmd
		m.spin, cmd = m.spin.Update(msg)
		return m, cmd
	case tea.KeyPressMsg:
		return m, m.key(msg)
	}
	// A command's result: apply the events it emitted first, so the screen
	// sees the sidebar and logs as they were when the work ended.
	m.applyQueued()
	if ce, save := conflictOf(msg); ce != nil {
		// Outside and wizard edits of the same key: the operator settles it.
		m.doneWork()
		return m, m.goTo(&conflictScreen{err: ce, save: save})
	}
	cmd := m.screen.update(m, msg)
	switch msg := msg.(type) {
	case savedMsg:
		if msg.err == nil {
			m.tookOutside(msg.taken)
		}
	case refreshedMsg:
		if msg.err == nil {
			m.tookOutside(msg.taken)
		}
	}
	return m, cmd
}

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := msg.String()
	if m.confirmQuit {
		switch k {
		case "y", "Y", "ctrl+c":
			m.interrupted = true
			m.cancel()
			return tea.Quit
		case "n", "N", "esc":
			m.confirmQuit = false
		}
		return nil
	}
	typing := m.typing()
	if k == "ctrl+c" || (k == "q" && !typing) {
		if m.busy != "" {
			m.confirmQuit = true
			return nil
		}
		m.cancel()
		return tea.Quit
	}
	if k == "?" && !typing {
		m.showHelp = !m.showHelp
		return nil
	}
	return m.screen.update(m, msg)
}

// typing: a field of the current screen has the keys, so q and ? are letters.
func (m *Model) typing() bool {
	t, ok := m.screen.(typer)
	return ok && t.typing()
}

// goTo shows s, remembering the current screen for esc.
func (m *Model) goTo(s screen) tea.Cmd {
	m.back = append(m.back, m.screen)
	m.screen = s
	m.flash = ""
	return m.initScreen()
}

// replace shows s without a way back (after work that cannot be undone).
func (m *Model) replace(s screen) tea.Cmd {
	m.screen = s
	m.flash = ""
	return m.initScreen()
}

// goBack returns to the previous screen (esc).
func (m *Model) goBack() tea.Cmd {
	if len(m.back) == 0 || m.busy != "" {
		return nil
	}
	m.screen = m.back[len(m.back)-1]
	m.back = m.back[:len(m.back)-1]
	m.flash = ""
	return nil
}

func (m *Model) initScreen() tea.Cmd {
	if i, ok := m.screen.(interface{ init(*Model) tea.Cmd }); ok {
		return i.init(m)
	}
	return nil
}

// work runs fn off the UI goroutine with the wizard's context; the sidebar
// spinner turns while it runs. The result message ends the busy state when
// the screen handles it (doneWork).
func (m *Model) work(label string, fn func(ctx context.Context) tea.Msg) tea.Cmd {
	m.busy = label
	ctx := m.ctx
	cmds := []tea.Cmd{func() tea.Msg { return fn(ctx) }}
	if !m.opt.Accessible {
		cmds = append(cmds, m.spin.Tick)
	}
	return tea.Batch(cmds...)
}

func (m *Model) doneWork() { m.busy = "" }

// sink is what the Backend streams events into.
func (m *Model) sink() steps.Sink { return m.q.sink }

// applyQueued folds every queued event into the sidebar and host logs.
func (m *Model) applyQueued() {
	var dropped int
	m.evbuf, dropped = m.q.drain(m.evbuf)
	for _, e := range m.evbuf {
		m.apply(e)
	}
	if dropped > 0 {
		m.flash = fmt.Sprintf("%d output lines not shown (the UI fell behind); the log file has them", dropped)
	}
	clear(m.evbuf)
}

func (m *Model) hostLog(host string) *hostLog {
	l := m.logs[host]
	if l == nil {
		l = &hostLog{lines: newRing(logLines), status: steps.Todo}
		m.logs[host] = l
		m.hosts = append(m.hosts, host)
		if m.cluster != nil {
			order := m.cluster.HostNames()
			rank := func(h string) int {
				if i := slices.Index(order, h); i >= 0 {
					return i
				}
				return len(order)
			}
			slices.SortStableFunc(m.hosts, func(a, b string) int { return rank(a) - rank(b) })
		}
	}
	return l
}

func (m *Model) apply(e steps.Event) {
	m.waits.track(e)
	// Checks and dry runs only move the sidebar: their commands are reads and
	// records (the plan screen and the log file show them), not pane output.
	if m.quiet(e) {
		return
	}
	switch e := e.(type) {
	case steps.StepStarted:
		if it := m.side[e.Step]; it != nil {
			if e.Mode == "plan" {
				it.before, it.beforeNote = it.status, it.note
			}
			it.status, it.note, it.mode = running, "", e.Mode
		}
		if e.Mode == "apply" {
			m.runStep = e.Step
			m.paneOf = slices.Clone(e.Hosts)
			for _, h := range e.Hosts {
				l := m.hostLog(h)
				l.lines.add("── " + e.Title + " ──")
				l.purpose, l.done, l.total, l.status = "", 0, 0, running
			}
		}
	case steps.CommandStarted:
		l := m.hostLog(e.Host)
		l.purpose = e.Purpose
		if !e.DryRun {
			l.lines.add("$ " + e.Command)
		}
	case steps.HostOutput:
		m.hostLog(e.Host).lines.add(e.Text)
		if e.Step == "deploy" && strings.Contains(m.logs[e.Host].purpose, "converge") {
			m.noteConvergence(e.Text)
		}
	case steps.HostProgress:
		l := m.hostLog(e.Host)
		l.purpose, l.done, l.total = e.Purpose, e.Done, e.Total
	case steps.HostFinished:
		l := m.hostLog(e.Host)
		l.status = e.Status
		if e.Status == steps.Failed {
			l.lines.add("✗ " + firstLine(e.Reason))
		}
	case steps.StepFinished:
		for _, l := range m.paneLogs() {
			if l.status == running && e.Err == nil {
				l.status = steps.Done
			} else if l.status == running {
				l.status = steps.Unknown
			}
		}
		it := m.side[e.Step]
		if it == nil {
			return
		}
		switch {
		case it.mode == "plan":
			// A dry run changes nothing: the step stands where it stood.
			it.status, it.note = it.before, it.beforeNote
		case e.Err != nil:
			it.status, it.note = steps.Failed, firstLine(e.Err.Error())
		case len(e.Checks) > 0:
			it.status = overallStatus(e.Checks)
		default:
			if it.status == running {
				it.status = steps.Todo
			}
		}
	}
}

// quiet reports whether e is host output of a step in check or plan mode.
func (m *Model) quiet(e steps.Event) bool {
	var step string
	switch e := e.(type) {
	case steps.CommandStarted:
		step = e.Step
	case steps.HostOutput:
		step = e.Step
	case steps.HostProgress:
		step = e.Step
	case steps.HostFinished:
		step = e.Step
	default:
		return false
	}
	it := m.side[step]
	return it != nil && (it.mode == "check" || it.mode == "plan")
}

// paneLogs are the logs of the hosts the running step acts on.
func (m *Model) paneLogs() []*hostLog {
	var out []*hostLog
	for _, h := range m.paneOf {
		if l := m.logs[h]; l != nil {
			out = append(out, l)
		}
	}
	return out
}

// overallStatus: the worst host verdict wins (as the engine folds them).
func overallStatus(checks []steps.HostCheck) steps.Status {
	rank := map[steps.Status]int{steps.Done: 0, steps.Skipped: 1, steps.Todo: 2, steps.Unknown: 3, steps.Drifted: 4, steps.Failed: 5}
	st := steps.Done
	for _, c := range checks {
		if rank[c.Status] > rank[st] {
			st = c.Status
		}
	}
	return st
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// View lays out header, sidebar, the screen and the footer.
func (m *Model) View() tea.View {
	v := tea.NewView(m.render())
	// Screen readers follow the normal screen better than the alternate one.
	v.AltScreen = !m.opt.Accessible
	v.WindowTitle = "aginstall"
	return v
}

func (m *Model) render() string {
	w, h := max(m.w, 40), max(m.h, 10)
	head := stTitle.Render("aginstall") + " · " + m.screen.title()
	if m.path != "" {
		head += stDim.Render("  " + m.path)
	}
	foot := m.footer(w)
	bodyH := h - 1 - lipgloss.Height(foot)
	sideW := 24
	if w < 100 {
		sideW = 21
	}
	if m.opt.Accessible { // words take more room than symbols
		sideW += 3
	}
	mainW := w - sideW - 1
	// Both columns are fitted to exact sizes, so they join line by line
	// without measuring them again.
	side := strings.Split(fit(m.sidebar(sideW, bodyH), sideW, bodyH), "\n")
	main := strings.Split(fit(m.screen.view(m, mainW, bodyH), mainW, bodyH), "\n")
	var b strings.Builder
	b.Grow((w + 16) * h)
	b.WriteString(fit(head, w, 1))
	for i := range side {
		b.WriteString("\n" + side[i] + "│" + main[i])
	}
	b.WriteString("\n" + foot)
	return b.String()
}

func (m *Model) footer(w int) string {
	status := ""
	switch {
	case m.confirmQuit:
		status = stErr.Render("Work is running on the hosts. Quit anyway? y/n")
	case m.flash != "":
		status = stWarn.Render(m.flash)
	case m.busy != "":
		status = m.spinner() + " " + m.busy
	}
	bindings := append(m.screen.keys(), keyHelp, keyQuit)
	if m.typing() {
		// q and ? are letters in a field: say the keys that work there.
		bindings = append(m.screen.keys(), keyQuitTyping)
	}
	m.help.SetWidth(w)
	var keys string
	if m.showHelp {
		keys = m.help.FullHelpView(chunk(bindings, 4))
	} else {
		keys = m.help.ShortHelpView(bindings)
	}
	return fit(status, w, 1) + "\n" + fit(keys, w, lipgloss.Height(keys))
}

func chunk(b []key.Binding, n int) [][]key.Binding {
	var out [][]key.Binding
	for len(b) > n {
		out = append(out, b[:n])
		b = b[n:]
	}
	return append(out, b)
}

func (m *Model) spinner() string {
	if m.opt.Accessible {
		return "working:"
	}
	return m.spin.View()
}

func (m *Model) sidebar(w, h int) string {
	var b strings.Builder
	b.WriteString(stHeader.Render("Steps") + "\n")
	for _, s := range m.steps {
		it := m.side[s.ID()]
		ic := icon(it.status, m.opt.Accessible)
		if it.status == running {
			ic = m.spinner()
		}
		title := s.Title()
		if short, ok := sideTitle[s.ID()]; ok {
			title = short
		}
		line := ic + " " + title
		if cur, ok := m.screen.(interface{ stepID() string }); ok && cur.stepID() == s.ID() {
			line = stSel.Render(cut(line, w))
		}
		b.WriteString(cut(line, w) + "\n")
		if it.note != "" && (it.status == steps.Skipped || it.status == steps.Failed) {
			b.WriteString(stDim.Render(cut("  "+it.note, w)) + "\n")
		}
	}
	return b.String()
}

// sideTitle: the documented steps' titles, short enough for the sidebar.
var sideTitle = map[string]string{
	"discover": "Discover hosts", "docker": "Docker", "limits": "Open-file limits",
	"swarm": "Swarm", "network": "Overlay network", "source": "Source checkout",
	"nfs": "NFS share", "labels": "Node labels", "settings": "Site settings",
	"registry": "Image registry", "deploy": "Deploy the stack", "migrate": "Migrations",
	"admin": "Admin and course", "marker": "Marker",
}

var (
	keyUp   = key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up"))
	keyDown = key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down"))
	keyBack = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back"))
	keyTab  = key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next pane"))
	keyHelp = key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help"))
	keyQuit = key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit"))
	// keyQuitTyping: the footer's quit while a field has the keys.
	keyQuitTyping = key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit"))
)

// bind is a one-off binding for a screen's footer.
func bind(keys, desc string) key.Binding {
	ks := strings.Split(keys, "/")
	return key.NewBinding(key.WithKeys(ks...), key.WithHelp(keys, desc))
}

// leave drops the current screen for the previous one without showing it, so
// a one-time screen (the sudo password) is not in the way back.
func (m *Model) leave() {
	if len(m.back) > 0 {
		m.screen = m.back[len(m.back)-1]
		m.back = m.back[:len(m.back)-1]
	}
}

func (m *Model) stepTitle(id string) string {
	for _, s := range m.steps {
		if s.ID() == id {
			return s.Title()
		}
	}
	return id
}
