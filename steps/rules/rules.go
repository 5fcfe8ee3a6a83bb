package rules

import (
	"slices"
	"strings"
)

// Node is a swarm node as the rules see it: its labels by name (each is
// applied as name=true). CPUs 0 or MemoryMB 0 means unknown.
type Node struct {
	Name     string
	CPUs     int
	MemoryMB int
	Labels   []string
}

// Severity says whether a violation blocks the deployment.
type Severity int

const (
	Error  Severity = iota // some service never starts or runs wrongly
	Advice                 // works, but probably not what the operator wants
)

func (s Severity) String() string {
	if s == Error {
		return "error"
	}
	return "advice"
}

// Violation is one broken rule. Label is empty when the rule is about
// several labels at once (one-grader-kind).
type Violation struct {
	Rule     string // a Rule's ID
	Severity Severity
	Label    string
	Nodes    []string // sorted
	Services []string // compose services affected, sorted
	Message  string   // names the rule, the nodes and a fix
}

// Rule is one rule as the UI lists it.
type Rule struct{ ID, Text string }

// Rule IDs.
const (
	RuleOneNode      = "one-node"
	RuleOneWebserver = "one-webserver"
	RuleOneGrader    = "one-grader-kind"
	RuleNeeded       = "needed"
	RuleGrading      = "grading-workers"
	RuleSize         = "worker-size"
	RuleUnknown      = "unknown-label"
	RuleUnused       = "unused-label"
)

// Rules is every rule Check applies, in the order Check reports them.
var Rules = []Rule{
	{RuleOneNode, "database, registry, cache, rabbitmq_broker and custom_image_registry are each on exactly one node."},
	{RuleOneWebserver, "webserver is on exactly one node (it binds ports 80 and 443)."},
	{RuleOneGrader, "A node has at most one of grader, tiny_grader, deferred_grader and tiny_deferred_grader."},
	{RuleNeeded, "Every label a placement constraint of the deployed compose file uses is on at least one node, or its service never starts."},
	{RuleGrading, "Some node has grader or tiny_grader, or nothing is graded; deferred, rerun and image_builder workers on no node make that work wait (advice)."},
	{RuleSize, "tiny_* grader labels go on nodes with at most 4 CPUs, the other grader labels on nodes with more (advice)."},
	{RuleUnknown, "Labels outside the guide's set are kept and never removed (advice)."},
	{RuleUnused, "A label that no placement constraint uses starts nothing (advice)."},
}

// tinyCPUs is the guide's size of a tiny grading node ("a quad-core CPU").
const tinyCPUs = 4

// cluster indexes nodes by label.
type cluster struct {
	nodes   []Node              // sorted by name
	byLabel map[string][]string // label → sorted node names, deduplicated
}

func index(nodes []Node) cluster {
	c := cluster{nodes: slices.Clone(nodes), byLabel: map[string][]string{}}
	slices.SortStableFunc(c.nodes, func(a, b Node) int { return strings.Compare(a.Name, b.Name) })
	for _, n := range c.nodes {
		for _, l := range n.Labels {
			if !slices.Contains(c.byLabel[l], n.Name) {
				c.byLabel[l] = append(c.byLabel[l], n.Name)
			}
		}
	}
	return c
}

// servicesByLabel inverts service → labels into label → sorted services.
func servicesByLabel(constraints map[string][]string) map[string][]string {
	m := map[string][]string{}
	for svc, labels := range constraints {
		for _, l := range labels {
			if !slices.Contains(m[l], svc) {
				m[l] = append(m[l], svc)
			}
		}
	}
	for _, s := range m {
		slices.Sort(s)
	}
	return m
}

// list joins names as prose: "a", "a and b", "a, b and c".
func list(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// neverStart says which services never start: "postgres never starts".
func neverStart(services []string) string {
	if len(services) == 1 {
		return services[0] + " never starts"
	}
	return list(services) + " never start"
}

// hasIt is "node1 has it" or "node1 and node3 have it".
func hasIt(nodes []string) string {
	if len(nodes) == 1 {
		return nodes[0] + " has it"
	}
	return list(nodes) + " have it"
}
