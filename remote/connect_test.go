package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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

// isolate points HOME at an empty directory so the machine's own keys and
// ssh config cannot help or hurt.
func isolate(t *testing.T) {
	t.Helper()
	t.Setenv("HOME", t.TempDir())
	t.Setenv("SSH_AUTH_SOCK", "")
}

// startAgent runs a real ssh-agent holding the agent-only key and points
// SSH_AUTH_SOCK at it; it returns the socket.
func startAgent(t *testing.T) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
	waitFor(t, 5*time.Second, func() bool { _, err := os.Stat(sock); return err == nil })
	add := exec.Command("ssh-add", shared.agKey)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v %s", err, out)
	}
	t.Setenv("SSH_AUTH_SOCK", sock)
	return sock
}

func TestAgentAuth(t *testing.T) {
	isolate(t)
	s := startSSHD(t)
	startAgent(t)
	// No identity anywhere: only the agent holds a key the server accepts.
	tg := Target{Name: "n1", Address: "127.0.0.1", Port: s.Port, User: "root"}
	p := testPool(t, []Target{tg}, Options{KnownHostsFile: knownHostsFor(t, s)})
	mustRun(t, mustConn(t, p, "n1"), Command{Line: "true"})

	// Without the agent the same target is refused, with a useful message.
	t.Setenv("SSH_AUTH_SOCK", "")
	p = testPool(t, []Target{tg}, Options{KnownHostsFile: knownHostsFor(t, s)})
	_, err := p.Conn(context.Background(), "n1")
	if !errors.Is(err, ErrAuthFailed) || !strings.Contains(err.Error(), `user "root"`) || !strings.Contains(err.Error(), "authorized_keys") {
		t.Fatalf("want ErrAuthFailed, got %v", err)
	}
	t.Log(err)
}

// IdentitiesOnly yes in ssh_config: the agent's other keys are not offered
// (a server counts each refused key against MaxAuthTries), as OpenSSH does.
func TestSSHConfigIdentitiesOnly(t *testing.T) {
	isolate(t)
	s := startSSHD(t)
	startAgent(t) // holds the one key the server takes
	other := filepath.Join(t.TempDir(), "id_other")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	kh := knownHostsFor(t, s)
	pool := func(only string) *Pool {
		cfg := filepath.Join(t.TempDir(), "config")
		os.WriteFile(cfg, []byte(fmt.Sprintf("Host node\n  HostName 127.0.0.1\n  Port %d\n  User root\n  IdentityFile %s\n  IdentitiesOnly %s\n  UserKnownHostsFile %s\n",
			s.Port, other, only, kh)), 0o600)
		return testPool(t, []Target{{Name: "n1", Address: "node"}}, Options{SSHConfigFile: cfg})
	}
	// Without it, the agent's key is tried after the refused file key.
	mustRun(t, mustConn(t, pool("no"), "n1"), Command{Line: "true"})
	_, err := pool("yes").Conn(context.Background(), "n1")
	if !errors.Is(err, ErrAuthFailed) || !strings.Contains(err.Error(), "0 of ssh-agent's 1 key(s) (IdentitiesOnly") {
		t.Fatalf("IdentitiesOnly yes: want ErrAuthFailed naming IdentitiesOnly, got %v", err)
	}
	t.Log(err)
}

// An encrypted key: the passphrase is asked once for two hosts, and the
// connect timeout does not run while the operator types.
func TestEncryptedKeyPassphrase(t *testing.T) {
	isolate(t)
	s := startSSHD(t)
	var asked atomic.Int32
	a, b := target(s, "a", "root"), target(s, "b", "root")
	a.Identity, b.Identity = shared.encKey, shared.encKey
	p := testPool(t, []Target{a, b}, Options{
		KnownHostsFile: knownHostsFor(t, s),
		ConnectTimeout: time.Second,
		Passphrase: func(path string) ([]byte, error) {
			if path != shared.encKey {
				t.Errorf("asked for %s", path)
			}
			time.Sleep(1500 * time.Millisecond) // slower than ConnectTimeout
			if asked.Add(1) == 1 {
				return []byte("wrong"), nil // a typo, asked again
			}
			return []byte(encPass), nil
		},
	})
	var wg sync.WaitGroup
	for _, h := range []string{"a", "b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.Conn(context.Background(), h); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := asked.Load(); n != 2 {
		t.Fatalf("passphrase asked %d times, want 2 (one typo, then once for both hosts)", n)
	}
}

