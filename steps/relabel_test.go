package steps

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/swarm"

	"aginstall/steps/rules"
)

func relabelLab() map[string][]string {
	return map[string][]string{
		"node1": {"database", "registry", "small_tasks", "webserver"},
		"node2": {"cache", "custom_image_registry", "django_app", "grader", "rabbitmq_broker"},
		"node3": {"deferred_grader", "fast_grader", "gpu", "image_builder", "rerun_grader"},
	}
}

func TestPlanRelabelMove(t *testing.T) {
	before := relabelLab()
	after := relabelLab()
	after["node2"] = slices.DeleteFunc(slices.Clone(after["node2"]), func(l string) bool { return l == "cache" })
	after["node3"] = []string{"cache", "deferred_grader", "fast_grader", "image_builder", "rerun_grader"} // gpu dropped
	p := PlanRelabel(before, after)
	if len(p.Diff) != 2 || p.Diff[0].Node != "node2" || p.Diff[1].Node != "node3" ||
		!slices.Equal(p.Diff[1].Added, []string{"cache"}) || len(p.Diff[1].Removed) != 0 {
		t.Errorf("diff %+v (gpu must be kept, not removed)", p.Diff)
	}
	if len(p.Kept) != 1 || !strings.Contains(p.Kept[0], "node3 keeps gpu") {
		t.Errorf("kept %v", p.Kept)
	}
	if got := p.NeedsTypedConfirm(); !slices.Equal(got, []string{"cache"}) {
		t.Errorf("typed confirm %v", got)
	}
	if len(p.Moves) != 1 || p.Moves[0].From != "node2" || p.Moves[0].To != "node3" {
		t.Errorf("moves %+v", p.Moves)
	}
	if len(p.Errors()) != 0 {
		t.Errorf("errors %v", p.Errors())
	}
	if s := p.String(); !strings.Contains(s, "node3: add cache; remove none") || !strings.Contains(s, "move cache from node2 to node3") {
		t.Errorf("text:\n%s", s)
	}
}

func TestPlanRelabelViolations(t *testing.T) {
	after := relabelLab()
	after["node3"] = append(slices.Clone(after["node3"]), "database")
	p := PlanRelabelFor(map[string]rules.Node{"node3": {CPUs: 2}}, relabelLab(), after)
	if len(p.Errors()) != 1 || p.Errors()[0].Rule != rules.RuleOneNode {
		t.Errorf("errors %+v", p.Errors())
	}
	var size bool
	for _, v := range p.Violations {
		size = size || v.Rule == rules.RuleSize
	}
	if !size {
		t.Error("node sizes given but no size advice")
	}
}

// ApplyRelabel refuses before touching anything: broken rules, an
// unconfirmed move, labels that were not read first.
func TestApplyRelabelRefusals(t *testing.T) {
	env := swarmTestEnv(t, "")
	env.Runner.DryRun = false
	after := relabelLab()
	after["node3"] = append(slices.Clone(after["node3"]), "database")
	if _, err := ApplyRelabel(t.Context(), env, PlanRelabel(relabelLab(), after), nil); err == nil || !strings.Contains(err.Error(), "database must be on exactly one node") {
		t.Errorf("broken rules: %v", err)
	}
	after = relabelLab()
	after["node2"] = slices.DeleteFunc(slices.Clone(after["node2"]), func(l string) bool { return l == "cache" })
	after["node3"] = append(slices.Clone(after["node3"]), "cache")
	plan := PlanRelabel(relabelLab(), after)
	var se *StepError
	if _, err := ApplyRelabel(t.Context(), env, plan, []string{"Cache"}); !errors.As(err, &se) || !strings.Contains(se.Next, `type "cache"`) {
		t.Errorf("unconfirmed move: %v", err)
	}
	if _, err := ApplyRelabel(t.Context(), env, plan, []string{"cache"}); err == nil || !strings.Contains(err.Error(), "not read first") {
		t.Errorf("not read: %v", err)
	}
	if len(env.Runner.Records()) != 0 {
		t.Errorf("refusals touched hosts: %+v", env.Runner.Records())
	}
}

// Nodes of no host are shown under their hostname and reported; left-over
// Down entries are left out and reported.
func TestRelabelNodesReportsUnmapped(t *testing.T) {
	env := swarmTestEnv(t, "")
	var notes []string
	env.Runner.Sink = func(e Event) {
		if o, ok := e.(HostOutput); ok {
			notes = append(notes, o.Text)
		}
	}
	v := &swarmView{byHost: map[string]swarm.Node{"node1": {ID: "id1"}}, unmapped: []swarm.Node{
		{ID: "id9abcdefghijklm", Description: swarm.NodeDescription{Hostname: "gpu7"}, Status: swarm.NodeStatus{State: swarm.NodeStateReady, Addr: "10.0.0.77"}},
		{ID: "idXabcdefghijklm", Description: swarm.NodeDescription{Hostname: "node1"}, Status: swarm.NodeStatus{State: swarm.NodeStateReady}},
		{ID: "old2abcdefghijkl", Description: swarm.NodeDescription{Hostname: "node2"}, Status: swarm.NodeStatus{State: swarm.NodeStateDown}},
	}}
	got := relabelNodes(env, "relabel", v)
	var names []string
	for n := range got {
		names = append(names, n)
	}
	slices.Sort(names)
	if strings.Join(names, ",") != "gpu7,node1,node1 (idXabcdefghi)" {
		t.Errorf("names %v", names)
	}
	all := strings.Join(notes, "\n")
	for _, s := range []string{`node id9abcdefghi (10.0.0.77) is not among the cluster file's hosts: shown under its hostname "gpu7"`, "node node2 (, old2abcdefgh) is down", "docker node rm old2abcdefgh"} {
		if !strings.Contains(all, s) {
			t.Errorf("missing %q in notes:\n%s", s, all)
		}
	}
}
