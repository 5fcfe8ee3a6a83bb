package steps

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// yamlDoc is the cluster file's text with its syntax tree. Its edits splice
// the bytes of one key's value (found by the tree's token positions) and
// leave every other byte as the operator wrote it: comments, order, quoting,
// flow or block style. goccy's printer would re-space comments; a splice
// does not.
type yamlDoc struct {
	src   []byte
	file  *ast.File
	lines []int // byte offset where each line starts
}

func parseDoc(src []byte) (*yamlDoc, error) {
	file, err := parser.ParseBytes(src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	d := &yamlDoc{src: src, file: file, lines: []int{0}}
	for i, b := range src {
		if b == '\n' {
			d.lines = append(d.lines, i+1)
		}
	}
	return d, nil
}

func (d *yamlDoc) root() ast.Node {
	if len(d.file.Docs) == 0 {
		return nil
	}
	return d.file.Docs[0].Body
}

// offset turns a token position (1-based line, column in runes) into a byte offset.
func (d *yamlDoc) offset(p *token.Position) int {
	if p.Line-1 >= len(d.lines) {
		return len(d.src)
	}
	off := d.lines[p.Line-1]
	for col := 1; col < p.Column && off < len(d.src) && d.src[off] != '\n'; col++ {
		_, n := utf8.DecodeRune(d.src[off:])
		off += n
	}
	return off
}

// lineEnd is the offset of the newline ending the line at off (or the end).
func (d *yamlDoc) lineEnd(off int) int {
	if i := bytes.IndexByte(d.src[off:], '\n'); i >= 0 {
		return off + i
	}
	return len(d.src)
}

func (d *yamlDoc) lineStart(off int) int { return bytes.LastIndexByte(d.src[:off], '\n') + 1 }

// splice replaces src[start:end] and parses the result again.
func (d *yamlDoc) splice(start, end int, with string) (*yamlDoc, error) {
	out := make([]byte, 0, len(d.src)+len(with))
	out = append(append(append(out, d.src[:start]...), with...), d.src[end:]...)
	return parseDoc(out)
}

// entries lists a mapping's pairs (a one-key mapping parses as a single pair).
func entries(n ast.Node) []*ast.MappingValueNode {
	switch n := n.(type) {
	case *ast.MappingNode:
		return n.Values
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{n}
	}
	return nil
}

func lookup(n ast.Node, key string) *ast.MappingValueNode {
	for _, kv := range entries(n) {
		if kv.Key.String() == key {
			return kv
		}
	}
	return nil
}

func isFlow(n ast.Node) bool {
	switch n := n.(type) {
	case *ast.MappingNode:
		return n.IsFlowStyle
	case *ast.SequenceNode:
		return n.IsFlowStyle
	}
	return false
}

// keySeg is one step of a key path: a mapping key, or hosts[NAME].
type keySeg struct{ key, host string }

func splitKey(path string) []keySeg {
	var out []keySeg
	for _, p := range strings.Split(path, ".") {
		if k, h, ok := strings.Cut(p, "["); ok {
			out = append(out, keySeg{key: k, host: strings.TrimSuffix(h, "]")})
			continue
		}
		out = append(out, keySeg{key: p})
	}
	return out
}

// hostItem finds the hosts list's item whose name is host.
func hostItem(list ast.Node, host string) (int, ast.Node) {
	seq, ok := list.(*ast.SequenceNode)
	if !ok {
		return -1, nil
	}
	for i, item := range seq.Values {
		if kv := lookup(item, "name"); kv != nil && scalarText(kv.Value) == host {
			return i, item
		}
	}
	return -1, nil
}

func scalarText(n ast.Node) string {
	if s, ok := n.(ast.ScalarNode); ok {
		return fmt.Sprint(s.GetValue())
	}
	return ""
}

// locate follows a key path. It returns the pair of the last key when every
// key is there; otherwise the container where the first missing key would go
// and how many keys were found.
func (d *yamlDoc) locate(segs []keySeg) (kv *ast.MappingValueNode, container ast.Node, found int) {
	cur := d.root()
	for i, s := range segs {
		kv = lookup(cur, s.key)
		if kv == nil {
			return nil, cur, i
		}
		if s.host != "" {
			_, item := hostItem(kv.Value, s.host)
			if item == nil {
				return nil, nil, i
			}
			cur = item
			continue
		}
		if i == len(segs)-1 {
			return kv, cur, len(segs)
		}
		cur = kv.Value
	}
	return nil, cur, len(segs)
}

// valueRange is where a value's text starts and ends. Block collections end
// at the end of their last line; scalars before any comment.
func (d *yamlDoc) valueRange(kv *ast.MappingValueNode, inFlow bool) (int, int) {
	v := kv.Value
	switch {
	case v == nil || v.Type() == ast.NullType && !strings.EqualFold(strings.TrimSpace(v.GetToken().Origin), "null") && v.GetToken().Value != "~":
		at := d.offset(kv.GetToken().Position) + 1 // just after the colon
		return at, at
	case isFlow(v):
		start := d.offset(v.GetToken().Position)
		return start, matchBracket(d.src, start) + 1
	case v.Type() == ast.MappingType || v.Type() == ast.SequenceType:
		return d.blockStart(v), d.blockEnd(v)
	}
	start := d.offset(v.GetToken().Position)
	return start, scalarEnd(d.src, start, inFlow)
}

// blockStart is where a block collection's text starts: its first key, or
// its first dash.
func (d *yamlDoc) blockStart(v ast.Node) int {
	if es := entries(v); len(es) > 0 {
		return d.offset(es[0].Key.GetToken().Position)
	}
	return d.offset(v.GetToken().Position)
}

// blockEnd is the end of the last line any token of n is on.
func (d *yamlDoc) blockEnd(n ast.Node) int {
	last := 0
	ast.Walk(visitFunc(func(x ast.Node) {
		if _, ok := x.(*ast.CommentGroupNode); ok {
			return
		}
		tk := x.GetToken()
		if tk == nil {
			return
		}
		l := tk.Position.Line + strings.Count(strings.TrimSpace(tk.Origin), "\n")
		if l > last {
			last = l
		}
	}), n)
	if last-1 >= len(d.lines) {
		return len(d.src)
	}
	return d.lineEnd(d.lines[last-1])
}

type visitFunc func(ast.Node)

func (f visitFunc) Visit(n ast.Node) ast.Visitor { f(n); return f }

// matchBracket finds the bracket closing the one at start, minding quotes.
func matchBracket(src []byte, start int) int {
	depth := 0
	for i := start; i < len(src); i++ {
		switch src[i] {
		case '"', '\'':
			i = quoteEnd(src, i)
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return len(src) - 1
}

// quoteEnd is the index of the quote closing the one at i.
func quoteEnd(src []byte, i int) int {
	q := src[i]
	for j := i + 1; j < len(src); j++ {
		switch {
		case q == '"' && src[j] == '\\':
			j++
		case src[j] == q && q == '\'' && j+1 < len(src) && src[j+1] == '\'':
			j++
		case src[j] == q:
			return j
		}
	}
	return len(src) - 1
}

// scalarEnd is where a scalar starting at start ends: its closing quote, or
// before a comment, a flow separator or the line's end.
func scalarEnd(src []byte, start int, inFlow bool) int {
	if start < len(src) && (src[start] == '"' || src[start] == '\'') {
		return quoteEnd(src, start) + 1
	}
	end := start
	for end < len(src) && src[end] != '\n' {
		c := src[end]
		if inFlow && (c == ',' || c == '}' || c == ']') {
			break
		}
		if c == '#' && end > start && (src[end-1] == ' ' || src[end-1] == '\t') {
			break
		}
		end++
	}
	for end > start && (src[end-1] == ' ' || src[end-1] == '\t' || src[end-1] == '\r') {
		end--
	}
	return end
}

// indentOf is the spaces before the column of n's first key (or token).
func (d *yamlDoc) indentOf(off int) string {
	return strings.Repeat(" ", utf8.RuneCount(d.src[d.lineStart(off):off]))
}

// setKey sets the value at path to rendered YAML text, adding the key (and
// its missing parents) when it is not there.
func (d *yamlDoc) setKey(path string, value any) (*yamlDoc, error) {
	segs := splitKey(path)
	kv, container, found := d.locate(segs)
	if kv != nil {
		inFlow := isFlow(container)
		start, end := d.valueRange(kv, inFlow)
		v := kv.Value
		blockColl := v != nil && (v.Type() == ast.MappingType || v.Type() == ast.SequenceType) && !isFlow(v)
		if start != end && !blockColl {
			return d.splice(start, end, renderYAML(value, v))
		}
		// A null or a block collection: the new value goes after the colon
		// (a new mapping below the key's line, after any comment).
		colon := d.offset(kv.GetToken().Position) + 1
		if om, ok := value.(orderedMap); ok && !inFlow && start == end {
			at := d.lineEnd(colon)
			return d.splice(at, at, renderBlock(om, d.indentOf(d.offset(kv.Key.GetToken().Position))+"  "))
		}
		return d.splice(colon, end, " "+renderYAML(value, v))
	}
	if container != nil && container.Type() == ast.NullType && found > 0 {
		// The section is there but empty: give it the mapping.
		for i := len(segs) - 1; i >= found; i-- {
			value = orderedMap{{segs[i].key, value}}
		}
		return d.setKey(joinKey(segs[:found]), value)
	}
	if container == nil {
		return nil, fmt.Errorf("cannot set %s: %s is not in the file", path, segs[found].host)
	}
	// Wrap the value in the keys that are missing below the first one.
	for i := len(segs) - 1; i > found; i-- {
		value = orderedMap{{segs[i].key, value}}
	}
	return d.insertKey(container, segs[found].key, value)
}

func joinKey(segs []keySeg) string {
	parts := make([]string, len(segs))
	for i, s := range segs {
		parts[i] = s.key
		if s.host != "" {
			parts[i] += "[" + s.host + "]"
		}
	}
	return strings.Join(parts, ".")
}

// insertKey adds key: value as the last pair of the mapping n (the root,
// a section or a host), in its style and indentation.
func (d *yamlDoc) insertKey(n ast.Node, key string, value any) (*yamlDoc, error) {
	es := entries(n)
	switch {
	case n == nil || len(es) == 0 && !isFlow(n):
		return nil, fmt.Errorf("cannot add %s: its section is empty or not a mapping", key)
	case isFlow(n):
		close := matchBracket(d.src, d.offset(n.GetToken().Position))
		if len(es) == 0 {
			return d.splice(close, close, key+": "+renderYAML(value, nil))
		}
		_, end := d.valueRange(es[len(es)-1], true)
		return d.splice(end, end, ", "+key+": "+renderYAML(value, nil))
	}
	last := es[len(es)-1]
	indent := d.indentOf(d.offset(es[0].Key.GetToken().Position))
	_, end := d.valueRange(last, false)
	if last.Value != nil && (last.Value.Type() == ast.MappingType || last.Value.Type() == ast.SequenceType) && !isFlow(last.Value) {
		end = d.blockEnd(last.Value)
	}
	end = d.lineEnd(end)
	line := "\n" + indent + key + ":" + renderBlock(value, indent+"  ")
	return d.splice(end, end, line)
}

// deleteKey removes a key and its value (a zero value is left out of the file).
func (d *yamlDoc) deleteKey(path string) (*yamlDoc, error) {
	kv, container, _ := d.locate(splitKey(path))
	if kv == nil {
		return d, nil
	}
	if isFlow(container) {
		start := d.offset(kv.Key.GetToken().Position)
		_, end := d.valueRange(kv, true)
		return d.cutFlowItem(start, end)
	}
	start := d.lineStart(d.offset(kv.Key.GetToken().Position))
	_, end := d.valueRange(kv, false)
	if kv.Value != nil && (kv.Value.Type() == ast.MappingType || kv.Value.Type() == ast.SequenceType) && !isFlow(kv.Value) {
		end = d.blockEnd(kv.Value)
	}
	end = d.lineEnd(end)
	if end < len(d.src) {
		end++
	}
	if lead := strings.TrimSpace(string(d.src[start:d.offset(kv.Key.GetToken().Position)])); lead != "" {
		// "- key: v" opens a list item: keep the dash for the next key.
		return d.splice(d.offset(kv.Key.GetToken().Position), end, "")
	}
	return d.splice(start, end, "")
}

// cutFlowItem removes src[start:end] from a flow collection with one comma.
func (d *yamlDoc) cutFlowItem(start, end int) (*yamlDoc, error) {
	after := end
	for after < len(d.src) && (d.src[after] == ' ' || d.src[after] == '\t') {
		after++
	}
	if after < len(d.src) && d.src[after] == ',' {
		after++
		for after < len(d.src) && (d.src[after] == ' ' || d.src[after] == '\t') {
			after++
		}
		return d.splice(start, after, "")
	}
	before := start
	for before > 0 && (d.src[before-1] == ' ' || d.src[before-1] == '\t') {
		before--
	}
	if before > 0 && d.src[before-1] == ',' {
		before--
	}
	return d.splice(before, end, "")
}

// addHost appends a host to the hosts list, in the list's style.
func (d *yamlDoc) addHost(h HostSpec) (*yamlDoc, error) {
	fields := hostFields(h)
	kv := lookup(d.root(), "hosts")
	if kv == nil || kv.Value == nil || kv.Value.Type() == ast.NullType {
		if kv != nil {
			at := d.lineEnd(d.offset(kv.GetToken().Position))
			return d.splice(at, at, "\n  - "+renderPairs(fields, "    "))
		}
		return d.insertKey(d.root(), "hosts", []orderedMap{fields})
	}
	seq, ok := kv.Value.(*ast.SequenceNode)
	if !ok {
		return nil, fmt.Errorf("cannot add host %s: hosts is not a list", h.Name)
	}
	if seq.IsFlowStyle || len(seq.Values) == 0 {
		close := matchBracket(d.src, d.offset(seq.GetToken().Position))
		sep := ", "
		if len(seq.Values) == 0 {
			sep = ""
		}
		return d.splice(close, close, sep+renderYAML(fields, nil))
	}
	dash := d.offset(seq.GetToken().Position)
	indent := d.indentOf(dash)
	end := d.lineEnd(d.blockEnd(seq))
	return d.splice(end, end, "\n"+indent+"- "+renderPairs(fields, indent+"  "))
}

// removeHost drops a host's item from the hosts list.
func (d *yamlDoc) removeHost(name string) (*yamlDoc, error) {
	kv := lookup(d.root(), "hosts")
	if kv == nil {
		return d, nil
	}
	seq, ok := kv.Value.(*ast.SequenceNode)
	_, item := hostItem(kv.Value, name)
	if !ok || item == nil {
		return d, nil
	}
	if seq.IsFlowStyle {
		start := d.offset(item.GetToken().Position)
		if isFlow(item) {
			return d.cutFlowItem(start, matchBracket(d.src, start)+1)
		}
		return nil, fmt.Errorf("cannot remove host %s: write its list in block style", name)
	}
	keyAt := d.blockStart(item)
	start := d.lineStart(keyAt)
	if !strings.Contains(string(d.src[start:keyAt]), "-") && start > 0 {
		start = d.lineStart(start - 1) // "-" alone on the line above
	}
	end := d.lineEnd(d.blockEnd(item))
	if end < len(d.src) {
		end++
	}
	return d.splice(start, end, "")
}
