package steps

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// networkStep is the guide's `docker network create ag-swarm-network
// --driver overlay`, attachable so one-off containers can join it too.
type networkStep struct{}

func init() { register(OrderNetwork, networkStep{}) }

// NetworkName is the overlay network the compose file expects (external).
const NetworkName = "ag-swarm-network"

func (networkStep) ID() string                { return "network" }
func (networkStep) Title() string             { return "Create the swarm's overlay network" }
func (networkStep) Hosts(c *Cluster) []string { return ManagerOnly(c) }

// networkFind looks the network up by exact name on the manager; nil if
// absent. Right after NetworkCreate the swarm lists the network with an empty
// driver until its allocator has run (seen in the lab: a fraction of a
// second), so an empty driver is read again, for at most 5 s, before it counts.
func networkFind(ctx context.Context, h *HostRunner) (*network.Summary, error) {
	for try := 0; ; try++ {
		n, err := networkFindOnce(ctx, h)
		if err != nil || n == nil || n.Driver != "" || try >= 20 {
			return n, err
		}
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func networkFindOnce(ctx context.Context, h *HostRunner) (*network.Summary, error) {
	var found *network.Summary
	call := fmt.Sprintf("NetworkList(Filters=name=%s)", NetworkName)
	err := h.API(ctx, "look for the overlay network", call, false, func(ctx context.Context, c *client.Client) error {
		res, err := c.NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add("name", NetworkName)})
		for i, n := range res.Items {
			if n.Name == NetworkName { // the filter also matches substrings
				found = &res.Items[i]
			}
		}
		return err
	})
	return found, err
}

// networkVerdict says whether an existing network is what the stack needs.
func networkVerdict(n *network.Summary) (Status, string, string) {
	switch {
	case n == nil:
		return Todo, NetworkName + " does not exist: apply creates it (overlay, attachable)", ""
	case n.Driver != "overlay":
		return Drifted, fmt.Sprintf("%s exists with driver %s, but the stack needs an overlay network", NetworkName, n.Driver),
			fmt.Sprintf("stop what uses it, remove it with `docker network rm %s`, then apply again", NetworkName)
	case !n.Attachable:
		// The guide's own command makes it non-attachable; the stack works.
		return Done, fmt.Sprintf("%s exists (overlay, not attachable: fine for the stack, but `docker run --network %s` cannot use it)", NetworkName, NetworkName), ""
	}
	return Done, fmt.Sprintf("%s exists (overlay, attachable, scope %s)", NetworkName, n.Scope), ""
}

func (networkStep) Check(ctx context.Context, env *Env) []HostCheck {
	mgr := env.Cluster.Manager
	n, err := networkFind(ctx, env.On("network", mgr))
	if err != nil {
		return []HostCheck{{Host: mgr, Status: Unknown, Reason: fmt.Sprintf("cannot list the networks on %s: %v", mgr, err),
			Fix: "make sure Docker runs there and the swarm step is done"}}
	}
	st, reason, fix := networkVerdict(n)
	return []HostCheck{{Host: mgr, Status: st, Reason: reason, Fix: fix}}
}

func (networkStep) Apply(ctx context.Context, env *Env) error {
	mgr := env.Cluster.Manager
	h := env.On("network", mgr)
	n, err := networkFind(ctx, h)
	if err != nil && !h.DryRun() {
		return err
	}
	if st, reason, fix := networkVerdict(n); st == Drifted {
		return &StepError{Step: "network", Host: mgr, Purpose: "create the overlay network", Command: "NetworkList()",
			Err: errors.New(reason), Next: fix}
	} else if st == Done {
		return nil
	}
	call := fmt.Sprintf("NetworkCreate(%s, Driver=overlay, Attachable=true)", NetworkName)
	err = h.API(ctx, "create the overlay network", call, true, func(ctx context.Context, c *client.Client) error {
		_, err := c.NetworkCreate(ctx, NetworkName, client.NetworkCreateOptions{Driver: "overlay", Attachable: true})
		return err
	})
	return swarmNext(err, fmt.Sprintf("make sure %s is a swarm manager (the swarm step), then apply again", mgr))
}
