package steps

import (
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/swarm"
)

func TestRegistrySpec(t *testing.T) {
	s := registrySpec(swarm.PortConfigPublishModeHost)
	cs := s.TaskTemplate.ContainerSpec
	if s.Name != "registry" || cs.Image != "registry:2" || len(cs.Mounts) != 1 || cs.Mounts[0] != (mount.Mount{Type: mount.TypeVolume, Source: "ag-registry", Target: "/var/lib/registry"}) {
		t.Errorf("spec %+v %+v", s, cs)
	}
	if c := s.TaskTemplate.Placement.Constraints; len(c) != 1 || c[0] != "node.labels.registry == true" {
		t.Errorf("constraints %v", c)
	}
	p := s.EndpointSpec.Ports
	if len(p) != 1 || p[0].PublishedPort != 5000 || p[0].TargetPort != 5000 || p[0].PublishMode != swarm.PortConfigPublishModeHost {
		t.Errorf("ports %+v", p)
	}
	if *s.Mode.Replicated.Replicas != 1 {
		t.Error("not one replica")
	}
	if d := registryDrift(s, swarm.PortConfigPublishModeHost); len(d) != 0 {
		t.Errorf("own spec drifts: %v", d)
	}
}

func TestRegistryPublishMode(t *testing.T) {
	if registryPublishMode(&Cluster{Swarm: SwarmSpec{PublishMode: "host"}}) != swarm.PortConfigPublishModeHost ||
		registryPublishMode(&Cluster{Swarm: SwarmSpec{PublishMode: "ingress"}}) != swarm.PortConfigPublishModeIngress {
		t.Error("publish mode not taken from the cluster file")
	}
}

func TestRegistryDrift(t *testing.T) {
	// What `docker service create` of the guide stores: a pinned digest, the
	// API's empty publish mode and protocol.
	cli := registrySpec(swarm.PortConfigPublishModeIngress)
	cli.TaskTemplate.ContainerSpec.Image = "registry:2@sha256:0123abcd"
	cli.EndpointSpec.Ports[0].PublishMode = ""
	cli.EndpointSpec.Ports[0].Protocol = ""
	if d := registryDrift(cli, swarm.PortConfigPublishModeIngress); len(d) != 0 {
		t.Errorf("the guide's own service drifts: %v", d)
	}
	d := registryDrift(cli, swarm.PortConfigPublishModeHost)
	if len(d) != 1 || !strings.Contains(d[0], "5000:5000/tcp (host)") {
		t.Errorf("ingress against host: %v", d)
	}
	other := registrySpec(swarm.PortConfigPublishModeHost)
	other.TaskTemplate.ContainerSpec.Image = "registry:3"
	other.TaskTemplate.ContainerSpec.Mounts = nil
	other.TaskTemplate.Placement = nil
	other.TaskTemplate.ContainerSpec.Env = []string{"KEEP=1"}
	if d := registryDrift(other, swarm.PortConfigPublishModeHost); len(d) != 3 {
		t.Errorf("want image, volume and constraint drift, got %v", d)
	}
	fixed := registryFixed(other, swarm.PortConfigPublishModeHost)
	if d := registryDrift(fixed, swarm.PortConfigPublishModeHost); len(d) != 0 || fixed.TaskTemplate.ContainerSpec.Env[0] != "KEEP=1" {
		t.Errorf("fixed spec: drift %v, env %v", d, fixed.TaskTemplate.ContainerSpec.Env)
	}
	if other.TaskTemplate.ContainerSpec.Image != "registry:3" {
		t.Error("registryFixed changed its input")
	}
}

func TestRegistryTaskVerdict(t *testing.T) {
	task := func(st swarm.TaskState, msg, err string, at int) swarm.Task {
		return swarm.Task{DesiredState: swarm.TaskStateRunning, Status: swarm.TaskStatus{State: st, Message: msg, Err: err, Timestamp: time.Unix(int64(at), 0)}}
	}
	st, reason, done := registryTaskVerdict([]swarm.Task{task(swarm.TaskStateRunning, "started", "", 1)})
	if st != Done || !done {
		t.Errorf("running: %s %q", st, reason)
	}
	st, reason, done = registryTaskVerdict([]swarm.Task{task(swarm.TaskStatePreparing, "preparing", "", 2)})
	if st == Done || done || reason != "newest task: preparing (preparing)" {
		t.Errorf("preparing: %s %q %v", st, reason, done)
	}
	var rejected []swarm.Task
	for i := range 3 {
		rejected = append(rejected, task(swarm.TaskStateRejected, "preparing", "No such image: registry:2", i))
	}
	st, reason, done = registryTaskVerdict(rejected)
	if st == Done || !done || !strings.Contains(reason, "No such image: registry:2") {
		t.Errorf("rejected three times: %s %q %v", st, reason, done)
	}
}
