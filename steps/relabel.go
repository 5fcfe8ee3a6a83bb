package steps

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"aginstall/steps/rules"
)

// The logic behind `aginstall relabel`: read the labels the swarm has now,
// plan a change with the guide's rules and data-move warnings, and apply it
// without overwriting a change someone else made in between.

// relabelReadKey is where ReadLabels leaves the nodes (IDs and version
// indexes) it read, in env.Extra, for ApplyRelabel.
const relabelReadKey = "relabel.read"

// relabelRead is what ReadLabels saw: node by name (host or node hostname).
type relabelRead struct {
	nodes map[string]swarm.Node
}

// relabelNodeName names a node of no host by its hostname.
func relabelNodeName(n swarm.Node) string {
	if n.Description.Hostname != "" {
		return n.Description.Hostname
	}
	return "node " + swarmShort(n.ID)
}

// relabelNodes names every node the rules should see: the hosts' nodes by
// host name and the other live nodes by their hostname. Down nodes of no host
// (left-over entries) are left out and reported.
func relabelNodes(env *Env, step string, v *swarmView) map[string]swarm.Node {
	out := map[string]swarm.Node{}
	for h, n := range v.byHost {
		out[h] = n
	}
	for _, n := range v.unmapped {
		name := relabelNodeName(n)
		if n.Status.State == swarm.NodeStateDown {
			swarmNote(env, step, env.Cluster.Manager, fmt.Sprintf("node %s (%s, %s) is down and not among the cluster file's hosts: ignored (remove it with `docker node rm %s` if it is gone)", name, n.Status.Addr, swarmShort(n.ID), swarmShort(n.ID)))
			continue
		}
		if _, taken := out[name]; taken {
			name += " (" + swarmShort(n.ID) + ")"
		}
		swarmNote(env, step, env.Cluster.Manager, fmt.Sprintf("node %s (%s) is not among the cluster file's hosts: shown under its hostname %q; add it to the cluster file to manage it", swarmShort(n.ID), n.Status.Addr, name))
		out[name] = n
	}
	return out
}

// ReadLabels reads every node's labels from the manager's node list, keyed by
// the cluster file's host names (nodes of no host by their hostname, and
// reported). It works on a swarm aginstall did not create: nodes are mapped
// by node ID where the host answers, else by hostname or address.
func ReadLabels(ctx context.Context, env *Env) (map[string][]string, map[string]rules.Node, error) {
	mgr := env.Cluster.Manager
	v := swarmRead(ctx, env, "relabel")
	if v.managerErr != nil {
		return nil, nil, &StepError{Step: "relabel", Host: mgr, Purpose: "read the swarm's nodes", Command: "NodeList()", Err: v.managerErr,
			Next: fmt.Sprintf("make sure Docker runs on %s and it manages the swarm", mgr)}
	}
	if !v.isManager {
		return nil, nil, &StepError{Step: "relabel", Host: mgr, Purpose: "read the swarm's nodes", Command: "Info()",
			Err: fmt.Errorf("%s is not a manager of a swarm", mgr), Next: "set manager: in the cluster file to a manager node of the swarm"}
	}
	nodes := relabelNodes(env, "relabel", v)
	labels := map[string][]string{}
	ruleNodes := map[string]rules.Node{}
	for name, n := range nodes {
		labels[name] = labelsOn(n.Spec.Labels)
		cpus, mem := labelsSize(n)
		ruleNodes[name] = rules.Node{Name: name, CPUs: cpus, MemoryMB: mem, Labels: labels[name]}
	}
	for _, h := range env.Cluster.HostNames() {
		if _, ok := nodes[h]; !ok {
			swarmNote(env, "relabel", mgr, fmt.Sprintf("host %s is not a node of the swarm managed by %s", h, mgr))
		}
	}
	if env.Extra == nil {
		env.Extra = map[string]any{}
	}
	env.Extra[relabelReadKey] = &relabelRead{nodes: nodes}
	return labels, ruleNodes, nil
}

