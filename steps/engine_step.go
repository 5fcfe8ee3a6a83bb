package steps

import (
	"context"
	"fmt"
	"strings"
)

// Status is where a step stands on one host.
type Status string

const (
	Done    Status = "done"    // nothing to do
	Todo    Status = "todo"    // apply will change something
	Drifted Status = "drifted" // it was done but the host no longer matches
	Unknown Status = "unknown" // the check could not tell (host unreachable, prerequisite missing)
	Failed  Status = "failed"  // apply failed here
	Skipped Status = "skipped" // the operator skipped it, with a reason
)

// HostCheck is a step's verdict on one host, always with a reason.
type HostCheck struct {
	Host   string `json:"host"`
	Status Status `json:"status"`
	Reason string `json:"reason"`
	Fix    string `json:"fix,omitempty"`
}

// Step is one documented step of the guide. Check is read-only. Apply is
// idempotent and runs every side effect through env.Runner, so with a dry-run
// runner Apply is the plan: what is planned is exactly what apply would run.
type Step interface {
	ID() string
	Title() string
	// Hosts are the hosts this step acts on (all, or the manager).
	Hosts(c *Cluster) []string
	Check(ctx context.Context, env *Env) []HostCheck
	Apply(ctx context.Context, env *Env) error
}

// Inputs is implemented by steps whose result depends on cluster-file values;
// a change of those values marks the step to redo.
type Inputs interface {
	Inputs(c *Cluster) any
}

// AllDone reports whether every check says done (skipped counts as done only
// when the operator skipped it, which the engine records separately).
func AllDone(checks []HostCheck) bool {
	for _, c := range checks {
		if c.Status != Done {
			return false
		}
	}
	return len(checks) > 0
}

// Summary is one line over all hosts' checks.
func Summary(checks []HostCheck) string {
	n := map[Status]int{}
	for _, c := range checks {
		n[c.Status]++
	}
	var parts []string
	for _, s := range []Status{Done, Todo, Drifted, Unknown, Failed, Skipped} {
		if n[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[s], s))
		}
	}
	return strings.Join(parts, ", ")
}

// checksFor gives every host the same verdict: for cluster-wide steps checked on the manager.
func checksFor(hosts []string, s Status, reason string) []HostCheck {
	out := make([]HostCheck, len(hosts))
	for i, h := range hosts {
		out[i] = HostCheck{Host: h, Status: s, Reason: reason}
	}
	return out
}
