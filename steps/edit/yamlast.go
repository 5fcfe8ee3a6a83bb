package edit

import (
	"fmt"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// yamlDoc is a parsed compose file. It is read through the AST only (never
// decoded into a map): the 2022 file has duplicate keys, which a strict
// decoder rejects but the AST keeps, each with its own line.
type yamlDoc struct {
	root    *ast.MappingNode
	anchors map[string]ast.Node
}

func parseYAML(file string, src []byte) (*yamlDoc, error) {
	f, err := parser.ParseBytes(src, parser.ParseComments, parser.AllowDuplicateMapKey())
	if err != nil {
		return nil, fmt.Errorf("%s: does not parse as YAML: %v", file, err)
	}
	if len(f.Docs) == 0 || f.Docs[0].Body == nil {
		return nil, fmt.Errorf("%s: empty: no YAML document", file)
	}
	if len(f.Docs) > 1 {
		return nil, fmt.Errorf("%s: %d YAML documents; a compose file has one", file, len(f.Docs))
	}
	d := &yamlDoc{anchors: map[string]ast.Node{}}
	ast.Walk(anchorCollector(d.anchors), f.Docs[0].Body)
	root, ok := d.resolve(f.Docs[0].Body).(*ast.MappingNode)
	if !ok {
		return nil, fmt.Errorf("%s: the top level is not a mapping", file)
	}
	d.root = root
	return d, nil
}

type anchorCollector map[string]ast.Node

func (a anchorCollector) Visit(n ast.Node) ast.Visitor {
	if an, ok := n.(*ast.AnchorNode); ok && an.Name != nil {
		a[an.Name.GetToken().Value] = an.Value
	}
	return a
}

// resolve looks through anchors, aliases and tags to the node that holds
// the value.
func (d *yamlDoc) resolve(n ast.Node) ast.Node {
	for i := 0; i < 100 && n != nil; i++ {
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.AliasNode:
			if v.Value == nil {
				return nil
			}
			n = d.anchors[v.Value.GetToken().Value]
		case *ast.TagNode:
			n = v.Value
		default:
			return n
		}
	}
	return nil
}

// own returns the entries of m with the given key, in file order, without
// looking into merges: these are the lines that can be edited in place.
func own(m *ast.MappingNode, key string) []*ast.MappingValueNode {
	var out []*ast.MappingValueNode
	if m == nil {
		return nil
	}
	for _, mv := range m.Values {
		if _, merge := mv.Key.(*ast.MergeKeyNode); !merge && keyText(mv) == key {
			out = append(out, mv)
		}
	}
	return out
}

func keyText(mv *ast.MappingValueNode) string { return mv.Key.GetToken().Value }

// lookup finds key in m the way a YAML 1.1 loader would: the mapping's own
// entry (the last one if duplicated), else the first merged mapping (`<<:`)
// that has it.
func (d *yamlDoc) lookup(m *ast.MappingNode, key string) ast.Node {
	return d.lookupDepth(m, key, 0)
}

func (d *yamlDoc) lookupDepth(m *ast.MappingNode, key string, depth int) ast.Node {
	if m == nil || depth > 20 {
		return nil
	}
	if mv := own(m, key); len(mv) > 0 {
		return d.resolve(mv[len(mv)-1].Value)
	}
	for _, mv := range m.Values {
		if _, merge := mv.Key.(*ast.MergeKeyNode); !merge {
			continue
		}
		var srcs []ast.Node
		switch v := d.resolve(mv.Value).(type) {
		case *ast.SequenceNode:
			for _, e := range v.Values {
				srcs = append(srcs, d.resolve(e))
			}
		default:
			srcs = append(srcs, v)
		}
		for _, s := range srcs {
			if sm, ok := s.(*ast.MappingNode); ok {
				if n := d.lookupDepth(sm, key, depth+1); n != nil {
					return n
				}
			}
		}
	}
	return nil
}

func (d *yamlDoc) mapping(n ast.Node) *ast.MappingNode {
	m, _ := d.resolve(n).(*ast.MappingNode)
	return m
}

// services returns the services mapping's entries in file order.
func (d *yamlDoc) services() []*ast.MappingValueNode {
	s := d.mapping(d.lookup(d.root, "services"))
	if s == nil {
		return nil
	}
	return s.Values
}

func (d *yamlDoc) service(name string) *ast.MappingNode {
	for _, mv := range d.services() {
		if keyText(mv) == name {
			return d.mapping(mv.Value)
		}
	}
	return nil
}

// scalarText is the value of a scalar node as a string ("" for non-scalars).
func scalarText(n ast.Node) (string, bool) {
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.NullNode:
		return v.GetToken().Value, true
	}
	return "", false
}

// inlineScalar checks that mv is `key: scalar` written on one line and
// returns that line (1-based) and the scalar's value. Block scalars and
// values continued on the next line are not edited in place.
func inlineScalar(mv *ast.MappingValueNode) (int, string, bool) {
	v, ok := scalarText(mv.Value)
	if !ok {
		return 0, "", false
	}
	kt, vt := mv.Key.GetToken(), mv.Value.GetToken()
	if kt.Position.Line != vt.Position.Line || vt.Type == token.LiteralType || vt.Type == token.FoldedType {
		return 0, "", false
	}
	if strings.Contains(strings.TrimSpace(vt.Origin), "\n") {
		return 0, "", false
	}
	return kt.Position.Line, v, true
}
