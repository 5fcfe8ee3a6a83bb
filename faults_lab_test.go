//go:build lab

package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"aginstall/internal/labtest"
	"aginstall/steps"
)

// TestOperatorLab is the operator's bad day on one lab: bad input on bare
// hosts, faults during a real apply (host off, SSH cut, aginstall killed
// mid-step and mid-write, a full disk), a second operator, the full install
// with a sudo password, bad input on the installed cluster, and a search for
// leaked secrets in everything aginstall wrote or printed. One bring-up for
// all, because the lab is shared and slow to rebuild.
func TestOperatorLab(t *testing.T) {
	lab := labtest.Load(t)
	if _, err := lab.Exec(t, "node1", "sh", "-c", "command -v docker"); err == nil || len(lab.Hosts) != 3 {
		t.Logf("the lab is not 3 bare hosts: resetting it")
		lab.Reset(t)
	}
	f := newFaultLab(t, lab)
	start := time.Now()
	phase := func(name string, fn func(t *testing.T)) {
		t0 := time.Now()
		t.Run(name, fn)
		t.Logf("%s: %s (total %s)", name, time.Since(t0).Round(time.Second), time.Since(start).Round(time.Second))
	}
	phase("badinput-bare", func(t *testing.T) { badInputLabBare(t, f) })
	phase("faults", func(t *testing.T) { faultsDuringApply(t, f) })
	phase("full-install-with-sudo-password", func(t *testing.T) { secretsFullInstall(t, f) })
	phase("badinput-installed", func(t *testing.T) { badInputLabInstalled(t, f) })
	phase("secrets", func(t *testing.T) { secretsNoneLeaked(t, f) })
	t.Logf("runs: %d, faults survived: %d, bad inputs tried on the lab: %d", f.runs, f.faults, f.badInputs)
}

// faultLab drives the real binary against the lab from one work folder.
type faultLab struct {
	lab     *labtest.Lab
	dir     string // cluster.yaml, known_hosts, .aginstall/
	bin     string
	cluster string
	known   string
	base    string // the lab's root-road cluster file (the faults edit its user, identity and docker lines)

	mu        sync.Mutex
	outputs   []string // everything every run printed, for the secrets search
	runs      int
	faults    int
	badInputs int
}

func newFaultLab(t *testing.T, lab *labtest.Lab) *faultLab {
	t.Helper()
	raw, err := os.ReadFile(lab.ClusterFileRoot)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := &faultLab{lab: lab, dir: dir, bin: testBinary(t), base: string(raw),
		cluster: filepath.Join(dir, "cluster.yaml"), known: filepath.Join(dir, "known_hosts")}
	f.writeCluster(t, f.base)
	if err := os.WriteFile(f.known, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *faultLab) writeCluster(t *testing.T, text string) {
	t.Helper()
	if err := os.WriteFile(f.cluster, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// edited is the lab's cluster file with edits (old → new, each must match).
func (f *faultLab) edited(t *testing.T, edits ...[2]string) string {
	t.Helper()
	text := f.base
	for _, e := range edits {
		if !strings.Contains(text, e[0]) {
			t.Fatalf("test bug: %q is not in the lab's cluster file", e[0])
		}
		text = strings.Replace(text, e[0], e[1], 1)
	}
	return text
}

// faultRun is one aginstall process.
type faultRun struct {
	cmd  *exec.Cmd
	out  *faultBuffer
	done chan struct{}
	code int
}

type faultBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *faultBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *faultBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// start runs aginstall with args (plus -f, --known-hosts, --ssh-config none)
// in the background; its output (stdout and stderr) is collected.
func (f *faultLab) start(t *testing.T, stdin string, args ...string) *faultRun {
	t.Helper()
	args = append(append([]string{}, args...), "-f", f.cluster, "--known-hosts", f.known, "--ssh-config", "none")
	r := &faultRun{cmd: exec.Command(f.bin, args...), out: &faultBuffer{}, done: make(chan struct{})}
	r.cmd.Dir = f.dir
	// The runs use the cluster file's identity files only: an ssh-agent in
	// the environment that runs the tests (a developer's, a dead one) would
	// change what the bad-input cases expect aginstall to say.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SSH_AUTH_SOCK=") {
			r.cmd.Env = append(r.cmd.Env, kv)
		}
	}
	r.cmd.Stdin = strings.NewReader(stdin)
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.runs++
	f.mu.Unlock()
	go func() {
		err := r.cmd.Wait()
		var xe *exec.ExitError
		switch {
		case errors.As(err, &xe) && xe.ExitCode() >= 0:
			r.code = xe.ExitCode()
		case errors.As(err, &xe):
			r.code = -1 // killed by a signal
		case err != nil:
			r.code = -2
		}
		f.mu.Lock()
		f.outputs = append(f.outputs, r.out.String())
		f.mu.Unlock()
		close(r.done)
	}()
	return r
}

// wait bounds every run: a hang is a failure, never a stuck CI job.
func (r *faultRun) wait(t *testing.T, limit time.Duration) (string, int) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(limit):
		r.cmd.Process.Kill() // by PID: the aginstall this test started
		<-r.done
		t.Errorf("aginstall %s did not finish within %s; killed\n%s", strings.Join(r.cmd.Args[1:3], " "), limit, faultTail(r.out.String(), 40))
	}
	return r.out.String(), r.code
}

