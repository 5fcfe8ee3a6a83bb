package steps

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"aginstall/remote"
)

// The probe's quick reading says what the full reading (git submodule status
// and foreach) says, in every state of the checkout: clean, files edited in
// the checkout and in a submodule (as the settings step leaves it), a
// submodule at another commit, one not initialised (which the full reading
// answers).
func TestSourceProbeCleanAndChanged(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	dir := t.TempDir()
	git := func(repo string, args ...string) string { return testGit(t, repo, args...) }
	sub, top := twoTestRepos(t, dir)
	git(top, "submodule", "add", "-q", sub, "lib")
	git(top, "commit", "-qm", "sub")
	subSHA := git(filepath.Join(top, "lib"), "rev-parse", "HEAD")

	run := func(script string) (sourceState, string) {
		t.Helper()
		cmd := exec.Command("sh", "-s")
		cmd.Env = append(os.Environ(), "AG_PATH="+top, "AG_REPO=ssh://git@127.0.0.1:1/none.git", "AG_REF=master")
		cmd.Stdin = strings.NewReader(script)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return parseSource(string(out)), string(out)
	}
	full := strings.Replace(sourceProbeScript, sourceQuickScript, "", 1)
	if full == sourceProbeScript {
		t.Fatal("the quick reading is not in the probe")
	}
	// The quick and the full reading agree on what the checks use: each
	// submodule's state and path, and the changed files in order.
	probe := func() (sourceState, string) {
		t.Helper()
		src, out := run(sourceProbeScript)
		slow, slowOut := run(full)
		brief := func(subs []string) (b []string) {
			for _, l := range subs {
				if f := strings.Fields(l[1:]); len(f) >= 2 {
					b = append(b, l[:1]+" "+f[1])
				}
			}
			return b
		}
		if !slices.Equal(src.changed, slow.changed) || !slices.Equal(brief(src.subs), brief(slow.subs)) || src.head != slow.head {
			t.Fatalf("quick and full readings differ:\n%s\n---\n%s", out, slowOut)
		}
		return src, out
	}
	src, out := probe()
	if src.state != "checkout" || len(src.changed) != 0 || !slices.Equal(src.subs, []string{" " + subSHA + " lib"}) ||
		!strings.Contains(out, "ls_remote_exit=") || strings.Index(out, "ls_remote_exit=") > strings.Index(out, "state=") {
		t.Fatalf("clean checkout: %+v\n%s", src, out)
	}
	if ok, _ := submodulesReady(src.subs); !ok {
		t.Fatal("clean checkout: submodules not ready")
	}

	os.WriteFile(filepath.Join(top, "lib", "a"), []byte("changed\n"), 0o644)
	os.WriteFile(filepath.Join(top, "a"), []byte("edited\n"), 0o644)
	src, out = probe()
	if !slices.Equal(src.changed, []string{"M a", "M lib", "M lib/a"}) || src.subs[0] != " "+subSHA+" lib" {
		t.Fatalf("files changed in the checkout and the submodule: %+v\n%s", src, out)
	}
	if got := strings.Join(changedFiles(src), ","); got != "a,lib/a" {
		t.Fatalf("changed files %s", got)
	}
	git(filepath.Join(top, "lib"), "checkout", "-q", "--", "a")

	os.WriteFile(filepath.Join(top, "lib", "b"), []byte("b\n"), 0o644)
	git(filepath.Join(top, "lib"), "add", "b")
	git(filepath.Join(top, "lib"), "commit", "-qm", "b")
	src, out = probe()
	if ok, why := submodulesReady(src.subs); ok || !strings.Contains(why, "not at the recorded commit: lib") {
		t.Fatalf("submodule at another commit: %+v\n%s", src, out)
	}
	git(filepath.Join(top, "lib"), "checkout", "-q", subSHA)

	git(top, "submodule", "deinit", "-q", "-f", "lib")
	src, out = probe()
	if ok, why := submodulesReady(src.subs); ok || why != "submodule not initialised: lib" {
		t.Fatalf("submodule not initialised: %+v\n%s", src, out)
	}
}

