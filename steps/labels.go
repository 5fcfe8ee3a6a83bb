package steps

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"aginstall/steps/edit"
	"aginstall/steps/rules"
)

// labelsStep applies the cluster file's hosts[].labels as name=true node
// labels (the guide's `docker node update --label-add`), after checking them
// against the guide's rules. Only labels of the guide are ever removed.
type labelsStep struct{}

func init() { register(OrderLabels, labelsStep{}) }

func (labelsStep) ID() string                { return "labels" }
func (labelsStep) Title() string             { return "Label the nodes for service placement" }
func (labelsStep) Hosts(c *Cluster) []string { return AllHosts(c) }

// Inputs: a change of the wanted labels marks the step to redo.
func (labelsStep) Inputs(c *Cluster) any { return labelsWanted(c) }

// labelsWanted is host → wanted labels from the cluster file, sorted.
func labelsWanted(c *Cluster) map[string][]string {
	out := map[string][]string{}
	for _, h := range c.Hosts {
		l := slices.Clone(h.Labels)
		slices.Sort(l)
		out[h.Name] = slices.Compact(l)
	}
	return out
}

// labelsConstraints is the placement of the compose file in the checkout on
// the manager, the one that will be deployed. nil (the upstream file's, see
// rules.UpstreamConstraints) before the source step has cloned it.
func labelsConstraints(ctx context.Context, env *Env, step string) map[string][]string {
	mgr := env.Cluster.Manager
	p := path.Join(env.Cluster.Source.Path, edit.ComposeFile)
	data, err := env.On(step, mgr).ReadFile(ctx, "read the placement constraints of the compose file", p, true)
	if err != nil {
		swarmNote(env, step, mgr, fmt.Sprintf("checking the labels against the upstream compose file's placement: %s cannot be read yet (%v)", p, err))
		return nil
	}
	cons, err := edit.ComposeConstraints(data)
	if err != nil {
		swarmNote(env, step, mgr, fmt.Sprintf("checking the labels against the upstream compose file's placement: %s does not parse (%v)", p, err))
		return nil
	}
	return cons
}

