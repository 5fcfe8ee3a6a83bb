package steps

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// ServiceRow is one service's convergence, in words an operator can act on.
// The UI renders these rows; deploy prints them while it waits.
type ServiceRow struct {
	Service   string   `json:"service"`            // name without the stack prefix
	Mode      string   `json:"mode"`               // replicated | global
	Running   int      `json:"running"`            // tasks running now
	Desired   int      `json:"desired"`            // tasks wanted
	Converged bool     `json:"converged"`          // running == desired and no update in flight
	Problems  []string `json:"problems,omitempty"` // why not, one sentence each
}

func (r ServiceRow) String() string {
	s := fmt.Sprintf("%s %d/%d", r.Service, r.Running, r.Desired)
	if r.Mode == "global" {
		s += " (global)"
	}
	if len(r.Problems) > 0 {
		s += ": " + strings.Join(r.Problems, "; ")
	}
	return s
}

// ConvergenceRows says, per service, how many tasks run of how many are
// wanted, and for each task that should run but does not, why, naming the
// label, image or port at fault. A global service that no node qualifies
// for is 0/0 and converged: graders on labels nobody carries are fine.
func ConvergenceRows(services []swarm.Service, tasks []swarm.Task, nodes []swarm.Node) []ServiceRow {
	nodeName := map[string]string{}
	for _, n := range nodes {
		nodeName[n.ID] = n.Description.Hostname
	}
	byService := map[string][]swarm.Task{}
	for _, t := range tasks {
		byService[t.ServiceID] = append(byService[t.ServiceID], t)
	}
	var rows []ServiceRow
	for _, svc := range services {
		name := convergeShortName(svc)
		row := ServiceRow{Service: name, Mode: "replicated"}
		ts := byService[svc.ID]
		wantRunning := 0
		for _, t := range ts {
			if t.DesiredState != swarm.TaskStateRunning {
				continue
			}
			wantRunning++
			// Right after a deploy the old task still runs: it counts only
			// once it runs the service's current image.
			if t.Status.State == swarm.TaskStateRunning && convergeCurrentImage(svc, t) {
				row.Running++
			}
		}
		switch {
		case svc.Spec.Mode.Global != nil:
			row.Mode = "global"
			row.Desired = max(wantRunning, len(convergeEligible(svc, nodes)))
		case svc.Spec.Mode.Replicated != nil && svc.Spec.Mode.Replicated.Replicas != nil:
			row.Desired = int(*svc.Spec.Mode.Replicated.Replicas)
		default:
			row.Desired = wantRunning
		}
		row.Converged = row.Running >= row.Desired
		if u := svc.UpdateStatus; u != nil {
			switch u.State {
			case swarm.UpdateStateUpdating, swarm.UpdateStateRollbackStarted:
				row.Converged = false
				row.Problems = append(row.Problems, "update in progress")
			case swarm.UpdateStatePaused, swarm.UpdateStateRollbackPaused, swarm.UpdateStateRollbackCompleted:
				row.Problems = append(row.Problems, fmt.Sprintf("update %s: %s", strings.ReplaceAll(string(u.State), "_", " "), u.Message))
			}
		}
		if !row.Converged {
			row.Problems = append(row.Problems, convergeTaskProblems(name, svc, ts, nodes, nodeName)...)
			if len(row.Problems) == 0 {
				row.Problems = append(row.Problems, "starting")
			}
		}
		rows = append(rows, row)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Service < rows[j].Service })
	return rows
}

// convergeCurrentImage: the task runs the image the service now asks for.
func convergeCurrentImage(svc swarm.Service, t swarm.Task) bool {
	want, have := svc.Spec.TaskTemplate.ContainerSpec, t.Spec.ContainerSpec
	return want == nil || have == nil || want.Image == have.Image
}

// convergeShortName drops the "<stack>_" prefix that stack deploy adds.
func convergeShortName(svc swarm.Service) string {
	name := svc.Spec.Name
	if ns := svc.Spec.Labels["com.docker.stack.namespace"]; ns != "" {
		name = strings.TrimPrefix(name, ns+"_")
	}
	return name
}

