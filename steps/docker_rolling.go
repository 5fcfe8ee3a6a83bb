package steps

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"aginstall/remote"
)

// A daemon.json change needs dockerd restarted, and a restart stops every
// container of the node. On a running swarm the nodes are restarted one at a
// time, workers first and the manager last: each node must be Ready again,
// its tasks running again and every service that had converged converged
// again before the next one goes down. Every wait is bounded; a node that
// does not come back stops the roll, so at most one node is ever down.

// dockerRestartWait bounds the wait for one restarted node.
var dockerRestartWait = 5 * time.Minute

// dockerRestartPoll is how often the manager is asked during that wait.
var dockerRestartPoll = 2 * time.Second

// dockerRestart is a swarm node whose daemon.json is to change.
type dockerRestart struct {
	host     string
	nodeID   string
	old, new []byte
}

// dockerSwarmMember returns the restart to roll when the host is a node of
// an active swarm, nil when it is not (it is then restarted at once).
func dockerSwarmMember(ctx context.Context, h *HostRunner, old, nw []byte) *dockerRestart {
	si, _, err := swarmInfo(ctx, nil, h) // apply: read afresh
	if err != nil || si.LocalNodeState != swarm.LocalNodeStateActive || si.NodeID == "" {
		return nil
	}
	return &dockerRestart{host: h.Host, nodeID: si.NodeID, old: old, new: nw}
}

// dockerRollOrder puts the hosts in the cluster file's order, the manager last.
func dockerRollOrder(c *Cluster, rs []dockerRestart) []dockerRestart {
	out := slices.Clone(rs)
	rank := func(host string) int {
		if host == c.Manager {
			return len(c.Hosts) + 1
		}
		return slices.Index(c.HostNames(), host)
	}
	slices.SortStableFunc(out, func(a, b dockerRestart) int { return rank(a.host) - rank(b.host) })
	return out
}

// dockerBefore is what a node ran before its restart.
type dockerBefore struct {
	tasks     map[string]time.Time // running task ID → its status time
	converged []string             // services converged (all of the swarm's)
}

// dockerSnapshot reads, through the manager, what must come back.
func dockerSnapshot(services []swarm.Service, tasks []swarm.Task, nodes []swarm.Node, nodeID string) dockerBefore {
	b := dockerBefore{tasks: map[string]time.Time{}}
	for _, t := range tasks {
		if t.NodeID == nodeID && t.DesiredState == swarm.TaskStateRunning && t.Status.State == swarm.TaskStateRunning {
			b.tasks[t.ID] = t.Status.Timestamp
		}
	}
	for _, r := range ConvergenceRows(services, tasks, nodes) {
		if r.Converged {
			b.converged = append(b.converged, r.Service)
		}
	}
	return b
}

// dockerBack says whether a restarted node is back, and if not, what is
// still awaited. A task the manager still shows running with the same
// status time as before the restart is a stale view (its container died
// with dockerd), not a task back.
func dockerBack(before dockerBefore, services []swarm.Service, tasks []swarm.Task, nodes []swarm.Node, nodeID string) (bool, string) {
	var waiting []string
	i := slices.IndexFunc(nodes, func(n swarm.Node) bool { return n.ID == nodeID })
	if i < 0 || nodes[i].Status.State != swarm.NodeStateReady {
		state := "gone"
		if i >= 0 {
			state = string(nodes[i].Status.State)
		}
		waiting = append(waiting, "the node is "+state+", not ready")
	}
	stale, starting := 0, 0
	for _, t := range tasks {
		if t.NodeID != nodeID || t.DesiredState != swarm.TaskStateRunning {
			continue
		}
		if at, ok := before.tasks[t.ID]; ok && t.Status.State == swarm.TaskStateRunning && t.Status.Timestamp.Equal(at) {
			stale++
		} else if t.Status.State != swarm.TaskStateRunning {
			starting++
		}
	}
	if stale > 0 {
		waiting = append(waiting, fmt.Sprintf("%d task(s) not yet restarted", stale))
	}
	if starting > 0 {
		waiting = append(waiting, fmt.Sprintf("%d task(s) starting", starting))
	}
	rows := ConvergenceRows(services, tasks, nodes)
	for _, name := range before.converged {
		j := slices.IndexFunc(rows, func(r ServiceRow) bool { return r.Service == name })
		if j >= 0 && !rows[j].Converged {
			waiting = append(waiting, "service "+rows[j].String())
		}
	}
	return len(waiting) == 0, strings.Join(waiting, "; ")
}

