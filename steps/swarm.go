package steps

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// swarmStep is the guide's "docker swarm init" on the manager and "docker
// swarm join" on every other server, through the Docker API.
type swarmStep struct{}

func init() { register(OrderSwarm, swarmStep{}) }

func (swarmStep) ID() string                { return "swarm" }
func (swarmStep) Title() string             { return "Create the swarm and join every server to it" }
func (swarmStep) Hosts(c *Cluster) []string { return AllHosts(c) }

// swarmPort is the swarm's management port (the guide's default).
const swarmPort = "2377"

// swarmReadyWait bounds the wait for joined servers to show as Ready.
var swarmReadyWait = 60 * time.Second

// swarmAdvertise is the manager's advertise address: the cluster file's, else
// the address discovery saw the other hosts reach, else the host's address
// when it is an IP ("" lets Docker choose).
func swarmAdvertise(env *Env) string {
	if a := env.Cluster.Swarm.AdvertiseAddress; a != "" {
		return a
	}
	return swarmHostAddr(env, env.Cluster.Manager)
}

// swarmHostAddr is the address a host advertises to the swarm: discovery's
// reachable address, else its cluster-file address when that is an IP.
// Docker accepts an IP or an interface name, not a DNS name.
func swarmHostAddr(env *Env, host string) string {
	if a := env.State.FactsOf(host).reach(); a != "" {
		return a
	}
	if h, ok := env.Cluster.Host(host); ok && net.ParseIP(h.Address) != nil {
		return h.Address
	}
	return ""
}

// swarmInfo reads a host's engine info, which holds its swarm membership
// (once per review: engineInfo).
func swarmInfo(ctx context.Context, env *Env, h *HostRunner) (swarm.Info, string, error) {
	info, err := engineInfo(ctx, env, h)
	return info.Swarm, info.Name, err
}

// swarmView is the swarm as seen from the manager, with its nodes mapped to
// the cluster file's hosts.
type swarmView struct {
	managerErr error
	infos      map[string]swarm.Info // per host that answered
	infoErrs   map[string]error
	isManager  bool   // the manager host manages a swarm
	swarmID    string // that swarm's cluster ID
	nodes      []swarm.Node
	byHost     map[string]swarm.Node
	unmapped   []swarm.Node
}

// swarmRead reads every host's membership and, when the manager manages a
// swarm, its node list mapped to hosts. Read-only.
func swarmRead(ctx context.Context, env *Env, step string) *swarmView {
	v := &swarmView{infos: map[string]swarm.Info{}, infoErrs: map[string]error{}, byHost: map[string]swarm.Node{}}
	names := map[string]string{}
	var mu sync.Mutex
	swarmParallel(env.Cluster.HostNames(), func(host string) {
		si, name, err := swarmInfo(ctx, env, env.On(step, host))
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			v.infoErrs[host] = err
			return
		}
		v.infos[host], names[host] = si, name
	})
	mgr := env.Cluster.Manager
	if err, bad := v.infoErrs[mgr]; bad {
		v.managerErr = err
		return v
	}
	mi := v.infos[mgr]
	v.isManager = mi.LocalNodeState == swarm.LocalNodeStateActive && mi.ControlAvailable
	if !v.isManager {
		return v
	}
	if mi.Cluster != nil {
		v.swarmID = mi.Cluster.ID
	}
	err := env.On(step, mgr).API(ctx, "list the swarm's nodes", "NodeList()", false, func(ctx context.Context, c *client.Client) error {
		res, err := c.NodeList(ctx, client.NodeListOptions{})
		v.nodes = res.Items
		return err
	})
	if err != nil {
		v.managerErr = err
		return v
	}
	v.byHost, v.unmapped = swarmMapNodes(v.nodes, swarmHostKeys(env, v.infos, names))
	return v
}

// swarmHostKey is what identifies a host's swarm node: its node ID when the
// host answered (Answered; "" when it is in no swarm), else its names and
// addresses.
type swarmHostKey struct {
	Host      string
	Answered  bool
	NodeID    string
	Hostnames []string
	Addrs     []string
}

