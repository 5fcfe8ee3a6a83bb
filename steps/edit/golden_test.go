package edit

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The lines full() must change, per release and file (1-based, in the
// given file). Anything else that changes is a bug.
var wantLines = map[string]map[string][]int{
	"3a61956": {
		// ports of nginx (2) and sandboximageregistry, django command, graders, small tasks, postgres image, password,
		// and the first key of every deploy block (endpoint_mode: dnsrr goes above it)
		ComposeFile: {26, 27, 34, 50, 66, 73, 82, 86, 89, 103, 118, 132, 137, 156, 177, 185, 188, 199, 207, 210, 218, 221, 232, 235, 247, 258, 261, 273, 285, 299, 305},
		NginxFile:   {4, 6, 7, 12, 14, 24, 26},
	},
	"ba242ac": {
		ComposeFile: {26, 27, 34, 50, 66, 73, 81, 85, 88, 101, 116, 130, 135, 154, 175, 183, 186, 197, 205, 208, 216, 219, 230, 233, 245, 256, 259, 271, 283, 297, 303},
		NginxFile:   {4, 6, 7, 12, 14, 23, 25},
	},
}

// Of those, the lines above which a new line is inserted (endpoint_mode:
// dnsrr goes above each deploy block's first key): the Changes name them, but
// a line diff sees them unchanged.
var insertedAbove = map[string][]int{
	"3a61956": {34, 50, 73, 89, 103, 118, 137, 156, 177, 188, 199, 210, 221, 235, 247, 261, 273, 285, 305},
	"ba242ac": {34, 50, 73, 88, 101, 116, 135, 154, 175, 186, 197, 208, 219, 233, 245, 259, 271, 283, 303},
}

var wantLinesCommon = map[string][]int{
	ProdEnvFile:     {4, 6, 22, 27},
	ConstantsPyFile: {15},
	ConstantsTSFile: {2, 7},
}

func TestGoldenBothReleases(t *testing.T) {
	for _, r := range releases {
		t.Run(r, func(t *testing.T) {
			in := releaseFiles(t, r)
			plan, err := Plan(in, full())
			if err != nil {
				t.Fatal(err)
			}
			if got := len(plan); got != len(Files) {
				t.Fatalf("plan has %d files, want %d", got, len(Files))
			}
			var diffs strings.Builder
			for i, fe := range plan {
				if fe.Path != Files[i] {
					t.Errorf("plan[%d] is %s, want %s", i, fe.Path, Files[i])
				}
				golden(t, filepath.Join(r, fe.Path), fe.New)
				diffs.WriteString(fe.Diff)

				want := wantLines[r][fe.Path]
				if want == nil {
					want = wantLinesCommon[fe.Path]
				}
				wantDiff := want
				if fe.Path == ComposeFile {
					wantDiff = slices.DeleteFunc(slices.Clone(want), func(n int) bool { return slices.Contains(insertedAbove[r], n) })
				}
				if got := changedLines(fe.Old, fe.New); !slices.Equal(got, wantDiff) {
					t.Errorf("%s: changed lines %v, want %v", fe.Path, got, wantDiff)
				}
				var fromChanges []int
				for _, c := range fe.Changes {
					fromChanges = append(fromChanges, c.Line)
				}
				if got := lineSet(fromChanges); !slices.Equal(got, want) {
					t.Errorf("%s: Changes name lines %v, want %v", fe.Path, got, want)
				}
			}
			golden(t, filepath.Join(r, "plan.diff"), []byte(diffs.String()))
			if strings.Contains(diffs.String(), full().DBPassword) {
				t.Error("the plan's diff shows the database password")
			}
		})
	}
}

// Editing the output again with the same settings changes nothing.
func TestIdempotent(t *testing.T) {
	for _, r := range releases {
		in := releaseFiles(t, r)
		once, _, err := ApplyAll(in, full())
		if err != nil {
			t.Fatal(err)
		}
		twice, ch, err := ApplyAll(once, full())
		if err != nil {
			t.Fatal(err)
		}
		if len(ch) != 0 {
			t.Errorf("%s: second apply made changes: %v", r, ch)
		}
		for _, f := range Files {
			if !bytes.Equal(once[f], twice[f]) {
				t.Errorf("%s: %s changed on the second apply", r, f)
			}
		}
	}
}

// Zero settings change nothing and need no file.
func TestZeroSettings(t *testing.T) {
	if n := Needed(Settings{PublishMode: "ingress"}); len(n) != 0 {
		t.Errorf("Needed = %v", n)
	}
	for _, r := range releases {
		in := releaseFiles(t, r)
		for f, e := range editors {
			tx, err := e.edit(in[f], Settings{})
			if err != nil || !bytes.Equal(tx.bytes(), in[f]) || len(tx.edits) != 0 {
				t.Errorf("%s %s: zero settings: err %v, %d changes", r, f, err, len(tx.edits))
			}
		}
	}
}

// The copy in testdata is verbatim (checked when shared/ is beside the repo).
func TestUpstreamCopyVerbatim(t *testing.T) {
	shared := "../../../shared/upstream"
	if _, err := os.Stat(shared); err != nil {
		t.Skip("no ../shared/upstream")
	}
	for _, r := range releases {
		for _, f := range []string{ComposeFile, NginxFile, ProdEnvFile, "docker-compose-single.yml"} {
			a, errA := os.ReadFile(filepath.Join(shared, r, f))
			b, errB := os.ReadFile(filepath.Join(testdata, "upstream", r, f))
			if (errA == nil) != (errB == nil) || !bytes.Equal(a, b) {
				t.Errorf("%s/%s: testdata copy differs from shared/upstream", r, f)
			}
		}
	}
}
