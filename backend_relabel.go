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
func (b *backend) ApplyRelabel(ctx context.Context, c *steps.Cluster, plan steps.RelabelPlan, confirmed []string, sink steps.Sink) error {
	s, err := b.session(ctx, c, sink)
	if err != nil {
		return err
	}
	return steps.ApplyRelabel(ctx, s.env, plan, confirmed)
}
