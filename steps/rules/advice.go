package rules

import (
	"fmt"
	"slices"
	"strings"
)

// workerKinds groups the global worker labels by the queues they consume:
// a tiny worker takes the same queues as its full-size twin, so a kind is
// missing only when none of its labels is on a node. fast_grader is not
// here: the ordinary graders consume the fast queues too.
var workerKinds = []struct {
	labels []string
	sev    Severity
	waits  string
}{
	{[]string{"grader", "tiny_grader"}, Error, "no submission is ever graded"},
	{[]string{"deferred_grader", "tiny_deferred_grader"}, Advice, "deferred test suites wait"},
	{[]string{"rerun_grader", "tiny_rerun_grader"}, Advice, "re-runs of tests wait"},
	{[]string{"image_builder"}, Advice, "custom sandbox image builds wait"},
}

func checkGrading(c cluster, users map[string][]string) []Violation {
	var vs []Violation
	for _, k := range workerKinds {
		var used, svcs []string
		running := false
		for _, l := range k.labels {
			if len(users[l]) == 0 {
				continue // commented out in the compose file
			}
			used = append(used, l)
			svcs = append(svcs, users[l]...)
			running = running || len(c.byLabel[l]) > 0
		}
		if len(used) == 0 || running {
			continue
		}
		slices.Sort(svcs)
		svcs = slices.Compact(svcs)
		fix := "add it to a node"
		if len(used) == 2 {
			fix = fmt.Sprintf("add %s to a node with more than %d CPUs or %s to a smaller one", used[0], tinyCPUs, used[1])
		}
		if k.labels[0] == "deferred_grader" {
			fix += " that has no grader or tiny_grader"
		}
		var msg string
		if k.sev == Error {
			msg = fmt.Sprintf("%s must be on at least one node, but no node has %s, so %s: %s",
				strings.Join(used, " or "), itOrEither(used), k.waits, fix)
		} else {
			msg = fmt.Sprintf("no node has %s, so %s: %s", strings.Join(used, " or "), k.waits, fix)
		}
		vs = append(vs, Violation{RuleGrading, k.sev, used[0], nil, svcs, msg})
	}
	return vs
}

func itOrEither(labels []string) string {
	if len(labels) == 1 {
		return "it"
	}
	return "either"
}

// checkSize advises on tiny versus full-size workers. A tiny worker grades
// one submission at a time and leaves most of a big node idle; a full-size
// one grades two at once (-c 2) and overloads a small one. CPUs 0 means the
// count is unknown, so no advice.
func checkSize(c cluster) []Violation {
	var vs []Violation
	for _, n := range c.nodes {
		if n.CPUs <= 0 {
			continue
		}
		for _, l := range Known {
			if !l.Grader || !slices.Contains(n.Labels, l.Name) {
				continue
			}
			twin := strings.TrimPrefix(l.Name, "tiny_")
			var msg string
			switch {
			case l.Tiny && n.CPUs > tinyCPUs:
				msg = fmt.Sprintf("%s is on %s, which has %d CPUs, but a tiny worker runs one task at a time and suits nodes with at most %d CPUs: use %s there instead", l.Name, n.Name, n.CPUs, tinyCPUs, twin)
			case !l.Tiny && n.CPUs <= tinyCPUs:
				msg = fmt.Sprintf("%s is on %s, which has only %d CPUs, but it runs two tasks at a time and suits nodes with more than %d CPUs: use tiny_%s there instead", l.Name, n.Name, n.CPUs, tinyCPUs, l.Name)
			default:
				continue
			}
			vs = append(vs, Violation{RuleSize, Advice, l.Name, []string{n.Name}, nil, msg})
		}
	}
	return vs
}

func checkUnknown(c cluster) []Violation {
	var labels []string
	for l := range c.byLabel {
		if !Removable(l) {
			labels = append(labels, l)
		}
	}
	slices.Sort(labels)
	var vs []Violation
	for _, l := range labels {
		on := c.byLabel[l]
		vs = append(vs, Violation{RuleUnknown, Advice, l, on, nil,
			fmt.Sprintf("unknown label %s on %s: aginstall keeps it and never removes it", l, list(on))})
	}
	return vs
}

// checkUnused flags guide labels that start nothing, typically tiny_*
// labels while the tiny services are still commented out in the compose
// file. registry is exempt: its service is not in the compose file.
func checkUnused(c cluster, users map[string][]string) []Violation {
	var vs []Violation
	for _, l := range Known {
		on := c.byLabel[l.Name]
		if l.Name == "registry" || len(on) == 0 || len(users[l.Name]) > 0 {
			continue
		}
		vs = append(vs, Violation{RuleUnused, Advice, l.Name, on, nil,
			fmt.Sprintf("%s is on %s, but no service of the deployed compose file uses it, so it starts nothing: enable its service in docker-compose.yml or remove the label", l.Name, list(on))})
	}
	return vs
}
