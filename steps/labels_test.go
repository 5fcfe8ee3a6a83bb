package steps

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/swarm"

	"aginstall/steps/rules"
)

func TestLabelsNewSpec(t *testing.T) {
	cur := map[string]string{"grader": "true", "cache": "true", "registry": "yes", "gpu": "nvidia", "ssd": "true"}
	next, added, removed := labelsNewSpec(cur, []string{"registry", "grader", "database"})
	want := map[string]string{"grader": "true", "registry": "true", "database": "true", "gpu": "nvidia", "ssd": "true"}
	if fmt.Sprint(next) != fmt.Sprint(want) {
		t.Errorf("next = %v, want %v (unknown labels kept as they are)", next, want)
	}
	if strings.Join(added, ",") != "database,registry" || strings.Join(removed, ",") != "cache" {
		t.Errorf("added %v removed %v", added, removed)
	}
	if cur["cache"] != "true" {
		t.Error("the node's current spec was changed in place")
	}
	if _, a, r := labelsNewSpec(want, []string{"registry", "grader", "database"}); len(a)+len(r) != 0 {
		t.Errorf("a second apply changes %v %v", a, r)
	}
}

func TestLabelsCall(t *testing.T) {
	n := swarm.Node{ID: "abcdef0123456789xyz"}
	n.Version.Index = 42
	got := labelsCall("node2", n, []string{"cache"}, []string{"grader"})
	if got != "NodeUpdate(node2 [abcdef012345], Version=42, Labels +cache=true -grader)" {
		t.Errorf("call = %q", got)
	}
}

func TestLabelConflictText(t *testing.T) {
	daemon := errors.New("Error response from daemon: rpc error: code = Unknown desc = update out of sequence")
	if !labelsIsConflict(daemon) || labelsIsConflict(errors.New("node not found")) || labelsIsConflict(nil) {
		t.Fatal("labelsIsConflict misreads the daemon's answer")
	}
	err := error(&LabelConflictError{Node: "node2", Err: daemon})
	if err.Error() != "the labels of node2 changed while aginstall was applying them; run again to see the new state" {
		t.Errorf("text = %q", err)
	}
	if !errors.Is(err, daemon) {
		t.Error("the daemon's error is not kept")
	}
}

func TestLabelsRulesErrorListsEveryViolation(t *testing.T) {
	nodes := []rules.Node{{Name: "a", Labels: []string{"database", "cache"}}, {Name: "b", Labels: []string{"database", "grader", "deferred_grader"}}}
	err := labelsRulesError(rules.Check(nodes, nil))
	if err == nil {
		t.Fatal("no error for a broken assignment")
	}
	for _, s := range []string{"[one-node] database must be on exactly one node, but a and b have it", "[one-grader-kind] b has grader and deferred_grader", "[one-webserver]", "[needed] django_app"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("missing %q in:\n%v", s, err)
		}
	}
	if strings.Contains(err.Error(), "advice") || strings.Contains(err.Error(), "[unknown-label]") {
		t.Errorf("advice listed as an error:\n%v", err)
	}
}

func TestLabelsRuleNodesSeeKeptAndUnmappedLabels(t *testing.T) {
	v := &swarmView{byHost: map[string]swarm.Node{
		"node1": {Spec: swarm.NodeSpec{Annotations: swarm.Annotations{Labels: map[string]string{"gpu": "true", "cache": "true"}}}},
	}, unmapped: []swarm.Node{
		{ID: "x", Description: swarm.NodeDescription{Hostname: "extra"}, Status: swarm.NodeStatus{State: swarm.NodeStateReady},
			Spec: swarm.NodeSpec{Annotations: swarm.Annotations{Labels: map[string]string{"database": "true"}}}},
		{ID: "y", Description: swarm.NodeDescription{Hostname: "gone"}, Status: swarm.NodeStatus{State: swarm.NodeStateDown},
			Spec: swarm.NodeSpec{Annotations: swarm.Annotations{Labels: map[string]string{"database": "true"}}}},
	}}
	got := labelsRuleNodes(v, map[string][]string{"node1": {"registry"}})
	if fmt.Sprint(got) != "[{node1 0 0 [registry gpu]} {extra 0 0 [database]}]" {
		t.Errorf("rule nodes = %v", got)
	}
}

// Rule errors refuse the step before anything is touched, in a plan too.
func TestLabelsRefuseBrokenRules(t *testing.T) {
	env := swarmTestEnv(t, `name: t
hosts:
  - {name: node1, address: 10.0.0.11, labels: [registry, webserver, database, small_tasks, cache]}
  - {name: node2, address: 10.0.0.12, labels: [django_app, cache, rabbitmq_broker, custom_image_registry, grader, deferred_grader]}
`)
	err := (labelsStep{}).Apply(t.Context(), env)
	var se *StepError
	if !errors.As(err, &se) || !strings.Contains(se.Error(), "cache must be on exactly one node") || !strings.Contains(se.Error(), "node2 has grader and deferred_grader") || !strings.Contains(se.Next, "hosts[].labels") {
		t.Fatalf("got %v", err)
	}
	if m := env.Runner.Mutations(); len(m) != 0 {
		t.Errorf("planned changes despite the refusal: %+v", m)
	}
}

func TestLabelsPlanWithoutSwarm(t *testing.T) {
	env := swarmTestEnv(t, "")
	if err := (labelsStep{}).Apply(t.Context(), env); err != nil && !errors.Is(err, ErrDryRun) {
		t.Fatal(err)
	}
	var got []string
	for _, r := range env.Runner.Mutations() {
		got = append(got, r.Command)
	}
	want := "NodeUpdate(node1 [not yet in the swarm], Version=0, Labels +database=true +registry=true +small_tasks=true +webserver=true)"
	if len(got) != 3 || got[0] != want {
		t.Errorf("planned %q", got)
	}
}