// convergeTaskProblems explains the tasks that should run but do not, and
// the latest failure when a task keeps restarting. One line per distinct
// problem, so ten identical grader failures read as one.
func convergeTaskProblems(name string, svc swarm.Service, ts []swarm.Task, nodes []swarm.Node, nodeName map[string]string) []string {
	sort.Slice(ts, func(i, j int) bool { return ts[i].Status.Timestamp.After(ts[j].Status.Timestamp) })
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	pendingOnly := true
	for _, t := range ts {
		if t.DesiredState == swarm.TaskStateRunning && t.Status.State == swarm.TaskStateRunning && !convergeCurrentImage(svc, t) {
			on := ""
			if n := nodeName[t.NodeID]; n != "" {
				on = " on " + n
			}
			add("the previous image still runs" + on + " (update under way)")
		}
		if t.DesiredState == swarm.TaskStateRunning && t.Status.State != swarm.TaskStateRunning {
			if t.Status.State != swarm.TaskStatePending {
				pendingOnly = false
			}
			add(convergeExplain(name, svc, t, nodes, nodeName))
		}
	}
	// The task that should run may be fine now ("preparing") while the one
	// before it failed: show the latest failure too, it is usually the cause.
	for _, t := range ts {
		if t.DesiredState != swarm.TaskStateRunning && (t.Status.State == swarm.TaskStateFailed || t.Status.State == swarm.TaskStateRejected) {
			if !pendingOnly || len(out) == 0 {
				add("last failure: " + convergeExplain(name, svc, t, nodes, nodeName))
			}
			break
		}
	}
	return out
}

var (
	convergeExitRe  = regexp.MustCompile(`non-zero exit \((\d+)\)`)
	convergeImageRe = regexp.MustCompile(`(?i)no such image|pull access denied|manifest unknown|failed to resolve reference|not found: manifest|error pulling image|image .* not found|connection refused`)
	convergePortRe  = regexp.MustCompile(`(?i)port is already allocated|address already in use|port already in use|host-mode port`)
)

// convergeExplain turns one task's status into a sentence.
func convergeExplain(name string, svc swarm.Service, t swarm.Task, nodes []swarm.Node, nodeName map[string]string) string {
	on := ""
	if n := nodeName[t.NodeID]; n != "" {
		on = " on " + n
	}
	msg := t.Status.Err
	if msg == "" {
		msg = t.Status.Message
	}
	image := svc.Spec.TaskTemplate.ContainerSpec
	img := ""
	if image != nil {
		img = strings.SplitN(image.Image, "@", 2)[0]
	}
	switch {
	case strings.Contains(msg, "no suitable node"):
		return convergeNoNode(name, svc, nodes, msg)
	case convergePortRe.MatchString(msg):
		return fmt.Sprintf("a port that service %s publishes is taken%s (another program or container listens on it): %s", name, on, msg)
	case convergeImageRe.MatchString(msg):
		return fmt.Sprintf("image %s cannot be pulled%s: %s (is the registry service running, and did deploy push the image?)", img, on, msg)
	}
	if m := convergeExitRe.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("the container exited with code %s%s (see `docker service logs %s`)", m[1], on, svc.Spec.Name)
	}
	if msg == "" {
		return fmt.Sprintf("%s%s", t.Status.State, on)
	}
	return fmt.Sprintf("%s%s: %s", t.Status.State, on, msg)
}

// convergeNoNode names the placement constraint no node meets.
func convergeNoNode(name string, svc swarm.Service, nodes []swarm.Node, msg string) string {
	var cons []string
	if p := svc.Spec.TaskTemplate.Placement; p != nil {
		cons = p.Constraints
	}
	var why []string
	for _, c := range cons {
		var all, usable []string
		for _, n := range nodes {
			if convergeMatch(c, n) {
				all = append(all, n.Description.Hostname)
				if convergeUsable(n) {
					usable = append(usable, n.Description.Hostname)
				}
			}
		}
		if len(usable) > 0 {
			continue
		}
		label, isLabel := convergeLabelOf(c)
		switch {
		case len(all) > 0:
			why = append(why, fmt.Sprintf("the nodes that meet %q (%s) are down or drained (needed by service %s)", c, strings.Join(all, ", "), name))
		case isLabel:
			why = append(why, fmt.Sprintf("no node has the label %s (needed by service %s)", label, name))
		default:
			why = append(why, fmt.Sprintf("no node meets %q (needed by service %s)", c, name))
		}
	}
	if len(why) == 0 {
		return fmt.Sprintf("no node can take service %s: %s", name, msg)
	}
	return strings.Join(why, "; ")
}

