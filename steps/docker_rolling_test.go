package steps

import (
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
)

func TestDockerRollOrderManagerLast(t *testing.T) {
	env := swarmTestEnv(t, "")
	got := dockerRollOrder(env.Cluster, []dockerRestart{{host: "node1"}, {host: "node3"}, {host: "node2"}})
	var names []string
	for _, r := range got {
		names = append(names, r.host)
	}
	if strings.Join(names, ",") != "node2,node3,node1" {
		t.Fatalf("order %v, want the workers in the file's order, the manager last", names)
	}
}

// rollingSwarm is one node (n2) running a global grader and the only
// replica of redis, plus a service elsewhere that never converged.
func rollingSwarm(n2State swarm.NodeState, tasks ...swarm.Task) ([]swarm.Service, []swarm.Task, []swarm.Node) {
	one := uint64(1)
	svc := func(id, name string, global bool) swarm.Service {
		s := swarm.Service{ID: id, Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "ag_" + name, Labels: map[string]string{"com.docker.stack.namespace": "ag"}}}}
		if global {
			s.Spec.Mode.Global = &swarm.GlobalService{}
			s.Spec.TaskTemplate.Placement = &swarm.Placement{Constraints: []string{"node.labels.grader == true"}}
		} else {
			s.Spec.Mode.Replicated = &swarm.ReplicatedService{Replicas: &one}
		}
		return s
	}
	services := []swarm.Service{svc("g", "grader", true), svc("r", "redis", false), svc("b", "broken", false)}
	nodes := []swarm.Node{
		{ID: "n1", Description: swarm.NodeDescription{Hostname: "node1"}, Status: swarm.NodeStatus{State: swarm.NodeStateReady}},
		{ID: "n2", Description: swarm.NodeDescription{Hostname: "node2"}, Status: swarm.NodeStatus{State: n2State},
			Spec: swarm.NodeSpec{Annotations: swarm.Annotations{Labels: map[string]string{"grader": "true"}}}},
	}
	return services, tasks, nodes
}

func rollingTask(id, svc, node string, st swarm.TaskState, at time.Time) swarm.Task {
	return swarm.Task{ID: id, ServiceID: svc, NodeID: node, DesiredState: swarm.TaskStateRunning, Status: swarm.TaskStatus{State: st, Timestamp: at}}
}

func TestDockerBack(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 1, 0, 0, 0, time.UTC)
	t1 := t0.Add(30 * time.Second)
	// Before: n2 runs grader (g1) and redis (r1); "broken" never ran.
	sv, ts, ns := rollingSwarm(swarm.NodeStateReady,
		rollingTask("g1", "g", "n2", swarm.TaskStateRunning, t0), rollingTask("r1", "r", "n2", swarm.TaskStateRunning, t0),
		rollingTask("b1", "b", "n1", swarm.TaskStatePending, t0))
	before := dockerSnapshot(sv, ts, ns, "n2")
	if len(before.tasks) != 2 || strings.Join(before.converged, ",") != "grader,redis" {
		t.Fatalf("snapshot %+v", before)
	}
	cases := []struct {
		name    string
		state   swarm.NodeState
		tasks   []swarm.Task
		back    bool
		waiting string
	}{
		{"right after the restart the manager still shows the old tasks: stale, not back", swarm.NodeStateReady, ts, false, "2 task(s) not yet restarted"},
		{"node down", swarm.NodeStateDown, nil, false, "the node is down, not ready"},
		{"new tasks starting", swarm.NodeStateReady, []swarm.Task{
			rollingTask("g2", "g", "n2", swarm.TaskStatePreparing, t1), rollingTask("r2", "r", "n2", swarm.TaskStateStarting, t1)}, false, "2 task(s) starting; service grader 0/1 (global)"},
		{"back: new tasks running; the service broken before stays out of it", swarm.NodeStateReady, []swarm.Task{
			rollingTask("g2", "g", "n2", swarm.TaskStateRunning, t1), rollingTask("r2", "r", "n2", swarm.TaskStateRunning, t1),
			rollingTask("b1", "b", "n1", swarm.TaskStatePending, t0)}, true, ""},
		{"redis moved to node1 while node2 was down: back once it runs there", swarm.NodeStateReady, []swarm.Task{
			rollingTask("g2", "g", "n2", swarm.TaskStateRunning, t1), rollingTask("r2", "r", "n1", swarm.TaskStateRunning, t1)}, true, ""},
		{"the same task running again with a new status time", swarm.NodeStateReady, []swarm.Task{
			rollingTask("g1", "g", "n2", swarm.TaskStateRunning, t1), rollingTask("r1", "r", "n2", swarm.TaskStateRunning, t1)}, true, ""},
	}
	for _, tc := range cases {
		sv, ts, ns := rollingSwarm(tc.state, tc.tasks...)
		back, waiting := dockerBack(before, sv, ts, ns, "n2")
		if back != tc.back || !strings.Contains(waiting, tc.waiting) {
			t.Errorf("%s: back %v (%s), want %v (%s)", tc.name, back, waiting, tc.back, tc.waiting)
		}
	}
}
