package ui

import (
	"testing"

	"aginstall/steps"
)

// realStepsBackend is the fake with the registered steps, so the key
// sequence below is the one the lab's tmux test sends.
type realStepsBackend struct{ *fakeBackend }

func (realStepsBackend) Steps() []steps.Step { return steps.All() }

// labKeys drives a new install of the lab cluster from Welcome to Done: one
// entry per screen, as documented for the tmux test.
var labKeys = []struct {
	screen string // the step ID, or the screen title
	keys   []string
}{
	{"Welcome", []string{"1"}},
	{"Hosts", []string{"enter"}},
	{"Host keys", []string{"enter"}},
	{"Discovery", []string{"a", "enter"}},
	{"sudo password", []string{"p", "w", "enter"}}, // only when a host's sudo asks for a password
	{"docker", []string{"enter"}},
	{"limits", []string{"enter"}},
	{"swarm", []string{"enter", "enter"}},
	{"network", []string{"enter"}},
	{"source", []string{"enter", "enter", "enter"}},
	{"nfs", []string{"enter", "enter"}},
	{"labels", []string{"enter"}},
	{"settings", []string{"enter", "enter", "enter", "enter", "enter", "enter", "enter", "enter", "enter", "enter", "enter", "enter", "enter", "enter"}},
	{"registry", []string{"enter"}},
	{"deploy", []string{"enter"}},
	{"migrate", []string{"enter"}},
	{"admin", []string{"enter", "enter"}},
	{"Plan", []string{"enter", "y"}},
	{"Done", []string{"enter"}},
}

// TestLabKeySequence checks labKeys against the registered steps: every
// step has its entry, in order, and the sequence ends the wizard.
func TestLabKeySequence(t *testing.T) {
	be := realStepsBackend{newFakeBackend()}
	be.cluster = labCluster("testdata/lab/out/aginstall.yaml")
	be.cluster.Admin = steps.AdminSpec{Email: "admin@lab.test", Course: "Lab Course 101"} // as the lab's file has them
	f := newFlow(t, 80, 24, Options{Backend: be})
	f.be = be.fakeBackend
	for _, s := range labKeys {
		at := f.title()
		if st, ok := f.m.screen.(*stepScreen); ok {
			at = st.stepID()
		} else if ls, ok := f.m.screen.(*labelsScreen); ok {
			at = ls.stepID()
		}
		if at != s.screen && s.screen == "sudo password" {
			continue
		}
		if at != s.screen {
			t.Fatalf("at %q, labKeys expects %q:\n%s", at, s.screen, f.screen())
		}
		f.key(s.keys...)
	}
	if !f.quit {
		t.Fatalf("the sequence does not end the wizard:\n%s", f.screen())
	}
}