func (f *faultLab) run(t *testing.T, limit time.Duration, stdin string, args ...string) (string, int) {
	t.Helper()
	t0 := time.Now()
	out, code := f.start(t, stdin, args...).wait(t, limit)
	t.Logf("aginstall %s: exit %d in %s", strings.Join(args, " "), code, time.Since(t0).Round(time.Second))
	return out, code
}

func faultTail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// faultVolatile are paths a host changes by itself or by merely being logged
// into (logs, sudo's timestamps, systemd's state): not the product's doing.
var faultVolatile = []string{"var/log/", "var/lib/sudo/", "run/", "tmp/", "var/tmp/", "var/cache/",
	"var/lib/systemd/", "var/lib/private/", "home/agadmin/.sudo_as_admin_successful", "etc/.pwd.lock",
	"var/lib/docker/", "var/lib/containerd/", "root/.docker/"}

// snapshot hashes what the product could have changed: every file the hosts
// wrote under under (their overlay upper dirs), the shared checkout, and the
// swarm as node1 sees it (nodes, labels, services).
func (f *faultLab) snapshot(t *testing.T, under string) map[string]string {
	t.Helper()
	snap := map[string]string{}
	for _, h := range f.lab.Hosts {
		root := filepath.Join(h.Upper, under)
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			rel, _ := filepath.Rel(h.Upper, p)
			for _, v := range faultVolatile {
				if strings.HasPrefix(rel+"/", v) || rel == strings.TrimSuffix(v, "/") {
					if d.IsDir() {
						return filepath.SkipDir
					}
					return nil
				}
			}
			info, err := d.Info()
			if err != nil {
				return nil
			}
			key := h.Name + ":/" + rel
			switch {
			case d.Type().IsRegular():
				data, _ := os.ReadFile(p)
				sum := sha256.Sum256(data)
				snap[key] = fmt.Sprintf("%o %s", info.Mode(), hex.EncodeToString(sum[:8]))
			case d.Type()&fs.ModeSymlink != 0:
				l, _ := os.Readlink(p)
				snap[key] = "-> " + l
			case d.IsDir():
				snap[key] = fmt.Sprintf("dir %o", info.Mode().Perm())
			default:
				snap[key] = info.Mode().String() // whiteouts: deletions
			}
			return nil
		})
	}
	// GIT_OPTIONAL_LOCKS=0: the snapshot's own git status must not refresh
	// (rewrite) the index, which changes .git's mtime when the install's
	// edits were in the same second as the index ("racily clean" files).
	if out, err := f.lab.Exec(t, "node1", "sh", "-c",
		"cd /root/autograder-full-stack 2>/dev/null && { git -c safe.directory='*' rev-parse HEAD; GIT_OPTIONAL_LOCKS=0 git -c safe.directory='*' status --porcelain; ls -la; } 2>&1"); err == nil {
		snap["checkout"] = out
	}
	if out, err := f.lab.Exec(t, "node1", "sh", "-c",
		"command -v docker >/dev/null || exit 0; docker node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}' 2>&1; "+
			"for n in $(docker node ls -q 2>/dev/null); do docker node inspect $n --format '{{.Description.Hostname}} {{json .Spec.Labels}}'; done; "+
			"docker service ls --format '{{.Name}} {{.Image}} {{.Mode}}' 2>&1; docker swarm join-token -q worker 2>&1 | sha256sum"); err == nil {
		snap["swarm"] = out
	}
	return snap
}

