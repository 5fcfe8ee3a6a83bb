package remote

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// These tests run against real OpenSSH: each test starts its own
// /usr/sbin/sshd on 127.0.0.1 with throwaway host keys, and uses throwaway
// local users for sudo. They need root (as in CI).

const (
	sudoUser   = "aginstall-sudo-test"   // in sudoers, password required
	noSudoUser = "aginstall-nosudo-test" // not in sudoers
	nopwUser   = "aginstall-nopw-test"   // NOPASSWD sudo
	shnopwUser = "aginstall-shnopw-test" // password sudo, but NOPASSWD for sh
	// shnopwUser's password is a command: it must never run.
	shnopwPass = "echo sudo-password-ran-as-a-command"
	// Spaces and quotes on purpose: the password must survive every layer.
	sudoPass = `s3cret pass'word "x" $HOME`
)

// shared holds the client keys and authorized_keys every test sshd uses.
var shared struct {
	once               sync.Once
	dir                string
	key, encKey, agKey string // private key paths: plain, encrypted (passphrase encPass), agent-only
	authorizedKeys     string
	err                error
}

const encPass = "key passphrase"

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("remote tests start sshd and create local users: run them as root (CI does)")
	}
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		t.Fatalf("/usr/sbin/sshd is missing: apt-get install -y openssh-server")
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func sharedKeys(t *testing.T) {
	t.Helper()
	needRoot(t)
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "aginstall-remote-keys-")
		if err != nil {
			shared.err = err
			return
		}
		os.Chmod(dir, 0o755) // sshd reads authorized_keys as the test users
		shared.dir = dir
		shared.key = filepath.Join(dir, "id_plain")
		shared.encKey = filepath.Join(dir, "id_enc")
		shared.agKey = filepath.Join(dir, "id_agent")
		var pubs []string
		for _, k := range []struct{ path, pass string }{{shared.key, ""}, {shared.encKey, encPass}, {shared.agKey, ""}} {
			out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", k.pass, "-C", filepath.Base(k.path), "-f", k.path).CombinedOutput()
			if err != nil {
				shared.err = fmt.Errorf("ssh-keygen: %v: %s", err, out)
				return
			}
			pub, _ := os.ReadFile(k.path + ".pub")
			pubs = append(pubs, string(pub))
		}
		shared.authorizedKeys = filepath.Join(dir, "authorized_keys")
		shared.err = os.WriteFile(shared.authorizedKeys, []byte(strings.Join(pubs, "")), 0o644)
		if shared.err == nil {
			shared.err = ensureUsers()
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
}

// ensureUsers creates the sudo test users idempotently.
func ensureUsers() error {
	if _, err := exec.LookPath("sudo"); err != nil {
		return fmt.Errorf("sudo is not installed: the CI script must apt-get install -y sudo")
	}
	for _, u := range []string{sudoUser, noSudoUser, nopwUser, shnopwUser} {
		if exec.Command("id", u).Run() != nil {
			if out, err := exec.Command("useradd", "-m", "-s", "/bin/bash", u).CombinedOutput(); err != nil {
				return fmt.Errorf("useradd %s: %v: %s", u, err, out)
			}
		}
		pw := sudoPass
		if u == shnopwUser {
			pw = shnopwPass
		}
		c := exec.Command("chpasswd")
		c.Stdin = strings.NewReader(u + ":" + pw + "\n")
		if out, err := c.CombinedOutput(); err != nil {
			return fmt.Errorf("chpasswd: %v: %s", err, out)
		}
	}
	exec.Command("usermod", "-aG", "sudo", sudoUser).Run()
	exec.Command("gpasswd", "-d", noSudoUser, "sudo").Run()
	rules := "Defaults:" + sudoUser + " lecture=never\n" +
		sudoUser + " ALL=(ALL:ALL) ALL\n" +
		nopwUser + " ALL=(ALL:ALL) NOPASSWD: ALL\n" +
		shnopwUser + " ALL=(ALL:ALL) ALL\n" +
		shnopwUser + " ALL=(ALL:ALL) NOPASSWD: /bin/sh, /usr/bin/sh\n"
	f := "/etc/sudoers.d/aginstall-remote-test"
	if err := os.WriteFile(f, []byte(rules), 0o440); err != nil {
		return err
	}
	if out, err := exec.Command("visudo", "-cf", f).CombinedOutput(); err != nil {
		os.Remove(f)
		return fmt.Errorf("visudo: %v: %s", err, out)
	}
	return nil
}