// labelsOn is the labels a node has: every key set to "true" (how the guide
// applies them).
func labelsOn(spec map[string]string) []string {
	var out []string
	for k, v := range spec {
		if v == "true" {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// labelsKnownOn is the guide's labels a node has.
func labelsKnownOn(spec map[string]string) []string {
	return slices.DeleteFunc(labelsOn(spec), func(l string) bool { return !rules.Removable(l) })
}

// labelsUnknownOn is every label key outside the guide's set, whatever its value.
func labelsUnknownOn(spec map[string]string) []string {
	var out []string
	for k := range spec {
		if !rules.Removable(k) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// labelsNewSpec is cur with want applied: wanted labels set to "true", the
// guide's labels not wanted removed, every other label kept as it is.
func labelsNewSpec(cur map[string]string, want []string) (next map[string]string, added, removed []string) {
	next = maps.Clone(cur)
	if next == nil {
		next = map[string]string{}
	}
	for k := range cur {
		if rules.Removable(k) && !slices.Contains(want, k) {
			delete(next, k)
			removed = append(removed, k)
		}
	}
	for _, l := range want {
		if next[l] != "true" {
			next[l] = "true"
			added = append(added, l)
		}
	}
	slices.Sort(added)
	slices.Sort(removed)
	return next, slices.Compact(added), removed
}

// labelsCall describes a NodeUpdate for the record.
func labelsCall(host string, n swarm.Node, added, removed []string) string {
	var parts []string
	for _, l := range added {
		parts = append(parts, "+"+l+"=true")
	}
	for _, l := range removed {
		parts = append(parts, "-"+l)
	}
	id := swarmShort(n.ID)
	if id == "" {
		id = "not yet in the swarm"
	}
	return fmt.Sprintf("NodeUpdate(%s [%s], Version=%d, Labels %s)", host, id, n.Version.Index, strings.Join(parts, " "))
}

// LabelConflictError: a node's labels changed (its version moved on) between
// reading and updating them. aginstall never overwrites such a change.
type LabelConflictError struct {
	Node string
	Err  error
}

func (e *LabelConflictError) Error() string {
	return fmt.Sprintf("the labels of %s changed while aginstall was applying them; run again to see the new state", e.Node)
}

func (e *LabelConflictError) Unwrap() error { return e.Err }

// labelsIsConflict recognises the swarm's answer to an update made with a
// stale version index.
func labelsIsConflict(err error) bool {
	return err != nil && strings.Contains(err.Error(), "update out of sequence")
}

// labelsUpdate sets a node's labels with the version it was read at.
func labelsUpdate(ctx context.Context, h *HostRunner, host string, n swarm.Node, want []string, purpose string) error {
	next, added, removed := labelsNewSpec(n.Spec.Labels, want)
	if len(added) == 0 && len(removed) == 0 {
		return nil
	}
	err := h.API(ctx, purpose, labelsCall(host, n, added, removed), true, func(ctx context.Context, c *client.Client) error {
		spec := n.Spec
		spec.Labels = next
		_, err := c.NodeUpdate(ctx, n.ID, client.NodeUpdateOptions{Version: n.Version, Spec: spec})
		if labelsIsConflict(err) {
			return &LabelConflictError{Node: host, Err: err}
		}
		return err
	})
	var ce *LabelConflictError
	if errors.As(err, &ce) {
		return swarmNext(err, "run again: aginstall reads the node's new labels and shows what it would change")
	}
	return err
}

// labelsRuleNodes is the swarm as the rules see it after the change: each
// host with its wanted labels plus the unknown labels it keeps, and nodes of
// no host with the labels they have.
func labelsRuleNodes(v *swarmView, wanted map[string][]string) []rules.Node {
	var out []rules.Node
	for host, want := range wanted {
		n := rules.Node{Name: host, Labels: slices.Clone(want)}
		if node, ok := v.byHost[host]; ok {
			n.CPUs, n.MemoryMB = labelsSize(node)
			n.Labels = append(n.Labels, labelsUnknownOn(node.Spec.Labels)...)
		}
		out = append(out, n)
	}
	for _, node := range v.unmapped {
		if node.Status.State == swarm.NodeStateDown {
			continue // a left-over entry: runs nothing
		}
		n := rules.Node{Name: relabelNodeName(node), Labels: labelsOn(node.Spec.Labels)}
		n.CPUs, n.MemoryMB = labelsSize(node)
		out = append(out, n)
	}
	return out
}

func labelsSize(n swarm.Node) (cpus, memMB int) {
	r := n.Description.Resources
	return int(r.NanoCPUs / 1e9), int(r.MemoryBytes >> 20)
}

// labelsRulesError lists every Error violation, each naming its rule, nodes and fix.
func labelsRulesError(vs []rules.Violation) error {
	var lines []string
	for _, v := range vs {
		if v.Severity == rules.Error {
			lines = append(lines, fmt.Sprintf("[%s] %s", v.Rule, v.Message))
		}
	}
	if len(lines) == 0 {
		return nil
	}
	return fmt.Errorf("the labels break the guide's rules:\n  - %s", strings.Join(lines, "\n  - "))
}

// swarmNote shows a line in the host's output and the log (advice, notes).
func swarmNote(env *Env, step, host, text string) {
	env.On(step, host).Note(text)
}

func (labelsStep) Check(ctx context.Context, env *Env) []HostCheck {
	hosts := env.Cluster.HostNames()
	v := swarmRead(ctx, env, "labels")
	if v.managerErr != nil {
		return checksFor(hosts, Unknown, fmt.Sprintf("cannot read the swarm's nodes on %s: %v", env.Cluster.Manager, v.managerErr))
	}
	if !v.isManager {
		return checksFor(hosts, Todo, fmt.Sprintf("%s manages no swarm yet: the swarm step comes first", env.Cluster.Manager))
	}
	wanted := labelsWanted(env.Cluster)
	wasDone := false
	if st := env.State.Get("labels"); st != nil && st.Status == Done {
		wasDone = true
	}
	var out []HostCheck
	for _, h := range hosts {
		node, ok := v.byHost[h]
		if !ok {
			out = append(out, HostCheck{Host: h, Status: Unknown, Reason: "not a node of the swarm", Fix: "the swarm step joins it"})
			continue
		}
		_, added, removed := labelsNewSpec(node.Spec.Labels, wanted[h])
		c := HostCheck{Host: h, Status: Done, Reason: "labels " + strings.Join(wanted[h], ", ")}
		if len(added)+len(removed) > 0 {
			c.Status, c.Reason = Todo, fmt.Sprintf("labels to add: %s; to remove: %s", labelsOrNone(added), labelsOrNone(removed))
			if wasDone {
				c.Status = Drifted
				c.Reason += " (they were applied before and changed since)"
			}
		}
		if unk := labelsUnknownOn(node.Spec.Labels); len(unk) > 0 {
			c.Reason += "; keeps labels outside the guide's set: " + strings.Join(unk, ", ")
		}
		out = append(out, c)
	}
	return out
}

// labelsPrerequisites refuses, before any label changes, a webserver move
// whose new node lacks the TLS files or has 80/443 taken: relabel's checks,
// so the cluster file and the wizard follow one set of rules.
func labelsPrerequisites(ctx context.Context, env *Env, v *swarmView, wanted map[string][]string) error {
	if v.managerErr != nil || !v.isManager {
		return nil
	}
	before := map[string][]string{}
	moves := false
	for host, n := range v.byHost {
		before[host] = labelsKnownOn(n.Spec.Labels)
		moves = moves || slices.Contains(before[host], "webserver") && !slices.Contains(wanted[host], "webserver")
	}
	if !moves {
		return nil // a first placement: the settings step checks the TLS files, preflight the ports
	}
	for _, c := range relabelChecks(ctx, env, "labels", before, wanted) {
		switch {
		case c.Blocks && c.CopyTLSFrom != "":
			return &StepError{Step: "labels", Host: c.Node, Purpose: "check what webserver needs on " + c.Node, Err: errors.New(c.Message),
				Next: fmt.Sprintf("copy them: `aginstall relabel` moves webserver and offers to copy them from %s (mode 0600); or put them there yourself and run apply again. No label was changed", c.CopyTLSFrom)}
		case c.Blocks:
			return &StepError{Step: "labels", Host: c.Node, Purpose: "check what webserver needs on " + c.Node, Err: errors.New(c.Message),
				Next: "fix it as said, then run apply again. No label was changed"}
		case c.Kind == "address":
			swarmNote(env, "labels", c.Node, c.Message)
		}
	}
	return nil
}

func labelsOrNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}

func (labelsStep) Apply(ctx context.Context, env *Env) error {
	mgr := env.Cluster.Manager
	h := env.On("labels", mgr)
	v := swarmRead(ctx, env, "labels")
	if (v.managerErr != nil || !v.isManager) && !h.DryRun() {
		err := v.managerErr
		if err == nil {
			err = fmt.Errorf("%s manages no swarm", mgr)
		}
		return &StepError{Step: "labels", Host: mgr, Purpose: "read the swarm's nodes", Command: "NodeList()", Err: err,
			Next: "apply the swarm step first"}
	}
	wanted := labelsWanted(env.Cluster)
	vs := rules.Check(labelsRuleNodes(v, wanted), labelsConstraints(ctx, env, "labels"))
	if err := labelsRulesError(vs); err != nil {
		return &StepError{Step: "labels", Host: mgr, Purpose: "check the labels against the guide's rules", Err: err,
			Next: fmt.Sprintf("change hosts[].labels in %s as each line says, then apply again (no label was changed)", env.Cluster.Path)}
	}
	for _, vi := range vs {
		swarmNote(env, "labels", mgr, fmt.Sprintf("advice [%s]: %s", vi.Rule, vi.Message))
	}
	if err := consentRefusal(env, "labels", mgr, labelsDataChanges(env, v)); err != nil {
		return err
	}
	if err := labelsPrerequisites(ctx, env, v, wanted); err != nil {
		return err
	}
	var errs HostErrors
	for _, host := range env.Cluster.HostNames() {
		node, ok := v.byHost[host]
		if !ok && !h.DryRun() {
			errs = append(errs, HostError{Host: host, Err: &StepError{Step: "labels", Host: host, Purpose: "label " + host, Command: "NodeList()",
				Err: fmt.Errorf("%s is not a node of the swarm managed by %s", host, mgr), Next: "apply the swarm step first"}})
			continue
		}
		err := labelsUpdate(ctx, h, host, node, wanted[host], "label "+host)
		if err != nil && !errors.Is(err, ErrDryRun) {
			errs = append(errs, HostError{Host: host, Err: err})
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}
