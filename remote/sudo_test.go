package remote

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// sudoPool connects to two "hosts" (the same sshd twice) as user, answering
// the sudo prompt with pw and counting how often it was asked.
func sudoPool(t *testing.T, user, pw string) (*Pool, *atomic.Int32) {
	t.Helper()
	s := startSSHD(t)
	var asked atomic.Int32
	p := testPool(t, []Target{target(s, "h1", user), target(s, "h2", user)}, Options{
		KnownHostsFile: knownHostsFor(t, s),
		SudoPassword: func(host string) ([]byte, error) {
			asked.Add(1)
			return []byte(pw), nil
		},
	})
	return p, &asked
}

func TestSudoWithPassword(t *testing.T) {
	p, asked := sudoPool(t, sudoUser, sudoPass)
	ctx := context.Background()
	for _, h := range []string{"h1", "h2"} {
		c := mustConn(t, p, h)
		if root, err := c.IsRoot(ctx); err != nil || root {
			t.Fatalf("IsRoot = %v, %v", root, err)
		}
		res := mustRun(t, c, Command{Line: "id -un; whoami", Sudo: true})
		if string(res.Stdout) != "root\nroot\n" {
			t.Fatalf("%s: %q", h, res.Stdout)
		}
		// Stdin after the password line reaches the command intact.
		data := []byte("line one\n" + sudoPass + "\nno newline at end")
		res = mustRun(t, c, Command{Line: "cat", Sudo: true, Stdin: data})
		if !bytes.Equal(res.Stdout, data) {
			t.Fatalf("stdin through sudo: %q", res.Stdout)
		}
		// Without sudo the same connection is the user.
		if res := mustRun(t, c, Command{Line: "id -un"}); string(res.Stdout) != sudoUser+"\n" {
			t.Fatalf("%q", res.Stdout)
		}
	}
	if n := asked.Load(); n != 1 {
		t.Fatalf("password asked %d times, want once per run", n)
	}
}

func TestSudoWrongPasswordFailsFast(t *testing.T) {
	p, asked := sudoPool(t, sudoUser, "not the password")
	c := mustConn(t, p, "h1")
	start := time.Now()
	_, err := c.Run(context.Background(), Command{Line: "true", Sudo: true}, nil)
	took := time.Since(start)
	t.Logf("wrong password reported after %v: %v", took, err)
	if !errors.Is(err, ErrSudoPasswordWrong) {
		t.Fatalf("want ErrSudoPasswordWrong, got %v", err)
	}
	if took > 5*time.Second {
		t.Fatalf("took %v", took)
	}
	if strings.Contains(err.Error(), "not the password") || !strings.Contains(err.Error(), "h1 (127.0.0.1:") || strings.Contains(err.Error(), "none of the groups") {
		t.Fatalf("message: %v", err)
	}
	// Not retried (that could lock the account), not asked again.
	if _, err := c.Run(context.Background(), Command{Line: "true", Sudo: true}, nil); !errors.Is(err, ErrSudoPasswordWrong) {
		t.Fatal(err)
	}
	if _, err := mustConn(t, p, "h2").Run(context.Background(), Command{Line: "true", Sudo: true}, nil); !errors.Is(err, ErrSudoPasswordWrong) {
		t.Fatal(err)
	}
	if asked.Load() != 1 {
		t.Fatalf("asked %d times", asked.Load())
	}
}

func TestNoSudo(t *testing.T) {
	p, _ := sudoPool(t, noSudoUser, sudoPass)
	_, err := mustConn(t, p, "h1").Run(context.Background(), Command{Line: "true", Sudo: true}, nil)
	t.Logf("%v", err)
	if !errors.Is(err, ErrNoSudo) || !strings.Contains(err.Error(), "usermod -aG sudo "+noSudoUser) {
		t.Fatalf("want ErrNoSudo, got %v", err)
	}
}

// A user without sudo rights who types a wrong password: sudo only says
// the password is wrong, so the message adds that the user is in no admin group.
func TestNoSudoWrongPassword(t *testing.T) {
	p, _ := sudoPool(t, noSudoUser, "not the password")
	_, err := mustConn(t, p, "h1").Run(context.Background(), Command{Line: "true", Sudo: true}, nil)
	t.Logf("%v", err)
	if !errors.Is(err, ErrSudoPasswordWrong) || !strings.Contains(err.Error(), "none of the groups sudo, wheel and admin") ||
		!strings.Contains(err.Error(), "usermod -aG sudo "+noSudoUser) {
		t.Fatalf("want the wrong-password error with the group hint, got %v", err)
	}
}

func TestSudoNoPasswordNeeded(t *testing.T) {
	p, asked := sudoPool(t, nopwUser, "unused")
	res := mustRun(t, mustConn(t, p, "h1"), Command{Line: "id -u", Sudo: true})
	if string(res.Stdout) != "0\n" || asked.Load() != 0 {
		t.Fatalf("%q, asked %d", res.Stdout, asked.Load())
	}
}

