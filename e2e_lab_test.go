//go:build lab

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"aginstall/internal/labtest"
	"aginstall/steps"
)

// labClusterCopy copies the lab's cluster file into dir (mode 0600), so a
// test's run keeps its own state, pins and logs beside it; it returns the
// copy's path and content.
func labClusterCopy(t *testing.T, lab *labtest.Lab, dir string) (string, []byte) {
	t.Helper()
	data, err := os.ReadFile(lab.ClusterFile)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "aginstall.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, data
}

// TestEndToEnd installs the stand-in autograder stack on the lab's bare hosts
// with the real binary, reviews it, applies again (which must change nothing),
// and then asks the hosts themselves — not our state — what is there.
func TestEndToEnd(t *testing.T) {
	lab := labtest.Load(t)
	lab.Reset(t) // bare hosts: the install starts from nothing
	dir := t.TempDir()
	bin := testBinary(t)
	cluster, data := labClusterCopy(t, lab, dir)
	known := filepath.Join(dir, "known_hosts")
	run := func(args ...string) (string, error) {
		args = append(args, "-f", cluster, "--known-hosts", known, "--ssh-config", "none")
		cmd := exec.Command(bin, args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		err := cmd.Run()
		t.Logf("aginstall %s: %s", strings.Join(args[:2], " "), time.Since(start).Round(time.Second))
		return out.String(), err
	}

	// 0. The plan on bare hosts lists every step and changes nothing.
	out, err := run("plan")
	if err != nil {
		t.Fatalf("plan failed: %v\n%s", err, tail(out, 60))
	}
	for _, s := range steps.All() {
		if !strings.Contains(out, "- | "+s.ID()+" | "+s.Title()+": ") {
			t.Errorf("the plan does not list step %s:\n%s", s.ID(), tail(out, 30))
		}
	}
	for _, want := range []string{"node1 | docker | ", "node2 | swarm | join the swarm as a worker", "node1 | settings | edit docker-compose.yml"} {
		if !strings.Contains(out, want) {
			t.Errorf("the plan lacks %q", want)
		}
	}
	if docker, _ := lab.Exec(t, "node1", "sh", "-c", "command -v docker || true"); strings.TrimSpace(docker) != "" {
		t.Fatalf("the plan installed docker on node1: %q", docker)
	}

	// 1. From bare hosts to the deployed stack with a course and its admin.
	out, err = run("apply", "--yes")
	if err != nil {
		t.Fatalf("first apply failed: %v\n%s", err, tail(out, 80))
	}
	logs := latestLog(t, dir)

	// 2. Review: every step done on every host.
	out, err = run("review", "--json")
	if err != nil {
		t.Fatalf("review: %v\n%s", err, tail(out, 40))
	}
	var review struct {
		Steps []steps.StepReport `json:"steps"`
	}
	if err := json.Unmarshal([]byte(jsonPart(out)), &review); err != nil {
		t.Fatalf("review JSON: %v\n%s", err, out)
	}
	if len(review.Steps) != len(steps.All()) {
		t.Fatalf("review lists %d steps, the engine has %d", len(review.Steps), len(steps.All()))
	}
	for _, s := range review.Steps {
		for _, c := range s.Checks {
			if c.Status != steps.Done {
				t.Errorf("review: %s on %s is %s: %s", s.ID, c.Host, c.Status, c.Reason)
			}
		}
	}

	// 3. A second apply runs no mutating command, by the runner's own record (the log).
	out, err = run("apply", "--yes")
	if err != nil {
		t.Fatalf("second apply failed: %v\n%s", err, tail(out, 40))
	}
	second := latestLog(t, dir)
	if second == logs {
		t.Fatal("the second apply wrote no log of its own")
	}
	raw, _ := os.ReadFile(second)
	if m := regexp.MustCompile(`(?m)^.* \| change .*$`).FindAllString(string(raw), -1); len(m) > 0 {
		t.Fatalf("the second apply changed things:\n%s", strings.Join(m, "\n"))
	}

	// 4. The hosts themselves: 3 Ready nodes with the asked labels, the stack converged, the course.
	c, err := steps.ParseCluster(cluster, data)
	if err != nil {
		t.Fatal(err)
	}
	labAssertInstalled(t, lab, c)
}

func latestLog(t *testing.T, dir string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, ".aginstall", "logs", "*.log"))
	if len(files) == 0 {
		t.Fatal("no log written")
	}
	sort.Strings(files)
	return files[len(files)-1]
}

func jsonPart(s string) string {
	if i := strings.Index(s, "{\n"); i >= 0 {
		return s[i:]
	}
	return s
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
