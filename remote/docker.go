package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/moby/moby/client"
	"golang.org/x/crypto/ssh"
)

type dockerMode int

const (
	dockerUnknown dockerMode = iota
	dockerDirect             // the SSH user can open the socket (root, docker group)
	dockerSudo               // `sudo docker system dial-stdio` per connection
)

const dockerSock = "/var/run/docker.sock"

// Docker returns a Docker API client that reaches /var/run/docker.sock on
// the host through this SSH connection: directly (direct-streamlocal) when
// the user may open the socket, else through `sudo docker system
// dial-stdio` in a session per connection (needs the docker CLI there). The
// client is checked with a ping; close it when done.
func (c *Conn) Docker(ctx context.Context) (*client.Client, error) {
	mode, err := c.dockerAccess(ctx)
	if err != nil {
		return nil, err
	}
	cli, err := client.New(
		// WithHost first: WithDialContext after it replaces the dialer; the
		// other order silently dials the local socket.
		client.WithHost("unix://"+dockerSock),
		client.WithDialContext(func(ctx context.Context, _, _ string) (net.Conn, error) {
			return c.dialDocker(ctx, mode)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("%s: creating the Docker client: %w", c.label, err)
	}
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		cli.Close()
		how := "directly"
		if mode == dockerSudo {
			how = "through sudo docker system dial-stdio"
		}
		return nil, fmt.Errorf("%s: the Docker API at %s (reached %s) does not answer: %w. Check that Docker is running there (systemctl status docker)",
			c.label, dockerSock, how, err)
	}
	return cli, nil
}

// dockerAccess decides once per connection how to reach the socket.
func (c *Conn) dockerAccess(ctx context.Context) (dockerMode, error) {
	c.dockerMu.Lock()
	defer c.dockerMu.Unlock()
	if c.dockerMode != dockerUnknown {
		return c.dockerMode, nil
	}
	conn, directErr := c.client.DialContext(ctx, "unix", dockerSock)
	if directErr == nil {
		conn.Close()
		c.dockerMode = dockerDirect
		return c.dockerMode, nil
	}
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	if mode, err := c.sudo(ctx); err == nil && mode == sudoRoot {
		// Root opens any socket, so sudo cannot reach what the direct dial
		// could not; asking would start one more process per API call.
		return 0, fmt.Errorf("%s: the Docker socket %s does not open: %v. Docker is not installed or not running there: "+
			"run the docker step first, or check systemctl status docker", c.label, dockerSock, directErr)
	}
	// sshd opens the socket as the user with the groups of login time: a
	// user just added to the docker group gets here until it reconnects.
	// A failed try is not repeated until something changed on the host
	// (ForgetDocker): each try is a sudo login, logged by the host.
	sudoErr := c.dockerSudoErr
	if sudoErr == nil {
		_, sudoErr = c.Run(ctx, Command{Line: "docker version --format '{{.Server.Version}}'", Sudo: true}, nil)
		if sudoErr == nil {
			c.dockerMode = dockerSudo
			return c.dockerMode, nil
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		c.dockerSudoErr = sudoErr
	}
	u := c.ep.user
	return 0, fmt.Errorf("%s: %q cannot reach the Docker socket %s: opening it directly: %v; through sudo: %v. "+
		"To fix: add the user to the docker group (sudo usermod -aG docker %s; aginstall reconnects), or connect as root "+
		"or as a user with sudo; if Docker is not installed or not running yet, run the docker step first",
		c.label, u, dockerSock, directErr, sudoErr, u)
}

// ForgetDocker drops what this connection learnt about reaching Docker
// without success, so the next API call tries sudo again: call it after
// anything that may have installed, started or opened up Docker.
func (c *Conn) ForgetDocker() {
	c.dockerMu.Lock()
	defer c.dockerMu.Unlock()
	c.dockerSudoErr = nil
}

func (c *Conn) dialDocker(ctx context.Context, mode dockerMode) (net.Conn, error) {
	if mode == dockerDirect {
		return c.client.DialContext(ctx, "unix", dockerSock)
	}
	line, stdin, _, err := c.sudoWrap(ctx, Command{Line: "docker system dial-stdio", Sudo: true})
	if err != nil {
		return nil, err
	}
	sess, err := c.client.NewSession()
	if err != nil {
		return nil, c.lostErr("opening a session for docker system dial-stdio", err)
	}
	in, err1 := sess.StdinPipe()
	out, err2 := sess.StdoutPipe()
	if err := errors.Join(err1, err2, sess.Start(line)); err != nil {
		sess.Close()
		return nil, fmt.Errorf("%s: starting docker system dial-stdio: %w", c.label, err)
	}
	if len(stdin) > 0 { // the sudo password and marker lines (sudoWrap)
		if _, err := in.Write(stdin); err != nil {
			sess.Close()
			return nil, fmt.Errorf("%s: docker system dial-stdio: %w", c.label, err)
		}
	}
	return &stdioConn{sess: sess, in: in, out: out}, nil
}

// stdioConn is a net.Conn over a session's stdin and stdout.
type stdioConn struct {
	sess *ssh.Session
	in   io.WriteCloser
	out  io.Reader
}

var stdioAddr = &net.UnixAddr{Name: dockerSock, Net: "unix"}

func (s *stdioConn) Read(b []byte) (int, error)  { return s.out.Read(b) }
func (s *stdioConn) Write(b []byte) (int, error) { return s.in.Write(b) }
func (s *stdioConn) CloseWrite() error           { return s.in.Close() }
func (s *stdioConn) Close() error {
	s.in.Close()
	return s.sess.Close()
}
func (s *stdioConn) LocalAddr() net.Addr                { return stdioAddr }
func (s *stdioConn) RemoteAddr() net.Addr               { return stdioAddr }
func (s *stdioConn) SetDeadline(t time.Time) error      { return nil }
func (s *stdioConn) SetReadDeadline(t time.Time) error  { return nil }
func (s *stdioConn) SetWriteDeadline(t time.Time) error { return nil }
