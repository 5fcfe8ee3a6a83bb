package ui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"aginstall/steps"
)

// reviewScreen: every step's checks on every host, read-only, with the
// fixes; exported as Markdown. In resume mode it is the first screen, and
// enter continues at the first step not done.
type reviewScreen struct {
	resume   bool
	sel      int
	done     bool
	err      error
	exported string
	// askSudo: checks that need sudo could not run (no password yet), so
	// enter asks for it and checks again: a review of a cluster whose user
	// has a sudo password is otherwise mostly "unknown".
	askSudo bool
	ticking bool // a reviewTick is due
}

func newReview(resume bool) *reviewScreen { return &reviewScreen{resume: resume} }

func (s *reviewScreen) title() string {
	if s.resume {
		return "Resume"
	}
	return "Review"
}

func (s *reviewScreen) keys() []key.Binding {
	b := []key.Binding{keyUp, keyDown, bind("x", "export Markdown"), bind("r", "check again")}
	if s.resume {
		b = append(b, bind("enter", "continue"))
	} else if s.askSudo {
		b = append(b, bind("enter", "give the sudo password"))
	}
	return append(b, keyBack)
}

type reviewedMsg struct {
	reports []steps.StepReport
	err     error
}

func (s *reviewScreen) init(m *Model) tea.Cmd {
	s.done = false
	m.waits.reset()
	c := m.cluster
	cmd := m.work("checking every step on every host (read-only)", func(ctx context.Context) tea.Msg {
		r, err := m.be.Review(ctx, c, m.sink())
		return reviewedMsg{r, err}
	})
	if s.ticking { // "check again" while a tick is still due: one is enough
		return cmd
	}
	s.ticking = true
	return tea.Batch(cmd, reviewTick())
}

// reviewTickMsg redraws the screen once a second while the checks run, so
// the hosts still waited for show (and their seconds count) without a
// spinner (the accessible mode has none) or any event to draw on.
type reviewTickMsg struct{}

func reviewTick() tea.Cmd {
	return tea.Tick(time.Second, func(time.Time) tea.Msg { return reviewTickMsg{} })
}

func (s *reviewScreen) update(m *Model, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case reviewTickMsg:
		if !s.done {
			return reviewTick()
		}
		s.ticking = false
	case reviewedMsg:
		m.doneWork()
		s.done, s.err = true, msg.err
		m.reports = msg.reports
		for _, r := range msg.reports {
			if it := m.side[r.ID]; it != nil {
				it.status, it.note = r.Status, ""
				if strings.HasPrefix(r.Note, "skipped") {
					it.status, it.note = steps.Skipped, strings.TrimPrefix(r.Note, "skipped by the operator: ")
				}
			}
		}
		m.facts = m.be.Facts(m.cluster)
		s.askSudo = !s.resume && !m.sudoDone && m.needsSudo() != nil
	case tea.KeyPressMsg:
		if m.busy != "" {
			return nil
		}
		switch msg.String() {
		case "up", "k":
			s.sel = max(s.sel-1, 0)
		case "down", "j":
			s.sel = min(s.sel+1, max(len(m.reports)-1, 0))
		case "r":
			return s.init(m)
		case "x":
			path := filepath.Join(filepath.Dir(m.path), "aginstall-review.md")
			if err := os.WriteFile(path, []byte(reviewMarkdown(m.cluster, m.reports, time.Now())), 0o644); err != nil {
				m.flash = "export: " + err.Error()
				return nil
			}
			s.exported = path
		case "enter":
			if !s.done {
				return nil
			}
			m.sudoDone = m.sudoDone || m.needsSudo() == nil
			if !m.sudoDone {
				sc := newSudo()
				sc.recheck = true
				return m.goTo(sc)
			}
			if s.resume {
				return m.nextStep(m.discoverID())
			}
		case "esc":
			return m.goBack()
		}
	}
	return nil
}

