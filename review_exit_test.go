package main

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"aginstall/steps"
)

// review's exit code: 0 only when every check is done (or its step was
// skipped by the operator); 1 for todo, drifted, unknown, failed, or a step
// with no verdict at all.
func TestReviewExit(t *testing.T) {
	c := &steps.Cluster{Name: "t", Path: filepath.Join(t.TempDir(), "aginstall.yaml")}
	st, err := steps.LoadState(c)
	if err != nil {
		t.Fatal(err)
	}
	rep := func(id string, sts ...steps.Status) steps.StepReport {
		r := steps.StepReport{ID: id}
		for i, s := range sts {
			r.Checks = append(r.Checks, steps.HostCheck{Host: "node" + string(rune('1'+i)), Status: s})
		}
		return r
	}
	if err := reviewExit(st, []steps.StepReport{rep("docker", steps.Done, steps.Done), rep("swarm", steps.Done)}); err != nil {
		t.Errorf("all done: %v", err)
	}
	for _, bad := range []steps.Status{steps.Todo, steps.Drifted, steps.Unknown, steps.Failed} {
		err := reviewExit(st, []steps.StepReport{rep("docker", steps.Done, bad)})
		if !errors.Is(err, errNotAllDone) || exitCode(t.Context(), err) != 1 {
			t.Errorf("%s: %v", bad, err)
		}
	}
	if err := reviewExit(st, []steps.StepReport{rep("nfs")}); err == nil {
		t.Error("a step with no verdict is not done")
	}
	if err := st.Set("nfs", &steps.StepState{Status: steps.Skipped, SkipReason: "no NFS here"}); err != nil {
		t.Fatal(err)
	}
	if err := reviewExit(st, []steps.StepReport{rep("nfs", steps.Todo), rep("docker", steps.Done)}); err != nil {
		t.Errorf("a step the operator skipped: %v", err)
	}
}

func TestConsentExitsTwo(t *testing.T) {
	err := &steps.ConsentError{Changes: []steps.DataChange{{Step: "labels", What: "database moves from node1 to node2", SafeWay: "dump, move, restore"}}}
	if code := exitCode(t.Context(), err); code != exitBadInput {
		t.Errorf("exit %d, want 2", code)
	}
	o, err2 := parseArgs([]string{"apply", "--yes", "--allow-data-move"})
	if err2 != nil || !o.allowDataMove || !o.yes || o.command != "apply" {
		t.Errorf("flags: %+v %v", o, err2)
	}
	for _, want := range []string{"--allow-data-move", "review: 0 every check is done; 1 some check is to do, drifted, unknown or failed;"} {
		if !strings.Contains(usage, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}
