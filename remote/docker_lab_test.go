//go:build lab

package remote

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"aginstall/internal/labtest"
	"github.com/moby/moby/client"
)

// labPool connects to every lab host as user, with the lab's key and the
// host keys pinned from lab.json (nothing read from or written to the
// machine's known_hosts).
func labPool(t *testing.T, l *labtest.Lab, user string) *Pool {
	t.Helper()
	var targets []Target
	for _, h := range l.Hosts {
		targets = append(targets, Target{Name: h.Name, Address: h.Address, User: user, Identity: l.Key, HostKey: h.HostKeyFingerprint})
	}
	return testPool(t, targets, Options{
		KnownHostsFile: t.TempDir() + "/known_hosts",
		SudoPassword:   func(string) ([]byte, error) { return []byte(l.SudoPassword), nil },
	})
}

// dockerHost is a lab host with a running Docker engine; if none has one,
// docker.io is installed on the last host from the lab's apt repository.
func dockerHost(t *testing.T, l *labtest.Lab, p *Pool) string {
	t.Helper()
	ctx := context.Background()
	for _, h := range l.Hosts {
		if _, err := mustConn(t, p, h.Name).Run(ctx, Command{Line: "systemctl is-active --quiet docker"}, nil); err == nil {
			return h.Name
		}
	}
	name := l.Hosts[len(l.Hosts)-1].Name
	t.Logf("no lab host runs Docker: installing docker.io on %s", name)
	_, err := mustConn(t, p, name).Run(ctx, Command{Line: "export DEBIAN_FRONTEND=noninteractive; apt-get update -q && apt-get install -y -q docker.io && systemctl start docker"},
		func(l Line) { t.Log(l.Text) })
	if err != nil {
		t.Fatal(err)
	}
	return name
}

