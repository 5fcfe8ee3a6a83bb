//go:build lab

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"

	"aginstall/internal/labtest"
	"aginstall/steps"
)

// TestReviewCleansHostText: an escape sequence (OSC 52, set the clipboard;
// erase line; a carriage return) in the checkout's remote.origin.url does
// not reach plain `review` output nor its JSON; the printable rest does.
// Run as the lab's sudo user, the password on stdin.
func TestReviewCleansHostText(t *testing.T) {
	lab := labtest.Load(t)
	lab.Reset(t)
	dir := t.TempDir()
	bin := testBinary(t)
	// The root road's file (its identity: line), as the sudo user.
	cluster, data := labClusterCopyOf(t, lab.ClusterFileRoot, dir)
	data = regexp.MustCompile(`(?m)^(\s*user:) \S+$`).ReplaceAll(data, []byte("${1} "+lab.SudoUser))
	if err := os.WriteFile(cluster, data, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := steps.ParseCluster(cluster, data)
	if err != nil {
		t.Fatal(err)
	}
	if c.Source.Path != "/root/autograder-full-stack" {
		t.Fatalf("the lab's checkout is %s inside the hosts; this test writes it through the shared folder mounted at /root/autograder-full-stack", c.Source.Path)
	}

	// git on the manager (the source check runs it there), and a checkout
	// whose origin carries the escapes, made through the folder every host mounts.
	if out, err := lab.Exec(t, c.Manager, "sh", "-c", "DEBIAN_FRONTEND=noninteractive apt-get -q update && DEBIAN_FRONTEND=noninteractive apt-get -q install -y git"); err != nil {
		t.Fatalf("installing git on %s: %v\n%s", c.Manager, err, out)
	}
	const hostile = "https://evil.example/ag.git\x1b]52;c;aWQgPiAvdG1wL3B3bmVk\x07\x1b[2K\rforged-line"
	repo := lab.SharedDir
	gitDir := filepath.Join(repo, ".git")
	if _, err := os.Stat(gitDir); err == nil {
		t.Fatalf("%s already holds a checkout; this test makes its own (lab.Reset should have emptied it)", repo)
	}
	t.Cleanup(func() { os.RemoveAll(gitDir) })
	for _, args := range [][]string{{"init", "-q", repo}, {"-C", repo, "config", "remote.origin.url", hostile}} {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}

	known := filepath.Join(dir, "known_hosts")
	run := func(args ...string) (string, string) {
		args = append(args, "-f", cluster, "--known-hosts", known, "--ssh-config", "none", "--accept-new-host-keys", "--sudo-password-stdin")
		cmd := exec.Command(bin, args...)
		cmd.Stdin = strings.NewReader(lab.SudoPassword + "\n")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		err := cmd.Run()
		t.Logf("aginstall %s: %s (%v)", args[0], time.Since(start).Round(time.Millisecond), err)
		return stdout.String(), stderr.String()
	}
	out, errOut := run("review")
	var source string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, c.Manager+" | source | ") {
			source = l
		}
	}
	// Shown escaped: the operator sees what the host holds, the terminal obeys none of it.
	if !strings.Contains(source, `https://evil.example/ag.git\x1b]52;c;`) || !strings.Contains(source, `\rforged-line`) {
		t.Fatalf("plain review does not quote the checkout's origin; source line %q\n%s%s", source, out, errOut)
	}
	t.Logf("source line: %s", source)
	for name, text := range map[string]string{"stdout": out, "stderr": errOut} {
		if strings.ContainsAny(text, "\x1b\x07\r") {
			t.Errorf("plain review's %s carries control characters from the host: %q", name, text)
		}
	}
	js, errOut := run("review", "--json")
	var review struct {
		Steps []steps.StepReport `json:"steps"`
	}
	if err := json.Unmarshal([]byte(jsonPart(js)), &review); err != nil {
		t.Fatalf("review JSON: %v\n%s%s", err, js, errOut)
	}
	found := false
	for _, s := range review.Steps {
		for _, c := range s.Checks {
			if strings.ContainsFunc(c.Reason+c.Fix, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }) {
				t.Errorf("review --json: %s on %s carries control characters: %q", s.ID, c.Host, c.Reason)
			}
			found = found || strings.Contains(c.Reason, `ag.git\x1b]52;c;`)
		}
	}
	if !found || strings.ContainsAny(errOut, "\x1b\x07\r") {
		t.Errorf("review --json does not quote the origin escaped, or its stderr carries controls:\n%s%s", js, errOut)
	}
}
