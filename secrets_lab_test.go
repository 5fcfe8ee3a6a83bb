//go:build lab

package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"aginstall/internal/labtest"
)

// secretsPoller runs inside node2 (nsenter, no SSH) and scans every
// process's command line for the sudo password, which it reads from stdin
// so that its own argv never holds it. It counts the sudo processes it saw,
// so a poll that saw nothing proves nothing and fails the test.
const secretsPoller = `read -r pw
n=0 sudo=0 hit=0
while [ ! -e /run/faultlab-stop ]; do
  for f in /proc/[0-9]*/cmdline; do
    c=$( { tr '\0' ' ' < "$f"; } 2>/dev/null ) || continue
    case "$c" in
      *"$pw"*) hit=$((hit+1)); echo "HIT ${f%/cmdline} ${c%% *}";;
      sudo\ *) sudo=$((sudo+1));;
    esac
  done
  n=$((n+1))
done
rm -f /run/faultlab-stop
echo "polls=$n sudo=$sudo hits=$hit"
`

// secretsFullInstall finishes the install with node2 reached as agadmin
// (sudo with a password on stdin) while node2's process list is watched, and
// while a second operator tries to apply the same cluster.
func secretsFullInstall(t *testing.T, f *faultLab) {
	f.writeCluster(t, f.edited(t, [2]string{"address: 10.213.0.12\n    port: 22\n    user: root", "address: 10.213.0.12\n    port: 22\n    user: " + f.lab.SudoUser}))

	h := f.lab.Host("node2")
	poll := exec.Command(labtest.NsenterArgs(h, "sh", "-c", secretsPoller)[0], labtest.NsenterArgs(h, "sh", "-c", secretsPoller)[1:]...)
	poll.Stdin = strings.NewReader(f.lab.SudoPassword + "\n")
	var pollOut bytes.Buffer
	poll.Stdout, poll.Stderr = &pollOut, &pollOut
	if err := poll.Start(); err != nil {
		t.Fatal(err)
	}
	pollDone := make(chan struct{})
	go func() { poll.Wait(); close(pollDone) }()

	run := f.start(t, f.lab.SudoPassword+"\n", "apply", "--yes", "--sudo-password-stdin")

	// A second operator while the first one runs: refused with who holds it.
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if _, err := os.Stat(f.lockPath()); err == nil {
			break
		}
	}
	if st, err := os.Stat(f.lockPath()); err != nil {
		t.Errorf("no lock file while apply runs: %v", err)
	} else if st.Mode().Perm() != 0o600 {
		t.Errorf("lock file mode %o, want 600", st.Mode().Perm())
	}
	host, _ := os.Hostname()
	out, code := f.run(t, 3*time.Minute, f.lab.SudoPassword+"\n", "apply", "--yes", "--sudo-password-stdin")
	want := fmt.Sprintf("another aginstall holds the lock on cluster lab: root@%s, pid %d, since ", host, run.cmd.Process.Pid)
	if code != 2 || !strings.Contains(out, want) || !strings.Contains(out, "wait for it to finish") {
		t.Errorf("second operator: exit %d, want 2 and %q:\n%s", code, want, out)
	}

	out, code = run.wait(t, 45*time.Minute)
	f.lab.Exec(t, "node2", "touch", "/run/faultlab-stop")
	select {
	case <-pollDone:
	case <-time.After(time.Minute):
		poll.Process.Kill() // by PID: the poller this test started
		<-pollDone
	}
	if code != 0 {
		t.Errorf("the install after the faults did not finish: exit %d\n%s", code, faultTail(out, 60))
		// Once more, so the cases that need an installed cluster still run.
		if out, code = f.run(t, 30*time.Minute, f.lab.SudoPassword+"\n", "apply", "--yes", "--sudo-password-stdin"); code != 0 {
			t.Errorf("the install failed again: exit %d\n%s", code, faultTail(out, 60))
		}
	}
	res := strings.TrimSpace(pollOut.String())
	t.Logf("node2 process list while agadmin's sudo ran: %s", res)
	if strings.Contains(res, "HIT ") {
		t.Errorf("the sudo password was in a command line on node2:\n%s", res)
	}
	if !strings.Contains(res, "polls=") || strings.Contains(res, " sudo=0 ") {
		t.Errorf("the poller saw no sudo process on node2, so it proved nothing: %s", res)
	}
}

