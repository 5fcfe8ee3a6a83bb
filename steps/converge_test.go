package steps

import (
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
)

func convNode(id, host string, labels map[string]string, ready bool) swarm.Node {
	st := swarm.NodeStateReady
	if !ready {
		st = swarm.NodeStateDown
	}
	n := swarm.Node{ID: id}
	n.Spec.Labels = labels
	n.Spec.Availability = swarm.NodeAvailabilityActive
	n.Description.Hostname = host
	n.Status.State = st
	return n
}

func convService(id, name string, replicas int, global bool, constraints ...string) swarm.Service {
	s := swarm.Service{ID: id}
	s.Spec.Name = "ag-stack_" + name
	s.Spec.Labels = map[string]string{"com.docker.stack.namespace": "ag-stack"}
	s.Spec.TaskTemplate.ContainerSpec = &swarm.ContainerSpec{Image: "127.0.0.1:5000/" + name + ":latest@sha256:abc"}
	s.Spec.TaskTemplate.Placement = &swarm.Placement{Constraints: constraints}
	if global {
		s.Spec.Mode.Global = &swarm.GlobalService{}
	} else {
		r := uint64(replicas)
		s.Spec.Mode.Replicated = &swarm.ReplicatedService{Replicas: &r}
	}
	return s
}

func convTask(svc, node string, desired, state swarm.TaskState, err string, age time.Duration) swarm.Task {
	t := swarm.Task{ServiceID: svc, NodeID: node, DesiredState: desired}
	t.Status.State = state
	t.Status.Err = err
	t.Status.Timestamp = time.Unix(1_000_000, 0).Add(-age)
	return t
}

func convTaskImage(t swarm.Task, image string) swarm.Task {
	t.Spec.ContainerSpec = &swarm.ContainerSpec{Image: image}
	return t
}

