package steps

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// registryStep is the guide's
//
//	docker service create --name registry --publish 5000:5000 \
//	  --mount type=volume,source=ag-registry,destination=/var/lib/registry \
//	  --constraint 'node.labels.registry == true' registry:2
//
// through ServiceCreate: the swarm's image registry the stack pulls from.
type registryStep struct{}

func init() { register(OrderRegistry, registryStep{}) }

func (registryStep) ID() string                { return "registry" }
func (registryStep) Title() string             { return "Start the swarm's image registry" }
func (registryStep) Hosts(c *Cluster) []string { return AllHosts(c) } // the service on the manager, the firewall everywhere

// Inputs: the publish mode changes the service's spec.
func (registryStep) Inputs(c *Cluster) any { return registryPublishMode(c) }

// registryWait bounds how long a check (and so apply) waits for the
// registry's task to run:
// the first start pulls registry:2 (about 25 MB compressed, 220 MB unpacked),
// which took over two minutes on the VM lab's single-CPU guests and can on a
// slow campus mirror too.
var registryWait = 5 * time.Minute

const (
	registryName       = "registry"
	registryImage      = "registry:2"
	registryVolume     = "ag-registry"
	registryTarget     = "/var/lib/registry"
	registryConstraint = "node.labels.registry == true"
	registryPort       = 5000
)

// registryPublishMode: ingress (the routing mesh, the guide's default) or
// host, for kernels without IPVS where ingress ports never come up.
func registryPublishMode(c *Cluster) swarm.PortConfigPublishMode {
	if c.Swarm.PublishMode == "host" {
		return swarm.PortConfigPublishModeHost
	}
	return swarm.PortConfigPublishModeIngress
}

// registrySpec is the guide's registry service.
func registrySpec(mode swarm.PortConfigPublishMode) swarm.ServiceSpec {
	one := uint64(1)
	return swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: registryName},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{
				Image:  registryImage,
				Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: registryVolume, Target: registryTarget}},
			},
			Placement: &swarm.Placement{Constraints: []string{registryConstraint}},
		},
		Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}},
		EndpointSpec: &swarm.EndpointSpec{Ports: registryPorts(mode)},
	}
}

func registryPorts(mode swarm.PortConfigPublishMode) []swarm.PortConfig {
	return []swarm.PortConfig{{Protocol: network.TCP, TargetPort: registryPort, PublishedPort: registryPort, PublishMode: mode}}
}

// registryImageName drops a pinned digest and Docker Hub's implicit prefixes,
// so "docker.io/library/registry:2@sha256:…" (what `docker service create`
// stores) is the same image as "registry:2".
func registryImageName(s string) string {
	s, _, _ = strings.Cut(s, "@")
	s = strings.TrimPrefix(s, "docker.io/")
	return strings.TrimPrefix(s, "library/")
}

// registryDrift lists how an existing service differs from the guide's.
func registryDrift(have swarm.ServiceSpec, mode swarm.PortConfigPublishMode) []string {
	var d []string
	cs := have.TaskTemplate.ContainerSpec
	switch {
	case cs == nil:
		d = append(d, "it runs no container")
	case registryImageName(cs.Image) != registryImage:
		d = append(d, fmt.Sprintf("image %s, not %s", cs.Image, registryImage))
	}
	if cs != nil && !slices.ContainsFunc(cs.Mounts, func(m mount.Mount) bool {
		return m.Type == mount.TypeVolume && m.Source == registryVolume && m.Target == registryTarget
	}) {
		d = append(d, fmt.Sprintf("no volume %s on %s", registryVolume, registryTarget))
	}
	var cons []string
	if have.TaskTemplate.Placement != nil {
		cons = have.TaskTemplate.Placement.Constraints
	}
	if !slices.Equal(cons, []string{registryConstraint}) {
		d = append(d, fmt.Sprintf("constraints %q, not [%q]", cons, registryConstraint))
	}
	var ports []swarm.PortConfig
	if have.EndpointSpec != nil {
		ports = have.EndpointSpec.Ports
	}
	want := registryPorts(mode)[0]
	if len(ports) != 1 || ports[0].TargetPort != want.TargetPort || ports[0].PublishedPort != want.PublishedPort ||
		registryMode(ports[0].PublishMode) != want.PublishMode || (ports[0].Protocol != "" && ports[0].Protocol != network.TCP) {
		d = append(d, fmt.Sprintf("ports %s, not %s", registryPortsText(ports), registryPortsText([]swarm.PortConfig{want})))
	}
	if r := have.Mode.Replicated; r == nil || r.Replicas == nil || *r.Replicas != 1 {
		d = append(d, "not one replica")
	}
	return d
}

