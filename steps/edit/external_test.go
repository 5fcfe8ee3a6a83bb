package edit

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"
)

// A real JS engine agrees with tsQuote (skipped without node).
func TestTSQuoteWithNode(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	vals := append([]string{"\U0001F600\u0301", "\u0085\u00a0\u2066x\u2069", "\x7f\x1b[31m", "\\n", "a\\\nb"}, nasty...)
	var src strings.Builder
	src.WriteString("const v = [\n")
	var want [][]uint16
	for _, v := range vals {
		if len(Validate(Settings{SysadminContact: v})) > 0 {
			continue
		}
		src.WriteString(tsQuote(v) + ",\n")
		want = append(want, utf16.Encode([]rune(v)))
	}
	src.WriteString("];\nconsole.log(JSON.stringify(v.map(s => Array.from({length: s.length}, (_, i) => s.charCodeAt(i)))));\n")
	f := filepath.Join(t.TempDir(), "q.js")
	if err := os.WriteFile(f, []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(node, f).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	var got [][]uint16
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("node returned %d strings, want %d", len(got), len(want))
	}
	for i := range want {
		if string(utf16.Decode(got[i])) != string(utf16.Decode(want[i])) {
			t.Errorf("%d: node reads %q, want %q", i, string(utf16.Decode(got[i])), string(utf16.Decode(want[i])))
		}
	}
}

// UnifiedDiff's hunks match GNU diff -u (skipped without diff).
func TestUnifiedDiffMatchesGNU(t *testing.T) {
	if _, err := exec.LookPath("diff"); err != nil {
		t.Skip("diff not installed")
	}
	in := releaseFiles(t, "3a61956")
	out, _, err := ApplyAll(in, full())
	if err != nil {
		t.Fatal(err)
	}
	pairs := [][2]string{
		{"a\nb\nc", "a\nB\nc"},   // no final newline on either side
		{"a\nb\nc\n", "a\nb\nc"}, // newline removed
		{"", "x\n"}, {"x\n", ""}, // empty sides
		{"1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n16\n", "1\nX\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\nY\nZ\n15\n16\n"},
	}
	for _, f := range Files {
		pairs = append(pairs, [2]string{string(in[f]), string(out[f])})
	}
	dir := t.TempDir()
	for i, p := range pairs {
		a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
		os.WriteFile(a, []byte(p[0]), 0o644)
		os.WriteFile(b, []byte(p[1]), 0o644)
		gnu, _ := exec.Command("diff", "-u", a, b).Output()
		mine := UnifiedDiff("f", []byte(p[0]), []byte(p[1]))
		// Drop the two header lines (GNU's carry file names and times).
		g := strings.SplitN(string(gnu), "\n", 3)
		m := strings.SplitN(mine, "\n", 3)
		if len(g) < 3 || len(m) < 3 || g[2] != m[2] {
			t.Errorf("pair %d:\nGNU:\n%s\nmine:\n%s", i, gnu, mine)
		}
	}
}