func (s *reviewScreen) view(m *Model, w, h int) string {
	var b strings.Builder
	if s.resume {
		b.WriteString(stTitle.Render("Resume") + stDim.Render(" · what is already done, checked now") + "\n")
	} else {
		b.WriteString(stTitle.Render("Review") + stDim.Render(" · read-only; nothing is changed") + "\n")
	}
	if !s.done {
		return b.String() + "Checking every step on every host…\n" + m.waits.slowView(w)
	}
	if s.err != nil {
		b.WriteString(stErr.Render(wrap(s.err.Error(), w)) + "\n")
	}
	done := 0
	for _, r := range m.reports {
		if r.Status == steps.Done {
			done++
		}
	}
	b.WriteString(fmt.Sprintf("%d of %d steps done.", done, len(m.reports)))
	if !m.sudoDone && m.needsSudo() != nil {
		b.WriteString("\n" + wrap("Checks that need sudo could not run yet: Enter asks for the sudo password, then checks again.", w))
	} else if s.resume {
		b.WriteString(" Enter continues at the first step not done.")
	}
	b.WriteString("\n\n")
	listH := min(len(m.reports), max(h/2-2, 3))
	top := max(0, s.sel-listH+1)
	for i := top; i < len(m.reports) && i < top+listH; i++ {
		r := m.reports[i]
		line := icon(r.Status, m.opt.Accessible) + " " + col(r.Title, 28) + stDim.Render(steps.Summary(r.Checks))
		if i == s.sel {
			line = stSel.Render("›") + line
		} else {
			line = " " + line
		}
		b.WriteString(cut(line, w) + "\n")
	}
	if s.sel < len(m.reports) {
		r := m.reports[s.sel]
		b.WriteString("\n" + stHeader.Render(r.Title) + "\n")
		if r.Note != "" {
			b.WriteString(stDim.Render(cut(r.Note, w)) + "\n")
		}
		for _, c := range r.Checks {
			b.WriteString(reviewReason(icon(c.Status, m.opt.Accessible)+" "+col(c.Host, 10), c.Reason, w) + "\n")
			if c.Fix != "" && c.Status != steps.Done {
				b.WriteString(stWarn.Render(wrap("    fix: "+c.Fix, w)) + "\n")
			}
		}
	}
	if s.exported != "" {
		b.WriteString("\n" + stOK.Render("Written to "+s.exported) + "\n")
	}
	return b.String()
}

// reviewMarkdown is the review as a Markdown report to attach to a ticket.
func reviewMarkdown(c *steps.Cluster, reports []steps.StepReport, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# aginstall review of %s\n\n", c.Name)
	fmt.Fprintf(&b, "Cluster file `%s`, manager `%s`, checked %s.\n\n", c.Path, c.Manager, now.UTC().Format("2006-01-02 15:04 UTC"))
	b.WriteString("| Step | Status | Hosts |\n|---|---|---|\n")
	for _, r := range reports {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", r.Title, r.Status, steps.Summary(r.Checks))
	}
	for _, r := range reports {
		fmt.Fprintf(&b, "\n## %s (%s)\n\n", r.Title, r.Status)
		if r.Note != "" {
			fmt.Fprintf(&b, "%s\n\n", r.Note)
		}
		for _, ch := range r.Checks {
			fmt.Fprintf(&b, "- **%s**: %s — %s\n", ch.Host, ch.Status, ch.Reason)
			if ch.Fix != "" && ch.Status != steps.Done {
				fmt.Fprintf(&b, "  - fix: %s\n", ch.Fix)
			}
		}
	}
	return b.String()
}

// reviewReasonLines bounds one host's reason in the review: the whole of a
// usual one, and the start of a long error (the export has all of it).
const reviewReasonLines = 4

// reviewReason is head followed by reason, wrapped under head's width,
// at most reviewReasonLines lines: a reason cut at the screen's edge hides
// what the host said.
func reviewReason(head, reason string, w int) string {
	lines := strings.Split(wrapIndent(head, reason, w), "\n")
	if len(lines) > reviewReasonLines {
		lines = append(lines[:reviewReasonLines-1], strings.Repeat(" ", ansi.StringWidth(head))+"… (x exports the whole review)")
	}
	return strings.Join(lines, "\n")
}
