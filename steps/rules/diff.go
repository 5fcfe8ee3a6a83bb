package rules

import (
	"fmt"
	"slices"
	"strings"
)

// NodeDiff is what a re-labelling changes on one node; both lists sorted.
type NodeDiff struct {
	Node           string
	Added, Removed []string
}

// Diff compares two assignments (node → labels) and returns the nodes
// whose labels change, sorted by name. A node missing from one side counts
// as having no labels there.
func Diff(before, after map[string][]string) []NodeDiff {
	var names []string
	for n := range before {
		names = append(names, n)
	}
	for n := range after {
		if _, ok := before[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	var ds []NodeDiff
	for _, n := range names {
		d := NodeDiff{Node: n, Added: minus(after[n], before[n]), Removed: minus(before[n], after[n])}
		if len(d.Added) > 0 || len(d.Removed) > 0 {
			ds = append(ds, d)
		}
	}
	return ds
}

// minus is the sorted, deduplicated labels of a that are not in b.
func minus(a, b []string) []string {
	var out []string
	for _, l := range a {
		if !slices.Contains(b, l) && !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return out
}

// MoveWarning warns that a label whose service keeps data on its node
// moves: the volume stays on From, so the data must be migrated first.
type MoveWarning struct {
	Label, From, To string
	Volume          string // the volume left behind on From
	HowTo           string // how to migrate, or why nothing needs migrating
}

// DefaultStack is the stack name of the guide (docker stack deploy …
// ag-stack); stack volumes are named <stack>_<volume>.
const DefaultStack = "ag-stack"

// Moves is MovesIn for the guide's stack name.
func Moves(before, after map[string][]string) []MoveWarning {
	return MovesIn(DefaultStack, before, after)
}

// MovesIn returns a warning for every HoldsData label that leaves a node
// and arrives on another, for the stack named stack: one per (from, to)
// pair, normally exactly one. A label only removed (a duplicate dropped)
// or only added is no move: the data, if any, stays where it is.
func MovesIn(stack string, before, after map[string][]string) []MoveWarning {
	ds := Diff(before, after)
	var ws []MoveWarning
	for _, l := range Known {
		if !l.HoldsData {
			continue
		}
		var from, to []string
		for _, d := range ds {
			if slices.Contains(d.Removed, l.Name) {
				from = append(from, d.Node)
			}
			if slices.Contains(d.Added, l.Name) {
				to = append(to, d.Node)
			}
		}
		for _, f := range from {
			for _, t := range to {
				ws = append(ws, moveWarning(stack, l.Name, f, t))
			}
		}
	}
	return ws
}

func moveWarning(stack, label, from, to string) MoveWarning {
	w := MoveWarning{Label: label, From: from, To: to}
	// copyVolume streams a volume from one node to the other with the
	// registry:2 image (its shell has tar), run from a machine that can ssh
	// to both nodes.
	copyVolume := func(vol string) string {
		return fmt.Sprintf("ssh %s docker run --rm -v %s:/v --entrypoint tar registry:2 -C /v -cf - . | ssh %s docker run --rm -i -v %s:/v --entrypoint tar registry:2 -C /v -xf -", from, vol, to, vol)
	}
	switch label {
	case "database":
		w.Volume = stack + "_pgdata"
		w.HowTo = fmt.Sprintf("the database stays in volume %[1]s on %[2]s. First stop writers (docker service scale %[3]s_django=0 %[3]s_celery_small_tasks=0 %[3]s_celerybeat=0), then dump it on %[2]s: docker exec $(docker ps -q -f name=%[3]s_postgres) pg_dumpall -U postgres > ag.sql. Move the label, wait for postgres to start on %[4]s with an empty database, copy ag.sql there and restore it: docker exec -i $(docker ps -q -f name=%[3]s_postgres) psql -U postgres < ag.sql; then scale the services back to 1", w.Volume, from, stack, to)
	case "registry":
		w.Volume = "ag-registry"
		w.HowTo = fmt.Sprintf("the pushed images stay in volume ag-registry on %s. Either copy the volume before moving the label: %s; or, after the move, push the images again from the manager (docker-compose build && docker-compose push)", from, copyVolume(w.Volume))
	case "custom_image_registry":
		w.Volume = stack + "_sandbox_image_registry_data"
		w.HowTo = fmt.Sprintf("the custom sandbox images built by instructors stay in volume %s on %s and cannot be pushed again from here: copy the volume before moving the label: %s", w.Volume, from, copyVolume(w.Volume))
	case "cache":
		w.Volume = stack + "_redisdata"
		w.HowTo = fmt.Sprintf("nothing to migrate: Redis in volume %s on %s holds only cached values and task results, which are recreated; the old volume can be removed afterwards (docker volume rm %s on %s)", w.Volume, from, w.Volume, from)
	case "rabbitmq_broker":
		w.Volume = stack + "_rabbitmqdata"
		w.HowTo = fmt.Sprintf("nothing to migrate: RabbitMQ's queues in volume %s on %s are transient and recreated on %s, but tasks still queued are lost, so move it while no submission is being graded; the old volume can be removed afterwards (docker volume rm %s on %s)", w.Volume, from, to, w.Volume, from)
	}
	w.HowTo = strings.ToUpper(w.HowTo[:1]) + w.HowTo[1:]
	return w
}
