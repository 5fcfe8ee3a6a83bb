package ui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"aginstall/steps"
)

// checkWaits is what a running review still waits for: per check that has
// started and not ended, the hosts that have not answered. The resume and
// review screens name them, so an operator whose review hangs on one host
// (a stuck login, a dead engine) knows where to look before the timeouts.
type checkWaits struct {
	now   func() time.Time
	steps []*checkWait // in the order they started
}

type checkWait struct {
	step, title string
	since       time.Time
	hosts       []string          // not answered yet, in the step's order
	asked       map[string]string // host → what it was asked last
}

// slowAfter is how long a check runs before the screen names its hosts: a
// healthy review of an installed cluster takes about a second.
const slowAfter = 5 * time.Second

// track folds one event in; it runs before check-mode events are dropped
// from the panes (they are reads, not output worth a pane).
func (c *checkWaits) track(e steps.Event) {
	switch e := e.(type) {
	case steps.StepStarted:
		c.end(e.Step)
		if e.Mode == "check" {
			c.steps = append(c.steps, &checkWait{step: e.Step, title: e.Title, since: c.clock(),
				hosts: slices.Clone(e.Hosts), asked: map[string]string{}})
		}
	case steps.CommandStarted:
		if w := c.find(e.Step); w != nil {
			w.asked[e.Host] = e.Purpose
		}
	case steps.HostFinished:
		c.answered(e.Step, e.Host)
	case steps.HostChecked:
		c.answered(e.Step, e.Host)
	case steps.StepFinished:
		c.end(e.Step)
	}
}

func (c *checkWaits) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

func (c *checkWaits) find(step string) *checkWait {
	for _, w := range c.steps {
		if w.step == step {
			return w
		}
	}
	return nil
}

func (c *checkWaits) answered(step, host string) {
	if w := c.find(step); w != nil {
		w.hosts = slices.DeleteFunc(w.hosts, func(h string) bool { return h == host })
	}
}

func (c *checkWaits) end(step string) {
	c.steps = slices.DeleteFunc(c.steps, func(w *checkWait) bool { return w.step == step })
}

// reset forgets every wait (a new review starts, or one was cancelled).
func (c *checkWaits) reset() { c.steps = nil }

// slow is one line per host a check has waited on for slowAfter or more:
// the host, the check, what it was asked, and for how long.
func (c *checkWaits) slow() []string {
	now := c.clock()
	var out []string
	for _, w := range c.steps {
		d := now.Sub(w.since)
		if d < slowAfter {
			continue
		}
		for _, h := range w.hosts {
			l := fmt.Sprintf("%s · %s", h, w.title)
			if a := w.asked[h]; a != "" {
				l += ": " + a
			}
			out = append(out, fmt.Sprintf("%s · %d s", l, int(d.Seconds())))
		}
	}
	return out
}

// slowView is the review screen's note on them, "" when nothing is slow.
func (c *checkWaits) slowView(w int) string {
	lines := c.slow()
	if len(lines) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("\n" + wrap("Still waiting for an answer from (each check gives up after its own timeout and says why):", w) + "\n")
	for _, l := range lines {
		b.WriteString(cut("  "+l, w) + "\n")
	}
	return b.String()
}