// The deploy step's fingerprint asks submodule--helper directly: the hash
// must be the one git submodule status gave, or every cluster deployed
// before would look changed and be rebuilt.
func TestDeployFingerprintUnchanged(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	dir := t.TempDir()
	git := func(repo string, args ...string) { testGit(t, repo, args...) }
	sub, top := twoTestRepos(t, dir)
	// What deployCurrent ran before (its hash is in every deployed marker).
	old := func() string {
		g := "GIT_OPTIONAL_LOCKS=0 " + gitSafe
		return fmt.Sprintf("cd %s && %s rev-parse HEAD && { %s submodule status --recursive; for f in %s; do printf '%%s ' \"$f\"; { sha256sum < \"$f\"; } 2>/dev/null || echo absent; done; } | sha256sum",
			remote.Quote(top), g, g, remote.Quote(deployFingerprintFiles()...))
	}
	same := func(what string) {
		t.Helper()
		a, err1 := exec.Command("sh", "-c", old()).CombinedOutput()
		b, err2 := exec.Command("sh", "-c", deployFingerprintLine(remote.Quote(top))).CombinedOutput()
		if err1 != nil || err2 != nil || string(a) != string(b) {
			t.Fatalf("%s: fingerprint changed:\n%s (%v)\n%s (%v)", what, a, err1, b, err2)
		}
		// What deployCurrent runs now: the guard's line, then the same.
		cmd := exec.Command("sh", "-s")
		cmd.Env = append(os.Environ(), "AG_PATH="+top)
		cmd.Stdin = strings.NewReader(deployReadScript())
		r, err3 := cmd.CombinedOutput()
		if err3 != nil || string(r) != "unsafe=\n"+string(a)+deployMarkerSection+"\n"+deployMarkerSection+"-none\n" {
			t.Fatalf("%s: the deploy read says\n%s (%v)\nwant unsafe= and\n%s", what, r, err3, a)
		}
	}
	same("no submodules")
	// The marker comes whole after the fingerprint.
	os.WriteFile(filepath.Join(top, deployMarker), []byte("stack=s\ncommit=c"), 0o600)
	cmd := exec.Command("sh", "-s")
	cmd.Env = append(os.Environ(), "AG_PATH="+top)
	cmd.Stdin = strings.NewReader(deployReadScript())
	if r, err := cmd.CombinedOutput(); err != nil || !strings.HasSuffix(string(r), "\n"+deployMarkerSection+"\nstack=s\ncommit=c") {
		t.Fatalf("with a marker: %q %v", r, err)
	}
	os.Remove(filepath.Join(top, deployMarker))
	git(top, "submodule", "add", "-q", sub, "lib")
	git(top, "commit", "-qm", "sub")
	same("one submodule")
	os.WriteFile(filepath.Join(top, "lib", "b"), []byte("b\n"), 0o644)
	git(filepath.Join(top, "lib"), "add", "b")
	git(filepath.Join(top, "lib"), "commit", "-qm", "b")
	same("a submodule at another commit")
}

// testGit runs git in repo with a throwaway identity and returns its output.
func testGit(t *testing.T, repo string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@t", "-c", "protocol.file.allow=always", "-C", repo}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// twoTestRepos makes dir/sub and dir/top, each with one commit of a file "a".
func twoTestRepos(t *testing.T, dir string) (sub, top string) {
	t.Helper()
	sub, top = filepath.Join(dir, "sub"), filepath.Join(dir, "top")
	for _, r := range []string{sub, top} {
		os.MkdirAll(r, 0o755)
		testGit(t, r, "init", "-q")
		os.WriteFile(filepath.Join(r, "a"), []byte("a\n"), 0o644)
		testGit(t, r, "add", "a")
		testGit(t, r, "commit", "-qm", "a")
	}
	return sub, top
}