func swarmHostKeys(env *Env, infos map[string]swarm.Info, names map[string]string) []swarmHostKey {
	var keys []swarmHostKey
	for _, h := range env.Cluster.Hosts {
		k := swarmHostKey{Host: h.Name, Hostnames: []string{h.Name, names[h.Name]}, Addrs: []string{h.Address}}
		if si, ok := infos[h.Name]; ok {
			k.Answered, k.NodeID = true, si.NodeID
			k.Addrs = append(k.Addrs, si.NodeAddr)
		}
		if net.ParseIP(h.Address) == nil {
			k.Hostnames = append(k.Hostnames, h.Address)
		}
		if f := env.State.FactsOf(h.Name); f != nil {
			k.Hostnames = append(k.Hostnames, f.Hostname)
			k.Addrs = append(k.Addrs, f.ReachableAt)
			for _, a := range f.Addresses {
				k.Addrs = append(k.Addrs, strings.SplitN(a, "/", 2)[0])
			}
		}
		keys = append(keys, k)
	}
	return keys
}

// swarmMapNodes maps nodes to hosts: by the node ID the host's engine gave;
// for hosts that did not answer, by hostname (a host's FQDN matches a node's
// short name and back), then by address. A host that answered is never
// mapped by name: an entry of its name with another ID is a left-over (it
// left, maybe for another swarm, and the manager has not noticed yet). When
// several nodes fit, the Ready, most recently updated one wins. Nodes no
// host claims come back as unmapped.
func swarmMapNodes(nodes []swarm.Node, keys []swarmHostKey) (map[string]swarm.Node, []swarm.Node) {
	byHost := map[string]swarm.Node{}
	claimed := map[string]bool{}
	for _, k := range keys {
		for _, n := range nodes {
			if k.NodeID != "" && n.ID == k.NodeID {
				byHost[k.Host], claimed[n.ID] = n, true
			}
		}
	}
	for _, match := range []func(swarm.Node, swarmHostKey) bool{swarmSameHostname, swarmSameAddr} {
		for _, k := range keys {
			if _, done := byHost[k.Host]; done || k.Answered {
				continue
			}
			var best *swarm.Node
			for i, n := range nodes {
				if claimed[n.ID] || !match(n, k) {
					continue
				}
				if best == nil || swarmBetter(n, *best) {
					best = &nodes[i]
				}
			}
			if best != nil {
				byHost[k.Host], claimed[best.ID] = *best, true
			}
		}
	}
	var unmapped []swarm.Node
	for _, n := range nodes {
		if !claimed[n.ID] {
			unmapped = append(unmapped, n)
		}
	}
	return byHost, unmapped
}

func swarmShortName(s string) string {
	return strings.ToLower(strings.SplitN(s, ".", 2)[0])
}

func swarmSameHostname(n swarm.Node, k swarmHostKey) bool {
	if n.Description.Hostname == "" {
		return false
	}
	for _, h := range k.Hostnames {
		if h != "" && net.ParseIP(h) == nil && swarmShortName(h) == swarmShortName(n.Description.Hostname) {
			return true
		}
	}
	return false
}

func swarmSameAddr(n swarm.Node, k swarmHostKey) bool {
	return n.Status.Addr != "" && slices.Contains(k.Addrs, n.Status.Addr)
}

func swarmBetter(a, b swarm.Node) bool {
	ar, br := a.Status.State == swarm.NodeStateReady, b.Status.State == swarm.NodeStateReady
	if ar != br {
		return ar
	}
	return a.UpdatedAt.After(b.UpdatedAt)
}

// swarmParallel runs fn for each host, at most 8 at once, and waits.
func swarmParallel(hosts []string, fn func(host string)) {
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			fn(h)
		}()
	}
	wg.Wait()
}