// dockerSwarmRead lists every service, task and node (not only the stack's:
// the registry and its proxy must come back too).
func dockerSwarmRead(ctx context.Context, c *client.Client) ([]swarm.Service, []swarm.Task, []swarm.Node, error) {
	return convergeRead(ctx, c, "")
}

// dockerRollingRestart writes each node's daemon.json and restarts its
// dockerd, one node at a time, waiting for each to be back.
func dockerRollingRestart(ctx context.Context, env *Env, rs []dockerRestart) error {
	c := env.Cluster
	order := dockerRollOrder(c, rs)
	hm := env.On("docker", c.Manager)
	for i, r := range order {
		h := env.On("docker", r.host)
		h.Progress(fmt.Sprintf("rolling restart: node %d of %d", i+1, len(order)), i, len(order))
		var before dockerBefore
		err := hm.API(ctx, "note what runs on "+r.host+" before its restart", "ServiceList, TaskList, NodeList", false, func(ctx context.Context, cl *client.Client) error {
			sv, ts, ns, err := dockerSwarmRead(ctx, cl)
			before = dockerSnapshot(sv, ts, ns, r.nodeID)
			return err
		})
		if err != nil && !h.DryRun() {
			return swarmNext(err, "the manager must answer before a node is restarted; no node was restarted by this run from "+r.host+" on")
		}
		if _, err := h.WriteFile(ctx, "bound container logs (json-file, 100m x 5)", daemonJSONPath, r.old, r.new,
			remote.WriteOptions{Sudo: true, Backup: true}, fileDiff(daemonJSONPath, r.old, r.new)); err != nil {
			return err
		}
		purpose := fmt.Sprintf("restart docker to apply the log limits (swarm node %d of %d, one at a time, the manager last)", i+1, len(order))
		if _, err := h.Run(ctx, purpose, remote.Command{Line: "systemctl restart docker", Sudo: true}); realErr(err) {
			return swarmNext(err, dockerRollNext(order[i+1:]))
		}
		if h.DryRun() {
			continue
		}
		if err := dockerWaitBack(ctx, hm, r, before); err != nil {
			return swarmNext(err, fmt.Sprintf("see why with `docker node ps %s` and `docker service ls` on %s; %s", r.host, c.Manager, dockerRollNext(order[i+1:])))
		}
	}
	return nil
}

// dockerRollNext says which nodes the roll did not reach.
func dockerRollNext(rest []dockerRestart) string {
	if len(rest) == 0 {
		return "run apply again once it is fixed"
	}
	var names []string
	for _, r := range rest {
		names = append(names, r.host)
	}
	return fmt.Sprintf("%s were not restarted (their daemon.json is unchanged): run apply again once this node is back, and they are restarted one at a time", strings.Join(names, ", "))
}

// dockerWaitBack polls the manager until the node is back (dockerBack), or
// gives up after dockerRestartWait. While the manager itself restarts its
// API may refuse for a moment: errors only end the wait at the deadline.
func dockerWaitBack(ctx context.Context, hm *HostRunner, r dockerRestart, before dockerBefore) error {
	call := fmt.Sprintf("poll NodeList, TaskList, ServiceList every %s until node %s is Ready, its %d task(s) restarted and running and %d converged service(s) converged again (up to %s)",
		dockerRestartPoll, r.host, len(before.tasks), len(before.converged), dockerRestartWait)
	start := time.Now()
	return hm.API(ctx, "wait for "+r.host+" to be back before the next node", call, false, func(ctx context.Context, cl *client.Client) error {
		deadline := start.Add(dockerRestartWait)
		last := ""
		for {
			sv, ts, ns, err := dockerSwarmRead(ctx, cl)
			if err == nil {
				back, waiting := dockerBack(before, sv, ts, ns, r.nodeID)
				if back {
					siteOutput(hm, "stdout", fmt.Sprintf("%s is back: Ready, its tasks running, the services converged (%s)", r.host, time.Since(start).Round(time.Second)))
					return nil
				}
				last = waiting
			} else {
				last = "the manager does not answer yet: " + firstLine(err)
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s is not back %s after its restart: %s", r.host, dockerRestartWait, last)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(dockerRestartPoll):
			}
		}
	})
}
