package remote

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
)

type sudoMode int

const (
	sudoUnknown  sudoMode = iota
	sudoRoot              // logged in as root: nothing to do
	sudoNoPasswd          // sudo -n works
	sudoPassword          // sudo -S with the cached password
)

// sudoCache holds the one sudo password of a run, in memory only.
type sudoCache struct {
	mu       sync.Mutex
	asked    bool
	pw       []byte
	err      error
	onSecret func(string) // told the password once known, for redaction
}

// OnSecret registers fn to hear the run's sudo password as soon as it is
// known (at once if it already is), so every log and record can redact it.
func (p *Pool) OnSecret(fn func(string)) {
	s := &p.sudo
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onSecret = fn
	if s.asked && len(s.pw) > 0 && fn != nil {
		fn(string(s.pw))
	}
}

func (s *sudoCache) password(ask func(string) ([]byte, error), host string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.asked {
		return s.pw, s.err
	}
	if ask == nil {
		return nil, errors.New("sudo needs a password and no password prompt is available")
	}
	pw, err := ask(host)
	if err != nil {
		return nil, err // not cached: the operator may have cancelled the prompt
	}
	// A copy: forget clears what it holds, and the slice the prompt handed
	// over is the caller's (the wizard's backend keeps it for the next pool).
	s.asked, s.pw = true, bytes.Clone(bytes.TrimRight(pw, "\r\n"))
	if s.onSecret != nil && len(s.pw) > 0 {
		s.onSecret(string(s.pw))
	}
	return s.pw, nil
}

func (s *sudoCache) forget() {
	s.mu.Lock()
	clear(s.pw)
	s.pw, s.asked = nil, false
	s.mu.Unlock()
}

// IsRoot reports whether the SSH user is root (uid 0).
func (c *Conn) IsRoot(ctx context.Context) (bool, error) {
	res, err := c.run(ctx, "id -u", "id -u", nil, false, nil)
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(string(res.Stdout)) == "0", nil
}

// sudoWrap turns cmd into the line and stdin to run. The password is only
// ever written to sudo's stdin; -k makes sudo read it every time. A sudo
// that does not ask after all (a NOPASSWD rule matching sh, say) would hand
// the password line to the command: so a random marker line follows the
// password, and the command runs only when the marker is the first line it
// reads (sudoGate). Otherwise it fails, and the password was only read.
func (c *Conn) sudoWrap(ctx context.Context, cmd Command) (line string, stdin []byte, asRoot bool, err error) {
	if !cmd.Sudo {
		return cmd.Line, cmd.Stdin, false, nil
	}
	mode, err := c.sudo(ctx)
	if err != nil {
		return "", nil, false, err
	}
	switch mode {
	case sudoRoot:
		return cmd.Line, cmd.Stdin, true, nil
	case sudoNoPasswd:
		return "sudo -n -- sh -c " + Quote(cmd.Line), cmd.Stdin, true, nil
	}
	pw, err := c.pool.sudo.password(c.pool.opt.SudoPassword, c.target.Name)
	if err != nil {
		return "", nil, false, err
	}
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		return "", nil, false, err
	}
	marker := "aginstall-sudo-" + hex.EncodeToString(tok)
	in := make([]byte, 0, len(pw)+len(marker)+2+len(cmd.Stdin))
	in = append(append(append(append(append(in, pw...), '\n'), marker...), '\n'), cmd.Stdin...)
	return "sudo -k -S -p '' -- sh -c " + Quote(sudoGate, marker, cmd.Line), in, true, nil
}

// sudoGate runs as root with $0 the marker and $1 the command. sh's read
// takes one byte at a time from a pipe, so the command's own stdin after the
// marker stays whole.
const sudoGate = `IFS= read -r m && [ "$m" = "$0" ] || { echo "` + sudoGateRefused + `" >&2; exit 126; }; exec sh -c "$1"`

// sudoGateRefused is what the gate says when sudo did not read the password.
const sudoGateRefused = "aginstall: sudo ran without asking for the password (a NOPASSWD rule for sh?), so nothing was run; " +
	"allow this user passwordless sudo for everything (then aginstall never sends a password) or remove that rule"

