package main

import (
	"context"

	"aginstall/steps"
	"aginstall/steps/rules"
)

// ReadLabels reads the live swarm's labels through the manager; the node
// versions it saw stay in the session's env, so ApplyRelabel detects a change
// someone else made meanwhile.
func (b *backend) ReadLabels(ctx context.Context, c *steps.Cluster) (map[string][]string, map[string]rules.Node, error) {
	s, err := b.session(ctx, c, nil)
	if err != nil {
		return nil, nil, err
	}
	return steps.ReadLabels(ctx, s.env)
}

// ApplyRelabel applies a plan the UI made with steps.PlanRelabelFor, after the
// operator typed the name of every label whose move leaves data behind.
// CheckRelabel checks the plan's prerequisites on the target nodes.
func (b *backend) CheckRelabel(ctx context.Context, c *steps.Cluster, plan steps.RelabelPlan) (steps.RelabelPlan, error) {
	s, err := b.session(ctx, c, nil)
	if err != nil {
		return plan, err
	}
	return steps.CheckRelabel(ctx, s.env, plan), nil
}

// ApplyRelabel applies the plan; the new labels are recorded in the cluster
// file as soon as the swarm has them, even when the wait for the services
// that follows fails.
func (b *backend) ApplyRelabel(ctx context.Context, c *steps.Cluster, plan steps.RelabelPlan, confirmed []string, sink steps.Sink) (steps.RelabelResult, error) {
	if err := b.lockFor(c); err != nil {
		return steps.RelabelResult{}, err
	}
	s, err := b.session(ctx, c, sink)
	if err != nil {
		return steps.RelabelResult{}, err
	}
	res, err := steps.ApplyRelabel(ctx, s.env, plan, confirmed)
	if res.Applied {
		if rerr := recordLabels(c, plan.After); rerr != nil && err == nil {
			err = rerr
		}
	}
	return res, err
}

// recordLabels writes the new labels into the cluster file (as it is on disk
// now, only the labels lines), so the next apply keeps them instead of
// putting the old ones back.
func recordLabels(c *steps.Cluster, after map[string][]string) error {
	err := steps.EditClusterFile(c, func(data []byte) ([]byte, error) {
		for _, h := range c.Hosts {
			want, ok := after[h.Name]
			if !ok {
				continue
			}
			var err error
			if data, err = steps.SetHostLabels(data, h.Name, want); err != nil {
				return nil, err
			}
		}
		return data, nil
	})
	if err != nil {
		return err
	}
	for i := range c.Hosts {
		if want, ok := after[c.Hosts[i].Name]; ok {
			c.Hosts[i].Labels = want
		}
	}
	return nil
}
