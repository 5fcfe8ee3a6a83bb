package ui

import (
	"bytes"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"
)

// TestLiveOutput runs the real program: lines a host prints appear while its
// step still runs (the sink wakes the program once a frame), and q asks
// before quitting while the step runs.
func TestLiveOutput(t *testing.T) {
	be := newFakeBackend()
	be.block = make(chan struct{})
	m := newModel(Options{Backend: be, Mode: ModeInstall, ClusterPath: "testdata/lab/out/aginstall.yaml"})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(100, 30))
	m.q.setWake(wakeAfterFrame(tm.Send))
	waitText(t, tm, "The servers of the swarm")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	waitText(t, tm, "Host keys")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	waitText(t, tm, "Unpacking package 5 of 5")
	tm.Send(tea.KeyPressMsg{Code: 'q', Text: "q"})
	waitText(t, tm, "Quit anyway? y/n")
	tm.Send(tea.KeyPressMsg{Code: 'y', Text: "y"})
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
	if m.ctx.Err() == nil {
		t.Fatal("quitting did not cancel the step's context")
	}
}

func waitText(t *testing.T, tm *teatest.TestModel, s string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(s)) },
		teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
}
