package edit

import (
	"fmt"
	"strings"
)

// UnifiedDiff is the diff shown in the plan: a/ and b/ prefixes, 3 lines of
// context, GNU-style hunk headers and "\ No newline at end of file". It is
// a small LCS diff written here (the files are a few hundred lines):
// github.com/aymanbagabas/go-udiff v0.4.1 miscounts the new side's start
// line of a hunk that follows a multi-line change. "" if old == new.
func UnifiedDiff(path string, old, new []byte) string {
	if string(old) == string(new) {
		return ""
	}
	a, b := diffLines(string(old)), diffLines(string(new))
	ops := lineOps(a, b)
	var out strings.Builder
	fmt.Fprintf(&out, "--- a/%s\n+++ b/%s\n", path, path)
	const ctx = 3
	for i := 0; i < len(ops); {
		if ops[i].kind == ' ' {
			i++
			continue
		}
		// A hunk runs from ctx lines before this change to ctx lines after
		// the last change that is at most 2*ctx equal lines further on.
		start := max(0, i-ctx)
		end := i
		for j := i; j < len(ops); j++ {
			if ops[j].kind != ' ' {
				end = j
			} else if j-end > 2*ctx {
				break
			}
		}
		end = min(len(ops), end+ctx+1)
		var body strings.Builder
		na, nb := 0, 0
		for _, op := range ops[start:end] {
			s := op.text
			if op.kind != '+' {
				na++
			}
			if op.kind != '-' {
				nb++
			}
			body.WriteByte(op.kind)
			body.WriteString(s)
			if !strings.HasSuffix(s, "\n") {
				body.WriteString("\n\\ No newline at end of file\n")
			}
		}
		fmt.Fprintf(&out, "@@ -%s +%s @@\n%s", hunkRange(ops[start].a, na), hunkRange(ops[start].b, nb), body.String())
		i = end
	}
	return out.String()
}

type lineOp struct {
	kind byte   // ' ', '-' or '+'
	a, b int    // 0-based index of the line in old / new where the op starts
	text string // the line with its ending
}

func diffLines(s string) []string {
	l := strings.SplitAfter(s, "\n")
	if l[len(l)-1] == "" {
		l = l[:len(l)-1]
	}
	return l
}

// lineOps is an LCS line diff; common head and tail are trimmed first, and
// a very large middle is shown as one replacement rather than computed.
func lineOps(a, b []string) []lineOp {
	var ops []lineOp
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		ops = append(ops, lineOp{' ', p, p, a[p]})
		p++
	}
	s := 0
	for s < len(a)-p && s < len(b)-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	ma, mb := a[p:len(a)-s], b[p:len(b)-s]
	n, m := len(ma), len(mb)
	if n*m > 4_000_000 {
		for i, l := range ma {
			ops = append(ops, lineOp{'-', p + i, p, l})
		}
		for j, l := range mb {
			ops = append(ops, lineOp{'+', p + n, p + j, l})
		}
	} else {
		lcs := make([][]int32, n+1)
		for i := range lcs {
			lcs[i] = make([]int32, m+1)
		}
		for i := n - 1; i >= 0; i-- {
			for j := m - 1; j >= 0; j-- {
				if ma[i] == mb[j] {
					lcs[i][j] = lcs[i+1][j+1] + 1
				} else {
					lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
				}
			}
		}
		i, j := 0, 0
		for i < n || j < m {
			switch {
			case i < n && j < m && ma[i] == mb[j]:
				ops = append(ops, lineOp{' ', p + i, p + j, ma[i]})
				i, j = i+1, j+1
			case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
				ops = append(ops, lineOp{'-', p + i, p + j, ma[i]})
				i++
			default:
				ops = append(ops, lineOp{'+', p + i, p + j, mb[j]})
				j++
			}
		}
	}
	for k := 0; k < s; k++ {
		ia, ib := len(a)-s+k, len(b)-s+k
		ops = append(ops, lineOp{' ', ia, ib, a[ia]})
	}
	return ops
}

// hunkRange is GNU diff's "start,count": the count is left out when it is
// 1, and an empty range starts at the line before it.
func hunkRange(start0, n int) string {
	switch n {
	case 0:
		return fmt.Sprintf("%d,0", start0)
	case 1:
		return fmt.Sprint(start0 + 1)
	}
	return fmt.Sprintf("%d,%d", start0+1, n)
}