// sudo finds out once per host how to become root. Definite answers (no
// sudo, wrong password) are cached so a wrong password is never retried
// (which could lock the account).
func (c *Conn) sudo(ctx context.Context) (sudoMode, error) {
	c.sudoMu.Lock()
	defer c.sudoMu.Unlock()
	if c.sudoMode != sudoUnknown || c.sudoErr != nil {
		return c.sudoMode, c.sudoErr
	}
	// One session asks both who the user is and, unless root, whether sudo
	// needs no password: every session is a fork and a login shell on the host.
	res, err := c.run(ctx, "id -u; sudo -n true", `u=$(id -u) && echo "$u" && { [ "$u" = 0 ] || sudo -n true; }`, nil, false, nil)
	var xe *ExitError
	if err != nil && !errors.As(err, &xe) {
		return 0, err
	}
	uid, _, _ := strings.Cut(string(res.Stdout), "\n")
	switch {
	case strings.TrimSpace(uid) == "0":
		c.sudoMode = sudoRoot
		return c.sudoMode, nil
	case strings.TrimSpace(uid) == "":
		if err == nil {
			err = errors.New("it printed nothing")
		}
		return 0, fmt.Errorf("%s: checking the user (id -u): %w", c.label, err)
	}
	user := c.ep.user
	switch {
	case err == nil:
		c.sudoMode = sudoNoPasswd
		return c.sudoMode, nil
	case !errors.As(err, &xe):
		return 0, err
	case xe.Code == 127:
		c.sudoErr = fmt.Errorf("%s: %w: sudo is not installed and %q is not root; install sudo or connect as root", c.label, ErrNoSudo, user)
		return 0, c.sudoErr
	case noSudoers(res.Stderr):
		c.sudoErr = c.noSudoErr(user, res.Stderr)
		return 0, c.sudoErr
	case !bytes.Contains(res.Stderr, []byte("password is required")):
		return 0, fmt.Errorf("%s: checking sudo (sudo -n true): %w", c.label, err)
	}
	pw, err := c.pool.sudo.password(c.pool.opt.SudoPassword, c.target.Name)
	if err != nil {
		return 0, fmt.Errorf("%s: sudo needs %q's password: %w; answer the prompt, or allow passwordless sudo, or connect as root", c.label, user, err)
	}
	// stdin holds the password line and then EOF, so a wrong password ends
	// sudo at once instead of waiting for another attempt.
	res, err = c.run(ctx, "sudo -S true", "sudo -k -S -p '' -- true", append(append([]byte(nil), pw...), '\n'), false, nil)
	switch {
	case err == nil:
		c.sudoMode = sudoPassword
		return c.sudoMode, nil
	case !errors.As(err, &xe):
		return 0, err
	case noSudoers(res.Stderr):
		c.sudoErr = c.noSudoErr(user, res.Stderr)
	case bytes.Contains(res.Stderr, []byte("incorrect password")) || bytes.Contains(res.Stderr, []byte("try again")) ||
		bytes.Contains(res.Stderr, []byte("no password was provided")):
		c.sudoErr = fmt.Errorf("%s: %w for user %q. The same password is used for every host in a run: check it is %q's password on this host, then run aginstall again%s",
			c.label, ErrSudoPasswordWrong, user, user, c.sudoGroupHint(ctx, user))
	default:
		return 0, fmt.Errorf("%s: checking the sudo password: %w", c.label, err)
	}
	return 0, c.sudoErr
}

// sudoGroupHint: sudo asks for the password before it checks the user may
// use sudo at all, so a user without sudo rights who mistypes is only told
// "wrong password". When the user is in none of the usual admin groups, say
// so (a sudoers rule may still allow it, hence the hedge).
func (c *Conn) sudoGroupHint(ctx context.Context, user string) string {
	res, err := c.run(ctx, "id -nG", "id -nG", nil, false, nil)
	if err != nil {
		return ""
	}
	for _, g := range strings.Fields(string(res.Stdout)) {
		if g == "sudo" || g == "wheel" || g == "admin" {
			return ""
		}
	}
	return fmt.Sprintf(". If the password is right, %q may not be allowed to use sudo: it is in none of the groups sudo, wheel and admin, and sudo asks for the password before it checks (usermod -aG sudo %s, or connect as root)", user, user)
}

func noSudoers(stderr []byte) bool {
	return bytes.Contains(stderr, []byte("not in the sudoers")) || bytes.Contains(stderr, []byte("may not run sudo")) ||
		bytes.Contains(stderr, []byte("is not allowed to"))
}

func (c *Conn) noSudoErr(user string, stderr []byte) error {
	return fmt.Errorf("%s: %w: %q may not use sudo (%s). Add the user to the sudo group (usermod -aG sudo %s), or connect as root",
		c.label, ErrNoSudo, user, strings.TrimSpace(lastLine(stderr)), user)
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}
