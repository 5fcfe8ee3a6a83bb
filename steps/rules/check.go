package rules

import (
	"fmt"
	"slices"
	"strings"
)

// singletonFix says, per one-node label, where it belongs: the first text
// fixes "no node", the second "several nodes". The data labels point at
// the node whose disk holds the data, because that is the one to keep.
var singletonFix = map[string][2]string{
	"database":              {"add it to the node whose disk should hold the database", "remove it from all but the node whose disk holds the database"},
	"registry":              {"add it to the manager, from which the images are pushed to 127.0.0.1:5000", "remove it from all but the node whose ag-registry volume holds the pushed images"},
	"cache":                 {"add it to one node", "remove it from all but one node"},
	"rabbitmq_broker":       {"add it to one node", "remove it from all but one node"},
	"custom_image_registry": {"add it to the node whose disk should hold the custom sandbox images", "remove it from all but the node whose disk holds the custom sandbox images"},
}

// Check applies every rule to nodes and returns the violations, errors
// first, then in the order of Rules. constraints maps each service of the
// deployed compose file to the labels its placement needs; nil means the
// upstream file (UpstreamConstraints).
//
// Which empty labels are errors: the replicated services (django,
// nginx/website, postgres, redis, rabbitmq, the small-task workers and
// sandboximageregistry) stay pending forever when their label is on no
// node, so that is an Error naming the services. The grading workers and
// image_builder are `mode: global`: on zero nodes they show 0/0 and are
// fine as far as the swarm goes, so an empty one is only Advice that its
// kind of work waits — except that some node must have grader or
// tiny_grader (both consume the ordinary submission queues), or nothing is
// ever graded: that is an Error. fast_grader needs no node at all: the
// ordinary graders also consume the fast queues. registry is needed even
// though no compose service uses it: the images are pulled from it.
func Check(nodes []Node, constraints map[string][]string) []Violation {
	if constraints == nil {
		constraints = UpstreamConstraints()
	}
	c := index(nodes)
	users := servicesByLabel(constraints)
	var vs []Violation
	vs = append(vs, checkOneNode(c, users)...)
	vs = append(vs, checkWebserver(c, users)...)
	vs = append(vs, checkOneGrader(c)...)
	vs = append(vs, checkNeeded(c, users)...)
	vs = append(vs, checkGrading(c, users)...)
	vs = append(vs, checkSize(c)...)
	vs = append(vs, checkUnknown(c)...)
	vs = append(vs, checkUnused(c, users)...)
	slices.SortStableFunc(vs, func(a, b Violation) int { return int(a.Severity) - int(b.Severity) })
	return vs
}

func checkOneNode(c cluster, users map[string][]string) []Violation {
	var vs []Violation
	for _, l := range Known {
		if !l.Singleton {
			continue
		}
		on, svcs := c.byLabel[l.Name], users[l.Name]
		if l.Name == "registry" {
			svcs = []string{"registry"} // created apart from the stack
		}
		fix := singletonFix[l.Name]
		switch {
		case len(on) == 0 && len(svcs) > 0:
			vs = append(vs, Violation{RuleOneNode, Error, l.Name, nil, svcs,
				fmt.Sprintf("%s must be on exactly one node, but no node has it, so %s: %s", l.Name, neverStart(svcs), fix[0])})
		case len(on) > 1:
			vs = append(vs, Violation{RuleOneNode, Error, l.Name, on, svcs,
				fmt.Sprintf("%s must be on exactly one node, but %s: %s", l.Name, hasIt(on), fix[1])})
		}
	}
	return vs
}

func checkWebserver(c cluster, users map[string][]string) []Violation {
	on, svcs := c.byLabel["webserver"], users["webserver"]
	switch {
	case len(on) == 0 && len(svcs) > 0:
		return []Violation{{RuleOneWebserver, Error, "webserver", nil, svcs,
			fmt.Sprintf("webserver must be on exactly one node (it binds ports 80 and 443), but no node has it, so %s: add it to the node that the site's domain name points to", neverStart(svcs))}}
	case len(on) > 1:
		return []Violation{{RuleOneWebserver, Error, "webserver", on, svcs,
			fmt.Sprintf("webserver must be on exactly one node (it binds ports 80 and 443), but %s: keep it on the node that the site's domain name points to and remove it from the others", hasIt(on))}}
	}
	return nil
}

func checkOneGrader(c cluster) []Violation {
	var vs []Violation
	for _, n := range c.nodes {
		var excl []string
		for _, l := range Known {
			if l.GraderExclusive && slices.Contains(n.Labels, l.Name) {
				excl = append(excl, l.Name)
			}
		}
		if len(excl) > 1 {
			vs = append(vs, Violation{RuleOneGrader, Error, "", []string{n.Name}, nil,
				fmt.Sprintf("%s has %s, but a node may have at most one of grader, tiny_grader, deferred_grader and tiny_deferred_grader: keep one of them and remove the others", n.Name, list(excl))})
		}
	}
	return vs
}

// ownRule says whether another rule already reports a label on no node.
func ownRule(label string) bool {
	l, ok := Lookup(label)
	return ok && (l.Singleton || l.Grader || label == "webserver" || label == "image_builder")
}

func checkNeeded(c cluster, users map[string][]string) []Violation {
	var labels []string
	for l := range users {
		if !ownRule(l) && len(c.byLabel[l]) == 0 {
			labels = append(labels, l)
		}
	}
	slices.SortFunc(labels, byRank)
	var vs []Violation
	for _, l := range labels {
		svcs := users[l]
		vs = append(vs, Violation{RuleNeeded, Error, l, nil, svcs,
			fmt.Sprintf("%s must be on at least one node, but no node has it, so %s: add it to a node", l, neverStart(svcs))})
	}
	return vs
}

// byRank orders labels as the guide does, unknown ones by name after.
func byRank(a, b string) int {
	if d := rank(a) - rank(b); d != 0 {
		return d
	}
	return strings.Compare(a, b)
}
