//go:build lab

package steps

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"aginstall/internal/labtest"
)

// labEnvAsSudoUser is the lab's root-road cluster file (its identity: line:
// no ssh-agent here) with every host reached as the sudo user (password sudo).
func labEnvAsSudoUser(t *testing.T, lab *labtest.Lab) *Env {
	t.Helper()
	data, err := os.ReadFile(lab.ClusterFileRoot)
	if err != nil {
		t.Fatal(err)
	}
	data = regexp.MustCompile(`(?m)^(\s+user:) .*$`).ReplaceAll(data, []byte("${1} "+lab.SudoUser))
	return labEnvFromData(t, lab, data)
}

// A read-only review runs git as root in the checkout; the checkout's own
// core.fsmonitor (anyone who can write the checkout can set it) must not run.
// A plain `git status` in the same checkout does run it: the config is live.
func TestGitConfigNotRunByReviewLab(t *testing.T) {
	lab := labtest.Load(t)
	lab.Reset(t)
	// The hostile config stays in the shared checkout, which later tests
	// would meet on hosts that look bare (no Docker): leave fresh hosts.
	t.Cleanup(func() { lab.Reset(t) })
	ctx := labCtx(t)
	env := labEnvAsSudoUser(t, lab)
	en := &Engine{Env: env, Steps: All()}
	for _, id := range []string{"discover", "source"} {
		s, _ := ByID(id)
		start := time.Now()
		if err := en.ApplyStep(ctx, s); err != nil {
			t.Fatalf("apply %s: %v", id, err)
		}
		t.Logf("apply %s: %s", id, time.Since(start).Round(time.Millisecond))
	}
	path := env.Cluster.Source.Path
	labSh(t, lab, "node1", `git -C `+path+` config core.fsmonitor "touch /tmp/pwned-fsmonitor; false #" &&
		git -C `+path+`/autograder-server config core.fsmonitor "touch /tmp/pwned-fsmonitor-sub; false #" &&
		touch `+path+`/README.md && rm -f /tmp/pwned-*`)

	start := time.Now()
	reports := en.Review(ctx)
	t.Logf("review: %s", time.Since(start).Round(time.Millisecond))
	for _, r := range reports {
		if r.ID == "source" {
			t.Logf("source: %s %+v", r.Status, r.Checks)
			if r.Status != Done {
				t.Errorf("source is %s, want done (fsmonitor is switched off, not refused)", r.Status)
			}
		}
	}
	if got := labSh(t, lab, "node1", "ls /tmp/pwned-* 2>/dev/null || true"); strings.TrimSpace(got) != "" {
		t.Fatalf("review ran the checkout's core.fsmonitor as root: %s", got)
	}
	// Control: git without the flags runs it, so the review's silence counts.
	labSh(t, lab, "node1", `git -c safe.directory='*' -C `+path+` status --porcelain >/dev/null 2>&1 || true`)
	if got := labSh(t, lab, "node1", "ls /tmp/pwned-* 2>/dev/null || true"); !strings.Contains(got, "/tmp/pwned-fsmonitor") {
		t.Fatalf("control: plain git status did not run core.fsmonitor either (%q): the test proves nothing", got)
	}

	// A clean filter cannot be switched off by name: review reports the
	// checkout as drifted and apply refuses it, and neither runs it.
	labSh(t, lab, "node1", `rm -f /tmp/pwned-* && git -C `+path+` config filter.x.clean "touch /tmp/pwned-filter; cat" &&
		echo '* filter=x' > `+path+`/.git/info/attributes && touch `+path+`/README.md`)
	var source HostCheck
	for _, r := range en.Review(ctx) {
		if r.ID == "source" {
			source = r.Checks[0]
		}
	}
	if source.Status != Drifted || !strings.Contains(source.Reason, "filter.x.clean") {
		t.Errorf("source check with a clean filter: %+v", source)
	}
	s, _ := ByID("source")
	if err := en.ApplyStep(ctx, s); err == nil || !strings.Contains(err.Error(), "filter.x.clean") {
		t.Errorf("apply with a clean filter: %v", err)
	}
	if got := labSh(t, lab, "node1", "ls /tmp/pwned-* 2>/dev/null || true"); strings.TrimSpace(got) != "" {
		t.Fatalf("the clean filter ran as root: %s", got)
	}
}
