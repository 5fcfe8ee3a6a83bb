//go:build lab

package steps

import (
	"errors"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// TestSwarmStepsLab takes fresh lab hosts through discover and docker (the
// engine), then swarm, network, labels and registry, and checks the result
// by asking the Docker API of node1 directly, not our records or state.
func TestSwarmStepsLab(t *testing.T) {
	env, lab := labEnv(t)
	ctx := labCtx(t)
	en := &Engine{Env: env}
	step := func(id string) Step {
		s, ok := ByID(id)
		if !ok {
			t.Fatalf("no step %s registered", id)
		}
		return s
	}
	timed := func(what string, f func() error) {
		t.Helper()
		start := time.Now()
		if err := f(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		t.Logf("%s: %s", what, time.Since(start).Round(time.Millisecond))
	}
	for _, id := range []string{"discover", "docker"} {
		timed("apply "+id, func() error { return en.ApplyStep(ctx, step(id)) })
	}

	ours := []Step{step("swarm"), step("network"), step("labels"), step("registry")}
	plan := &Engine{Env: env, Steps: ours}
	timed("plan swarm..registry", func() error { _, err := plan.Plan(ctx); return err })
	var planned []string
	for _, r := range env.Runner.Mutations() {
		if r.DryRun && r.Step == "registry" && !strings.Contains(r.Command, "Service") {
			continue // the registry firewall's files and run, on every host (its own test below)
		}
		if r.DryRun {
			planned = append(planned, r.Host+" "+strings.SplitN(r.Command, "(", 2)[0])
		}
		if strings.Contains(r.Command, "SWMTKN") {
			t.Errorf("a join token reached a record: %s", r.Command)
		}
	}
	slices.Sort(planned)
	// Two ServiceCreate: the registry and, the lab publishing in host mode, its proxy.
	want := []string{"node1 NetworkCreate", "node1 NodeUpdate", "node1 NodeUpdate", "node1 NodeUpdate", "node1 ServiceCreate", "node1 ServiceCreate", "node1 SwarmInit", "node2 SwarmJoin", "node3 SwarmJoin"}
	if !slices.Equal(planned, want) {
		t.Errorf("plan before the swarm exists:\n got %q\nwant %q", planned, want)
	}

	for _, s := range ours {
		timed("apply "+s.ID(), func() error { return en.ApplyStep(ctx, s) })
	}

	dc := labDocker(t, env, "node1")
	nodes, err := dc.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	idOf := map[string]string{}
	for _, n := range nodes.Items {
		idOf[n.Description.Hostname] = n.ID
		if n.Status.State != swarm.NodeStateReady {
			t.Errorf("node %s is %s", n.Description.Hostname, n.Status.State)
		}
		want := env.Cluster.Hosts[slices.IndexFunc(env.Cluster.Hosts, func(h HostSpec) bool { return h.Name == n.Description.Hostname })].Labels
		if got, w := labelsOn(n.Spec.Labels), slices.Sorted(slices.Values(want)); !slices.Equal(got, w) {
			t.Errorf("labels of %s: got %v, want the cluster file's %v", n.Description.Hostname, got, w)
		}
	}
	if len(nodes.Items) != 3 || len(idOf) != 3 {
		t.Errorf("want 3 nodes node1..node3, got %v", idOf)
	}
	nets, err := dc.NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add("name", NetworkName)})
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(nets.Items, func(n network.Summary) bool { return n.Name == NetworkName }); i < 0 ||
		nets.Items[i].Driver != "overlay" || !nets.Items[i].Attachable {
		t.Errorf("network %s missing, not overlay or not attachable: %+v", NetworkName, nets.Items)
	}
	reg, err := dc.ServiceInspect(ctx, "registry", client.ServiceInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := dc.TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("service", reg.Service.ID).Add("desired-state", "running")})
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks.Items) != 1 || tasks.Items[0].Status.State != swarm.TaskStateRunning || tasks.Items[0].NodeID != idOf["node1"] {
		t.Errorf("want one running registry task on node1 (%s), got %+v", idOf["node1"], tasks.Items)
	}
	// Host publish mode: the other nodes pull through a global proxy that
	// forwards to the registry node (node1, the lab's registry label).
	px, err := dc.ServiceInspect(ctx, registryProxyName, client.ServiceInspectOptions{})
	if err != nil {
		t.Fatalf("no %s service after the registry step: %v", registryProxyName, err)
	}
	if spec := px.Service.Spec; spec.Mode.Global == nil || spec.TaskTemplate.ContainerSpec == nil ||
		!slices.Contains(spec.TaskTemplate.ContainerSpec.Env, "REGISTRY_PROXY_REMOTEURL=http://10.213.0.11:5000") {
		t.Errorf("%s is not global or does not forward to node1: %+v", registryProxyName, spec)
	}

	// A second apply changes nothing: through the engine and by each Apply itself.
	before := len(env.Runner.Mutations())
	for _, s := range ours {
		timed("apply again "+s.ID(), func() error { return en.ApplyStep(ctx, s) })
		timed("Apply again "+s.ID(), func() error { return s.Apply(ctx, env) })
	}
	if m := env.Runner.Mutations()[before:]; len(m) != 0 {
		t.Errorf("the second apply changed things: %+v", m)
	}

	t.Run("relabel moves cache", func(t *testing.T) { labRelabelMove(t, env, dc) })
	t.Run("concurrent change", func(t *testing.T) { labRelabelConflict(t, env, dc) })
	t.Run("registry drift", func(t *testing.T) { labRegistryDrift(t, env, en, dc) })
	t.Run("host in another swarm", func(t *testing.T) { labOtherSwarm(t, env, dc) })
	t.Run("registry firewall", func(t *testing.T) { labRegistryFirewall(t, env, en, lab) })

	// The join tokens never reached a record or the log.
	logText, err := os.ReadFile(env.Runner.Log.Path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(logText), "SWMTKN") {
		t.Error("a join token is in the log")
	}
	for _, r := range env.Runner.Records() {
		if strings.Contains(r.Command+r.Error+r.Diff, "SWMTKN") {
			t.Errorf("a join token is in a record: %+v", r)
		}
	}
}

