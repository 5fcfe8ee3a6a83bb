package steps

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// SetHostLabels writes a host's labels into the cluster file as one flow list
// (`labels: [a, b]`), replacing only that host's labels lines, so the next
// apply keeps what relabel changed and the operator's comments stay.
func SetHostLabels(data []byte, host string, labels []string) ([]byte, error) {
	file, idx, err := locateHost(data, host, "record the labels")
	if err != nil {
		return nil, err
	}
	for _, l := range labels {
		if !labelRe.MatchString(l) {
			return nil, fmt.Errorf("cannot record the labels of %s: %q is not a valid label name", host, l)
		}
	}
	flow := "[" + strings.Join(labels, ", ") + "]"
	lines := bytes.SplitAfter(data, []byte("\n"))
	if n := findNode(file, fmt.Sprintf("$.hosts[%d].labels", idx)); n != nil {
		first := n.GetToken().Position.Line - 1
		last := first
		if seq, ok := n.(*ast.SequenceNode); ok && !seq.IsFlowStyle {
			// A block list: its key is on the line above the first item; the
			// items run to the last value's line.
			for _, v := range seq.Values {
				if l := v.GetToken().Position.Line - 1; l > last {
					last = l
				}
			}
			first = keyLine(lines, first, "labels:")
		} else {
			first = keyLine(lines, first, "labels:")
		}
		old := string(lines[first])
		col := strings.Index(old, "labels:") + len("labels:")
		comment := ""
		if first == last {
			comment = strings.TrimSuffix(afterFlowList(old[col:]), "\n")
		}
		end := "\n"
		if !strings.HasSuffix(string(lines[last]), "\n") {
			end = ""
		}
		repl := []byte(old[:col] + " " + flow + comment + end)
		out := append([][]byte{}, lines[:first]...)
		out = append(out, repl)
		out = append(out, lines[last+1:]...)
		return bytes.Join(out, nil), nil
	}
	return insertBelowName(file, lines, idx, "labels: "+flow)
}

// keyLine finds the line holding key at or above line i.
func keyLine(lines [][]byte, i int, key string) int {
	for j := i; j >= 0; j-- {
		if strings.Contains(string(lines[j]), key) {
			return j
		}
	}
	return i
}

// afterFlowList returns what follows a one-line flow list (spacing and comment).
func afterFlowList(s string) string {
	t := strings.TrimLeft(s, " ")
	if strings.HasPrefix(t, "[") {
		if i := strings.Index(t, "]"); i >= 0 {
			return t[i+1:]
		}
	}
	return afterScalar(s)
}
