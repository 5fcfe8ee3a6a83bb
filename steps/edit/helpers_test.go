package edit

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/edit/golden")

var releases = []string{"3a61956", "ba242ac"}

const testdata = "../../testdata/edit"

// upstreamDir prefers the copy in testdata (tests run without shared/) and
// falls back to ../../../shared/upstream (where CI keeps shared/).
func upstreamDir(t testing.TB) string {
	for _, d := range []string{testdata + "/upstream", "../../../shared/upstream"} {
		if _, err := os.Stat(filepath.Join(d, "ba242ac/docker-compose.yml")); err == nil {
			return d
		}
	}
	t.Skip("no upstream files: neither testdata/edit/upstream nor ../shared/upstream")
	return ""
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// releaseFiles is a checkout of one release: its compose and nginx files,
// _prod.env (ba242ac's submodule commit is not available; upstream's file
// is identical in every available commit, so 3a61956's is used) and the
// constants fixtures.
func releaseFiles(t testing.TB, r string) map[string][]byte {
	up := upstreamDir(t)
	env := filepath.Join(up, r, ProdEnvFile)
	if _, err := os.Stat(env); err != nil {
		env = filepath.Join(up, "3a61956", ProdEnvFile)
	}
	return map[string][]byte{
		ComposeFile:     readFile(t, filepath.Join(up, r, ComposeFile)),
		NginxFile:       readFile(t, filepath.Join(up, r, NginxFile)),
		ProdEnvFile:     readFile(t, env),
		ConstantsPyFile: readFile(t, testdata+"/fixtures/constants.py"),
		ConstantsTSFile: readFile(t, testdata+"/fixtures/constants.ts"),
	}
}

// full sets every field to a value unlike the upstream one (except
// tiny_grader, whose -c 1 is already right: it must not change).
func full() Settings {
	return Settings{
		GunicornWorkers: 9,
		CeleryConcurrency: map[string]int{
			"grader": 6, "fast_grader": 3, "deferred_grader": 1, "rerun_grader": 1,
			"tiny_grader": 1, "tiny_fast_grader": 2, "celery_small_tasks": 8,
		},
		ClientMaxBodySize:    "100M",
		MaxSubprocessTimeout: 300,
		SysadminContact:      "EECS staff <help@example.edu> — O'Brien's \"desk\" \\ room 42\n$(rm -rf /)",
		Domain:               "ag.example.edu",
		TLSCert:              "/etc/letsencrypt/live/ag.example.edu/fullchain.pem",
		TLSKey:               "/etc/letsencrypt/live/ag.example.edu/privkey.pem",
		PostgresImage:        "postgres:16",
		DBPassword:           "Zq3-xT_9vLm2pRk7",
		OAuthProvider:        "azure",
		PublishMode:          "host",
		UncommentTiny:        true,
	}
}

// changedLines is the set of 1-based lines of old that a line diff (LCS)
// of old and new does not keep: the lines an edit touched.
func changedLines(old, new []byte) []int {
	a := strings.SplitAfter(string(old), "\n")
	b := strings.SplitAfter(string(new), "\n")
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []int
	for i, j := 0, 0; i < n; {
		switch {
		case j < m && a[i] == b[j]:
			i, j = i+1, j+1
		case j < m && lcs[i][j+1] >= lcs[i+1][j]:
			j++
		default:
			if a[i] != "" {
				out = append(out, i+1)
			}
			i++
		}
	}
	return out
}

func lineSet(ls ...[]int) []int {
	var out []int
	for _, l := range ls {
		out = append(out, l...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	path = filepath.Join(testdata, "golden", path)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from golden:\n%s", path, UnifiedDiff(path, want, got))
	}
}
