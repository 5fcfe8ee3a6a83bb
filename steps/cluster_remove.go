package steps

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// RemoveHost deletes one host's entry from the cluster file's hosts list:
// the lines from its "- name:" line to its last value's line, with the
// comments on those lines. Every other line stays byte-identical (comments
// above the next host belong to that host and stay).
func RemoveHost(data []byte, host string) ([]byte, error) {
	file, idx, err := locateHost(data, host, "remove the host")
	if err != nil {
		return nil, err
	}
	hosts, ok := findNode(file, "$.hosts").(*ast.SequenceNode)
	if !ok || hosts.IsFlowStyle {
		return nil, fmt.Errorf("cannot remove host %s: hosts is not a block list (one \"- name:\" entry per host); remove it from the file by hand", host)
	}
	entry := hosts.Values[idx]
	first, last := entry.GetToken().Position.Line-1, entry.GetToken().Position.Line-1
	ast.Walk(lastLine{&last}, entry)
	lines := bytes.SplitAfter(data, []byte("\n"))
	// The entry's dash is on its first key's line (`- name: x`) or alone above it.
	for first > 0 && strings.TrimSpace(string(lines[first])) != "-" && !strings.HasPrefix(strings.TrimSpace(string(lines[first])), "- ") {
		first--
	}
	if last >= len(lines) || first < 0 {
		return nil, fmt.Errorf("cannot remove host %s: unexpected layout of its entry", host)
	}
	out := append([][]byte{}, lines[:first]...)
	out = append(out, lines[last+1:]...)
	return bytes.Join(out, nil), nil
}

// lastLine records the highest (0-based) line of any token under a node.
type lastLine struct{ last *int }

func (v lastLine) Visit(n ast.Node) ast.Visitor {
	if n == nil {
		return nil
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		if l := tk.Position.Line - 1; l > *v.last {
			*v.last = l
		}
	}
	return v
}