// A host in another swarm is reported with that swarm's ID and left alone
// unless the operator says yes; then it leaves and joins ours.
func labOtherSwarm(t *testing.T, env *Env, dc *client.Client) {
	ctx := labCtx(t)
	dc3 := labDocker(t, env, "node3")
	if _, err := dc3.SwarmLeave(ctx, client.SwarmLeaveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := dc3.SwarmInit(ctx, client.SwarmInitOptions{ListenAddr: "0.0.0.0:2377", AdvertiseAddr: "10.213.0.13"}); err != nil {
		t.Fatal(err)
	}
	other, err := dc3.SwarmInspect(ctx, client.SwarmInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	otherID := other.Swarm.ID
	checks := swarmStep{}.Check(ctx, env)
	if c := checks[2]; c.Host != "node3" || c.Status != Drifted || !strings.Contains(c.Reason, otherID) {
		t.Errorf("check of node3: %+v", c)
	}
	env.Confirm = nil
	err = swarmStep{}.Apply(ctx, env)
	if err == nil || !strings.Contains(err.Error(), "node3 is in another swarm ("+otherID+")") {
		t.Fatalf("want an error naming node3 and swarm %s, got %v", otherID, err)
	}
	var asked []string
	env.Confirm = func(q string) bool { asked = append(asked, q); return true }
	defer func() { env.Confirm = nil }()
	start := time.Now()
	if err := (swarmStep{}).Apply(ctx, env); err != nil {
		t.Fatal(err)
	}
	t.Logf("leave and re-join: %s", time.Since(start).Round(time.Millisecond))
	if want := "make node3 leave swarm " + otherID + "?"; len(asked) != 1 || asked[0] != want {
		t.Errorf("asked %q, want %q", asked, want)
	}
	for _, c := range (swarmStep{}).Check(ctx, env) {
		if c.Status != Done {
			t.Errorf("after the re-join: %+v", c)
		}
	}
	info, err := dc3.Info(ctx, client.InfoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := dc.NodeInspect(ctx, info.Info.Swarm.NodeID, client.NodeInspectOptions{})
	if err != nil || res.Node.Status.State != swarm.NodeStateReady {
		t.Errorf("node3 in the manager's swarm: %v %+v", err, res.Node.Status)
	}
}

func labDocker(t *testing.T, env *Env, host string) *client.Client {
	t.Helper()
	conn, err := env.Runner.Dial.Conn(labCtx(t), host)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := conn.Docker(labCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	return dc
}

// labNodeLabels asks the API for a node's labels by hostname.
func labNodeLabels(t *testing.T, dc *client.Client, hostname string) (swarm.Node, []string) {
	t.Helper()
	res, err := dc.NodeList(labCtx(t), client.NodeListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range res.Items {
		if n.Description.Hostname == hostname {
			return n, labelsOn(n.Spec.Labels)
		}
	}
	t.Fatalf("no node %s", hostname)
	return swarm.Node{}, nil
}

func labMove(before map[string][]string, label, from, to string) map[string][]string {
	after := maps.Clone(before)
	after[from] = slices.DeleteFunc(slices.Clone(before[from]), func(l string) bool { return l == label })
	after[to] = append(slices.Clone(before[to]), label)
	return after
}

func labRelabelMove(t *testing.T, env *Env, dc *client.Client) {
	ctx := labCtx(t)
	start := time.Now()
	before, nodes, err := ReadLabels(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	if len(before) != 3 || !slices.Contains(before["node2"], "cache") {
		t.Fatalf("ReadLabels: %v", before)
	}
	plan := PlanRelabelFor(nodes, before, labMove(before, "cache", "node2", "node3"))
	if got := plan.NeedsTypedConfirm(); !slices.Equal(got, []string{"cache"}) {
		t.Errorf("typed confirmation for %v, want [cache]", got)
	}
	if len(plan.Moves) != 1 || plan.Moves[0].From != "node2" || plan.Moves[0].To != "node3" || !strings.Contains(plan.Moves[0].HowTo, "ag-stack_redisdata") {
		t.Errorf("move warning %+v", plan.Moves)
	}
	if _, err := ApplyRelabel(ctx, env, plan, []string{"redis"}); err == nil || !strings.Contains(err.Error(), `type "cache"`) {
		t.Errorf("a move without typing cache: %v", err)
	}
	if _, l := labNodeLabels(t, dc, "node3"); slices.Contains(l, "cache") {
		t.Fatal("cache moved without the typed confirmation")
	}
	if _, err := ApplyRelabel(ctx, env, plan, []string{"cache"}); err != nil {
		t.Fatal(err)
	}
	_, l2 := labNodeLabels(t, dc, "node2")
	_, l3 := labNodeLabels(t, dc, "node3")
	if slices.Contains(l2, "cache") || !slices.Contains(l3, "cache") || !slices.Contains(l2, "grader") {
		t.Errorf("after the move: node2 %v, node3 %v", l2, l3)
	}
	t.Logf("relabel read+plan+apply: %s", time.Since(start).Round(time.Millisecond))
}

// A change made by someone else between ReadLabels and ApplyRelabel (here a
// direct NodeUpdate that only bumps node3's version) is detected, reported
// and nothing is overwritten; an update at a stale version is refused by the
// swarm itself, and reported the same way.
func labRelabelConflict(t *testing.T, env *Env, dc *client.Client) {
	ctx := labCtx(t)
	before, nodes, err := ReadLabels(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	plan := PlanRelabelFor(nodes, before, labMove(before, "cache", "node3", "node2"))
	n3, _ := labNodeLabels(t, dc, "node3")
	spec := n3.Spec
	spec.Labels = maps.Clone(n3.Spec.Labels)
	spec.Labels["aglab-touched"] = "1"
	if _, err := dc.NodeUpdate(ctx, n3.ID, client.NodeUpdateOptions{Version: n3.Version, Spec: spec}); err != nil {
		t.Fatal(err)
	}
	_, err = ApplyRelabel(ctx, env, plan, []string{"cache"})
	var ce *LabelConflictError
	if !errors.As(err, &ce) || ce.Node != "node3" || !strings.Contains(err.Error(), "the labels of node3 changed while aginstall was applying them; run again to see the new state") {
		t.Fatalf("concurrent change: %v", err)
	}
	_, l2 := labNodeLabels(t, dc, "node2")
	_, l3 := labNodeLabels(t, dc, "node3")
	if slices.Contains(l2, "cache") || !slices.Contains(l3, "cache") {
		t.Errorf("something was overwritten: node2 %v, node3 %v", l2, l3)
	}
	t.Logf("reported: %v", err)

	// The swarm's own check: an update at the version read before the bump.
	err = labelsUpdate(ctx, env.On("relabel", env.Cluster.Manager), "node3", n3, []string{"grader"}, "label node3")
	if !errors.As(err, &ce) || !labelsIsConflict(ce.Err) {
		t.Fatalf("stale version: want the swarm's update out of sequence, got %v", err)
	}
	t.Logf("swarm said: %v", ce.Err)
}

// A registry service changed by hand (its volume dropped) is reported as
// drifted, updated back to the guide's spec, and runs again on node1.
func labRegistryDrift(t *testing.T, env *Env, en *Engine, dc *client.Client) {
	ctx := labCtx(t)
	svc, err := dc.ServiceInspect(ctx, "registry", client.ServiceInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	spec := svc.Service.Spec
	cs := *spec.TaskTemplate.ContainerSpec
	cs.Mounts = nil
	spec.TaskTemplate.ContainerSpec = &cs
	if _, err := dc.ServiceUpdate(ctx, svc.Service.ID, client.ServiceUpdateOptions{Version: svc.Service.Version, Spec: spec}); err != nil {
		t.Fatal(err)
	}
	c := registryStep{}.Check(ctx, env)
	if len(c) != 3 || c[0].Host != "node1" || c[0].Status != Drifted || !strings.Contains(c[0].Reason, "no volume ag-registry on /var/lib/registry") {
		t.Errorf("check after the hand change: %+v", c)
	}
	before := len(env.Runner.Mutations())
	start := time.Now()
	if err := en.ApplyStep(ctx, registryStep{}); err != nil {
		t.Fatal(err)
	}
	t.Logf("drifted registry updated and running again: %s", time.Since(start).Round(time.Millisecond))
	m := env.Runner.Mutations()[before:]
	if len(m) != 1 || !strings.HasPrefix(m[0].Command, "ServiceUpdate(registry") {
		t.Errorf("mutations: %+v", m)
	}
	svc, err = dc.ServiceInspect(ctx, "registry", client.ServiceInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d := registryDrift(svc.Service.Spec, swarm.PortConfigPublishModeHost); len(d) != 0 {
		t.Errorf("still drifted: %v", d)
	}
	tasks, err := dc.TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("service", "registry").Add("desired-state", "running")})
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks.Items) != 1 || tasks.Items[0].Status.State != swarm.TaskStateRunning || len(tasks.Items[0].Spec.ContainerSpec.Mounts) != 1 {
		t.Errorf("want one running task with the volume, got %+v", tasks.Items)
	}
}