// secretsNoneLeaked searches everything aginstall wrote or printed for the
// sudo password, the swarm join tokens and the generated database password,
// and checks the modes of the files that hold them.
func secretsNoneLeaked(t *testing.T, f *faultLab) {
	secrets := map[string]string{"sudo password": f.lab.SudoPassword}
	for _, role := range []string{"worker", "manager"} {
		if tok, err := f.lab.Exec(t, "node1", "docker", "swarm", "join-token", "-q", role); err == nil && strings.TrimSpace(tok) != "" {
			secrets[role+" join token"] = strings.TrimSpace(tok)
		} else {
			t.Errorf("no %s join token on node1: %v", role, err)
		}
	}
	env, err := f.lab.Exec(t, "node1", "cat", "/root/autograder-full-stack/autograder-server/_prod.env")
	for _, l := range strings.Split(env, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "AG_DB_PASSWORD="); ok && len(v) >= 12 {
			secrets["database password"] = v
		}
	}
	if secrets["database password"] == "" {
		t.Errorf("no generated AG_DB_PASSWORD in node1's _prod.env (%v)", err)
	}

	// Unknown keys accepted on the command line are pinned in the cluster
	// file, which keeps its mode, and nothing else about it changes.
	f.writeCluster(t, f.unpinned())
	// review exits 1 when a check is not done (the bad-input phase left node3
	// in another swarm); what this phase checks is the pinning.
	if out, code := f.run(t, 3*time.Minute, "", "review", "--accept-new-host-keys"); code != 0 && code != 1 {
		t.Errorf("review --accept-new-host-keys: exit %d\n%s", code, faultTail(out, 20))
	}
	pinned, _ := os.ReadFile(f.cluster)
	var rest strings.Builder
	for _, l := range strings.SplitAfter(string(pinned), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "host_key:") {
			rest.WriteString(l)
		}
	}
	if rest.String() != f.unpinned() {
		t.Errorf("pinning the keys changed more than host_key lines:\n%s", pinned)
	}
	for _, h := range f.lab.Hosts {
		if !strings.Contains(string(pinned), h.HostKeyFingerprint) {
			t.Errorf("%s's key %s is not pinned:\n%s", h.Name, h.HostKeyFingerprint, pinned)
		}
	}
	if st, err := os.Stat(f.cluster); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("cluster file after pinning: %v %v, want mode 600", st, err)
	}

	// What an operator would paste into a ticket: a plan and a review.
	for _, args := range [][]string{{"plan"}, {"review", "--json"}} {
		f.run(t, 5*time.Minute, f.lab.SudoPassword+"\n", append(args, "--sudo-password-stdin")...)
	}
	places := map[string]string{}
	filepath.WalkDir(f.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		raw, _ := os.ReadFile(p)
		places[p] = string(raw)
		if strings.Contains(p, string(filepath.Separator)+".aginstall"+string(filepath.Separator)) {
			if st, err := os.Stat(p); err == nil && st.Mode().Perm() != 0o600 {
				t.Errorf("%s has mode %o, want 600", p, st.Mode().Perm())
			}
		}
		return nil
	})
	if st, err := os.Stat(filepath.Join(f.dir, ".aginstall")); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf(".aginstall: %v %v, want mode 700", st, err)
	}
	f.mu.Lock()
	for i, o := range f.outputs {
		places["output of run "+strconv.Itoa(i+1)] = o
	}
	f.mu.Unlock()
	found := 0
	for what, v := range secrets {
		for where, text := range places {
			if strings.Contains(text, v) {
				found++
				t.Errorf("the %s is in %s", what, where)
			}
		}
	}
	t.Logf("secrets found: %d (searched %d secrets in %d files and outputs)", found, len(secrets), len(places))

	// Remote files that hold secrets are not for every user of the manager.
	out, err := f.lab.Exec(t, "node1", "sh", "-c",
		"cd /root/autograder-full-stack/autograder-server && stat -c '%a %U %n' _prod.env autograder/settings/secrets/*")
	if err != nil {
		t.Errorf("stat the secret files: %v %s", err, out)
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		fs := strings.Fields(l)
		if len(fs) < 3 {
			continue
		}
		if m, _ := strconv.ParseUint(fs[0], 8, 32); m&0o007 != 0 {
			t.Errorf("node1 %s is mode %s: readable by every user of the manager", fs[2], fs[0])
		}
	}
}