func TestLabDockerOverSSH(t *testing.T) {
	l := labFresh(t)
	ctx := context.Background()
	root := labPool(t, l, "root")
	start := time.Now()
	mustConn(t, root, l.Hosts[0].Name)
	t.Logf("connect to a lab host (pinned key): %v", time.Since(start))
	host := dockerHost(t, l, root)

	check := func(t *testing.T, c *Conn, want dockerMode) {
		cli, err := c.Docker(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		if c.dockerMode != want {
			t.Fatalf("reached Docker by mode %d, want %d", c.dockerMode, want)
		}
		info, err := cli.Info(ctx, client.InfoOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if info.Info.ServerVersion == "" || !strings.EqualFold(info.Info.Name, host) {
			t.Fatalf("Info from the wrong engine? name %q version %q", info.Info.Name, info.Info.ServerVersion)
		}
		// Several API calls, each a new connection through the tunnel.
		for range 3 {
			if _, err := cli.Ping(ctx, client.PingOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("%s: Docker %s, swarm %q", host, info.Info.ServerVersion, info.Info.Swarm.LocalNodeState)
	}
	t.Run("root", func(t *testing.T) { check(t, mustConn(t, root, host), dockerDirect) })

	t.Run(l.SudoUser, func(t *testing.T) {
		p := labPool(t, l, l.SudoUser)
		c := mustConn(t, p, host)
		want := dockerSudo
		if res, err := c.Run(ctx, Command{Line: "id -nG"}, nil); err == nil && strings.Contains(" "+string(res.Stdout), " docker") {
			want = dockerDirect // someone put agadmin in the docker group
		}
		check(t, c, want)
	})

	t.Run(l.NosudoUser, func(t *testing.T) {
		p := labPool(t, l, l.NosudoUser)
		_, err := mustConn(t, p, host).Docker(ctx)
		if err == nil || !strings.Contains(err.Error(), "cannot reach the Docker socket") || !strings.Contains(err.Error(), "usermod -aG docker "+l.NosudoUser) {
			t.Fatalf("want a clear error, got %v", err)
		}
		t.Log(err)
	})

	// Root on a host without an engine: told at once that Docker is not
	// there, without trying sudo (root opens any socket already).
	t.Run("root without Docker", func(t *testing.T) {
		var bare string
		for _, h := range l.Hosts {
			if _, err := mustConn(t, root, h.Name).Run(ctx, Command{Line: "test -e /var/run/docker.sock"}, nil); err != nil {
				bare = h.Name
				break
			}
		}
		if bare == "" {
			t.Fatal("every lab host has a Docker socket after a reset")
		}
		_, err := mustConn(t, root, bare).Docker(ctx)
		if err == nil || !strings.HasPrefix(err.Error(), bare+" ") || !strings.Contains(err.Error(), "the Docker socket /var/run/docker.sock does not open") ||
			!strings.Contains(err.Error(), "run the docker step first") || strings.Contains(err.Error(), "through sudo") {
			t.Fatalf("want the plain no-Docker error, got %v", err)
		}
		t.Log(err)

		// The sudo user (with a password) on the same host: sudo is tried
		// once, not again on each API call, until the host changes.
		c := mustConn(t, labPool(t, l, l.SudoUser), bare)
		if _, err := c.Docker(ctx); err == nil || !strings.Contains(err.Error(), "through sudo") {
			t.Fatalf("want the no-socket error after trying sudo, got %v", err)
		}
		c.dockerMu.Lock()
		tried := c.dockerSudoErr != nil
		c.dockerSudoErr = errors.New("sentinel: the earlier sudo try")
		c.dockerMu.Unlock()
		if !tried {
			t.Fatal("the failed sudo try was not kept")
		}
		if _, err := c.Docker(ctx); err == nil || !strings.Contains(err.Error(), "sentinel: the earlier sudo try") {
			t.Fatalf("sudo was tried again: %v", err)
		}
		c.ForgetDocker()
		if _, err := c.Docker(ctx); err == nil || strings.Contains(err.Error(), "sentinel") || !strings.Contains(err.Error(), "through sudo") {
			t.Fatalf("after ForgetDocker sudo must be tried afresh: %v", err)
		}
	})
}

// The lab's sudo user with its real password, on a real distribution.
func TestLabSudoAndCancel(t *testing.T) {
	l := labFresh(t)
	ctx := context.Background()
	p := labPool(t, l, l.SudoUser)
	for _, h := range l.Hosts {
		c := mustConn(t, p, h.Name)
		if res := mustRun(t, c, Command{Line: "id -u", Sudo: true}); string(res.Stdout) != "0\n" {
			t.Fatalf("%s: %q", h.Name, res.Stdout)
		}
	}
	if p.Handshakes() != len(l.Hosts) {
		t.Fatalf("Handshakes %d for %d hosts", p.Handshakes(), len(l.Hosts))
	}
	h := l.Hosts[0].Name
	marker := "0." + time.Now().Format("150405000000")
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, err := mustConn(t, p, h).Run(cctx, Command{Line: "sleep 300 " + marker, Sudo: true}, nil)
		errc <- err
	}()
	alive := func() bool {
		out, _ := l.Exec(t, h, "pgrep", "-f", "sleep 300 "+marker)
		return strings.TrimSpace(out) != ""
	}
	waitFor(t, 10*time.Second, alive)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, func() bool { return !alive() })

	// The lab's agnosudo does not share agadmin's password, and sudo asks for
	// the password before it looks at sudoers: so a wrong password it is
	// (the not-in-sudoers case with the right password is TestNoSudo).
	np := labPool(t, l, l.NosudoUser)
	start := time.Now()
	_, err := mustConn(t, np, h).Run(ctx, Command{Line: "true", Sudo: true}, nil)
	if !errors.Is(err, ErrNoSudo) && !errors.Is(err, ErrSudoPasswordWrong) {
		t.Fatalf("%s: want ErrNoSudo or ErrSudoPasswordWrong, got %v", l.NosudoUser, err)
	}
	t.Logf("%s, after %v: %v", l.NosudoUser, time.Since(start), err)
}

var labResetOnce sync.Once

// labFresh loads the lab and, once per test binary, resets it to bare hosts:
// the suite runs the packages' lab tests one after another on one lab, and
// the ones before leave hosts stopped, restarted or in other swarms.
func labFresh(t *testing.T) *labtest.Lab {
	t.Helper()
	l := labtest.Load(t)
	labResetOnce.Do(func() { l.Reset(t) })
	return labtest.Load(t)
}
