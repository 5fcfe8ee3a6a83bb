package remote

import (
	"testing"
	"time"
)

func TestKeyAuthAndOneHandshake(t *testing.T) {
	t.Setenv("SSH_AUTH_SOCK", "")
	s := startSSHD(t)
	p := testPool(t, []Target{target(s, "n1", "root")}, Options{KnownHostsFile: knownHostsFor(t, s)})
	start := time.Now()
	c := mustConn(t, p, "n1")
	t.Logf("connect + handshake + auth: %v", time.Since(start))
	for i := range 20 {
		c2 := mustConn(t, p, "n1")
		res := mustRun(t, c2, Command{Line: "echo hello " + Quote("it's", "$x")})
		if got := string(res.Stdout); got != "hello it's $x\n" {
			t.Fatalf("run %d: stdout %q", i, got)
		}
	}
	if c.Target().Name != "n1" {
		t.Fatal(c.Target())
	}
	if n := p.Handshakes(); n != 1 {
		t.Fatalf("Handshakes() = %d after 20 runs, want 1", n)
	}
}
