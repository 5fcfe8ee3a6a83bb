package steps

import (
	"strings"
	"testing"
)

// Before Docker is installed, a check that asks an engine cannot answer;
// the review says the step waits for the docker step (to do), not unknown,
// but only for hosts this review's discovery reached and found without
// Docker, and only for the steps that read Docker.
func TestWaitsForDocker(t *testing.T) {
	env := &Env{Cluster: &Cluster{Manager: "node1"}, State: &State{Facts: map[string]*Facts{
		"node1": {Docker: ""}, "node2": {Docker: "27.3.1"}, "node3": {Docker: ""},
	}}}
	unknown := func() []HostCheck {
		return []HostCheck{
			{Host: "node1", Status: Unknown, Reason: "cannot read"},
			{Host: "node2", Status: Unknown, Reason: "cannot read"},
			{Host: "node3", Status: Unknown, Reason: "cannot read"},
			{Host: "node4", Status: Done, Reason: "fine"},
		}
	}
	all := map[string]bool{"node1": true, "node2": true, "node3": true}
	got := waitsForDocker(env, "swarm", unknown(), all)
	for _, c := range got[:3] {
		if c.Status != Todo || !strings.Contains(c.Reason, "Docker is not installed on node") {
			t.Fatalf("%s: %+v", c.Host, c)
		}
	}
	if !strings.Contains(got[1].Reason, "on node1 yet") || !strings.Contains(got[2].Reason, "on node3 and node1 yet") {
		t.Fatalf("reasons name the wrong hosts: %q / %q", got[1].Reason, got[2].Reason)
	}
	if got[3].Status != Done {
		t.Fatalf("a done check changed: %+v", got[3])
	}
	// node1 not reached in this review: its old facts prove nothing.
	got = waitsForDocker(env, "swarm", unknown(), map[string]bool{"node2": true, "node3": true})
	if got[0].Status != Unknown || got[1].Status != Unknown || got[2].Status != Todo || !strings.Contains(got[2].Reason, "on node3 yet") {
		t.Fatalf("unreached manager: %+v", got)
	}
	// A step that does not read Docker keeps its unknowns.
	if got := waitsForDocker(env, "source", unknown(), all); got[0].Status != Unknown {
		t.Fatalf("source changed: %+v", got[0])
	}
}
