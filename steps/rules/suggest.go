package rules

import (
	"cmp"
	"slices"
	"strings"
)

// Suggest proposes labels for nodes (node name → labels) from their CPUs
// and memory, for the upstream compose file; the operator takes or edits it.
// It is SuggestFor with nil constraints.
func Suggest(nodes []Node, manager string) map[string][]string {
	return SuggestFor(nodes, manager, nil)
}

// SuggestFor proposes labels for the compose file whose placement is
// constraints (nil: UpstreamConstraints). The heuristic, deterministic
// because every choice breaks ties by node name:
//
//   - The data node, the one with the most memory (then most CPUs), gets
//     database, cache and rabbitmq_broker: Postgres wants the RAM and page
//     cache, and keeping every data volume on one node keeps backups simple.
//   - The web node, of the others the one with the most CPUs (then most
//     memory), gets webserver, django_app and small_tasks: gunicorn and the
//     zip/spreadsheet workers want CPUs.
//   - registry and custom_image_registry go on the manager, where the images
//     are built and pushed to 127.0.0.1:5000 (on the data node if the
//     manager is not among nodes).
//   - Every other node grades. The weakest quarter (at least one node) runs
//     deferred_grader, since deferred suites are not urgent; the first of
//     them also runs rerun_grader and image_builder. The rest run grader,
//     the strongest of them also fast_grader. A node has exactly one of
//     the exclusive grader labels.
//   - Nodes with 1–4 CPUs get the tiny_* variant, others (or unknown CPUs)
//     the full-size one, unless the compose file lacks that variant.
//   - Labels the compose file needs that the guide does not know go on the
//     web node; labels no service needs are not placed (registry aside).
//
// With fewer than three nodes, the guide's minimum, the roles share nodes:
// on two, the web node runs grader and the data node deferred_grader; on
// one, everything runs on it except deferred_grader, which cannot share a
// node with grader, so Check advises that deferred suites wait. Neither
// case has an Error.
func SuggestFor(nodes []Node, manager string, constraints map[string][]string) map[string][]string {
	if constraints == nil {
		constraints = UpstreamConstraints()
	}
	users := servicesByLabel(constraints)
	out := map[string][]string{}
	if len(nodes) == 0 {
		return out
	}
	for _, n := range nodes {
		out[n.Name] = []string{}
	}
	put := func(node string, labels ...string) {
		for _, l := range labels {
			if (l == "registry" || len(users[l]) > 0) && !slices.Contains(out[node], l) {
				out[node] = append(out[node], l)
			}
		}
	}

	rest := slices.Clone(nodes)
	slices.SortFunc(rest, func(a, b Node) int {
		return cmp.Or(-cmp.Compare(a.MemoryMB, b.MemoryMB), -cmp.Compare(a.CPUs, b.CPUs), strings.Compare(a.Name, b.Name))
	})
	data := rest[0]
	rest = rest[1:]
	slices.SortFunc(rest, byStrength)
	web := data
	if len(rest) > 0 {
		web, rest = rest[0], rest[1:]
	}
	put(data.Name, "database", "cache", "rabbitmq_broker")
	put(web.Name, "webserver", "django_app", "small_tasks")
	reg := data.Name
	if _, ok := out[manager]; ok {
		reg = manager
	}
	put(reg, "registry", "custom_image_registry")
	for l := range users {
		if !Removable(l) {
			put(web.Name, l)
		}
	}

	// main grading nodes and deferred ones, as the comment above says.
	var main, deferred []Node
	switch {
	case len(rest) >= 2:
		k := max(1, len(rest)/4)
		main, deferred = rest[:len(rest)-k], rest[len(rest)-k:]
	case len(rest) == 1:
		main, deferred = rest, []Node{web}
	case web.Name != data.Name:
		main, deferred = []Node{web}, []Node{data}
	default:
		main = []Node{web}
	}
	for _, n := range main {
		put(n.Name, variant("grader", n, users))
	}
	put(main[0].Name, variant("fast_grader", main[0], users))
	for _, n := range deferred {
		put(n.Name, variant("deferred_grader", n, users))
	}
	background := main[0]
	if len(deferred) > 0 {
		background = deferred[0]
	}
	put(background.Name, variant("rerun_grader", background, users), "image_builder")

	for name := range out {
		slices.SortFunc(out[name], byRank)
	}
	return out
}

// byStrength orders nodes by CPUs, then memory, then name.
func byStrength(a, b Node) int {
	return cmp.Or(-cmp.Compare(a.CPUs, b.CPUs), -cmp.Compare(a.MemoryMB, b.MemoryMB), strings.Compare(a.Name, b.Name))
}

// variant picks tiny_<base> for a node with 1–4 CPUs and base otherwise,
// falling back to the other one when the compose file lacks the service.
func variant(base string, n Node, users map[string][]string) string {
	want, other := base, "tiny_"+base
	if n.CPUs > 0 && n.CPUs <= tinyCPUs {
		want, other = other, want
	}
	if len(users[want]) == 0 && len(users[other]) > 0 {
		return other
	}
	return want
}