// RelabelPlan is a re-labelling: the change per node, the rules it breaks or
// bends, and the data that moving a label leaves behind.
type RelabelPlan struct {
	Before, After map[string][]string // After with the kept unknown labels
	Diff          []rules.NodeDiff
	Violations    []rules.Violation // errors first
	Moves         []rules.MoveWarning
	Kept          []string // unknown labels After dropped; aginstall never removes them
	// Checks are the prerequisites on the nodes that gain a label
	// (CheckRelabel fills them; ApplyRelabel checks them again).
	Checks []RelabelCheck
	// CopyTLS: the operator chose to copy the TLS files a new webserver
	// node lacks from the node that has them (RelabelCheck.CopyTLSFrom).
	CopyTLS bool
}

// CheckRelabel fills the plan's prerequisite checks on the target nodes
// (read-only), for the operator to see before the typed confirmation.
func CheckRelabel(ctx context.Context, env *Env, plan RelabelPlan) RelabelPlan {
	plan.Checks = relabelChecks(ctx, env, "relabel", plan.Before, plan.After)
	return plan
}

// Blocking is the checks that refuse the plan as it stands.
func (p RelabelPlan) Blocking() []RelabelCheck { return relabelBlocking(p.Checks, p.CopyTLS) }

// CanCopyTLS is the TLS check that copying would fix, if any.
func (p RelabelPlan) CanCopyTLS() (RelabelCheck, bool) {
	for _, c := range p.Checks {
		if c.Kind == "tls" && c.Blocks && c.CopyTLSFrom != "" {
			return c, true
		}
	}
	return RelabelCheck{}, false
}

// RelabelResult is what a re-labelling did and how the swarm took it.
type RelabelResult struct {
	Applied bool         // the swarm has the new labels (the wait after may still have failed)
	Copied  []string     // "TLS files copied from node1 to node3"
	Rows    []ServiceRow // the stack's services once converged (none when no stack runs)
	Notes   []string     // what the operator must know or do now
}

// PlanRelabel plans going from before to after (node → labels), as read by
// ReadLabels. Without node sizes the rules give no CPU advice; PlanRelabelFor
// takes them.
func PlanRelabel(before, after map[string][]string) RelabelPlan {
	return PlanRelabelFor(nil, before, after)
}

// PlanRelabelFor is PlanRelabel with the nodes' sizes from ReadLabels.
func PlanRelabelFor(nodes map[string]rules.Node, before, after map[string][]string) RelabelPlan {
	p := RelabelPlan{Before: before, After: map[string][]string{}}
	names := map[string]bool{}
	for n := range before {
		names[n] = true
	}
	for n := range after {
		names[n] = true
	}
	var rn []rules.Node
	for _, name := range slices.Sorted(maps.Keys(names)) {
		want := slices.Clone(after[name])
		for _, l := range before[name] {
			if !rules.Removable(l) && !slices.Contains(want, l) {
				want = append(want, l)
				p.Kept = append(p.Kept, fmt.Sprintf("%s keeps %s: it is not one of the guide's labels, so aginstall never removes it (use `docker node update --label-rm %s` yourself)", name, l, l))
			}
		}
		slices.Sort(want)
		p.After[name] = slices.Compact(want)
		node := nodes[name]
		node.Name, node.Labels = name, p.After[name]
		rn = append(rn, node)
	}
	p.Diff = rules.Diff(before, p.After)
	p.Violations = rules.Check(rn, nil)
	p.Moves = rules.Moves(before, p.After)
	return p
}

// Errors is the violations that refuse the plan.
func (p RelabelPlan) Errors() []rules.Violation {
	return slices.DeleteFunc(slices.Clone(p.Violations), func(v rules.Violation) bool { return v.Severity != rules.Error })
}