func faultSnapshotDiff(before, after map[string]string) []string {
	var d []string
	for k, v := range after {
		if before[k] != v {
			d = append(d, fmt.Sprintf("%s: %q → %q", k, before[k], v))
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			d = append(d, k+": removed")
		}
	}
	sort.Strings(d)
	return d
}

// watchHost polls host (through nsenter, no SSH) until a process whose
// command line matches the extended regexp pattern runs there, and returns
// `pid cmdline` of it; "" when stop closes or the limit passes first.
func (f *faultLab) watchHost(t *testing.T, host, pattern string, limit time.Duration, stop <-chan struct{}) string {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-stop:
			return ""
		default:
		}
		// One exec polls for ~2 s inside the host: fast enough to catch a command mid-way.
		out, _ := f.lab.Exec(t, host, "sh", "-c",
			`i=0; while [ $i -lt 200 ]; do p=$(pgrep -f -n -- "$0" | head -n1); if [ -n "$p" ]; then printf '%s ' "$p"; tr '\0' ' ' < /proc/$p/cmdline; exit 0; fi; i=$((i+1)); sleep 0.01; done; exit 1`,
			pattern)
		if out = strings.TrimSpace(out); out != "" {
			return out
		}
	}
	return ""
}

// stateParses: the state file, if any, is valid JSON with the cluster's name.
func (f *faultLab) stateParses(t *testing.T) *steps.State {
	t.Helper()
	p := filepath.Join(f.dir, ".aginstall", "lab.state.json")
	raw, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	var st steps.State
	if err != nil || json.Unmarshal(raw, &st) != nil || st.Cluster != "lab" {
		t.Errorf("state file %s does not parse: %v\n%s", p, err, raw)
		return nil
	}
	return &st
}

func (f *faultLab) lockPath() string { return filepath.Join(f.dir, ".aginstall", "lab.lock") }

func (f *faultLab) readHostFile(t *testing.T, host, path string) string {
	t.Helper()
	out, err := f.lab.Exec(t, host, "cat", path)
	if err != nil {
		return "<missing: " + err.Error() + ">"
	}
	return out
}

func (f *faultLab) survived(t *testing.T, what string) {
	f.mu.Lock()
	f.faults++
	f.mu.Unlock()
	t.Logf("fault survived: %s", what)
}

// faultFiles are the files the early steps edit on every host.
var faultFiles = []string{"/etc/security/limits.conf", "/etc/docker/daemon.json", "/etc/fstab", "/etc/exports"}