// swarmOther describes the swarm a host is in when it is not ours.
func swarmOther(si swarm.Info) string {
	if si.Cluster != nil && si.Cluster.ID != "" {
		return si.Cluster.ID
	}
	var addrs []string
	for _, p := range si.RemoteManagers {
		addrs = append(addrs, p.Addr)
	}
	if len(addrs) == 0 {
		return "of node " + si.NodeID
	}
	return "managed from " + strings.Join(addrs, ", ")
}

func (swarmStep) Check(ctx context.Context, env *Env) []HostCheck {
	hosts := env.Cluster.HostNames()
	mgr := env.Cluster.Manager
	v := swarmRead(ctx, env, "swarm")
	if v.managerErr != nil {
		out := checksFor(hosts, Unknown, fmt.Sprintf("cannot read the swarm on the manager %s: %v", mgr, v.managerErr))
		for i := range out {
			out[i].Fix = "make sure Docker runs on " + mgr + " (the docker step), then check again"
		}
		return out
	}
	var out []HostCheck
	for _, h := range hosts {
		c := HostCheck{Host: h}
		si, answered := v.infos[h]
		node, isNode := v.byHost[h]
		switch {
		case v.isManager && isNode && node.Status.State == swarm.NodeStateReady && (!answered || si.NodeID == node.ID):
			// A host that answers must itself be that node: the manager keeps
			// a left host "Ready" for a while after it joined another swarm.
			c.Status, c.Reason = Done, fmt.Sprintf("Ready %s node of swarm %s", node.Spec.Role, swarmShort(v.swarmID))
		case v.isManager && isNode && (!answered || si.LocalNodeState == swarm.LocalNodeStateActive):
			c.Status, c.Reason = Drifted, fmt.Sprintf("a node of swarm %s, but %s: %s", swarmShort(v.swarmID), node.Status.State, node.Status.Message)
			c.Fix = fmt.Sprintf("make sure Docker runs on %s and reaches %s on port %s", h, mgr, swarmPort)
		case !answered:
			c.Status, c.Reason = Unknown, fmt.Sprintf("cannot read Docker on %s: %v", h, v.infoErrs[h])
			c.Fix = "make sure Docker runs on " + h + " (the docker step), then check again"
		case h == mgr && si.LocalNodeState == swarm.LocalNodeStateInactive:
			c.Status, c.Reason = Todo, "no swarm yet: apply creates it here (SwarmInit)"
		case h == mgr && !v.isManager && si.LocalNodeState == swarm.LocalNodeStateActive:
			c.Status, c.Reason = Drifted, fmt.Sprintf("in another swarm (%s, state %s) as a worker, so it cannot manage this one", swarmOther(si), si.LocalNodeState)
			c.Fix = "if that swarm is the one to use, set manager: in the cluster file to its manager; else apply asks before making " + h + " leave it"
		case si.LocalNodeState == swarm.LocalNodeStateInactive:
			c.Status, c.Reason = Todo, "not in a swarm: apply joins it as a worker"
		case si.LocalNodeState == swarm.LocalNodeStateActive:
			c.Status, c.Reason = Drifted, fmt.Sprintf("in another swarm (%s), not in the swarm of %s", swarmOther(si), mgr)
			c.Fix = "apply asks before making it leave that swarm"
		default:
			c.Status, c.Reason = Drifted, fmt.Sprintf("swarm state %s %s", si.LocalNodeState, si.Error)
			c.Fix = fmt.Sprintf("run `docker swarm leave --force` on %s, then apply again", h)
		}
		out = append(out, c)
	}
	return out
}