func TestSSHConfigAliasAndOverride(t *testing.T) {
	isolate(t)
	s := startSSHD(t)
	kh := knownHostsFor(t, s)
	cfg := filepath.Join(t.TempDir(), "config")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`Host lab-node
    HostName 127.0.0.1
    Port %d
    User %s
    IdentityFile %s
    UserKnownHostsFile %s
`, s.Port, sudoUser, shared.key, kh)), 0o600)
	p := testPool(t, []Target{{Name: "n1", Address: "lab-node"}, {Name: "n2", Address: "lab-node", User: "root"}},
		Options{SSHConfigFile: cfg})
	if res := mustRun(t, mustConn(t, p, "n1"), Command{Line: "id -un"}); string(res.Stdout) != sudoUser+"\n" {
		t.Fatalf("ssh_config user: %q", res.Stdout)
	}
	// The cluster file's user wins over ssh_config's.
	if res := mustRun(t, mustConn(t, p, "n2"), Command{Line: "id -un"}); string(res.Stdout) != "root\n" {
		t.Fatalf("override: %q", res.Stdout)
	}

	// ProxyCommand is not run, and says so instead of dialling directly.
	os.WriteFile(cfg, []byte("Host pc\n  ProxyCommand nc %h %p\n"), 0o600)
	p = testPool(t, []Target{{Name: "n3", Address: "pc"}}, Options{SSHConfigFile: cfg})
	if _, err := p.Conn(context.Background(), "n3"); err == nil || !strings.Contains(err.Error(), "ProxyCommand") {
		t.Fatalf("ProxyCommand: %v", err)
	}
}

// ProxyJump through a second sshd, from the cluster file and from
// ssh_config. The bastion's log shows the forwarded connection, and a
// bastion that forbids forwarding makes the connection fail.
func TestBastion(t *testing.T) {
	isolate(t)
	bastion := startSSHD(t)
	host := startSSHD(t)
	kh := knownHostsFor(t, bastion, host)
	tg := target(host, "inner", "root")
	tg.Bastion = "root@127.0.0.1:" + strconv.Itoa(bastion.Port)
	p := testPool(t, []Target{tg}, Options{KnownHostsFile: kh})
	mustRun(t, mustConn(t, p, "inner"), Command{Line: "true"})
	log, _ := os.ReadFile(bastion.Log)
	if !strings.Contains(string(log), "target 127.0.0.1 port "+strconv.Itoa(host.Port)) {
		t.Fatalf("bastion log shows no forwarding to port %d:\n%s", host.Port, log)
	}
	if p.Handshakes() != 1 {
		t.Fatalf("Handshakes %d", p.Handshakes())
	}

	cfg := filepath.Join(t.TempDir(), "config")
	os.WriteFile(cfg, []byte(fmt.Sprintf("Host inner\n  HostName 127.0.0.1\n  Port %d\n  User root\n  ProxyJump jump\nHost jump\n  HostName 127.0.0.1\n  Port %d\n  User root\n  IdentityFile %s\n",
		host.Port, bastion.Port, shared.key)), 0o600)
	p = testPool(t, []Target{{Name: "inner", Address: "inner", Identity: shared.key}}, Options{SSHConfigFile: cfg, KnownHostsFile: kh})
	if res := mustRun(t, mustConn(t, p, "inner"), Command{Line: "echo $SSH_CONNECTION"}); !strings.HasPrefix(string(res.Stdout), "127.0.0.1 ") {
		t.Fatalf("%q", res.Stdout)
	}

	closed := startSSHD(t, "AllowTcpForwarding no")
	tg.Bastion = "root@127.0.0.1:" + strconv.Itoa(closed.Port)
	p = testPool(t, []Target{tg}, Options{KnownHostsFile: knownHostsFor(t, closed, host)})
	_, err := p.Conn(context.Background(), "inner")
	var ce *ConnectError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "through bastion "+tg.Bastion) {
		t.Fatalf("want a ConnectError through the bastion, got %v", err)
	}
	t.Log(err)
}