// NeedsTypedConfirm is the labels whose move leaves data behind: the operator
// types each label's name to confirm it.
func (p RelabelPlan) NeedsTypedConfirm() []string {
	var out []string
	for _, m := range p.Moves {
		out = append(out, m.Label)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ApplyRelabel applies a plan through the manager, each node updated at the
// version ReadLabels read. It refuses a plan that breaks a rule or moves a
// label whose name is not in confirmed, and a node whose labels changed since
// they were read: before touching any node it checks all versions, so a
// concurrent change leaves every node as it was.
func ApplyRelabel(ctx context.Context, env *Env, plan RelabelPlan, confirmed []string) (RelabelResult, error) {
	var res RelabelResult
	err := applyRelabel(ctx, env, plan, confirmed, &res)
	return res, err
}

func applyRelabel(ctx context.Context, env *Env, plan RelabelPlan, confirmed []string, res *RelabelResult) error {
	mgr := env.Cluster.Manager
	h := env.On("relabel", mgr)
	if err := labelsRulesError(plan.Violations); err != nil {
		return &StepError{Step: "relabel", Host: mgr, Purpose: "check the new labels against the guide's rules", Err: err,
			Next: "change the labels as each line says; no label was changed"}
	}
	for _, m := range plan.Moves {
		if !slices.Contains(confirmed, m.Label) {
			return &StepError{Step: "relabel", Host: mgr, Purpose: "move label " + m.Label, Err: fmt.Errorf("moving %s from %s to %s leaves data behind: %s", m.Label, m.From, m.To, m.HowTo),
				Next: fmt.Sprintf("type %q to confirm the move once the data is taken care of; no label was changed", m.Label)}
		}
	}
	if len(plan.Diff) == 0 {
		res.Applied = true
		return nil
	}
	read, _ := env.Extra[relabelReadKey].(*relabelRead)
	if read == nil {
		return &StepError{Step: "relabel", Host: mgr, Purpose: "apply the new labels", Err: errors.New("the labels were not read first"),
			Next: "call ReadLabels, plan from what it returned, then apply"}
	}
	// Every node to change must still be at the version that was read.
	var now []swarm.Node
	err := h.API(ctx, "check that no label changed since it was read", "NodeList()", false, func(ctx context.Context, c *client.Client) error {
		res, err := c.NodeList(ctx, client.NodeListOptions{})
		now = res.Items
		return err
	})
	if err != nil {
		return err
	}
	var errs HostErrors
	for _, d := range plan.Diff {
		n, ok := read.nodes[d.Node]
		if !ok {
			errs = append(errs, HostError{Host: d.Node, Err: &StepError{Step: "relabel", Host: d.Node, Purpose: "label " + d.Node, Command: "NodeList()",
				Err: fmt.Errorf("%s is not a node of the swarm managed by %s", d.Node, mgr), Next: "join it to the swarm first (aginstall apply)"}})
			continue
		}
		i := slices.IndexFunc(now, func(x swarm.Node) bool { return x.ID == n.ID })
		if i < 0 || now[i].Version.Index != n.Version.Index {
			ce := &LabelConflictError{Node: d.Node, Err: fmt.Errorf("node version %s, read at %d", relabelVersion(now, i), n.Version.Index)}
			errs = append(errs, HostError{Host: d.Node, Err: &StepError{Step: "relabel", Host: d.Node, Purpose: "label " + d.Node, Command: "NodeList()", Err: ce,
				Next: "run relabel again: it reads the node's new labels"}})
		}
	}
	if len(errs) > 0 {
		return errs
	}
	// The prerequisites, read again now: what the operator saw may be stale.
	checks := relabelChecks(ctx, env, "relabel", plan.Before, plan.After)
	if bl := relabelBlocking(checks, plan.CopyTLS); len(bl) > 0 {
		var lines []string
		for _, c := range bl {
			lines = append(lines, c.Message)
		}
		return &StepError{Step: "relabel", Host: bl[0].Node, Purpose: "check what " + bl[0].Label + " needs on " + bl[0].Node,
			Err: errors.New(strings.Join(lines, "; ")), Next: "fix it as said (relabel offers to copy the TLS files when another node has them); no label was changed"}
	}
	for _, c := range checks {
		if plan.CopyTLS && c.Kind == "tls" && c.Blocks && c.CopyTLSFrom != "" {
			if err := relabelCopyTLS(ctx, env, "relabel", c.CopyTLSFrom, c.Node); err != nil {
				return err
			}
			res.Copied = append(res.Copied, fmt.Sprintf("TLS certificate and key copied from %s to %s (mode 0600)", c.CopyTLSFrom, c.Node))
		}
		if c.Kind == "address" {
			res.Notes = append(res.Notes, c.Message)
		}
	}
	// Removals first, so a moved label is never on two nodes at once.
	diffs := slices.Clone(plan.Diff)
	slices.SortStableFunc(diffs, func(a, b rules.NodeDiff) int { return len(b.Removed) - len(a.Removed) })
	for _, d := range diffs {
		if err := labelsUpdate(ctx, h, d.Node, read.nodes[d.Node], plan.After[d.Node], "label "+d.Node); err != nil {
			errs = append(errs, HostError{Host: d.Node, Err: err})
		}
	}
	if len(errs) > 0 {
		return errs
	}
	delete(env.Extra, relabelReadKey) // the versions are stale now
	res.Applied = true
	return relabelAfter(ctx, env, h, plan, res)
}

// relabelAfter waits, as deploy does, for the stack's services to converge
// with every task on a node that meets its placement, then checks the
// migrations when the database moved.
func relabelAfter(ctx context.Context, env *Env, h *HostRunner, plan RelabelPlan, res *RelabelResult) error {
	stack := env.Cluster.Stack
	services, err := deployServices(ctx, h, stack)
	if err != nil {
		return err
	}
	if len(services) == 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("stack %s is not deployed: nothing to move yet (aginstall apply deploys it with these labels)", stack))
		return nil
	}
	rows, err := convergeWaitUntil(ctx, env, h, stack, convergeTimeout(env), convergeMisplaced)
	res.Rows = rows
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(plan.Moves, func(m rules.MoveWarning) bool { return m.Label == "database" }) {
		return nil
	}
	d, err := siteFindDjango(ctx, env, "relabel")
	if err != nil {
		res.Notes = append(res.Notes, "the database moved, but the django task cannot be reached to check the migrations: "+siteFirstLine(err))
		return nil
	}
	pending, err := migratePending(ctx, env, d, "relabel")
	switch {
	case err != nil:
		res.Notes = append(res.Notes, "the database moved; checking its migrations failed: "+siteFirstLine(err))
	case pending:
		res.Notes = append(res.Notes, "the database moved and has unapplied migrations: postgres started on an empty volume there. Restore the dump taken on the old node (see the data move above), or run `aginstall apply` to migrate it")
	default:
		res.Notes = append(res.Notes, "the database moved; Django finds no unapplied migrations")
	}
	return nil
}

func relabelVersion(nodes []swarm.Node, i int) string {
	if i < 0 {
		return "(node gone)"
	}
	return fmt.Sprint(nodes[i].Version.Index)
}

// String is the plan as text for the CLI: one line per change, then the
// warnings.
func (p RelabelPlan) String() string {
	var b strings.Builder
	for _, d := range p.Diff {
		fmt.Fprintf(&b, "%s: add %s; remove %s\n", d.Node, labelsOrNone(d.Added), labelsOrNone(d.Removed))
	}
	for _, v := range p.Violations {
		fmt.Fprintf(&b, "%s [%s]: %s\n", v.Severity, v.Rule, v.Message)
	}
	for _, m := range p.Moves {
		fmt.Fprintf(&b, "move %s from %s to %s: %s\n", m.Label, m.From, m.To, m.HowTo)
	}
	for _, k := range p.Kept {
		fmt.Fprintln(&b, k)
	}
	return b.String()
}
