package remote

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/moby/moby/client"
	"golang.org/x/crypto/ssh"
)

// dockerMode is how this connection reaches the engine's socket, found once.
type dockerMode int

const (
	dockerUnknown dockerMode = iota
	dockerDirect             // the SSH user may open the socket (root or docker group)
	dockerSudo               // only through `sudo docker system dial-stdio`
)

const dockerSocket = "/var/run/docker.sock"

// Docker returns a moby client whose every connection is tunnelled through
// this SSH connection to the host's /var/run/docker.sock. WithHost must come
// before WithDialContext: the other order silently dials the LOCAL socket.
func (c *Conn) Docker(ctx context.Context) (*client.Client, error) {
	mode, err := c.dockerAccess(ctx)
	if err != nil {
		return nil, err
	}
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		if mode == dockerDirect {
			return c.client.DialContext(ctx, "unix", dockerSocket)
		}
		return c.dialStdio(ctx)
	}
	cli, err := client.New(client.WithHost("unix://"+dockerSocket), client.WithDialContext(dial))
	if err != nil {
		return nil, fmt.Errorf("%s: creating the Docker client: %w", c.label, err)
	}
	return cli, nil
}

// dockerAccess finds out once whether the socket opens directly, and else
// whether sudo can reach it.
func (c *Conn) dockerAccess(ctx context.Context) (dockerMode, error) {
	c.dockerMu.Lock()
	defer c.dockerMu.Unlock()
	if c.dockerMode != dockerUnknown {
		return c.dockerMode, nil
	}
	conn, derr := c.client.DialContext(ctx, "unix", dockerSocket)
	if derr == nil {
		conn.Close()
		c.dockerMode = dockerDirect
		return c.dockerMode, nil
	}
	// Not directly: is there an engine at all, and can sudo reach it?
	if _, err := c.Run(ctx, Command{Line: "test -S " + dockerSocket + " && command -v docker >/dev/null", Sudo: true}, nil); err != nil {
		return dockerUnknown, fmt.Errorf("%s: cannot reach the Docker engine: %v; and through sudo: %v. "+
			"Install Docker (the docker step), or let the SSH user reach the socket: `sudo usermod -aG docker <user>` then reconnect, or connect as root", c.label, derr, err)
	}
	c.dockerMode = dockerSudo
	return c.dockerMode, nil
}

// dialStdio opens one engine connection as `sudo docker system dial-stdio`
// on a session: the sudo password (if any) goes first on stdin, then the
// HTTP stream.
func (c *Conn) dialStdio(ctx context.Context) (net.Conn, error) {
	line, prefix, _, err := c.sudoWrap(ctx, Command{Line: "docker system dial-stdio", Sudo: true})
	if err != nil {
		return nil, err
	}
	sess, err := c.client.NewSession()
	if err != nil {
		return nil, c.lostErr("opening a session for the Docker socket", err)
	}
	stdin, err := sess.StdinPipe()
	if err != nil {
		sess.Close()
		return nil, err
	}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		sess.Close()
		return nil, err
	}
	if err := sess.Start(line); err != nil {
		sess.Close()
		return nil, c.lostErr("starting docker system dial-stdio", err)
	}
	if len(prefix) > 0 {
		if _, err := stdin.Write(prefix); err != nil {
			sess.Close()
			return nil, err
		}
	}
	return &stdioConn{sess: sess, r: stdout, w: stdin}, nil
}

// stdioConn is a net.Conn over an SSH session's stdin and stdout.
type stdioConn struct {
	sess *ssh.Session
	r    io.Reader
	w    io.WriteCloser
}

func (s *stdioConn) Read(p []byte) (int, error)  { return s.r.Read(p) }
func (s *stdioConn) Write(p []byte) (int, error) { return s.w.Write(p) }
func (s *stdioConn) Close() error {
	s.w.Close()
	return s.sess.Close()
}
func (s *stdioConn) LocalAddr() net.Addr                { return stdioAddr{} }
func (s *stdioConn) RemoteAddr() net.Addr               { return stdioAddr{} }
func (s *stdioConn) SetDeadline(t time.Time) error      { return nil }
func (s *stdioConn) SetReadDeadline(t time.Time) error  { return nil }
func (s *stdioConn) SetWriteDeadline(t time.Time) error { return nil }

type stdioAddr struct{}

func (stdioAddr) Network() string { return "ssh-stdio" }
func (stdioAddr) String() string  { return "docker system dial-stdio" }
