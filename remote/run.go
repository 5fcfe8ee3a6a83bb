package remote

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/alessio/shellescape"
	"golang.org/x/crypto/ssh"

	"aginstall/internal/hosttext"
)

// Conn is the SSH connection to one host. Sessions (one per command) are
// multiplexed on it; safe for concurrent use.
type Conn struct {
	pool   *Pool
	target Target
	ep     *endpoint
	client *ssh.Client
	dead   chan struct{}
	label  string // "node1 (10.0.0.11:22)"

	sudoMu   sync.Mutex
	sudoMode sudoMode
	sudoErr  error

	dockerMu      sync.Mutex
	dockerMode    dockerMode
	dockerSudoErr error // sudo could not reach the socket either; kept until ForgetDocker
}

// Target returns the host as given to NewPool.
func (c *Conn) Target() Target { return c.target }

const (
	maxLine      = 1 << 20
	stderrKeep   = 64 << 10
	stderrLines  = 10
	pgidMarker   = "@@aginstall-pgid@@ "
	killDeadline = 10 * time.Second
)

// Quote shell-quotes each argument and joins them with spaces.
func Quote(args ...string) string { return shellescape.QuoteCommand(args) }

// Run runs cmd, streaming its output to out (may be nil) line by line as it
// arrives; out is never called concurrently. A non-zero exit returns the
// Result and an *ExitError. Cancelling ctx kills the remote process group.
func (c *Conn) Run(ctx context.Context, cmd Command, out func(Line)) (Result, error) {
	line, stdin, asRoot, err := c.sudoWrap(ctx, cmd)
	if err != nil {
		return Result{}, err
	}
	return c.run(ctx, cmd.Line, line, stdin, asRoot, out)
}

// run starts line in a session. The login shell first prints its PID on
// stderr: sshd makes every session a new session leader, so that PID is the
// process group of everything the command starts, which is what cancel kills.
func (c *Conn) run(ctx context.Context, display, line string, stdin []byte, asRoot bool, out func(Line)) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("%s: %q not started: %w", c.label, shorten(display, 200), err)
	}
	sess, err := c.client.NewSession()
	if err != nil {
		return Result{}, c.lostErr("opening a session for "+strconv.Quote(shorten(display, 200)), err)
	}
	defer sess.Close()
	stdoutR, _ := sess.StdoutPipe()
	stderrR, _ := sess.StderrPipe()
	// Stdin is fed by hand: with sess.Stdin, a command that exits without
	// reading all of it makes Wait report the failed copy instead of the
	// exit status. EOF follows the data, so nothing waits for a terminal.
	stdinW, err := sess.StdinPipe()
	if err != nil {
		return Result{}, c.lostErr("opening a session for "+strconv.Quote(shorten(display, 200)), err)
	}

	var (
		outMu  sync.Mutex
		stdMu  sync.Mutex // stdout is read back while a cancelled reader may still write
		stdout bytes.Buffer
		tail   tailBuffer
		pgid   = make(chan int, 1)
		wg     sync.WaitGroup
	)
	returned := false // after Run returns, out is not called any more
	emit := func(l Line) {
		if out != nil {
			outMu.Lock()
			if !returned {
				out(l)
			}
			outMu.Unlock()
		}
	}
	defer func() {
		outMu.Lock()
		returned = true
		outMu.Unlock()
	}()
	if err := sess.Start("printf '" + pgidMarker + "%s\\n' \"$$\" >&2\n" + line); err != nil {
		return Result{}, c.lostErr("starting "+strconv.Quote(shorten(display, 200)), err)
	}
	go func() {
		stdinW.Write(stdin) // an error only means the command stopped reading
		stdinW.Close()
	}()
	wg.Add(2)
	go func() {
		defer wg.Done()
		readLines(stdoutR, func(b []byte, nl bool) {
			stdMu.Lock()
			stdout.Write(b)
			if nl {
				stdout.WriteByte('\n')
			}
			stdMu.Unlock()
			// Host output becomes text here: what every event, log line
			// and error is made of is cleaned once (hosttext), while
			// Result.Stdout keeps the raw bytes for parsing.
			emit(Line{"stdout", hosttext.Clean(string(b))})
		})
	}()
	go func() {
		defer wg.Done()
		gotPgid := false
		readLines(stderrR, func(b []byte, nl bool) {
			if !gotPgid && bytes.HasPrefix(b, []byte(pgidMarker)) {
				if n, err := strconv.Atoi(string(b[len(pgidMarker):])); err == nil {
					gotPgid = true
					pgid <- n
					return
				}
			}
			tail.Write(b, nl)
			emit(Line{"stderr", hosttext.Clean(string(b))})
		})
	}()
	done := make(chan error, 1)
	go func() {
		wg.Wait()
		done <- sess.Wait()
	}()

	var waitErr error
	select {
	case waitErr = <-done:
	case <-ctx.Done():
		c.cancel(sess, pgid, asRoot)
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
		stdMu.Lock()
		res := Result{ExitCode: -1, Stdout: bytes.Clone(stdout.Bytes()), Stderr: tail.Bytes()}
		stdMu.Unlock()
		return res, fmt.Errorf("%s: %q was cancelled and its processes killed: %w", c.label, shorten(display, 200), ctx.Err())
	}
	res := Result{Stdout: stdout.Bytes(), Stderr: tail.Bytes()}
	var ee *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case waitErr == nil:
		return res, nil
	case errors.As(waitErr, &ee):
		res.ExitCode = ee.ExitStatus()
		xe := &ExitError{Host: c.label, Command: display, Code: ee.ExitStatus(), StderrTail: tail.Lines(stderrLines)}
		if ee.Signal() != "" {
			xe.Code, xe.Signal = -1, ee.Signal()
			res.ExitCode = -1
		}
		return res, xe
	case errors.As(waitErr, &missing):
		// No exit status: the session's other end went away (host switched
		// off or rebooted, sshd killed). Say so: "exit -1" sends the operator
		// looking at the command instead of at the host.
		res.ExitCode = -1
		if quiet := c.silence(); quiet != "" {
			return res, fmt.Errorf("%s: %q: %w mid-command: %s", c.label, shorten(display, 200), ErrConnectionLost, quiet)
		}
		return res, fmt.Errorf("%s: %q ended without an exit status: %w mid-command (the host went down or its sshd was killed); check the host is up, then run again (aginstall reconnects)",
			c.label, shorten(display, 200), ErrConnectionLost)
	}
	res.ExitCode = -1
	return res, c.lostErr("running "+strconv.Quote(shorten(display, 200)), waitErr)
}

