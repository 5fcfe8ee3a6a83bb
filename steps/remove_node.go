package steps

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"aginstall/remote"
	"aginstall/steps/edit"
	"aginstall/steps/rules"
)

// RemoveNodeStepID names remove-node's records.
const RemoveNodeStepID = "remove-node"

// RemoveNodeRefusal says why a host may not leave (nothing was touched).
type RemoveNodeRefusal struct {
	Host    string
	Reasons []string
}

func (e *RemoveNodeRefusal) Error() string {
	return fmt.Sprintf("%s cannot leave the cluster yet:\n  %s", e.Host, strings.Join(e.Reasons, "\n  "))
}

// CheckRemoveNode refuses to remove the manager, an unknown host, or a host
// whose leaving breaks a rule that holds now: a one-node label (database,
// registry, ...) or the webserver, django_app, the only grader... with no
// other node to carry it. The labels are the cluster file's.
func CheckRemoveNode(c *Cluster, name string) error {
	h, ok := c.Host(name)
	switch {
	case !ok:
		return &InputError{File: c.Path, Path: "hosts", Msg: fmt.Sprintf("no host named %q (the hosts are %s)", name, strings.Join(c.HostNames(), ", "))}
	case name == c.Manager:
		return &RemoveNodeRefusal{Host: name, Reasons: []string{"it is the manager (it holds the swarm's state and the checkout): make another host the manager first"}}
	}
	var before, after []rules.Node
	for _, o := range c.Hosts {
		n := rules.Node{Name: o.Name, Labels: o.Labels}
		before = append(before, n)
		if o.Name != name {
			after = append(after, n)
		}
	}
	had := map[string]bool{}
	for _, v := range rules.Check(before, nil) {
		if v.Severity == rules.Error {
			had[v.Rule+"/"+v.Label] = true
		}
	}
	var reasons []string
	for _, v := range rules.Check(after, nil) {
		if v.Severity == rules.Error && !had[v.Rule+"/"+v.Label] {
			reasons = append(reasons, v.Message)
		}
	}
	if len(reasons) > 0 {
		reasons = append(reasons, fmt.Sprintf("give %s's labels (%s) a new home first with `aginstall relabel` (a database or registry label moves its data), then remove it", name, strings.Join(h.Labels, ", ")))
		return &RemoveNodeRefusal{Host: name, Reasons: reasons}
	}
	return nil
}

// RemoveNode takes a host out: drain, wait for its tasks to run elsewhere
// (the stack converges without it), make it leave the swarm, remove it from
// the swarm's node list, from the NFS export and unmount the share on it.
// It returns the cluster file's new content without the host; the caller
// writes it.
func RemoveNode(ctx context.Context, env *Env, name string) ([]byte, error) {
	c := env.Cluster
	if err := CheckRemoveNode(c, name); err != nil {
		return nil, err
	}
	nw, err := RemoveHost(c.Raw, name)
	if err != nil {
		return nil, err
	}
	mgr := env.On(RemoveNodeStepID, c.Manager)
	node, err := removeFindNode(ctx, env, mgr, name)
	if err != nil {
		return nil, err
	}
	if node != nil {
		if err := removeDrain(ctx, env, mgr, *node); err != nil {
			return nil, err
		}
		if err := removeLeave(ctx, env, mgr, name, *node); err != nil {
			return nil, err
		}
	}
	if c.NFS.Mode == "export" {
		if err := removeFromNFS(ctx, env, name); err != nil {
			return nil, err
		}
	}
	if err := removeFromRegistryFirewall(ctx, env, name); err != nil {
		return nil, err
	}
	return nw, nil
}

// removeFromRegistryFirewall takes the host's address out of the registry
// firewall's allow list on the hosts that stay, where the firewall is
// installed (a cluster whose registry step never ran has none to narrow):
// a machine that left the cluster must not pull the site's images.
func removeFromRegistryFirewall(ctx context.Context, env *Env, name string) error {
	allowed := registryFirewallAllowedExcept(env, name)
	var stay []string
	for _, h := range env.Cluster.Hosts {
		if h.Name != name {
			stay = append(stay, h.Name)
		}
	}
	err := env.Each(ctx, RemoveNodeStepID, stay, func(ctx context.Context, h *HostRunner) error {
		st, err := registryFirewallRead(ctx, h)
		if err != nil || len(st.chain) == 0 {
			return err
		}
		return registryFirewallApplyRead(ctx, h, allowed, st, nil)
	})
	if errors.Is(err, ErrDryRun) {
		return nil
	}
	return err
}

// removeFindNode finds the host's swarm node (nil: not in the swarm).
func removeFindNode(ctx context.Context, env *Env, mgr *HostRunner, name string) (*swarm.Node, error) {
	var found *swarm.Node
	err := mgr.API(ctx, "find the node in the swarm", "NodeList", false, func(ctx context.Context, cl *client.Client) error {
		nl, err := cl.NodeList(ctx, client.NodeListOptions{})
		if err != nil {
			return err
		}
		for _, n := range nl.Items {
			if siteHostOfNode(env.Cluster, env.State, n) == name {
				n := n
				found = &n
			}
		}
		return nil
	})
	return found, err
}

