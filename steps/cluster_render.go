package steps

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// The text the cluster-file edits write: inline (flow) values, and block
// lines for new sections and hosts, zero values left out.

// orderedMap is a mapping rendered in its order.
type orderedMap []struct {
	key   string
	value any
}

// hostFields are a host's keys in the struct's order, zero values left out.
func hostFields(h HostSpec) orderedMap {
	var out orderedMap
	add := func(k string, v any) {
		switch v := v.(type) {
		case string:
			if v == "" {
				return
			}
		case int:
			if v == 0 {
				return
			}
		case []string:
			if len(v) == 0 {
				return
			}
		}
		out = append(out, struct {
			key   string
			value any
		}{k, v})
	}
	add("name", h.Name)
	add("address", h.Address)
	add("port", h.Port)
	add("user", h.User)
	add("identity", h.Identity)
	add("bastion", h.Bastion)
	add("host_key", h.HostKey)
	add("labels", h.Labels)
	return out
}

// renderPairs writes a mapping's pairs as block lines; the first line has no
// indent (it follows a "- "), the others have indent.
func renderPairs(m orderedMap, indent string) string {
	var b strings.Builder
	for i, kv := range m {
		if i > 0 {
			b.WriteString("\n" + indent)
		}
		b.WriteString(kv.key + ":" + renderBlock(kv.value, indent+"  "))
	}
	return b.String()
}

// renderBlock is the text after "key:" in block style: " scalar" or " [flow]",
// or a nested mapping on the lines below.
func renderBlock(v any, indent string) string {
	switch v := v.(type) {
	case orderedMap:
		var b strings.Builder
		for _, kv := range v {
			b.WriteString("\n" + indent + kv.key + ":" + renderBlock(kv.value, indent+"  "))
		}
		return b.String()
	case []orderedMap:
		var b strings.Builder
		for _, m := range v {
			b.WriteString("\n" + indent + "- " + renderPairs(m, indent+"  "))
		}
		return b.String()
	case map[string]int:
		return renderBlock(sortedMap(v), indent)
	}
	return " " + renderYAML(v, nil)
}

func sortedMap(m map[string]int) orderedMap {
	var out orderedMap
	for _, k := range sortedKeys(m) {
		out = append(out, struct {
			key   string
			value any
		}{k, m[k]})
	}
	return out
}

// plainRe: strings that read back as the same string without quotes, in
// block and flow context alike.
var plainRe = regexp.MustCompile(`^[A-Za-z_/.][A-Za-z0-9_./@+=-]*(:[A-Za-z0-9_./@+=-]+)*$`)

var addressRe = regexp.MustCompile(`^[0-9]+(\.[0-9]+){2,}$`)

var yamlWords = map[string]bool{"true": true, "false": true, "yes": true, "no": true, "on": true, "off": true, "null": true, "y": true, "n": true}

// renderYAML writes one value inline. A string replacing old keeps old's
// quoting style; other strings are plain when that reads back the same.
func renderYAML(v any, old ast.Node) string {
	switch v := v.(type) {
	case string:
		style := token.Type(0)
		if old != nil && old.GetToken() != nil {
			style = old.GetToken().Type
		}
		switch {
		case style == token.SingleQuoteType:
			return "'" + strings.ReplaceAll(v, "'", "''") + "'"
		case style == token.DoubleQuoteType:
			return strconv.Quote(v)
		case plainRe.MatchString(v) && !yamlWords[strings.ToLower(v)]:
			return v
		case addressRe.MatchString(v):
			return v // 10.0.0.1: not a number in YAML, and read as a string
		}
		return strconv.Quote(v)
	case int:
		return strconv.Itoa(v)
	case bool:
		return strconv.FormatBool(v)
	case []string:
		parts := make([]string, len(v))
		for i, s := range v {
			parts[i] = renderYAML(s, nil)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]int:
		return renderYAML(sortedMap(v), nil)
	case orderedMap:
		parts := make([]string, len(v))
		for i, kv := range v {
			parts[i] = kv.key + ": " + renderYAML(kv.value, nil)
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case []orderedMap:
		parts := make([]string, len(v))
		for i, m := range v {
			parts[i] = renderYAML(m, nil)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return fmt.Sprint(v)
}
