package edit

import (
	"fmt"
	"regexp"

	"github.com/goccy/go-yaml/ast"
)

// constraintRe is a placement constraint on a node label set to true.
var constraintRe = regexp.MustCompile(`^\s*node\.labels\.([A-Za-z0-9_.-]+)\s*==\s*true\s*$`)

// ComposeConstraints returns, for every service of a compose file, the node
// labels its placement constraints require (`node.labels.X == true`), in
// file order. deploy is looked up the way docker reads the file, resolving
// anchors, aliases and `<<:` merges; a service without such constraints
// maps to an empty list. Other constraints (node.role, != ...) are ignored.
// The file is read through the AST, so duplicate keys (2022) are fine.
func ComposeConstraints(src []byte) (map[string][]string, error) {
	d, err := parseYAML(ComposeFile, splitText(ComposeFile, src).lf())
	if err != nil {
		return nil, err
	}
	svcs := d.services()
	if len(svcs) == 0 {
		return nil, fmt.Errorf("%s: no services", ComposeFile)
	}
	out := map[string][]string{}
	for _, svc := range svcs {
		labels := []string{}
		placement := d.mapping(d.lookup(d.mapping(d.lookup(d.mapping(svc.Value), "deploy")), "placement"))
		if cs, ok := d.resolve(d.lookup(placement, "constraints")).(*ast.SequenceNode); ok {
			for _, c := range cs.Values {
				v, _ := scalarText(d.resolve(c))
				if m := constraintRe.FindStringSubmatch(v); m != nil {
					labels = append(labels, m[1])
				}
			}
		}
		out[keyText(svc)] = labels
	}
	return out, nil
}