// registryMode: an empty publish mode is the API's default, ingress.
func registryMode(m swarm.PortConfigPublishMode) swarm.PortConfigPublishMode {
	if m == "" {
		return swarm.PortConfigPublishModeIngress
	}
	return m
}

func registryPortsText(ports []swarm.PortConfig) string {
	var s []string
	for _, p := range ports {
		s = append(s, fmt.Sprintf("%d:%d/%s (%s)", p.PublishedPort, p.TargetPort, p.Protocol, registryMode(p.PublishMode)))
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// registryFixed is have with the guide's fields set and the rest kept.
func registryFixed(have swarm.ServiceSpec, mode swarm.PortConfigPublishMode) swarm.ServiceSpec {
	want := registrySpec(mode)
	spec := have
	cs := *want.TaskTemplate.ContainerSpec
	if have.TaskTemplate.ContainerSpec != nil {
		cs = *have.TaskTemplate.ContainerSpec
		if registryImageName(cs.Image) != registryImage {
			cs.Image = registryImage
		}
		cs.Mounts = slices.DeleteFunc(slices.Clone(cs.Mounts), func(m mount.Mount) bool { return m.Target == registryTarget })
		cs.Mounts = append(cs.Mounts, want.TaskTemplate.ContainerSpec.Mounts...)
	}
	spec.TaskTemplate.ContainerSpec = &cs
	spec.TaskTemplate.Placement = want.TaskTemplate.Placement
	spec.Mode = want.Mode
	spec.EndpointSpec = want.EndpointSpec
	return spec
}

// registryFind returns the service named registry, or nil.
func registryFind(ctx context.Context, h *HostRunner) (*swarm.Service, error) {
	var found *swarm.Service
	err := h.API(ctx, "look for the registry service", "ServiceList(Filters=name=registry)", false, func(ctx context.Context, c *client.Client) error {
		res, err := c.ServiceList(ctx, client.ServiceListOptions{Filters: make(client.Filters).Add("name", registryName)})
		for i, s := range res.Items {
			if s.Spec.Name == registryName { // the filter also matches prefixes
				found = &res.Items[i]
			}
		}
		return err
	})
	return found, err
}

// Check reads the service on the manager and the firewall on every host
// (registry_firewall.go); the manager's verdict is the worse of its two.
func (s registryStep) Check(ctx context.Context, env *Env) []HostCheck {
	mgr := env.Cluster.Manager
	svc, svcCheck := registryCheckService(ctx, env)
	allowed := registryFirewallAllowed(env)
	checks := checkEachHost(ctx, env, s.ID(), s.Hosts(env.Cluster), func(ctx context.Context, h *HostRunner) HostCheck {
		if foundWithoutDocker(ctx, env, h.Host) {
			// The firewall's chain hangs off Docker's own DOCKER-USER:
			// nothing to read before the docker step (on a first review of
			// new hosts, this probe was the last answer to come).
			return waitingForDocker(h.Host, []string{h.Host})
		}
		return registryFirewallCheck(ctx, h, allowed, svc != nil)
	})
	for i, c := range checks {
		if c.Host != mgr {
			continue
		}
		switch {
		case c.Status == Done:
			checks[i] = svcCheck
		case svcCheck.Status != Done:
			checks[i] = overallCheck(svcCheck, c)
		}
		checks[i].Host = mgr
	}
	return checks
}

// overallCheck folds two verdicts on one host: the worse status, both reasons.
func overallCheck(a, b HostCheck) HostCheck {
	out := a
	if overall([]HostCheck{a, b}) == b.Status {
		out.Status = b.Status
	}
	out.Reason = a.Reason + "; " + b.Reason
	out.Fix = strings.Trim(a.Fix+"; "+b.Fix, "; ")
	return out
}

// registryCheckService checks the registry service (and its proxy) on the
// manager; svc is nil when there is none.
func registryCheckService(ctx context.Context, env *Env) (*swarm.Service, HostCheck) {
	mgr := env.Cluster.Manager
	h := env.On("registry", mgr)
	svc, err := registryFind(ctx, h)
	if err != nil {
		return nil, HostCheck{Host: mgr, Status: Unknown, Reason: fmt.Sprintf("cannot list the services on %s: %v", mgr, err),
			Fix: "make sure the swarm step is done"}
	}
	if svc == nil {
		return nil, HostCheck{Host: mgr, Status: Todo, Reason: "no registry service: apply creates it"}
	}
	if d := registryDrift(svc.Spec, registryPublishMode(env.Cluster)); len(d) > 0 {
		return svc, HostCheck{Host: mgr, Status: Drifted, Reason: "the registry service differs from the guide's: " + strings.Join(d, "; "),
			Fix: "apply updates it"}
	}
	st, reason := registryWaitRunning(ctx, h, svc.ID)
	c := HostCheck{Host: mgr, Status: st, Reason: reason}
	if st != Done {
		c.Fix = "fix what the task reports (docker service ps --no-trunc registry shows it too), then check again"
		return svc, c
	}
	if addr, have, err := registryProxyRead(ctx, h); err != nil {
		c = HostCheck{Host: mgr, Status: Unknown, Reason: "cannot read the nodes and the registry proxy: " + err.Error()}
	} else if todo := registryProxyTodo(env.Cluster, addr, have); todo != "" {
		c = HostCheck{Host: mgr, Status: Todo, Reason: todo, Fix: "apply creates it"}
	}
	return svc, c
}

// registryWaitRunning polls the service's tasks every second until one runs,
// up to registryWait, and reports the task's own error if none does. It stops
// early when the swarm keeps rejecting tasks with the same error.
func registryWaitRunning(ctx context.Context, h *HostRunner, serviceID string) (Status, string) {
	var st Status
	var reason string
	call := fmt.Sprintf("TaskList(service=%s) and ServiceInspect every second until a task runs (up to %s)", registryName, registryWait)
	err := h.API(ctx, "wait for the registry to run", call, false, func(ctx context.Context, c *client.Client) error {
		deadline := time.Now().Add(registryWait)
		for {
			res, err := c.TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("service", serviceID)})
			if err != nil {
				return err
			}
			var done bool
			st, reason, done = registryTaskVerdict(res.Items)
			if svc, err := c.ServiceInspect(ctx, serviceID, client.ServiceInspectOptions{}); err == nil && registryUpdating(svc.Service) {
				// The running task may still be the old spec's.
				st, reason, done = Drifted, "the service is being updated: "+svc.Service.UpdateStatus.Message, false
			}
			if done {
				if st == Done {
					reason += registryNodeName(ctx, c, res.Items)
				}
				return nil
			}
			if time.Now().After(deadline) {
				reason = fmt.Sprintf("no registry task running after %s: %s", registryWait, reason)
				return nil
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
			}
		}
	})
	if err != nil {
		return Unknown, fmt.Sprintf("cannot list the registry's tasks: %v", err)
	}
	return st, reason
}

