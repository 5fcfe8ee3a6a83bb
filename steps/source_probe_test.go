package steps

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The probe's quick reading of a clean checkout says what the full reading
// (git submodule status and foreach) says, and every other state still gets
// the full reading: a file changed in a submodule, a submodule at another
// commit, one not initialised.
func TestSourceProbeCleanAndChanged(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	dir := t.TempDir()
	git := func(repo string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@t", "-c", "protocol.file.allow=always", "-C", repo}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	sub, top := filepath.Join(dir, "sub"), filepath.Join(dir, "top")
	for _, r := range []string{sub, top} {
		os.MkdirAll(r, 0o755)
		git(r, "init", "-q")
		os.WriteFile(filepath.Join(r, "a"), []byte("a\n"), 0o644)
		git(r, "add", "a")
		git(r, "commit", "-qm", "a")
	}
	git(top, "submodule", "add", "-q", sub, "lib")
	git(top, "commit", "-qm", "sub")
	subSHA := git(filepath.Join(top, "lib"), "rev-parse", "HEAD")

	probe := func() (sourceState, string) {
		t.Helper()
		cmd := exec.Command("sh", "-s")
		cmd.Env = append(os.Environ(), "AG_PATH="+top, "AG_REPO=ssh://git@127.0.0.1:1/none.git", "AG_REF=master")
		cmd.Stdin = strings.NewReader(sourceProbeScript)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return parseSource(string(out)), string(out)
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
	src, out = probe()
	if !slices.Contains(src.changed, "M lib/a") || !strings.HasPrefix(src.subs[0], " "+subSHA+" lib") {
		t.Fatalf("file changed in the submodule: %+v\n%s", src, out)
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