// Bastion and host both unknown: the scan reports the bastion's key without
// authenticating to it (its log shows no user authentication), the host
// behind waits; once the bastion's key is accepted a second scan goes
// through it and reports the host's key.
func TestBastionScan(t *testing.T) {
	isolate(t)
	bastion := startSSHD(t)
	host := startSSHD(t)
	tg := target(host, "inner", "root")
	tg.Bastion = "root@127.0.0.1:" + strconv.Itoa(bastion.Port)
	kh := filepath.Join(t.TempDir(), "known_hosts")
	p := testPool(t, []Target{tg}, Options{KnownHostsFile: kh})
	if _, err := p.Conn(context.Background(), "inner"); !errors.Is(err, ErrHostKeyUnknown) {
		t.Fatalf("want unknown bastion key, got %v", err)
	}
	keys, err := p.ScanHostKeys(context.Background())
	if !errors.Is(err, ErrBastionKeyPending) || len(keys) != 1 || !keys[0].Bastion || keys[0].Port != bastion.Port || keys[0].Status != KeyUnknown {
		t.Fatalf("first round: %+v %v", keys, err)
	}
	t.Logf("first round: %v", err)
	log, _ := os.ReadFile(bastion.Log)
	for _, l := range strings.Split(string(log), "\n") {
		if strings.Contains(l, "userauth") || strings.Contains(l, "Accepted") || strings.Contains(l, "Failed") || strings.Contains(l, "Postponed") {
			t.Fatalf("the scan authenticated to the unconfirmed bastion: %s", l)
		}
	}
	if err := p.AcceptHostKeys(keys); err != nil {
		t.Fatal(err)
	}
	keys, err = p.ScanHostKeys(context.Background())
	if err != nil || len(keys) != 2 || !keys[0].Bastion || keys[0].Status != KeyKnown || keys[1].Host != "inner" || keys[1].Status != KeyUnknown {
		t.Fatalf("second round: %+v %v", keys, err)
	}
	if err := p.AcceptHostKeys(keys[1:]); err != nil {
		t.Fatal(err)
	}
	mustRun(t, mustConn(t, p, "inner"), Command{Line: "true"})
}

func TestHostDown(t *testing.T) {
	isolate(t)
	sharedKeys(t)
	port := freePort(t) // nothing listens there
	// A host that takes the TCP connection and never answers (a hung or
	// firewalled sshd), on loopback: tests send nothing off this machine.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	silentPort := silent.Addr().(*net.TCPAddr).Port
	p := testPool(t, []Target{
		{Name: "closed", Address: "127.0.0.1", Port: port, Identity: shared.key},
		{Name: "silent", Address: "127.0.0.1", Port: silentPort, Identity: shared.key},
	}, Options{KnownHostsFile: filepath.Join(t.TempDir(), "kh"), ConnectTimeout: time.Second})
	var ce *ConnectError
	start := time.Now()
	_, err = p.Conn(context.Background(), "closed")
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "127.0.0.1:"+strconv.Itoa(port)) || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("closed port: %v", err)
	}
	t.Logf("closed port, %v: %v", time.Since(start), err)
	start = time.Now()
	_, err = p.Conn(context.Background(), "silent")
	took := time.Since(start)
	t.Logf("silent, %v: %v", took, err)
	if !errors.As(err, &ce) || took > 1500*time.Millisecond {
		t.Fatalf("silent: %v after %v", err, took)
	}
	if !strings.Contains(err.Error(), "silent (127.0.0.1:"+strconv.Itoa(silentPort)+")") || !strings.Contains(err.Error(), "1s") {
		t.Fatalf("message: %v", err)
	}
	if _, err := p.ScanHostKeys(context.Background()); !errors.As(err, &ce) {
		t.Fatalf("scan of down hosts: %v", err)
	}
}