// registryTaskVerdict reads a service's tasks: Done when one runs; a final
// failure (done=true) when three tasks failed with one error; else what the
// newest task is doing.
func registryTaskVerdict(tasks []swarm.Task) (st Status, reason string, done bool) {
	tasks = slices.Clone(tasks)
	slices.SortFunc(tasks, func(a, b swarm.Task) int { return b.Status.Timestamp.Compare(a.Status.Timestamp) })
	failed := map[string]int{}
	for _, t := range tasks {
		if t.Status.State == swarm.TaskStateRunning && t.DesiredState == swarm.TaskStateRunning {
			return Done, "the registry task is running", true
		}
		if t.Status.State == swarm.TaskStateFailed || t.Status.State == swarm.TaskStateRejected {
			failed[registryTaskText(t)]++
		}
	}
	for text, n := range failed {
		if n >= 3 {
			return Drifted, fmt.Sprintf("%d registry tasks failed: %s", n, text), true
		}
	}
	if len(tasks) == 0 {
		return Drifted, "the swarm made no task for it (is the registry label on a Ready node?)", false
	}
	return Drifted, "newest task: " + registryTaskText(tasks[0]), false
}

// registryUpdating: a rolling update of the service is under way.
func registryUpdating(s swarm.Service) bool {
	u := s.UpdateStatus
	return u != nil && (u.State == swarm.UpdateStateUpdating || u.State == swarm.UpdateStateRollbackStarted)
}

