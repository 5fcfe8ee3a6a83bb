package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func rootConn(t *testing.T) *Conn {
	t.Helper()
	s := startSSHD(t)
	p := testPool(t, []Target{target(s, "n1", "root")}, Options{KnownHostsFile: knownHostsFor(t, s)})
	return mustConn(t, p, "n1")
}

func TestExitCodesAndStderrTail(t *testing.T) {
	c := rootConn(t)
	ctx := context.Background()
	res, err := c.Run(ctx, Command{Line: "echo out; for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo err$i >&2; done; exit 3"}, nil)
	var xe *ExitError
	if !errors.As(err, &xe) || xe.Code != 3 || res.ExitCode != 3 {
		t.Fatalf("want *ExitError code 3, got %v (result code %d)", err, res.ExitCode)
	}
	if len(xe.StderrTail) != 10 || xe.StderrTail[9] != "err12" || xe.StderrTail[0] != "err3" {
		t.Fatalf("stderr tail %q", xe.StderrTail)
	}
	msg := err.Error()
	for _, want := range []string{"n1 (127.0.0.1:", "exited with code 3", "err12"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if string(res.Stdout) != "out\n" {
		t.Fatalf("stdout %q", res.Stdout)
	}
	if _, err := c.Run(ctx, Command{Line: "true"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Run(ctx, Command{Line: "exit 127"}, nil); !errors.As(err, &xe) || xe.Code != 127 {
		t.Fatalf("exit 127: %v", err)
	}
	// Killed by a signal: no exit code.
	if _, err := c.Run(ctx, Command{Line: "kill -9 $$"}, nil); !errors.As(err, &xe) || xe.Code != -1 {
		t.Fatalf("kill -9: %v", err)
	}
	// Stdin reaches the command; without stdin the command sees EOF, not a hang.
	res = mustRun(t, c, Command{Line: "wc -c", Stdin: []byte("12345")})
	if strings.TrimSpace(string(res.Stdout)) != "5" {
		t.Fatalf("stdin: %q", res.Stdout)
	}
	res = mustRun(t, c, Command{Line: "cat"})
	if len(res.Stdout) != 0 {
		t.Fatalf("cat without stdin: %q", res.Stdout)
	}
	// A command that ignores a large stdin still reports its own status.
	big := bytes.Repeat([]byte("x"), 5<<20)
	if _, err := c.Run(ctx, Command{Line: "true", Stdin: big}, nil); err != nil {
		t.Fatalf("true with unread stdin: %v", err)
	}
	if _, err := c.Run(ctx, Command{Line: "head -c 1 >/dev/null; exit 4", Stdin: big}, nil); !errors.As(err, &xe) || xe.Code != 4 {
		t.Fatalf("exit 4 with unread stdin: %v", err)
	}
}

// 5 MB of numbered lines on stdout, interleaved with stderr: every line
// arrives once, in order, and Result.Stdout is byte-exact.
func TestStream5MB(t *testing.T) {
	c := rootConn(t)
	const n = 100000 // 100000 lines of 52 bytes = 5.2 MB
	line := "awk 'BEGIN{for(i=0;i<" + fmt.Sprint(n) + ";i++){printf \"line %08d abcdefghijklmnopqrstuvwxyz0123456789\\n\", i; if(i%10000==0) print \"progress \" i > \"/dev/stderr\"}}'"
	var got []string
	var errLines int
	start := time.Now()
	res, err := c.Run(context.Background(), Command{Line: line}, func(l Line) {
		if l.Stream == "stdout" {
			got = append(got, l.Text)
		} else {
			errLines++
		}
	})
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d bytes streamed in %v (%.1f MB/s)", len(res.Stdout), elapsed, float64(len(res.Stdout))/1e6/elapsed.Seconds())
	if len(got) != n || errLines != 10 {
		t.Fatalf("got %d stdout lines and %d stderr lines, want %d and 10", len(got), errLines, n)
	}
	var want bytes.Buffer
	for i := range n {
		w := fmt.Sprintf("line %08d abcdefghijklmnopqrstuvwxyz0123456789", i)
		if got[i] != w {
			t.Fatalf("line %d: %q, want %q", i, got[i], w)
		}
		want.WriteString(w + "\n")
	}
	if !bytes.Equal(res.Stdout, want.Bytes()) {
		t.Fatalf("Result.Stdout differs (%d vs %d bytes)", len(res.Stdout), want.Len())
	}
}

// A 3 MiB line with no newline inside comes as pieces of at most 1 MiB whose
// concatenation is the line; a 200 KB line comes whole.
func TestVeryLongLines(t *testing.T) {
	c := rootConn(t)
	var pieces []string
	res, err := c.Run(context.Background(), Command{Line: "head -c 204800 /dev/zero | tr '\\0' a; echo; head -c 3145728 /dev/zero | tr '\\0' b"}, func(l Line) {
		pieces = append(pieces, l.Text)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pieces) < 4 || pieces[0] != strings.Repeat("a", 204800) {
		t.Fatalf("%d pieces; first has %d bytes", len(pieces), len(pieces[0]))
	}
	long := strings.Join(pieces[1:], "")
	if long != strings.Repeat("b", 3<<20) {
		t.Fatalf("long line: %d bytes", len(long))
	}
	for _, p := range pieces {
		if len(p) > maxLine {
			t.Fatalf("piece of %d bytes", len(p))
		}
	}
	if len(res.Stdout) != 204801+3<<20 {
		t.Fatalf("stdout %d bytes", len(res.Stdout))
	}
}

// Cancelling kills the remote command and its children: checked with pgrep
// on the host (the sshd is local).
func TestCancelKillsRemoteProcesses(t *testing.T) {
	c := rootConn(t)
	for _, tc := range []struct{ name, line string }{
		{"simple", "sleep 300 MARK"},
		{"children", "sh -c 'sleep 301 MARK & sleep 302 MARK & wait'; echo never"},
		{"ignores TERM", "sh -c 'trap \"\" TERM; sleep 303 MARK'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A marker sleep accepts (it sums its arguments), unique to this run.
			marker := fmt.Sprintf("0.%d", time.Now().UnixNano())
			line := strings.ReplaceAll(tc.line, "MARK", marker)
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() {
				_, err := c.Run(ctx, Command{Line: line}, nil)
				errc <- err
			}()
			waitFor(t, 5*time.Second, func() bool { return pgrep(marker) != "" })
			cancel()
			start := time.Now()
			err := <-errc
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("want context.Canceled, got %v", err)
			}
			t.Logf("Run returned %v after cancel", time.Since(start))
			waitFor(t, 2*time.Second, func() bool { return pgrep(marker) == "" })
		})
	}
}

func pgrep(marker string) string {
	out, _ := exec.Command("pgrep", "-af", marker).Output()
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" && !strings.Contains(l, "pgrep") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Output lines and the stderr tail reach callers as a terminal would show
// them, with no escape sequence; Result.Stdout keeps the raw bytes to parse.
func TestOutputLinesAreCleaned(t *testing.T) {
	c := rootConn(t)
	script := `printf 'url=x\033]52;c;aWQ=\007y\r\n'; printf '50%%\r100%%\n'; printf 'bad\r\033[K\033]0;title\007news\n' >&2; exit 1`
	var lines []string
	res, err := c.Run(context.Background(), Command{Line: script}, func(l Line) { lines = append(lines, l.Stream+":"+l.Text) })
	var xe *ExitError
	if !errors.As(err, &xe) {
		t.Fatalf("want an ExitError, got %v", err)
	}
	want := []string{"stdout:url=xy", "stdout:100%", "stderr:news"}
	if strings.Join(lines, "|") != strings.Join(want, "|") && !sameSet(lines, want) {
		t.Errorf("lines %q, want %q", lines, want)
	}
	if len(xe.StderrTail) != 1 || xe.StderrTail[0] != "news" || strings.Contains(err.Error(), "\x1b") {
		t.Errorf("stderr tail %q, error %q", xe.StderrTail, err)
	}
	if !bytes.Contains(res.Stdout, []byte("\x1b]52;")) {
		t.Errorf("Result.Stdout lost its raw bytes: %q", res.Stdout)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		seen[s]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}
