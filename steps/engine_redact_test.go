package steps

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

var errLeakSentinel = errors.New("sentinel")

// leakyStep says the secret in its check reason and in its failure, as a
// host's stderr would.
type leakyStep struct{ secret string }

func (leakyStep) ID() string                { return "leaky" }
func (leakyStep) Title() string             { return "Leak" }
func (leakyStep) Hosts(c *Cluster) []string { return AllHosts(c) }
func (s leakyStep) Check(ctx context.Context, env *Env) []HostCheck {
	return []HostCheck{{Host: "node1", Status: Todo, Reason: "the host said " + s.secret, Fix: "type " + s.secret + " again"}}
}
func (s leakyStep) Apply(ctx context.Context, env *Env) error {
	return env.Each(ctx, "leaky", []string{"node1"}, func(ctx context.Context, h *HostRunner) error {
		return &StepError{Step: "leaky", Host: h.Host, Purpose: "leak", Command: "echo " + s.secret,
			Err: fmt.Errorf("exited with code 127; stderr ends with:\n  sh: 1: %s: not found: %w", s.secret, errLeakSentinel)}
	})
}

// Check reasons (stored in the state, printed) and the final error, down to
// the StepError the UI prints field by field, are redacted.
func TestCheckReasonsAndErrorsRedacted(t *testing.T) {
	env := testEnv(t, &fakeHosts{files: map[string]string{}})
	const pw = "pw9" // short: redacted as a word
	env.Secrets.Add(pw)
	var events []string
	env.Runner.Sink = func(e Event) { events = append(events, fmt.Sprintf("%+v", e)) }
	en := &Engine{Steps: []Step{leakyStep{pw}}, Env: env}
	rep := en.Review(context.Background())
	if r := rep[0].Checks[0]; strings.Contains(r.Reason+r.Fix, pw) {
		t.Errorf("review reason: %+v", r)
	}
	err := en.ApplyStep(context.Background(), leakyStep{pw})
	if err == nil || strings.Contains(err.Error(), pw) || !strings.Contains(err.Error(), "[redacted]") {
		t.Fatalf("final error: %v", err)
	}
	var se *StepError
	if !errors.As(err, &se) || strings.Contains(fmt.Sprint(se.Err)+se.Command, pw) {
		t.Errorf("StepError fields: %+v", se)
	}
	if !errors.Is(err, errLeakSentinel) {
		t.Error("redaction broke errors.Is")
	}
	if err := env.State.Save(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(StatePath(env.Cluster))
	if !strings.Contains(string(data), "leaky") || strings.Contains(string(data), pw) {
		t.Errorf("state file:\n%s", data)
	}
	for _, e := range events {
		if strings.Contains(e, " "+pw+" ") || strings.Contains(e, " "+pw+":") {
			t.Errorf("event leaks: %s", e)
		}
	}
}
