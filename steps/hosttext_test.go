package steps

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"aginstall/remote"
)

// hostile is what a host (or a checkout's git config) can hand back: set the
// clipboard (OSC 52), erase the line, ring, and redraw with a carriage return.
const hostile = "https://x/ag.git\x1b]52;c;aWQgPiAvdG1wL3g=\x07\x1b[2K\a\rforged"

// hostileStep quotes host text in its check, its output, a file diff and its error.
type hostileStep struct{}

func (hostileStep) ID() string                { return "hostile" }
func (hostileStep) Title() string             { return "Hostile text" }
func (hostileStep) Hosts(c *Cluster) []string { return []string{c.Manager} }
func (hostileStep) Check(ctx context.Context, env *Env) []HostCheck {
	return []HostCheck{{Host: env.Cluster.Manager, Status: Drifted, Reason: "origin is " + hostile, Fix: "set it to " + hostile}}
}
func (hostileStep) Apply(ctx context.Context, env *Env) error {
	h := env.On("hostile", env.Cluster.Manager)
	h.r.emit(HostOutput{Step: "hostile", Host: h.Host, Stream: "stdout", Text: hostile})
	if _, err := h.WriteFile(ctx, "write", "/etc/x", []byte(hostile), []byte("new"), remote.WriteOptions{}, "-"+hostile+"\n+new"); err != nil {
		return err
	}
	return &StepError{Step: "hostile", Host: h.Host, Purpose: "fail", Err: fmt.Errorf("daemon said: %s", hostile)}
}

func assertClean(t *testing.T, what, s string) {
	t.Helper()
	if strings.ContainsAny(s, "\x1b\a\r") {
		t.Errorf("%s keeps control characters: %q", what, s)
	}
}

// Every way host text leaves the steps (events, reports, records, the state,
// the log, errors) carries it cleaned.
func TestHostTextIsCleanedWhereItLeavesTheSteps(t *testing.T) {
	f := &fakeHosts{files: map[string]string{}}
	env := testEnv(t, f)
	var events []Event
	env.Runner.Sink = func(e Event) { events = append(events, e) }
	en := &Engine{Steps: []Step{hostileStep{}}, Env: env}
	ctx := context.Background()

	for _, rep := range en.Review(ctx) {
		for _, c := range rep.Checks {
			assertClean(t, "review reason", c.Reason)
			assertClean(t, "review fix", c.Fix)
			if !strings.Contains(c.Reason, "forged") {
				t.Errorf("the reason lost its printable text: %q", c.Reason)
			}
		}
	}
	err := en.ApplyStep(ctx, hostileStep{})
	if err == nil {
		t.Fatal("the hostile step does not fail")
	}
	assertClean(t, "apply error", err.Error())
	var se *StepError
	if !errors.As(err, &se) || se.Host != env.Cluster.Manager {
		t.Fatalf("the cleaned error hides the StepError: %#v", err)
	}
	for _, e := range events {
		assertClean(t, fmt.Sprintf("event %T", e), fmt.Sprintf("%+v", e))
		if hf, ok := e.(HostFinished); ok && hf.Err != nil {
			assertClean(t, "HostFinished.Err", hf.Err.Error())
		}
		if sf, ok := e.(StepFinished); ok && sf.Err != nil {
			assertClean(t, "StepFinished.Err", sf.Err.Error())
		}
	}
	for _, r := range env.Runner.Records() {
		assertClean(t, "record", fmt.Sprintf("%+v", r))
	}
	if err := env.State.Save(); err != nil {
		t.Fatal(err)
	}
	state, err := os.ReadFile(StatePath(env.Cluster))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(state), `\u001b`) || strings.Contains(string(state), "\x1b") {
		t.Errorf("the state file keeps an escape: %s", state)
	}
	log, err := os.ReadFile(env.Runner.Log.Path)
	if err != nil {
		t.Fatal(err)
	}
	assertClean(t, "log", string(log))
}

// Facts a host reported reach the state (and the wizard's screens) with no
// control character: every string field and slice entry.
func TestFactsAreEscaped(t *testing.T) {
	st := &State{Facts: map[string]*Facts{}}
	st.SetFacts("node1", &Facts{OSName: "Debian\x1b]52;c;AAAA\x07 12", Addresses: []string{"10.0.0.1/24\r"},
		Findings: []Finding{{Message: "port 80 taken by \x1b[2Kevil"}}})
	f := st.FactsOf("node1")
	for _, s := range []string{f.OSName, f.Addresses[0], f.Findings[0].Message} {
		assertClean(t, "fact", s)
	}
	if f.OSName != `Debian\x1b]52;c;AAAA\x07 12` {
		t.Errorf("OSName %q", f.OSName)
	}
}