// sshd drops unauthenticated connections beyond MaxStartups; with
// MaxHandshakes under it, 12 hosts connecting at once all get through.
// (Without the limit most of them are reset. sshd counts a connection until
// its child reports the login, which on a loaded machine lags well behind our
// handshake: a margin of 2 under MaxStartups failed once in CI-like load, so
// the margin is 6.)
func TestMaxHandshakes(t *testing.T) {
	isolate(t)
	s := startSSHD(t, "MaxStartups 8")
	var targets []Target
	for i := range 12 {
		targets = append(targets, target(s, "n"+strconv.Itoa(i), "root"))
	}
	p := testPool(t, targets, Options{KnownHostsFile: knownHostsFor(t, s), MaxHandshakes: 2})
	var wg sync.WaitGroup
	for _, tg := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.Conn(context.Background(), tg.Name); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if p.Handshakes() != 12 {
		t.Fatalf("Handshakes %d", p.Handshakes())
	}
}

// childrenOf lists the PIDs whose parent is pid, recursively.
func childrenOf(pid int) []int {
	var out []int
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// "pid (comm) state ppid ..."; comm may contain spaces.
		rest := string(b[strings.LastIndexByte(string(b), ')')+2:])
		fields := strings.Fields(rest)
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			child, _ := strconv.Atoi(strings.Fields(string(b))[0])
			out = append(out, child)
			out = append(out, childrenOf(child)...)
		}
	}
	return out
}

// The connection's sshd processes die: the old Conn says the connection was
// lost, and Pool.Conn dials again (a second handshake).
func TestReconnectAfterConnectionLoss(t *testing.T) {
	isolate(t)
	s := startSSHD(t)
	p := testPool(t, []Target{target(s, "n1", "root")}, Options{KnownHostsFile: knownHostsFor(t, s)})
	c := mustConn(t, p, "n1")
	mustRun(t, c, Command{Line: "true"})
	for _, pid := range childrenOf(s.cmd.Process.Pid) {
		syscall.Kill(pid, syscall.SIGKILL) // by PID: this test's sshd's children
	}
	waitFor(t, 5*time.Second, func() bool { return !alive(c.dead) })
	if _, err := c.Run(context.Background(), Command{Line: "true"}, nil); err == nil || !strings.Contains(err.Error(), "connection was lost") {
		t.Fatalf("old conn: %v", err)
	}
	c2 := mustConn(t, p, "n1")
	if c2 == c {
		t.Fatal("got the dead connection back")
	}
	mustRun(t, c2, Command{Line: "true"})
	if p.Handshakes() != 2 {
		t.Fatalf("Handshakes %d", p.Handshakes())
	}
}

// Keepalives go out on the ticker; a host that stops answering (its sshd
// frozen with SIGSTOP) is dropped after 3 missed replies, so a command on it
// fails instead of hanging.
func TestKeepaliveDropsHungHost(t *testing.T) {
	isolate(t)
	s := startSSHD(t)
	p := testPool(t, []Target{target(s, "n1", "root")}, Options{KnownHostsFile: knownHostsFor(t, s), Keepalive: 200 * time.Millisecond})
	c := mustConn(t, p, "n1")
	time.Sleep(500 * time.Millisecond)
	if log, _ := os.ReadFile(s.Log); !strings.Contains(string(log), "keepalive@openssh.com") {
		t.Fatalf("no keepalive in the sshd log:\n%s", log)
	}
	kids := childrenOf(s.cmd.Process.Pid)
	for _, pid := range kids {
		syscall.Kill(pid, syscall.SIGSTOP)
	}
	t.Cleanup(func() {
		for _, pid := range kids {
			syscall.Kill(pid, syscall.SIGCONT)
		}
	})
	start := time.Now()
	_, err := c.Run(context.Background(), Command{Line: "true"}, nil)
	took := time.Since(start)
	if err == nil || took > 3*time.Second {
		t.Fatalf("Run on a hung host: %v after %v", err, took)
	}
	// Not a bare EOF: the operator learns the host went quiet, and for how long.
	if !errors.Is(err, ErrConnectionLost) || !strings.Contains(err.Error(), "the host stopped answering for ") || strings.Contains(err.Error(), "EOF") {
		t.Fatalf("the error does not say the host went quiet: %v", err)
	}
	t.Logf("hung host dropped after %v: %v", took, err)
}