// While a sudo command runs, no process on the host has the password in its
// command line.
func TestSudoPasswordNotInArgv(t *testing.T) {
	p, _ := sudoPool(t, sudoUser, sudoPass)
	c := mustConn(t, p, "h1")
	done := make(chan error, 1)
	go func() {
		_, err := c.Run(context.Background(), Command{Line: "sleep 2", Sudo: true}, nil)
		done <- err
	}()
	sawSleep := false
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			if !sawSleep {
				t.Fatal("never saw the sudo'd sleep running")
			}
			return
		default:
		}
		procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, f := range procs {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			if bytes.Contains(b, []byte("pass'word")) {
				t.Fatalf("password in %s: %q", f, b)
			}
			if bytes.HasPrefix(b, []byte("sleep\x002")) {
				sawSleep = true
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Cancelling a command that runs as root through sudo kills it too.
func TestSudoCancelKills(t *testing.T) {
	p, _ := sudoPool(t, sudoUser, sudoPass)
	c := mustConn(t, p, "h1")
	marker := "0." + time.Now().Format("150405000000")
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Run(ctx, Command{Line: "sleep 300 " + marker + "; echo never", Sudo: true}, nil)
		errc <- err
	}()
	waitFor(t, 5*time.Second, func() bool { return strings.Contains(pgrep(marker), "sleep") })
	out, _ := exec.Command("ps", "-eo", "pid,ppid,pgid,sid,user,args").Output()
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "sudo") || strings.Contains(l, marker) {
			t.Log(l)
		}
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, func() bool { return pgrep(marker) == "" })
}

// A sudo that does not ask for the password after all (a NOPASSWD rule
// that matches sh but not `true`) must not hand the password line to the
// command: the marker gate refuses, nothing runs, and the password was
// handed over for redaction.
func TestSudoNopasswdRuleNeverRunsPassword(t *testing.T) {
	s := startSSHD(t)
	var secrets []string
	p := testPool(t, []Target{target(s, "h1", shnopwUser)}, Options{
		KnownHostsFile: knownHostsFor(t, s),
		SudoPassword:   func(string) ([]byte, error) { return []byte(shnopwPass), nil },
	})
	p.OnSecret(func(v string) { secrets = append(secrets, v) })
	var lines []string
	res, err := mustConn(t, p, "h1").Run(context.Background(), Command{Line: "sh -s", Sudo: true, Stdin: []byte("echo command-ran\n")},
		func(l Line) { lines = append(lines, l.Text) })
	said := string(res.Stdout) + string(res.Stderr) + strings.Join(lines, "\n")
	t.Logf("err: %v\nsaid: %s", err, said)
	if err == nil || strings.Contains(said, "sudo-password-ran") || strings.Contains(said, "command-ran") {
		t.Fatalf("the command ran (or the password did): err %v, output %q", err, said)
	}
	if !strings.Contains(said, "NOPASSWD") {
		t.Errorf("no explanation: %q", said)
	}
	if len(secrets) != 1 || secrets[0] != shnopwPass {
		t.Errorf("password not registered for redaction: %q", secrets)
	}
}

// A live stream through the sudo gate, as docker system dial-stdio gets it:
// the command answers bytes sent after the password and marker lines while
// stdin stays open (nothing waits for EOF).
func TestSudoGateStreams(t *testing.T) {
	p, _ := sudoPool(t, sudoUser, sudoPass)
	c := mustConn(t, p, "h1")
	line, stdin, _, err := c.sudoWrap(context.Background(), Command{Line: "cat", Sudo: true})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := c.client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	in, _ := sess.StdinPipe()
	out, _ := sess.StdoutPipe()
	if err := sess.Start(line); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Write(append(stdin, "ping\n"...)); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		buf := make([]byte, 5)
		n, _ := io.ReadFull(out, buf)
		got <- string(buf[:n])
	}()
	select {
	case s := <-got:
		if s != "ping\n" {
			t.Fatalf("read %q through the gate", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no answer through the sudo gate while stdin is open")
	}
}

// The wizard keeps the one password it was given and hands it to every pool
// it makes (a new one each time the cluster file is re-read or saved). A
// pool that closes clears its own copy; the next pool must still get the
// password, not the zeroes of the last one (this was "sudo rejected the
// password" on every host after a resume's second check).
func TestSudoPasswordOutlivesAClosedPool(t *testing.T) {
	s := startSSHD(t)
	kept := []byte(sudoPass)
	opt := Options{KnownHostsFile: knownHostsFor(t, s),
		SudoPassword: func(string) ([]byte, error) { return kept, nil }}
	for i := 1; i <= 2; i++ {
		p := testPool(t, []Target{target(s, "h1", sudoUser)}, opt)
		res := mustRun(t, mustConn(t, p, "h1"), Command{Line: "id -un", Sudo: true})
		if string(res.Stdout) != "root\n" {
			t.Fatalf("pool %d: %q", i, res.Stdout)
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		if string(kept) != sudoPass {
			t.Fatalf("closing pool %d changed the caller's password to %q", i, kept)
		}
	}
}