func TestConvergenceRows(t *testing.T) {
	nodes := []swarm.Node{
		convNode("n1", "node1", map[string]string{"webserver": "true", "database": "true"}, true),
		convNode("n2", "node2", map[string]string{"django_app": "true", "grader": "true"}, true),
		convNode("n3", "node3", map[string]string{"fast_grader": "true"}, false),
	}
	R, P, F := swarm.TaskStateRunning, swarm.TaskStatePending, swarm.TaskStateFailed
	S := swarm.TaskStateShutdown
	cases := []struct {
		name      string
		svc       swarm.Service
		tasks     []swarm.Task
		running   int
		desired   int
		converged bool
		want      string // substring of the problems
	}{
		{"replicated running", convService("s1", "django", 1, false, "node.labels.django_app == true"),
			[]swarm.Task{convTask("s1", "n2", R, R, "", 0)}, 1, 1, true, ""},
		{"no node has the label", convService("s2", "website", 1, false, "node.labels.nolabel == true"),
			[]swarm.Task{convTask("s2", "", R, P, "no suitable node (scheduling constraints not satisfied on 3 nodes)", 0)}, 0, 1, false,
			"no node has the label nolabel (needed by service website)"},
		{"label only on a down node", convService("s3", "fastone", 1, false, "node.labels.fast_grader==true"),
			[]swarm.Task{convTask("s3", "", R, P, "no suitable node (scheduling constraints not satisfied on 3 nodes)", 0)}, 0, 1, false,
			"(node3) are down or drained"},
		{"global grader on no labelled node is 0/0", convService("s4", "tiny_grader", 0, true, "node.labels.tiny_grader == true"),
			nil, 0, 0, true, ""},
		{"global grader on its node", convService("s5", "grader", 0, true, "node.labels.grader == true"),
			[]swarm.Task{convTask("s5", "n2", R, R, "", 0)}, 1, 1, true, ""},
		{"global grader not started yet counts its node", convService("s6", "grader2", 0, true, "node.labels.grader == true"),
			nil, 0, 1, false, "starting"},
		{"image not pullable", convService("s7", "nginx", 1, false, "node.labels.webserver == true"),
			[]swarm.Task{convTask("s7", "n1", R, swarm.TaskStatePreparing, "No such image: 127.0.0.1:5000/nginx:latest", 0)}, 0, 1, false,
			"image 127.0.0.1:5000/nginx:latest cannot be pulled on node1"},
		{"port taken", convService("s8", "web", 1, false),
			[]swarm.Task{convTask("s8", "n1", R, swarm.TaskStateRejected, "host-mode port already in use on 1 node", 0)}, 0, 1, false,
			"a port that service web publishes is taken on node1"},
		{"restart loop shows the last failure", convService("s9", "postgres", 1, false),
			[]swarm.Task{
				convTask("s9", "n1", R, swarm.TaskStateStarting, "", 0),
				convTask("s9", "n1", S, F, "task: non-zero exit (1)", time.Second),
			}, 0, 1, false, "last failure: the container exited with code 1 on node1 (see `docker service logs ag-stack_postgres`)"},
		{"a task of the old image does not count", convService("s11", "website", 1, false),
			[]swarm.Task{convTaskImage(convTask("s11", "n1", R, R, "", 0), "127.0.0.1:5000/website:latest@sha256:old")}, 0, 1, false, "the previous image still runs on node1 (update under way)"},
		{"old shut-down tasks do not count", convService("s10", "redis", 1, false),
			[]swarm.Task{convTask("s10", "n1", R, R, "", 0), convTask("s10", "n1", S, S, "", time.Minute)}, 1, 1, true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rows := ConvergenceRows([]swarm.Service{tc.svc}, tc.tasks, nodes)
			if len(rows) != 1 {
				t.Fatalf("got %d rows", len(rows))
			}
			r := rows[0]
			if r.Running != tc.running || r.Desired != tc.desired || r.Converged != tc.converged {
				t.Errorf("got %d/%d converged=%v, want %d/%d converged=%v (%s)", r.Running, r.Desired, r.Converged, tc.running, tc.desired, tc.converged, r)
			}
			got := strings.Join(r.Problems, "; ")
			if tc.want == "" && got != "" {
				t.Errorf("problems %q, want none", got)
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("problems %q, want %q", got, tc.want)
			}
			if r.Service != strings.TrimPrefix(tc.svc.Spec.Name, "ag-stack_") {
				t.Errorf("service %q", r.Service)
			}
		})
	}
}

func TestConvergenceRowsUpdateInProgress(t *testing.T) {
	s := convService("s1", "django", 1, false)
	s.UpdateStatus = &swarm.UpdateStatus{State: swarm.UpdateStateUpdating}
	rows := ConvergenceRows([]swarm.Service{s}, []swarm.Task{convTask("s1", "n1", swarm.TaskStateRunning, swarm.TaskStateRunning, "", 0)}, nil)
	if rows[0].Converged || !strings.Contains(rows[0].String(), "update in progress") {
		t.Fatalf("an updating service must not count as converged: %s", rows[0])
	}
}

func TestConvergeMatch(t *testing.T) {
	n := convNode("id1", "node1", map[string]string{"webserver": "true"}, true)
	n.Spec.Role = swarm.NodeRoleManager
	for c, want := range map[string]bool{
		"node.labels.webserver == true":  true,
		"node.labels.webserver==TRUE":    true,
		"node.labels.webserver != true":  false,
		"node.labels.database == true":   false,
		"node.labels.database != true":   true,
		"node.hostname == node1":         true,
		"node.role == manager":           true,
		"node.role == worker":            false,
		"node.platform.os == linux":      true, // unknown keys never invent a problem
		"garbage":                        true,
		"node.id == id1":                 true,
		"node.labels.webserver == false": false,
	} {
		if got := convergeMatch(c, n); got != want {
			t.Errorf("%q: got %v, want %v", c, got, want)
		}
	}
}
