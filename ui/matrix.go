package ui

import (
	"fmt"
	"slices"
	"strings"

	"aginstall/steps/rules"
)

// matrix is the node × label grid: a row per label, a column per node,
// toggled with the keyboard; the rules' violations are recomputed on each
// change and shown beside it.
type matrix struct {
	nodes  []rules.Node
	labels []string
	row    int
	col    int
	top    int
	viol   []rules.Violation
}

func newMatrix(nodes []rules.Node) *matrix {
	mx := &matrix{nodes: nodes}
	for _, l := range rules.Known {
		mx.labels = append(mx.labels, l.Name)
	}
	for _, n := range nodes {
		for _, l := range n.Labels {
			if !slices.Contains(mx.labels, l) {
				mx.labels = append(mx.labels, l)
			}
		}
	}
	mx.check()
	return mx
}

func (mx *matrix) check() { mx.viol = rules.Check(mx.nodes, nil) }

func (mx *matrix) has(node int, label string) bool {
	return slices.Contains(mx.nodes[node].Labels, label)
}

func (mx *matrix) toggle() {
	if len(mx.nodes) == 0 {
		return
	}
	n := &mx.nodes[mx.col]
	l := mx.labels[mx.row]
	if i := slices.Index(n.Labels, l); i >= 0 {
		n.Labels = slices.Delete(slices.Clone(n.Labels), i, i+1)
	} else {
		n.Labels = append(slices.Clone(n.Labels), l)
	}
	mx.check()
}

func (mx *matrix) suggest(manager string) {
	sug := rules.Suggest(mx.nodes, manager)
	for i := range mx.nodes {
		mx.nodes[i].Labels = slices.Clone(sug[mx.nodes[i].Name])
	}
	mx.check()
}

// assignment is node → labels.
func (mx *matrix) assignment() map[string][]string {
	out := map[string][]string{}
	for _, n := range mx.nodes {
		out[n.Name] = slices.Clone(n.Labels)
	}
	return out
}

func (mx *matrix) errors() int {
	n := 0
	for _, v := range mx.viol {
		if v.Severity == rules.Error {
			n++
		}
	}
	return n
}

func (mx *matrix) move(key string) bool {
	switch key {
	case "up", "k":
		mx.row = max(mx.row-1, 0)
	case "down", "j":
		mx.row = min(mx.row+1, len(mx.labels)-1)
	case "left", "h":
		mx.col = max(mx.col-1, 0)
	case "right", "l":
		mx.col = min(mx.col+1, max(len(mx.nodes)-1, 0))
	case "space", "x":
		mx.toggle()
	default:
		return false
	}
	return true
}

// view draws the grid (left) and the violations (right) in w×h.
func (mx *matrix) view(w, h int, accessible bool) string {
	labelW := 22
	cellW := 4
	for _, n := range mx.nodes {
		cellW = max(cellW, min(len(n.Name)+1, 8))
	}
	gridW := labelW + cellW*len(mx.nodes)
	sideW := w - gridW - 2
	if sideW < 16 { // narrow: shorten the node columns
		cellW = 4
		gridW = labelW + cellW*len(mx.nodes)
		sideW = w - gridW - 2
	}
	rows := h - 1
	if mx.row < mx.top {
		mx.top = mx.row
	}
	if mx.row >= mx.top+rows {
		mx.top = mx.row - rows + 1
	}
	var grid []string
	head := pad("", labelW)
	for _, n := range mx.nodes {
		head += pad(n.Name, cellW)
	}
	grid = append(grid, stHeader.Render(cut(head, gridW)))
	for r := mx.top; r < len(mx.labels) && r < mx.top+rows; r++ {
		line := pad(mx.labels[r], labelW)
		for c := range mx.nodes {
			cell := " · "
			if accessible {
				cell = "[ ]"
			}
			if mx.has(c, mx.labels[r]) {
				cell = stOK.Render(" ● ")
				if accessible {
					cell = "[x]"
				}
			}
			if r == mx.row && c == mx.col {
				cell = stSel.Render("[" + strings.TrimSpace(ansiStrip(cell)) + "]")
			}
			line += cell + strings.Repeat(" ", cellW-3)
		}
		grid = append(grid, line)
	}
	var side []string
	if sideW >= 16 {
		if len(mx.viol) == 0 {
			side = append(side, stOK.Render("Every rule holds."))
		} else {
			side = append(side, stHeader.Render(fmt.Sprintf("%d to look at", len(mx.viol))))
		}
		for _, v := range mx.viol {
			st, mark := stWarn, "advice: "
			if v.Severity == rules.Error {
				st, mark = stErr, "error: "
			}
			for _, l := range strings.Split(wrap(mark+v.Message, sideW), "\n") {
				side = append(side, st.Render(l))
			}
		}
		if l, ok := rules.Lookup(mx.labels[mx.row]); ok {
			side = append(side, "", stDim.Render(mx.labels[mx.row]+":"))
			for _, s := range strings.Split(wrap(l.Description, sideW), "\n") {
				side = append(side, stDim.Render(s))
			}
		}
	}
	var b strings.Builder
	for i := 0; i < h; i++ {
		g, s := "", ""
		if i < len(grid) {
			g = grid[i]
		}
		if i < len(side) {
			s = side[i]
		}
		b.WriteString(pad(g, gridW) + "  " + s)
		if i < h-1 {
			b.WriteByte('\n')
		}
	}
	return b.String()
}
