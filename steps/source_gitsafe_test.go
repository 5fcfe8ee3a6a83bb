package steps

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The source probe runs here on a real git checkout whose own config names
// programs: the ones the -c flags switch off are not run, and the ones they
// cannot switch off (a clean filter) make the probe refuse the checkout
// before any git command reads the index.
func TestSourceProbeRunsNothingTheCheckoutNames(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	dir := t.TempDir()
	repo := filepath.Join(dir, "checkout")
	gitc := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@t", "-C", repo}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	os.MkdirAll(repo, 0o755)
	gitc("init", "-q")
	os.WriteFile(filepath.Join(repo, "a"), []byte("a\n"), 0o644)
	gitc("add", "a")
	gitc("commit", "-qm", "a")
	pwned := filepath.Join(dir, "pwned")
	gitc("config", "core.fsmonitor", "touch "+pwned+"-fsmonitor; false #")
	gitc("config", "core.sshCommand", "touch "+pwned+"-ssh; false #")
	os.WriteFile(filepath.Join(repo, ".git", "hooks", "post-checkout"), []byte("#!/bin/sh\ntouch "+pwned+"-hook\n"), 0o755)
	os.WriteFile(filepath.Join(repo, "a"), []byte("changed\n"), 0o644)

	probe := func() sourceState {
		cmd := exec.Command("sh", "-s")
		cmd.Env = append(os.Environ(), "AG_PATH="+repo, "AG_REPO=ssh://git@127.0.0.1:1/none.git", "AG_REF=master")
		cmd.Stdin = strings.NewReader(sourceProbeScript)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return parseSource(string(out))
	}
	src := probe()
	if src.state != "checkout" || src.unsafe != "" || len(src.changed) != 1 {
		t.Fatalf("probe: %+v", src)
	}
	// checkout runs the post-checkout hook, fsmonitor and the filter below
	cmd := exec.Command("sh", "-c", gitCmd+"-C "+repo+" checkout -q -- a")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if m, _ := filepath.Glob(pwned + "*"); len(m) > 0 {
		t.Fatalf("git ran what the checkout's config names: %v", m)
	}

	gitc("config", "filter.x.clean", "touch "+pwned+"-filter; cat")
	os.WriteFile(filepath.Join(repo, ".git", "info", "attributes"), []byte("* filter=x\n"), 0o644)
	os.WriteFile(filepath.Join(repo, "a"), []byte("changed again\n"), 0o644)
	src = probe()
	if !strings.HasPrefix(src.unsafe, "filter.x.clean=") {
		t.Fatalf("filter not refused: %+v", src)
	}
	if m, _ := filepath.Glob(pwned + "*"); len(m) > 0 {
		t.Fatalf("git ran what the checkout's config names: %v", m)
	}
}

// The deploy check runs the git config guard before anything else in the
// checkout: with no checkout yet it says so (the deploy is to do), a clean
// checkout passes, and a clean filter is named.
func TestGitConfigGuardAnswers(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	dir := t.TempDir()
	repo := filepath.Join(dir, "checkout")
	c := &Cluster{Source: SourceSpec{Path: repo}}
	guard := func() error {
		t.Helper()
		cmd := exec.Command("sh", "-s")
		cmd.Env = append(os.Environ(), "AG_PATH="+repo)
		cmd.Stdin = strings.NewReader(checkGitConfigScript)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("guard: %v\n%s", err, out)
		}
		return gitConfigAnswer(c, string(out))
	}
	if err := guard(); !errors.Is(err, errNoCheckout) || !strings.Contains(err.Error(), repo) {
		t.Fatalf("no folder: %v", err)
	}
	os.MkdirAll(repo, 0o755)
	if err := guard(); !errors.Is(err, errNoCheckout) {
		t.Fatalf("empty folder: %v", err)
	}
	testGit(t, repo, "init", "-q")
	if err := guard(); err != nil {
		t.Fatalf("clean checkout: %v", err)
	}
	testGit(t, repo, "config", "filter.x.clean", "touch pwned")
	if err := guard(); err == nil || errors.Is(err, errNoCheckout) || !strings.Contains(err.Error(), "filter.x.clean") {
		t.Fatalf("clean filter: %v", err)
	}
}