// testSSHD is one running sshd.
type testSSHD struct {
	Port    int
	Dir     string
	HostKey ssh.PublicKey
	Log     string
	cmd     *exec.Cmd
}

func (s *testSSHD) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startSSHD starts sshd with extra config lines; stopped at test end by PID.
func startSSHD(t *testing.T, extra ...string) *testSSHD {
	t.Helper()
	sharedKeys(t)
	os.MkdirAll("/run/sshd", 0o755) // privilege separation directory
	dir := t.TempDir()
	hk := filepath.Join(dir, "host_ed25519")
	run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hk)
	pubBytes, _ := os.ReadFile(hk + ".pub")
	pub, _, _, _, err := ssh.ParseAuthorizedKey(pubBytes)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		s := &testSSHD{Port: freePort(t), Dir: dir, HostKey: pub, Log: filepath.Join(dir, "sshd.log")}
		// extra comes first: for most keywords sshd keeps the first value.
		cfg := strings.Join(append(extra,
			"Port "+strconv.Itoa(s.Port),
			"ListenAddress 127.0.0.1",
			"HostKey "+hk,
			"PidFile "+filepath.Join(dir, "sshd.pid"),
			"UsePAM no",
			"StrictModes no",
			"AuthorizedKeysFile "+shared.authorizedKeys,
			"PasswordAuthentication no",
			"KbdInteractiveAuthentication no",
			"PermitRootLogin prohibit-password",
			"AllowTcpForwarding yes",
			"AllowStreamLocalForwarding yes",
			"LogLevel DEBUG1",
		), "\n") + "\n"
		cfgPath := filepath.Join(dir, "sshd_config")
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		logf, err := os.Create(s.Log)
		if err != nil {
			t.Fatal(err)
		}
		// -E, not -e: with -e, debug lines of the session child reach the client's stderr.
		s.cmd = exec.Command("/usr/sbin/sshd", "-D", "-E", s.Log, "-f", cfgPath)
		s.cmd.Stderr = logf
		if err := s.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { s.cmd.Wait(); logf.Close(); close(exited) }()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			select {
			case <-exited:
				deadline = time.Time{}
				continue
			default:
			}
			if c, err := net.DialTimeout("tcp", s.Addr(), 200*time.Millisecond); err == nil {
				c.Close()
				t.Cleanup(func() {
					s.cmd.Process.Kill() // by PID: only the sshd this test started
					<-exited
				})
				return s
			}
			time.Sleep(20 * time.Millisecond)
		}
		s.cmd.Process.Kill()
		<-exited
		log, _ := os.ReadFile(s.Log)
		t.Logf("sshd on port %d did not come up (retrying): %s", s.Port, log)
	}
	t.Fatal("could not start sshd")
	return nil
}

// knownHostsFor writes a known_hosts file trusting the given servers.
func knownHostsFor(t *testing.T, servers ...*testSSHD) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "known_hosts")
	var b strings.Builder
	for _, s := range servers {
		fmt.Fprintf(&b, "[127.0.0.1]:%d %s", s.Port, ssh.MarshalAuthorizedKey(s.HostKey))
	}
	if err := os.WriteFile(f, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func target(s *testSSHD, name, user string) Target {
	return Target{Name: name, Address: "127.0.0.1", Port: s.Port, User: user, Identity: shared.key}
}

// testPool is a pool that ignores the machine's ssh config and agent.
func testPool(t *testing.T, targets []Target, opt Options) *Pool {
	t.Helper()
	if opt.SSHConfigFile == "" {
		opt.SSHConfigFile = "none"
	}
	if opt.ConnectTimeout == 0 {
		opt.ConnectTimeout = 5 * time.Second
	}
	p := NewPool(targets, opt)
	t.Cleanup(func() { p.Close() })
	return p
}

func mustConn(t *testing.T, p *Pool, host string) *Conn {
	t.Helper()
	c, err := p.Conn(context.Background(), host)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustRun(t *testing.T, c *Conn, cmd Command) Result {
	t.Helper()
	res, err := c.Run(context.Background(), cmd, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}