func swarmShort(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func (swarmStep) Apply(ctx context.Context, env *Env) error {
	mgr := env.Cluster.Manager
	hm := env.On("swarm", mgr)
	si, _, err := swarmInfo(ctx, env, hm)
	if err != nil && !hm.DryRun() {
		return err
	}
	adv := swarmAdvertise(env)
	joinAddr := adv
	switch {
	case si.LocalNodeState == swarm.LocalNodeStateActive && si.ControlAvailable:
		joinAddr = si.NodeAddr // the swarm already exists: join where it is
	case si.LocalNodeState == swarm.LocalNodeStateActive:
		if err := swarmLeaveOther(ctx, env, hm, si); err != nil {
			return err
		}
		fallthrough
	case si.LocalNodeState == swarm.LocalNodeStateInactive || si.LocalNodeState == "":
		shown := adv
		if shown == "" {
			shown = "(chosen by Docker)"
		}
		err := hm.API(ctx, "create the swarm", fmt.Sprintf("SwarmInit(ListenAddr=0.0.0.0:%s, AdvertiseAddr=%s)", swarmPort, shown), true,
			func(ctx context.Context, c *client.Client) error {
				_, err := c.SwarmInit(ctx, client.SwarmInitOptions{ListenAddr: "0.0.0.0:" + swarmPort, AdvertiseAddr: adv})
				if err != nil {
					return err
				}
				res, err := c.Info(ctx, client.InfoOptions{})
				joinAddr = res.Info.Swarm.NodeAddr
				return err
			})
		if err != nil && !errors.Is(err, ErrDryRun) {
			return swarmNext(err, fmt.Sprintf("check that %s is an address of %s (swarm.advertise_address in the cluster file) and that port %s is free", adv, mgr, swarmPort))
		}
	default:
		return &StepError{Step: "swarm", Host: mgr, Purpose: "create the swarm", Command: "Info()",
			Err:  fmt.Errorf("the engine's swarm state is %s %s", si.LocalNodeState, si.Error),
			Next: fmt.Sprintf("run `docker swarm leave --force` on %s (or unlock it if it is locked), then apply again", mgr)}
	}
	if joinAddr == "" {
		joinAddr = mgr
	}

	// The worker token, and which node IDs are already in this swarm.
	var token string
	members := map[string]bool{}
	if !hm.DryRun() || si.ControlAvailable {
		err := hm.API(ctx, "read the worker join token", "SwarmInspect()", false, func(ctx context.Context, c *client.Client) error {
			res, err := c.SwarmInspect(ctx, client.SwarmInspectOptions{})
			// Registered before anything can log or record them.
			env.Secrets.Add(res.Swarm.JoinTokens.Worker)
			env.Secrets.Add(res.Swarm.JoinTokens.Manager)
			token = res.Swarm.JoinTokens.Worker
			return err
		})
		if err != nil {
			return err
		}
		err = hm.API(ctx, "list the swarm's nodes", "NodeList()", false, func(ctx context.Context, c *client.Client) error {
			res, err := c.NodeList(ctx, client.NodeListOptions{})
			for _, n := range res.Items {
				members[n.ID] = true
			}
			return err
		})
		if err != nil {
			return err
		}
	}

	var mu sync.Mutex
	var joined []string
	err = env.Each(ctx, "swarm", env.Cluster.Workers(), func(ctx context.Context, h *HostRunner) error {
		si, _, err := swarmInfo(ctx, env, h)
		if err != nil && !h.DryRun() {
			return err
		}
		switch {
		case si.LocalNodeState == swarm.LocalNodeStateActive && members[si.NodeID]:
			return nil // already ours: leave it alone
		case si.LocalNodeState == swarm.LocalNodeStateActive:
			if err := swarmLeaveOther(ctx, env, h, si); err != nil {
				return err
			}
		case si.LocalNodeState == swarm.LocalNodeStateInactive || si.LocalNodeState == "":
		default:
			return &StepError{Step: "swarm", Host: h.Host, Purpose: "join the swarm", Command: "Info()",
				Err:  fmt.Errorf("the engine's swarm state is %s %s", si.LocalNodeState, si.Error),
				Next: fmt.Sprintf("run `docker swarm leave --force` on %s, then apply again", h.Host)}
		}
		addr := swarmHostAddr(env, h.Host)
		shown := addr
		if shown == "" {
			shown = "(chosen by Docker)"
		}
		remote := net.JoinHostPort(joinAddr, swarmPort)
		var nodeID string
		err = h.API(ctx, "join the swarm as a worker", fmt.Sprintf("SwarmJoin(RemoteAddrs=[%s], AdvertiseAddr=%s, JoinToken=<redacted>)", remote, shown), true,
			func(ctx context.Context, c *client.Client) error {
				_, err := c.SwarmJoin(ctx, client.SwarmJoinOptions{ListenAddr: "0.0.0.0:" + swarmPort, AdvertiseAddr: addr, RemoteAddrs: []string{remote}, JoinToken: token})
				if err != nil {
					return err
				}
				res, err := c.Info(ctx, client.InfoOptions{})
				nodeID = res.Info.Swarm.NodeID
				return err
			})
		if err != nil {
			return swarmNext(err, fmt.Sprintf("check that %s reaches %s (TCP 2377 and 7946, UDP 7946 and 4789 open between the servers)", h.Host, remote))
		}
		mu.Lock()
		joined = append(joined, nodeID)
		mu.Unlock()
		return nil
	})
	if err != nil || len(joined) == 0 {
		return err
	}
	return swarmWaitReady(ctx, hm, joined)
}

// swarmWaitReady polls the manager until the joined nodes are Ready.
func swarmWaitReady(ctx context.Context, hm *HostRunner, ids []string) error {
	call := fmt.Sprintf("NodeList() every second until %d joined node(s) are Ready (up to %s)", len(ids), swarmReadyWait)
	return hm.API(ctx, "wait for the joined servers to be Ready", call, false, func(ctx context.Context, c *client.Client) error {
		deadline := time.Now().Add(swarmReadyWait)
		for {
			res, err := c.NodeList(ctx, client.NodeListOptions{})
			if err != nil {
				return err
			}
			var waiting []string
			for _, id := range ids {
				i := slices.IndexFunc(res.Items, func(n swarm.Node) bool { return n.ID == id })
				if i < 0 || res.Items[i].Status.State != swarm.NodeStateReady {
					waiting = append(waiting, swarmShort(id))
				}
			}
			if len(waiting) == 0 {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("nodes %s not Ready after %s", strings.Join(waiting, ", "), swarmReadyWait)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
			}
		}
	})
}

// swarmLeaveOther makes a host in another swarm leave it, only when the
// operator says yes. In a dry run the leave is planned without asking.
func swarmLeaveOther(ctx context.Context, env *Env, h *HostRunner, si swarm.Info) error {
	other := swarmOther(si)
	call := "SwarmLeave(Force=true)"
	if h.DryRun() {
		return swarmIgnoreDry(h.API(ctx, fmt.Sprintf("leave swarm %s (apply asks you first)", other), call, true, nil))
	}
	q := fmt.Sprintf("make %s leave swarm %s?", h.Host, other)
	if env.Confirm == nil || !env.Confirm(q) {
		return &StepError{Step: "swarm", Host: h.Host, Purpose: "join the swarm", Command: "Info()",
			Err:  fmt.Errorf("%s is in another swarm (%s)", h.Host, other),
			Next: fmt.Sprintf("if that swarm is the one to use, set manager: in the cluster file to its manager; if it is no longer used, run `docker swarm leave --force` on %s (its containers of that swarm stop) or answer yes when aginstall asks, then apply again", h.Host)}
	}
	return h.API(ctx, "leave swarm "+other, call, true, func(ctx context.Context, c *client.Client) error {
		_, err := c.SwarmLeave(ctx, client.SwarmLeaveOptions{Force: true})
		return err
	})
}

func swarmIgnoreDry(err error) error {
	if errors.Is(err, ErrDryRun) {
		return nil
	}
	return err
}

// swarmNext sets what to do next on a runner error.
func swarmNext(err error, next string) error {
	var se *StepError
	if errors.As(err, &se) {
		se.Next = next
	}
	return err
}