// cancel stops a running command: from a second session, TERM and after 2 s
// KILL to its whole process group, through sudo when it runs as root. (The
// ssh "signal" request did not kill a no-pty command on OpenSSH 9.2 in our
// tests, and closing the session leaves the process running.)
func (c *Conn) cancel(sess *ssh.Session, pgid chan int, asRoot bool) {
	var n int
	select {
	case n = <-pgid:
	case <-time.After(time.Second):
	}
	if n > 1 {
		ctx, cancel := context.WithTimeout(context.Background(), killDeadline)
		defer cancel()
		g := strconv.Itoa(n)
		// "kill -SIG -PGID" is the form both bash and dash (sudo's sh) accept.
		script := "kill -TERM -" + g + " 2>/dev/null; i=0; while kill -0 -" + g +
			" 2>/dev/null && [ $i -lt 20 ]; do sleep 0.1; i=$((i+1)); done; kill -KILL -" + g + " 2>/dev/null; exit 0"
		_, _ = c.Run(ctx, Command{Line: script, Sudo: asRoot}, nil)
	}
	sess.Close()
}

// lostErr explains a failure of the connection itself.
func (c *Conn) lostErr(what string, err error) error {
	if quiet := c.silence(); quiet != "" {
		return fmt.Errorf("%s: %s: %w: %s", c.label, what, ErrConnectionLost, quiet)
	}
	if !alive(c.dead) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: %s: %w (%v); check the host is up, then retry (aginstall reconnects)", c.label, what, ErrConnectionLost, err)
	}
	return fmt.Errorf("%s: %s: %w (sshd may limit sessions per connection: MaxSessions)", c.label, what, err)
}

// silence says why the keepalive dropped this connection, "" when it did
// not. A host that stops answering is not always down: it may be swamped,
// or its sshd may be stuck setting up the login (pam_systemd waiting for a
// hung systemd user manager holds every new session of that user).
func (c *Conn) silence() string {
	v, ok := c.pool.silent.Load(c.dead)
	if !ok {
		return ""
	}
	return fmt.Sprintf("the host stopped answering for %v (3 keepalives unanswered), so aginstall closed the connection. It is down, cut off, overloaded, or its logins stall (see `journalctl -u ssh` and `loginctl` there); check with ssh, then run again (aginstall reconnects)", v)
}

// readLines calls f for each line of r (without the newline; nl says whether
// one ended it). Lines longer than maxLine come in pieces, so memory stays
// bounded whatever the command prints.
func readLines(r io.Reader, f func(b []byte, nl bool)) {
	br := bufio.NewReaderSize(r, 64<<10)
	var long []byte
	for {
		chunk, err := br.ReadSlice('\n')
		switch {
		case err == nil:
			chunk = chunk[:len(chunk)-1]
			if long != nil {
				f(append(long, chunk...), true)
				long = nil
			} else {
				f(chunk, true)
			}
		case errors.Is(err, bufio.ErrBufferFull):
			long = append(long, chunk...)
			if len(long) >= maxLine {
				f(long, false)
				long = nil
			}
		default:
			if len(long)+len(chunk) > 0 {
				f(append(long, chunk...), false)
			}
			io.Copy(io.Discard, br) // keep the channel drained whatever happened
			return
		}
	}
}

// tailBuffer keeps the last stderrKeep bytes of stderr.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(b []byte, nl bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if nl {
		t.buf = append(t.buf, '\n')
	}
	if len(t.buf) > 2*stderrKeep {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-stderrKeep:]...)
	}
}

func (t *tailBuffer) Bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.buf) > stderrKeep {
		return append([]byte(nil), t.buf[len(t.buf)-stderrKeep:]...)
	}
	return append([]byte(nil), t.buf...)
}

// Lines returns the last n non-empty lines, cleaned for showing (hosttext).
func (t *tailBuffer) Lines(n int) []string {
	var out []string
	for _, l := range strings.Split(hosttext.Clean(string(t.Bytes())), "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out
}
