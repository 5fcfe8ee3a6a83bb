package steps

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
)

// swarmTestEnv is a dry-run env on three hosts whose Docker is not installed
// yet (the engine's fakeHosts has no Docker), for planning tests.
func swarmTestEnv(t *testing.T, yaml string) *Env {
	t.Helper()
	if yaml == "" {
		yaml = `name: t
manager: node1
hosts:
  - {name: node1, address: 10.0.0.11, labels: [registry, webserver, database, small_tasks]}
  - {name: node2, address: 10.0.0.12, labels: [django_app, cache, rabbitmq_broker, custom_image_registry, grader]}
  - {name: node3, address: 10.0.0.13, labels: [fast_grader, deferred_grader, rerun_grader, image_builder]}
swarm: {advertise_address: 10.0.0.11, publish_mode: host}
`
	}
	yaml += "source: {path: /root/autograder-full-stack}\n"
	dir := t.TempDir()
	c, err := ParseCluster(filepath.Join(dir, "aginstall.yaml"), []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	st, err := LoadState(c)
	if err != nil {
		t.Fatal(err)
	}
	sec := &Secrets{}
	log, err := OpenLog(filepath.Join(dir, "logs"), c.Name, sec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	r := &Runner{DryRun: true, Dial: &fakeHosts{files: map[string]string{}}, Log: log, Secrets: sec}
	return &Env{Cluster: c, State: st, Secrets: sec, Runner: r}
}

func node(id, hostname, addr string, state swarm.NodeState, updated int) swarm.Node {
	n := swarm.Node{ID: id, Description: swarm.NodeDescription{Hostname: hostname}, Status: swarm.NodeStatus{State: state, Addr: addr}}
	n.UpdatedAt = time.Unix(int64(updated), 0)
	return n
}

func TestSwarmMapNodes(t *testing.T) {
	nodes := []swarm.Node{
		node("id1", "node1", "10.0.0.11", swarm.NodeStateReady, 1),
		node("old2", "web2", "10.0.0.12", swarm.NodeStateDown, 1), // left-over entry
		node("id2", "web2", "10.0.0.12", swarm.NodeStateReady, 2),
		node("id3", "other-name", "10.0.0.13", swarm.NodeStateReady, 1),
		node("id4", "stranger", "10.0.0.99", swarm.NodeStateReady, 1),
		node("id5", "gpu1", "10.0.0.20", swarm.NodeStateReady, 1),
	}
	keys := []swarmHostKey{
		{Host: "node1", NodeID: "id1", Hostnames: []string{"node1"}},
		{Host: "web2", Hostnames: []string{"web2.cs.example.edu"}},                  // FQDN matches the short name
		{Host: "node3", Hostnames: []string{"node3"}, Addrs: []string{"10.0.0.13"}}, // only the address fits
		{Host: "gpu1", Hostnames: []string{"GPU1"}},
	}
	keys[0].Answered = true
	byHost, unmapped := swarmMapNodes(nodes, keys)
	want := map[string]string{"node1": "id1", "web2": "id2", "node3": "id3", "gpu1": "id5"}
	for h, id := range want {
		if byHost[h].ID != id {
			t.Errorf("%s mapped to %q, want %q", h, byHost[h].ID, id)
		}
	}
	var left []string
	for _, n := range unmapped {
		left = append(left, n.ID)
	}
	if strings.Join(left, ",") != "old2,id4" {
		t.Errorf("unmapped = %v, want the stale entry and the stranger", left)
	}
}

func TestSwarmMapNodesIDWinsOverName(t *testing.T) {
	// Two hosts swapped names: node IDs decide.
	nodes := []swarm.Node{node("a", "node2", "", swarm.NodeStateReady, 1), node("b", "node1", "", swarm.NodeStateReady, 1)}
	byHost, unmapped := swarmMapNodes(nodes, []swarmHostKey{{Host: "node1", NodeID: "a", Hostnames: []string{"node1"}}, {Host: "node2", Hostnames: []string{"node2"}}})
	if byHost["node1"].ID != "a" || byHost["node2"].ID != "" || len(unmapped) != 1 {
		t.Errorf("got %v, unmapped %v", byHost, unmapped)
	}
}

// A host that answered with another node ID (it left for another swarm) is
// not mapped to the left-over entry of its name, even while that is Ready.
func TestSwarmMapNodesAnsweredHostNotByName(t *testing.T) {
	nodes := []swarm.Node{node("old3", "node3", "10.0.0.13", swarm.NodeStateReady, 1)}
	for _, id := range []string{"new3", ""} {
		byHost, unmapped := swarmMapNodes(nodes, []swarmHostKey{{Host: "node3", Answered: true, NodeID: id, Hostnames: []string{"node3"}, Addrs: []string{"10.0.0.13"}}})
		if _, ok := byHost["node3"]; ok || len(unmapped) != 1 {
			t.Errorf("node ID %q: mapped %v", id, byHost)
		}
	}
}

func TestSwarmOther(t *testing.T) {
	if got := swarmOther(swarm.Info{Cluster: &swarm.ClusterInfo{ID: "abc"}}); got != "abc" {
		t.Errorf("manager of another swarm: %q", got)
	}
	if got := swarmOther(swarm.Info{RemoteManagers: []swarm.Peer{{Addr: "10.1.1.1:2377"}}}); got != "managed from 10.1.1.1:2377" {
		t.Errorf("worker of another swarm: %q", got)
	}
}

// Before Docker is installed, the plan still holds the init and the joins,
// and the join token never appears (it is not known yet, and redacted).
func TestSwarmPlanWithoutDocker(t *testing.T) {
	env := swarmTestEnv(t, "")
	err := swarmStep{}.Apply(t.Context(), env)
	if err != nil && !errors.Is(err, ErrDryRun) {
		t.Fatal(err)
	}
	var got []string
	for _, r := range env.Runner.Mutations() {
		got = append(got, r.Host+": "+r.Command)
	}
	want := []string{
		"node1: SwarmInit(ListenAddr=0.0.0.0:2377, AdvertiseAddr=10.0.0.11)",
		"node2: SwarmJoin(RemoteAddrs=[10.0.0.11:2377], AdvertiseAddr=10.0.0.12, JoinToken=<redacted>)",
		"node3: SwarmJoin(RemoteAddrs=[10.0.0.11:2377], AdvertiseAddr=10.0.0.13, JoinToken=<redacted>)",
	}
	if strings.Join(sortStrings(got), "\n") != strings.Join(want, "\n") {
		t.Errorf("planned:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestSwarmAdvertise(t *testing.T) {
	env := swarmTestEnv(t, "name: t\nhosts:\n  - {name: node1, address: node1.example.edu}\n  - {name: node2, address: 10.0.0.12}\n")
	if got := swarmAdvertise(env); got != "" {
		t.Errorf("a DNS name is no advertise address: got %q", got)
	}
	env.State.SetFacts("node1", &Facts{ReachableAt: "10.0.0.11"})
	if got := swarmAdvertise(env); got != "10.0.0.11" {
		t.Errorf("discovery's reachable address: got %q", got)
	}
	if got := swarmHostAddr(env, "node2"); got != "10.0.0.12" {
		t.Errorf("the host's IP: got %q", got)
	}
}

func TestSwarmChecksWithoutDocker(t *testing.T) {
	env := swarmTestEnv(t, "")
	for _, c := range (swarmStep{}).Check(t.Context(), env) {
		if c.Status != Unknown || !strings.Contains(c.Reason, "node1") || c.Fix == "" {
			t.Errorf("%+v: want unknown naming the manager, with a fix", c)
		}
	}
}