// convergeEligible lists the ready, active nodes that meet every constraint.
func convergeEligible(svc swarm.Service, nodes []swarm.Node) []swarm.Node {
	var out []swarm.Node
	for _, n := range nodes {
		if !convergeUsable(n) {
			continue
		}
		ok := true
		if p := svc.Spec.TaskTemplate.Placement; p != nil {
			for _, c := range p.Constraints {
				ok = ok && convergeMatch(c, n)
			}
		}
		if ok {
			out = append(out, n)
		}
	}
	return out
}

func convergeUsable(n swarm.Node) bool {
	return n.Status.State == swarm.NodeStateReady && (n.Spec.Availability == "" || n.Spec.Availability == swarm.NodeAvailabilityActive)
}

// convergeLabelOf returns X for "node.labels.X == ...".
func convergeLabelOf(c string) (string, bool) {
	key, _, eq, ok := convergeSplit(c)
	if !ok || !eq || !strings.HasPrefix(key, "node.labels.") {
		return "", false
	}
	return strings.TrimPrefix(key, "node.labels."), true
}

func convergeSplit(c string) (key, value string, eq, ok bool) {
	for _, op := range []string{"==", "!="} {
		if k, v, found := strings.Cut(c, op); found {
			return strings.TrimSpace(k), strings.TrimSpace(v), op == "==", true
		}
	}
	return "", "", false, false
}

// convergeMatch evaluates the constraints swarm supports that matter here;
// an unknown key counts as met so we never invent a problem.
func convergeMatch(c string, n swarm.Node) bool {
	key, want, eq, ok := convergeSplit(c)
	if !ok {
		return true
	}
	var have string
	var present bool
	switch {
	case strings.HasPrefix(key, "node.labels."):
		have, present = n.Spec.Labels[strings.TrimPrefix(key, "node.labels.")]
	case key == "node.hostname":
		have, present = n.Description.Hostname, true
	case key == "node.id":
		have, present = n.ID, true
	case key == "node.role":
		have, present = string(n.Spec.Role), true
	default:
		return true
	}
	same := present && strings.EqualFold(have, want)
	if eq {
		return same
	}
	return !same
}

// convergeTimeout is 10 minutes unless the operator gave more (deploy.timeout).
func convergeTimeout(env *Env) time.Duration {
	d := 10 * time.Minute
	if v, ok := env.Extra["deploy.timeout"].(time.Duration); ok && v > d {
		d = v
	}
	return d
}

// convergeRead lists the stack's services (every service when stack is
// ""), all tasks and nodes.
func convergeRead(ctx context.Context, c *client.Client, stack string) ([]swarm.Service, []swarm.Task, []swarm.Node, error) {
	var opts client.ServiceListOptions
	if stack != "" {
		opts.Filters = make(client.Filters).Add("label", "com.docker.stack.namespace="+stack)
	}
	sl, err := c.ServiceList(ctx, opts)
	if err != nil {
		return nil, nil, nil, err
	}
	tl, err := c.TaskList(ctx, client.TaskListOptions{})
	if err != nil {
		return nil, nil, nil, err
	}
	nl, err := c.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		return nil, nil, nil, err
	}
	return sl.Items, tl.Items, nl.Items, nil
}