// faultsDuringApply injects the faults during the docker and limits steps:
// the cheapest points of the install that still run long commands (apt) and
// edit files on every host.
func faultsDuringApply(t *testing.T, f *faultLab) {
	f.writeCluster(t, f.base)
	before := map[string]map[string]string{}
	for _, h := range f.lab.Hosts {
		before[h.Name] = map[string]string{}
		for _, p := range faultFiles {
			before[h.Name][p] = f.readHostFile(t, h.Name, p)
		}
	}

	// 1. node3 switched off and node2's SSH session killed, both while apt
	// installs Docker. Both must be named with the step and what happened.
	run := f.start(t, "", "apply", "--yes")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var offAt, cutAt string
	wg.Add(2)
	go func() {
		defer wg.Done()
		if offAt = f.watchHost(t, "node3", `apt-ge[t] .*instal[l]`, 8*time.Minute, stop); offAt != "" {
			f.lab.StopHost(t, "node3")
		}
	}()
	go func() {
		defer wg.Done()
		if cutAt = f.watchHost(t, "node2", `apt-ge[t] .*instal[l]`, 8*time.Minute, stop); cutAt != "" {
			// Every root@notty session on node2 is ours: the test reaches hosts with nsenter.
			out, err := f.lab.Exec(t, "node2", "sh", "-c", `pkill -9 -f 'sshd: roo[t]' ; echo killed`)
			t.Logf("cut node2's SSH at %q: %s %v", cutAt, strings.TrimSpace(out), err)
		}
	}()
	go func() { <-run.done; close(stop) }()
	out, code := run.wait(t, 15*time.Minute)
	wg.Wait()
	t.Logf("run 1 (node3 off at %q, node2 cut at %q): exit %d\n%s", offAt, cutAt, code, faultTail(out, 30))
	if offAt == "" || cutAt == "" {
		t.Errorf("the faults were not injected: apt-get never seen on node3 (%q) / node2 (%q)", offAt, cutAt)
	}
	if code != 1 {
		t.Errorf("run 1 exit %d, want 1", code)
	}
	for _, want := range []string{"node3: step docker: install the distribution's Docker failed", "node2: step docker: install the distribution's Docker failed", "the full log is "} {
		if !strings.Contains(out, want) {
			t.Errorf("run 1 output lacks %q", want)
		}
	}
	// What happened: the connection went away (host off, sshd killed), not
	// "apt failed" — the operator must look at the host, not at apt sources.
	for _, h := range []string{"node2", "node3"} {
		said := ""
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "host said: "+h+" (") {
				said = l
			}
		}
		if !strings.Contains(said, "connection") || !strings.Contains(said, "lost") {
			t.Errorf("%s's error does not say the SSH connection was lost:%s", h, said)
		}
	}
	f.stateParses(t)
	if _, err := os.Stat(f.lockPath()); err == nil {
		t.Errorf("a failed run left its lock behind")
	}
	if offAt != "" {
		f.lab.StartHost(t, "node3")
	}

	// 2. aginstall SIGKILLed at its first change: a stale lock is left, and
	// only --break-lock takes it.
	run = f.start(t, "", "apply", "--yes")
	killed := faultKillAt(t, run, func(line string) bool {
		// a change a host is making, not the step's own start line ("- | docker | ...")
		return !strings.HasPrefix(line, "- |") && (strings.Contains(line, "| docker |") || strings.Contains(line, "| limits |"))
	}, 10*time.Minute)
	out, code = run.wait(t, time.Minute)
	t.Logf("run 2 killed at %q: exit %d", killed, code)
	f.stateParses(t)
	out, code = f.run(t, 2*time.Minute, "", "apply", "--yes")
	if code != 2 || !strings.Contains(out, "another aginstall holds the lock on cluster lab: ") ||
		!strings.Contains(out, fmt.Sprintf(", pid %d, since ", run.cmd.Process.Pid)) ||
		!strings.Contains(out, "which is no longer running; if you are sure, run again with --break-lock") {
		t.Errorf("after a SIGKILL the next apply should name the stale lock and ask for --break-lock; exit %d:\n%s", code, out)
	}

	// 3. The next apply finishes Docker on every host, whatever the faults
	// left half-done (apt interrupted on a host switched off, a cut session).
	out, code = f.run(t, 15*time.Minute, "", "apply", "--yes", "--break-lock", "--only", "docker")
	if code != 0 {
		t.Errorf("docker after the faults: exit %d\n%s", code, faultTail(out, 40))
	} else {
		if offAt != "" {
			f.survived(t, "node3 switched off mid-apt")
		}
		if cutAt != "" {
			f.survived(t, "node2's SSH session killed mid-apt")
		}
		if killed != "" {
			f.survived(t, "aginstall SIGKILLed mid-step ("+killed+")")
		}
	}

	// 4. A full disk under /etc/security on node1 (a tmpfs filled to the
	// last byte), for the limits step's edit of limits.conf.
	if out, err := f.lab.Exec(t, "node1", "sh", "-c",
		`set -e; mkdir -p /root/sec.faultlab; cp -a /etc/security/. /root/sec.faultlab/; mount -t tmpfs -o size=128k faultlab /etc/security; cp -a /root/sec.faultlab/. /etc/security/; dd if=/dev/zero of=/etc/security/.fill bs=4k 2>/dev/null || true; df -k /etc/security | tail -n1`); err != nil {
		t.Fatalf("fill /etc/security on node1: %v %s", err, out)
	} else {
		t.Logf("node1 /etc/security: %s", strings.TrimSpace(out))
	}
	defer f.lab.Exec(t, "node1", "sh", "-c", "mountpoint -q /etc/security && umount /etc/security")

	// 5. aginstall SIGKILLed while the write script runs on node2 or node3.
	// The write takes milliseconds, too short for a poll to catch reliably,
	// so on those two hosts a `sync` earlier on PATH holds the temp file's
	// sync for 5 s: the kill then lands after the new content is written
	// and before the rename, the worst moment for an atomic edit.
	const slowSync = "/usr/local/bin/sync"
	for _, h := range []string{"node2", "node3"} {
		if out, err := f.lab.Exec(t, h, "sh", "-c", `printf '%s\n' '#!/bin/sh' 'case "$*" in *.aginstall-*) sleep 5;; esac' 'exec /bin/sync "$@"' >`+slowSync+` && chmod 755 `+slowSync); err != nil {
			t.Fatalf("slow sync on %s: %v %s", h, err, out)
		}
		defer f.lab.Exec(t, h, "rm", "-f", slowSync)
	}
	run = f.start(t, "", "apply", "--yes", "--only", "limits")
	stop = make(chan struct{})
	hits := make(chan string, 2)
	for _, h := range []string{"node2", "node3"} {
		go func() {
			if at := f.watchHost(t, h, `aginstall-writ[e]`, 5*time.Minute, stop); at != "" {
				hits <- h + ": " + at
			}
		}()
	}
	var writeAt string
	select {
	case writeAt = <-hits:
		run.cmd.Process.Signal(syscall.SIGKILL) // by PID: the aginstall this test started
	case <-run.done:
	case <-time.After(6 * time.Minute):
	}
	close(stop)
	out, code = run.wait(t, time.Minute)
	for _, h := range []string{"node2", "node3"} {
		f.lab.Exec(t, h, "rm", "-f", slowSync)
	}
	t.Logf("run 5 (killed during %q): exit %d\n%s", writeAt, code, faultTail(out, 20))
	if writeAt == "" {
		t.Errorf("no remote write seen on node2/node3 to kill aginstall in")
	}
	mid := map[string]map[string]string{}
	for _, h := range f.lab.Hosts {
		mid[h.Name] = map[string]string{}
		for _, p := range faultFiles {
			mid[h.Name][p] = f.readHostFile(t, h.Name, p)
		}
	}
	f.stateParses(t)

	// 6. With node1's disk still full: the limits step fails on node1 with
	// the host, the step and the disk's own words; nothing half-written.
	out, code = f.run(t, 5*time.Minute, "", "apply", "--yes", "--break-lock", "--only", "limits")
	if code != 1 || !strings.Contains(out, "node1: step limits: ") || !strings.Contains(out, "No space left on device") {
		t.Errorf("with a full /etc/security on node1 apply should fail at limits on node1 saying so; exit %d:\n%s", code, faultTail(out, 40))
	}
	if got := f.readHostFile(t, "node1", "/etc/security/limits.conf"); got != before["node1"]["/etc/security/limits.conf"] {
		t.Errorf("node1 limits.conf changed on a full disk:\n%s", got)
	} else if ls, _ := f.lab.Exec(t, "node1", "ls", "-a", "/etc/security"); strings.Contains(ls, "aginstall") {
		t.Errorf("the failed write left files in /etc/security on node1:\n%s", ls)
	} else if code == 1 {
		f.survived(t, "full disk during node1's limits.conf edit")
	}
	f.stateParses(t)
	if _, err := f.lab.Exec(t, "node1", "umount", "/etc/security"); err != nil {
		t.Errorf("umount /etc/security on node1: %v", err)
	}

	// 7. The next apply finishes limits everywhere.
	out, code = f.run(t, 5*time.Minute, "", "apply", "--yes", "--only", "limits")
	if code != 0 {
		t.Errorf("limits after the faults: exit %d\n%s", code, faultTail(out, 40))
	}
	for _, h := range f.lab.Hosts {
		for _, p := range faultFiles {
			now := f.readHostFile(t, h.Name, p)
			if m := mid[h.Name][p]; m != before[h.Name][p] && m != now {
				t.Errorf("%s %s after the kill mid-write is neither the old nor the final content:\n%s", h.Name, p, m)
			}
			faultNoDuplicateLines(t, h.Name, p, now)
		}
		if n := strings.Count(f.readHostFile(t, h.Name, "/etc/security/limits.conf"), "* soft nofile 1000000\n"); n != 1 {
			t.Errorf("%s limits.conf has the soft line %d times", h.Name, n)
		}
		var js map[string]any
		if err := json.Unmarshal([]byte(f.readHostFile(t, h.Name, "/etc/docker/daemon.json")), &js); err != nil {
			t.Errorf("%s daemon.json does not parse: %v", h.Name, err)
		}
		// The old content is kept: one backup holds limits.conf as it was.
		baks, _ := f.lab.Exec(t, h.Name, "sh", "-c", "for b in /etc/security/limits.conf.aginstall-*.bak; do [ -f \"$b\" ] && printf '%s\\0' \"$(cat \"$b\"; echo x)\"; done")
		kept := false
		for _, b := range strings.Split(baks, "\x00") {
			if strings.TrimSuffix(b, "x") == before[h.Name]["/etc/security/limits.conf"] && b != "" {
				kept = true
			}
		}
		if !kept {
			t.Errorf("%s: no limits.conf.aginstall-*.bak holds the original limits.conf", h.Name)
		}
	}
	if writeAt != "" {
		f.survived(t, "aginstall SIGKILLed mid-write ("+writeAt+")")
	}
}

// faultKillAt SIGKILLs run at the first output line for which at is true.
func faultKillAt(t *testing.T, run *faultRun, at func(string) bool, limit time.Duration) string {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-run.done:
			return ""
		default:
		}
		sc := bufio.NewScanner(strings.NewReader(run.out.String()))
		for sc.Scan() {
			if at(sc.Text()) {
				run.cmd.Process.Signal(syscall.SIGKILL) // by PID: the aginstall this test started
				return sc.Text()
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return ""
}

// faultNoDuplicateLines: the edits keep exactly one copy of each line they own.
func faultNoDuplicateLines(t *testing.T, host, path, content string) {
	seen := map[string]bool{}
	for _, l := range strings.Split(content, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "<missing") || !strings.ContainsAny(l, " \t") {
			continue
		}
		if seen[l] {
			t.Errorf("%s %s: line %q appears twice", host, path, l)
		}
		seen[l] = true
	}
}
