package ui

import (
	"slices"
	"strings"
	"testing"
	"time"

	"aginstall/steps"
)

// A review that hangs on one host names it, with the check, what it was
// asked and for how long; hosts that answered and checks that ended are not
// named, and nothing shows before slowAfter.
func TestCheckWaitsNameTheSlowHost(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 17, 0, 0, 0, time.UTC)
	now := t0
	c := checkWaits{now: func() time.Time { return now }}
	hosts := []string{"node1", "node2", "node3"}
	for _, e := range []steps.Event{
		steps.StepStarted{Step: "discover", Title: "Discover the hosts", Mode: "check", Hosts: hosts},
		steps.CommandStarted{Step: "discover", Host: "node1", Purpose: "gather facts (read-only)"},
		steps.CommandStarted{Step: "discover", Host: "node3", Purpose: "gather facts (read-only)"},
		steps.HostFinished{Step: "discover", Host: "node1", Status: steps.Done},
		steps.HostFinished{Step: "discover", Host: "node2", Status: steps.Done},
		steps.StepStarted{Step: "limits", Title: "Raise open-file limits", Mode: "check", Hosts: hosts},
		steps.HostChecked{Step: "limits", Host: "node1"},
		steps.HostChecked{Step: "limits", Host: "node2"},
		steps.HostChecked{Step: "limits", Host: "node3"},
		steps.StepStarted{Step: "docker", Title: "Install Docker", Mode: "apply", Hosts: hosts},
	} {
		c.track(e)
	}
	if got := c.slow(); len(got) != 0 {
		t.Fatalf("before %s: %q", slowAfter, got)
	}
	now = t0.Add(23 * time.Second)
	want := []string{"node3 · Discover the hosts: gather facts (read-only) · 23 s"}
	if got := c.slow(); !slices.Equal(got, want) {
		t.Errorf("slow = %q, want %q", got, want)
	}
	if v := c.slowView(80); !strings.Contains(v, "Still waiting") || !strings.Contains(v, want[0]) {
		t.Errorf("view:\n%s", v)
	}
	c.track(steps.StepFinished{Step: "discover"})
	if got := c.slow(); len(got) != 0 {
		t.Errorf("after the step ended: %q", got)
	}
	c.track(steps.StepStarted{Step: "swarm", Title: "Create the swarm", Mode: "check", Hosts: hosts})
	c.reset()
	if got := c.slowView(80); got != "" {
		t.Errorf("after reset: %q", got)
	}
}

// The model feeds every event to the waits, check-mode ones included
// (those are dropped from the panes).
func TestModelTracksCheckWaits(t *testing.T) {
	m := &Model{side: map[string]*sideItem{"discover": {}}, logs: map[string]*hostLog{}}
	m.apply(steps.StepStarted{Step: "discover", Title: "Discover", Mode: "check", Hosts: []string{"node1"}})
	m.apply(steps.CommandStarted{Step: "discover", Host: "node1", Purpose: "gather facts (read-only)"})
	if len(m.waits.steps) != 1 || m.waits.steps[0].asked["node1"] != "gather facts (read-only)" {
		t.Fatalf("waits %+v", m.waits.steps)
	}
	if len(m.logs) != 0 {
		t.Errorf("a check's command reached a pane: %v", m.logs)
	}
}