// convergeWait polls the manager every 2 s until every service of the stack
// has its tasks running, reporting each poll as progress and output, or
// gives up after the timeout with every unconverged service and its reason.
// It is one read-only record, however long it polls.
func convergeWait(ctx context.Context, env *Env, h *HostRunner, stack string, timeout time.Duration) ([]ServiceRow, error) {
	return convergeWaitUntil(ctx, env, h, stack, timeout, nil)
}

// convergeWaitUntil is convergeWait that also waits until more says nothing
// (each string a reason to wait, shown like the rows).
func convergeWaitUntil(ctx context.Context, env *Env, h *HostRunner, stack string, timeout time.Duration,
	more func([]swarm.Service, []swarm.Task, []swarm.Node) []string) ([]ServiceRow, error) {
	var rows []ServiceRow
	call := fmt.Sprintf("poll ServiceList(label=com.docker.stack.namespace=%s), TaskList, NodeList every 2s (timeout %s)", stack, timeout)
	err := h.API(ctx, "wait for the stack's services to converge", call, false, func(ctx context.Context, c *client.Client) error {
		deadline := time.Now().Add(timeout)
		last := map[string]string{}
		for {
			services, tasks, nodes, err := convergeRead(ctx, c, stack)
			if err != nil {
				return err
			}
			rows = ConvergenceRows(services, tasks, nodes)
			done := 0
			for _, r := range rows {
				if r.Converged {
					done++
				}
				// Every row once, then only the rows that changed.
				if line := r.String(); last[r.Service] != line {
					siteOutput(h, "stdout", line)
					last[r.Service] = line
				}
			}
			h.Progress(fmt.Sprintf("%d of %d services converged", done, len(rows)), done, len(rows))
			var waits []string
			if more != nil {
				waits = more(services, tasks, nodes)
			}
			for _, w := range waits {
				if last[w] != w {
					siteOutput(h, "stdout", w)
					last[w] = w
				}
			}
			if len(rows) > 0 && done == len(rows) && len(waits) == 0 {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("not converged after %s: %s", timeout, strings.Join(append([]string{convergeDescribe(rows)}, waits...), "; "))
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(2 * time.Second):
			}
		}
	})
	if se, ok := err.(*StepError); ok {
		se.Next = "fix the cause named above (labels: `aginstall relabel`; images: check the registry service), then run `aginstall apply` again; a slow cluster can be given more time with the deploy timeout"
	}
	return rows, err
}

// convergeMisplaced names the running tasks whose node no longer meets
// their service's placement (its labels changed): the swarm moves them, and
// until it has, the old placement still serves.
func convergeMisplaced(services []swarm.Service, tasks []swarm.Task, nodes []swarm.Node) []string {
	byID := map[string]swarm.Service{}
	for _, s := range services {
		byID[s.ID] = s
	}
	nodeByID := map[string]swarm.Node{}
	for _, n := range nodes {
		nodeByID[n.ID] = n
	}
	var out []string
	for _, t := range tasks {
		svc, ok := byID[t.ServiceID]
		n, nok := nodeByID[t.NodeID]
		if !ok || !nok || t.DesiredState != swarm.TaskStateRunning || t.Status.State != swarm.TaskStateRunning || svc.Spec.TaskTemplate.Placement == nil {
			continue
		}
		for _, c := range svc.Spec.TaskTemplate.Placement.Constraints {
			if !convergeMatch(c, n) {
				out = append(out, fmt.Sprintf("%s still runs on %s, which no longer meets %q: the swarm moves it", convergeShortName(svc), n.Description.Hostname, c))
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

// convergeDescribe lists the services that have not converged, with reasons.
func convergeDescribe(rows []ServiceRow) string {
	var parts []string
	for _, r := range rows {
		if !r.Converged {
			parts = append(parts, r.String())
		}
	}
	if len(parts) == 0 {
		return "the stack has no services"
	}
	return strings.Join(parts, "; ")
}

// siteOutput shows one line in the host's output pane and the log, redacted.
func siteOutput(h *HostRunner, stream, text string) {
	h.r.emit(HostOutput{Step: h.Step, Host: h.Host, Stream: stream, Text: h.r.Secrets.Redact(text)})
	h.r.Log.Output(h.Step, h.Host, stream, text)
}