// registryTaskText is a task's state with its own message and error.
func registryTaskText(t swarm.Task) string {
	s := string(t.Status.State)
	if t.Status.Message != "" {
		s += " (" + t.Status.Message + ")"
	}
	if t.Status.Err != "" {
		s += ": " + t.Status.Err
	}
	return s
}

// registryNodeName says where the running task is.
func registryNodeName(ctx context.Context, c *client.Client, tasks []swarm.Task) string {
	for _, t := range tasks {
		if t.Status.State == swarm.TaskStateRunning {
			if res, err := c.NodeInspect(ctx, t.NodeID, client.NodeInspectOptions{}); err == nil {
				return " on " + res.Node.Description.Hostname
			}
		}
	}
	return ""
}

// Apply closes the registry ports on every host first (so the registry is
// never reachable from outside, even for a moment), then creates or fixes
// the registry service and (host publish mode) the proxy that lets every
// other node pull from it.
func (s registryStep) Apply(ctx context.Context, env *Env) error {
	allowed := registryFirewallAllowed(env)
	if err := env.Each(ctx, s.ID(), s.Hosts(env.Cluster), func(ctx context.Context, h *HostRunner) error {
		return registryFirewallApply(ctx, env, h, allowed)
	}); err != nil && !errors.Is(err, ErrDryRun) {
		return err
	}
	h := env.On("registry", env.Cluster.Manager)
	err := registryApplyService(ctx, env, h)
	if err != nil && !errors.Is(err, ErrDryRun) {
		return err
	}
	if perr := registryEnsureProxy(ctx, h, env.Cluster); perr != nil {
		return perr
	}
	return err
}

func registryApplyService(ctx context.Context, env *Env, h *HostRunner) error {
	mgr := env.Cluster.Manager
	mode := registryPublishMode(env.Cluster)
	svc, err := registryFind(ctx, h)
	if err != nil && !h.DryRun() {
		return err
	}
	next := fmt.Sprintf("make sure %s manages the swarm and a node has the registry label (the swarm and labels steps)", mgr)
	if svc == nil {
		call := fmt.Sprintf("ServiceCreate(Name=%s, Image=%s, Publish=%d:%d/tcp mode %s, Mount=volume %s:%s, Constraint=%q)",
			registryName, registryImage, registryPort, registryPort, mode, registryVolume, registryTarget, registryConstraint)
		err := h.API(ctx, "create the registry service", call, true, func(ctx context.Context, c *client.Client) error {
			_, err := c.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: registrySpec(mode)})
			return err
		})
		return swarmNext(err, next)
	}
	drift := registryDrift(svc.Spec, mode)
	if len(drift) == 0 {
		return nil
	}
	swarmNote(env, "registry", mgr, "the registry service has drifted: "+strings.Join(drift, "; "))
	call := fmt.Sprintf("ServiceUpdate(%s, Version=%d, fix: %s)", registryName, svc.Version.Index, strings.Join(drift, "; "))
	err = h.API(ctx, "update the drifted registry service", call, true, func(ctx context.Context, c *client.Client) error {
		_, err := c.ServiceUpdate(ctx, svc.ID, client.ServiceUpdateOptions{Version: svc.Version, Spec: registryFixed(svc.Spec, mode)})
		return err
	})
	if err != nil && !errors.Is(err, ErrDryRun) {
		return swarmNext(err, next)
	}
	return err
}
