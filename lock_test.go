package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"aginstall/steps"
)

func lockCluster(t *testing.T) *steps.Cluster {
	t.Helper()
	dir := t.TempDir()
	return &steps.Cluster{Name: "fall-2027", Path: filepath.Join(dir, "aginstall.yaml")}
}

func lockPath(c *steps.Cluster) string { return filepath.Join(c.StateDir(), c.Name+".lock") }

func writeHolder(t *testing.T, c *steps.Cluster, h lockHolder) {
	t.Helper()
	if err := os.MkdirAll(c.StateDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(h)
	if err := os.WriteFile(lockPath(c), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// deadPID is the PID of a process that has certainly exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func TestLockSecondOperatorIsRefusedWithTheHolder(t *testing.T) {
	c := lockCluster(t)
	first, err := acquireLock(c, false)
	if err != nil {
		t.Fatal(err)
	}
	defer first.release()
	st, err := os.Stat(lockPath(c))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("lock file mode %o, want 600", st.Mode().Perm())
	}
	host, _ := os.Hostname()
	for _, breakIt := range []bool{false, true} { // --break-lock never steals a live local lock
		_, err = acquireLock(c, breakIt)
		if err == nil {
			t.Fatalf("second acquire (break=%v) succeeded while the first holds the lock", breakIt)
		}
		if !errors.Is(err, errBadInput) {
			t.Errorf("refusal is not bad input (exit 2): %v", err)
		}
		msg := err.Error()
		for _, want := range []string{
			"another aginstall holds the lock on cluster fall-2027: ",
			"@" + host + ", pid " + strconv.Itoa(os.Getpid()) + ", since ",
			lockPath(c),
			"wait for it to finish",
		} {
			if !strings.Contains(msg, want) {
				t.Errorf("refusal %q lacks %q", msg, want)
			}
		}
	}
	first.release()
	again, err := acquireLock(c, false)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	again.release()
}

func TestLockStaleNeedsBreakLock(t *testing.T) {
	c := lockCluster(t)
	host, _ := os.Hostname()
	since := time.Date(2027, 9, 1, 8, 0, 0, 0, time.UTC)
	pid := deadPID(t)
	writeHolder(t, c, lockHolder{Host: host, User: "alice", PID: pid, Since: since})

	_, err := acquireLock(c, false)
	if err == nil {
		t.Fatal("a stale lock was taken over without --break-lock")
	}
	msg := err.Error()
	for _, want := range []string{"alice@" + host, "pid " + strconv.Itoa(pid), since.Local().Format(time.RFC1123), "no longer running", "--break-lock"} {
		if !strings.Contains(msg, want) {
			t.Errorf("stale refusal %q lacks %q", msg, want)
		}
	}
	if _, err := os.Stat(lockPath(c)); err != nil {
		t.Fatalf("the refused run removed the stale lock: %v", err)
	}

	l, err := acquireLock(c, true)
	if err != nil {
		t.Fatalf("--break-lock on a stale lock: %v", err)
	}
	raw, _ := os.ReadFile(lockPath(c))
	var now lockHolder
	if err := json.Unmarshal(raw, &now); err != nil || now.PID != os.Getpid() {
		t.Fatalf("lock after break holds %q (%v), want our pid %d", raw, err, os.Getpid())
	}
	l.release()
	if _, err := os.Stat(lockPath(c)); !os.IsNotExist(err) {
		t.Fatalf("release left the lock: %v", err)
	}
}

// A lock held from another machine cannot be checked from here: it counts as
// live and only --break-lock takes it.
func TestLockOtherHostNeedsBreakLock(t *testing.T) {
	c := lockCluster(t)
	writeHolder(t, c, lockHolder{Host: "laptop-of-bob", User: "bob", PID: 4242, Since: time.Now().UTC()})
	_, err := acquireLock(c, false)
	if err == nil || !strings.Contains(err.Error(), "bob@laptop-of-bob, pid 4242") {
		t.Fatalf("lock of another host: %v", err)
	}
	l, err := acquireLock(c, true)
	if err != nil {
		t.Fatalf("--break-lock on another host's lock: %v", err)
	}
	l.release()
}

// A half-written lock (a crash between create and write) names what it can
// and is still only broken on purpose.
func TestLockGarbageIsStaleNotIgnored(t *testing.T) {
	c := lockCluster(t)
	if err := os.MkdirAll(c.StateDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lockPath(c), []byte("{\"host\":"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := acquireLock(c, false); err == nil {
		t.Fatal("a garbage lock was ignored")
	}
	l, err := acquireLock(c, true)
	if err != nil {
		t.Fatalf("--break-lock on a garbage lock: %v", err)
	}
	l.release()
}

// The wizard's apply takes the CLI's run lock: refused while a CLI apply
// holds it (before any host is touched), and held from its first change
// until the wizard ends, so a CLI apply is refused meanwhile.
func TestWizardTakesTheRunLock(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("testdata/cluster/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Hosts on loopback's closed port 9, no bastion: a run that got past the
	// lock would fail fast and send nothing off this machine.
	text := regexp.MustCompile(`(?m)^\s+bastion:.*\n`).ReplaceAllString(string(data), "")
	text = strings.NewReplacer("address: 10.0.0.11", "address: 127.0.0.1", "port: 22", "port: 9",
		"address: 10.0.0.12", "address: 127.0.0.1\n    port: 9").Replace(text)
	path := filepath.Join(dir, "aginstall.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := steps.LoadCluster(path)
	if err != nil {
		t.Fatal(err)
	}
	b := newBackend(&options{sshConfig: "none", knownHosts: filepath.Join(dir, "known_hosts")})
	defer b.Close()

	cli, err := acquireLock(c, false)
	if err != nil {
		t.Fatal(err)
	}
	err = b.ApplyStep(t.Context(), c, "limits", nil)
	if err == nil || !strings.Contains(err.Error(), "another aginstall holds the lock") {
		t.Fatalf("wizard apply while the CLI applies: %v", err)
	}
	if err := b.Skip(c, "limits", "the lab sets it"); err == nil {
		t.Fatal("wizard skip while the CLI applies worked")
	}
	cli.release()

	if err := b.Skip(c, "limits", "the lab sets it"); err != nil {
		t.Fatal(err)
	}
	if _, err := acquireLock(c, false); err == nil || !strings.Contains(err.Error(), "another aginstall holds the lock") {
		t.Fatalf("CLI apply while the wizard holds the cluster: %v", err)
	}
	b.Close()
	again, err := acquireLock(c, false)
	if err != nil {
		t.Fatalf("after the wizard ended: %v", err)
	}
	again.release()
}
