package steps

import (
	"context"
	"fmt"
	"strings"

	"github.com/moby/moby/client"

	"aginstall/steps/edit"
	"aginstall/steps/rules"
)

// Data never moves without the operator's explicit consent, whatever the
// entry point: a data label moved in the cluster file and applied, the same
// move in the wizard's relabel, or a new postgres image on a database that
// exists. apply refuses such a change (exit 2, nothing touched) unless
// --allow-data-move is given; the wizard asks the operator to type the
// label's name. The refusal names the move and the safe way to do it.

// DataChange is one change that leaves data behind or converts it.
type DataChange struct {
	Step    string // the step that would make it
	What    string // "database moves from node1 to node2", in words
	Label   string // the label that moves; "" for an image change
	SafeWay string // how to do it without losing the data
}

// ConsentError refuses data changes the operator did not consent to.
// Nothing was changed; main exits 2 on it.
type ConsentError struct {
	Changes []DataChange
}

func (e *ConsentError) Error() string {
	var b strings.Builder
	b.WriteString("refused: this change would leave data behind or convert it, and you did not consent; nothing was changed")
	for _, c := range e.Changes {
		fmt.Fprintf(&b, "\n  - %s (step %s)\n    the safe way: %s", c.What, c.Step, c.SafeWay)
	}
	b.WriteString("\n  next: do it the safe way above, then consent: run `aginstall apply --allow-data-move`, " +
		"or move the label in the wizard (`aginstall relabel`), which asks you to type its name")
	return b.String()
}

// dataChanger is a step whose apply can move or convert data; DataChanges
// only reads.
type dataChanger interface {
	DataChanges(ctx context.Context, env *Env) []DataChange
}

// DataChanges lists what the given steps' apply would move or convert,
// each change once.
func DataChanges(ctx context.Context, env *Env, list []Step) []DataChange {
	var out []DataChange
	seen := map[string]bool{}
	for _, s := range list {
		dc, ok := s.(dataChanger)
		if !ok {
			continue
		}
		for _, c := range dc.DataChanges(ctx, env) {
			if !seen[c.What] {
				seen[c.What] = true
				out = append(out, c)
			}
		}
	}
	return out
}

// consentRefusal is nil when there is nothing to consent to or the operator
// consented; in a dry run the changes are noted (the plan shows what apply
// would refuse) and nil is returned.
func consentRefusal(env *Env, step, host string, changes []DataChange) error {
	if len(changes) == 0 || env.AllowDataMove {
		for _, c := range changes {
			swarmNote(env, step, host, "consented (--allow-data-move or typed in the wizard): "+c.What)
		}
		return nil
	}
	if env.Runner.DryRun {
		for _, c := range changes {
			swarmNote(env, step, host, fmt.Sprintf("apply refuses this without --allow-data-move: %s; the safe way: %s", c.What, c.SafeWay))
		}
		return nil
	}
	return &ConsentError{Changes: changes}
}

// labelsDataChanges: the data labels that the cluster file moves from the
// node that has them now to another (rules.MovesIn, as relabel shows them).
func labelsDataChanges(env *Env, v *swarmView) []DataChange {
	if v.managerErr != nil || !v.isManager {
		return nil // no swarm: nothing placed, nothing to move
	}
	before := map[string][]string{}
	for host, n := range v.byHost {
		before[host] = labelsKnownOn(n.Spec.Labels)
	}
	after := labelsWanted(env.Cluster)
	for host := range after {
		if _, ok := v.byHost[host]; !ok {
			delete(after, host) // not a node yet: it holds nothing
		}
	}
	var out []DataChange
	for _, m := range rules.MovesIn(env.Cluster.Stack, before, after) {
		out = append(out, moveChange("labels", m))
	}
	return out
}

func moveChange(step string, m rules.MoveWarning) DataChange {
	what := fmt.Sprintf("%s moves from %s to %s", m.Label, m.From, m.To)
	if m.Volume != "" {
		what += fmt.Sprintf(" (volume %s stays on %s)", m.Volume, m.From)
	}
	safe := m.HowTo
	if m.Label == "database" {
		safe = fmt.Sprintf("run `aginstall move-database %s` (a backup kept, the writers stopped, the label moved, the dump restored and checked); or by hand: %s", m.To, m.HowTo)
	}
	return DataChange{Step: step, What: what, Label: m.Label, SafeWay: safe}
}

func (labelsStep) DataChanges(ctx context.Context, env *Env) []DataChange {
	return labelsDataChanges(env, swarmRead(ctx, env, "labels"))
}

// postgresDataChange: site.postgres_image differs from the image the
// deployed postgres service runs, so the existing database would meet a
// postgres that may not read it (edit.PostgresUpgradeWarning).
func postgresDataChange(ctx context.Context, env *Env, step string) []DataChange {
	c := env.Cluster
	want := c.Site.PostgresImage
	if want == "" {
		return nil // the compose file's image is left as it is
	}
	svc := c.Stack + "_postgres"
	var have string
	err := env.On(step, c.Manager).API(ctx, "read the deployed postgres image", "ServiceList(name="+svc+")", false, func(ctx context.Context, cl *client.Client) error {
		res, err := cl.ServiceList(ctx, client.ServiceListOptions{Filters: make(client.Filters).Add("name", svc)})
		for _, s := range res.Items {
			if s.Spec.Name == svc && s.Spec.TaskTemplate.ContainerSpec != nil {
				have = s.Spec.TaskTemplate.ContainerSpec.Image
			}
		}
		return err
	})
	if err != nil || have == "" || postgresImageName(have) == postgresImageName(want) {
		return nil // no database deployed (or none readable): nothing to convert
	}
	return []DataChange{{Step: step,
		What:    fmt.Sprintf("the postgres image changes from %s to %s on the existing database of stack %s", postgresImageName(have), want, c.Stack),
		SafeWay: edit.PostgresUpgradeWarning + fmt.Sprintf(" (or set site.postgres_image back to %s)", postgresImageName(have))}}
}

// postgresImageName drops what stack deploy and the registry add: the
// digest and docker.io's library prefix.
func postgresImageName(img string) string {
	img, _, _ = strings.Cut(img, "@")
	for _, p := range []string{"docker.io/library/", "index.docker.io/library/", "library/"} {
		img = strings.TrimPrefix(img, p)
	}
	return img
}

func (settingsStep) DataChanges(ctx context.Context, env *Env) []DataChange {
	return postgresDataChange(ctx, env, "settings")
}

func (deployStep) DataChanges(ctx context.Context, env *Env) []DataChange {
	return postgresDataChange(ctx, env, "deploy")
}