// removeDrain drains the node (demoting a manager first) and waits until
// none of its tasks runs and the stack has converged on the other nodes.
func removeDrain(ctx context.Context, env *Env, mgr *HostRunner, n swarm.Node) error {
	spec := n.Spec
	if spec.Role == swarm.NodeRoleManager {
		spec.Role = swarm.NodeRoleWorker
	}
	if spec.Availability != swarm.NodeAvailabilityDrain || spec.Role != n.Spec.Role {
		spec.Availability = swarm.NodeAvailabilityDrain
		call := fmt.Sprintf("NodeUpdate(%s, Version=%d, Availability=drain, Role=%s)", n.Description.Hostname, n.Version.Index, spec.Role)
		err := mgr.API(ctx, "drain the node (its tasks move to the others)", call, true, func(ctx context.Context, cl *client.Client) error {
			_, err := cl.NodeUpdate(ctx, n.ID, client.NodeUpdateOptions{Version: n.Version, Spec: spec})
			return err
		})
		if err != nil {
			return err
		}
	}
	timeout := 5 * time.Minute
	call := fmt.Sprintf("poll TaskList(node=%s) every 2s until none runs (timeout %s)", n.Description.Hostname, timeout)
	err := mgr.API(ctx, "wait until no task runs on the node", call, false, func(ctx context.Context, cl *client.Client) error {
		deadline := time.Now().Add(timeout)
		for {
			tl, err := cl.TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("node", n.ID)})
			if err != nil {
				return err
			}
			left := runningTasks(tl.Items)
			mgr.Progress(fmt.Sprintf("%d task(s) still on %s", left, n.Description.Hostname), 0, 0)
			if left == 0 {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%d task(s) still run on %s after %s", left, n.Description.Hostname, timeout)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(2 * time.Second):
			}
		}
	})
	if err != nil {
		return err
	}
	_, err = convergeWait(ctx, env, mgr, env.Cluster.Stack, 5*time.Minute)
	return err
}

// removeLeave makes the node leave (on its own engine), waits until the
// manager sees it down, and removes it from the node list.
func removeLeave(ctx context.Context, env *Env, mgr *HostRunner, name string, n swarm.Node) error {
	h := env.On(RemoveNodeStepID, name)
	err := h.API(ctx, "leave the swarm", "SwarmLeave(force=false)", true, func(ctx context.Context, cl *client.Client) error {
		_, err := cl.SwarmLeave(ctx, client.SwarmLeaveOptions{})
		if err != nil && strings.Contains(err.Error(), "not part of a swarm") {
			return nil
		}
		return err
	})
	if err != nil {
		return swarmNext(err, fmt.Sprintf("if %s is gone for good, remove it on the manager with `docker node rm --force %s`, then run remove-node again", name, n.Description.Hostname))
	}
	call := fmt.Sprintf("poll NodeInspect(%s) every 1s until down (timeout 60s), NodeRemove(%s)", n.Description.Hostname, n.Description.Hostname)
	return mgr.API(ctx, "remove the node from the swarm", call, true, func(ctx context.Context, cl *client.Client) error {
		deadline := time.Now().Add(60 * time.Second)
		for {
			res, err := cl.NodeInspect(ctx, n.ID, client.NodeInspectOptions{})
			if err != nil {
				if strings.Contains(err.Error(), "not found") {
					return nil
				}
				return err
			}
			if res.Node.Status.State == swarm.NodeStateDown {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("node %s is still %s 60 s after it left", n.Description.Hostname, res.Node.Status.State)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
			}
		}
		_, err := cl.NodeRemove(ctx, n.ID, client.NodeRemoveOptions{})
		return err
	})
}

// removeFromNFS narrows the manager's export to the remaining hosts and
// unmounts the share on the leaving one (and drops its fstab line).
func removeFromNFS(ctx context.Context, env *Env, name string) error {
	c := env.Cluster
	rest := *c
	rest.Hosts = slices.DeleteFunc(slices.Clone(c.Hosts), func(h HostSpec) bool { return h.Name == name })
	restEnv := *env
	restEnv.Cluster = &rest
	mgr := env.On(RemoveNodeStepID, c.Manager)
	old, err := mgr.ReadFile(ctx, "read the exports", exportsPath, true)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	nw := edit.Exports(old, c.Source.Path, nfsClientAddrs(&restEnv))
	changed, err := mgr.WriteFile(ctx, "stop exporting the folder to "+name, exportsPath, old, nw, remote.WriteOptions{Sudo: true, Backup: true}, fileDiff(exportsPath, old, nw))
	if err != nil {
		return err
	}
	if changed {
		if _, err := mgr.Run(ctx, "apply the exports", remote.Command{Line: "exportfs -ra", Sudo: true}); realErr(err) {
			return err
		}
	}
	h := env.On(RemoveNodeStepID, name)
	if _, err := h.Run(ctx, "unmount the share", remote.Command{Line: "! mountpoint -q " + remote.Quote(c.Source.Path) + " || umount " + remote.Quote(c.Source.Path), Sudo: true}); realErr(err) {
		return err
	}
	oldTab, err := h.ReadFile(ctx, "read the mounts", fstabPath, false)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	newTab := dropFstabLine(oldTab, c.Source.Path)
	_, err = h.WriteFile(ctx, "stop mounting the share at boot", fstabPath, oldTab, newTab, remote.WriteOptions{Sudo: true, Backup: true}, fileDiff(fstabPath, oldTab, newTab))
	return err
}

// dropFstabLine removes the mount lines of path; other lines stay byte-identical.
func dropFstabLine(old []byte, path string) []byte {
	lines := strings.SplitAfter(string(old), "\n")
	var out []string
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) >= 2 && !strings.HasPrefix(f[0], "#") && edit.FstabUnescape(f[1]) == path {
			continue
		}
		out = append(out, l)
	}
	return []byte(strings.Join(out, ""))
}
