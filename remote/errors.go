package remote

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// Sentinels callers test with errors.Is. The errors returned wrap them with the
// host and the advice; these texts are only the common part.
var (
	// ErrHostKeyUnknown: the host presented a key that is in neither known_hosts
	// nor the cluster file's pins, and unknown keys are not being accepted.
	ErrHostKeyUnknown = errors.New("host key is not known")
	// ErrSudoPasswordWrong: sudo rejected the password given by SudoPassword.
	ErrSudoPasswordWrong = errors.New("sudo rejected the password")
	// ErrNoSudo: the user cannot use sudo at all (not in sudoers, or no sudo).
	ErrNoSudo = errors.New("user cannot use sudo")
	// ErrAuthFailed: the server refused every key offered.
	ErrAuthFailed = errors.New("SSH authentication failed")
)

// hostLabel is how every error names a host: "node1 (10.0.0.11:22)".
func hostLabel(name, addr string) string {
	if name == "" || name == addr {
		return addr
	}
	return name + " (" + addr + ")"
}

// ConnectError means the TCP connection or the SSH handshake could not be
// completed: host down, port closed, timeout, name not resolvable.
type ConnectError struct {
	Host    string        // Target.Name
	Address string        // host:port actually dialled
	Via     string        // bastion address, if the dial went through one
	Timeout time.Duration // connect timeout in force
	Err     error
}

func (e *ConnectError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: cannot connect to %s", hostLabel(e.Host, e.Address), e.Address)
	if e.Via != "" {
		fmt.Fprintf(&b, " through bastion %s", e.Via)
	}
	switch {
	case isTimeout(e.Err):
		fmt.Fprintf(&b, ": no answer within %s", e.Timeout)
	default:
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if e.Via != "" && strings.Contains(fmt.Sprint(e.Err), "administratively prohibited") {
		b.WriteString(". The bastion refused to forward the connection: its sshd must allow it (AllowTcpForwarding, PermitOpen)")
		return b.String()
	}
	b.WriteString(". Check that the host is up, that the address and port in the cluster file are right, " +
		"and that a firewall allows SSH from this machine")
	if e.Via != "" {
		b.WriteString(" (and from the bastion)")
	}
	return b.String()
}

func (e *ConnectError) Unwrap() error { return e.Err }

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout() || errors.Is(err, errHandshakeTimeout)
}

var errHandshakeTimeout = errors.New("SSH handshake timed out")

// HostKeyChangedError is the equivalent of OpenSSH's "REMOTE HOST
// IDENTIFICATION HAS CHANGED" warning. Only Pool.AcceptHostKeys, after the
// operator confirmed the new key, gets past it.
type HostKeyChangedError struct {
	Host        string   // Target.Name (or the bastion's address)
	Address     string   // host:port as recorded in known_hosts
	KeyType     string   // e.g. ssh-ed25519
	Fingerprint string   // SHA256:... of the key the server presented now
	Want        []string // fingerprints expected
	Sources     []string // where the expectation comes from: "file:line" or "cluster file host_key"
}

func (e *HostKeyChangedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: REMOTE HOST IDENTIFICATION HAS CHANGED, connection refused.\n", hostLabel(e.Host, e.Address))
	b.WriteString("Someone could be eavesdropping on you right now (man-in-the-middle attack), or the host key was just changed (reinstalled server).\n")
	fmt.Fprintf(&b, "The %s key the server sent has fingerprint %s.\n", e.KeyType, e.Fingerprint)
	fmt.Fprintf(&b, "Expected %s", strings.Join(e.Want, " or "))
	if len(e.Sources) > 0 {
		fmt.Fprintf(&b, " (from %s)", strings.Join(e.Sources, ", "))
	}
	b.WriteString(".\nTo fix: verify the new fingerprint with the server's administrator (on the server: ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), ")
	fmt.Fprintf(&b, "then re-pin the host in aginstall, or remove the old key with: ssh-keygen -R %s", knownHostsName(e.Address))
	return b.String()
}

// Is lets errors.Is(err, ErrHostKeyChanged) work as well as errors.As.
func (e *HostKeyChangedError) Is(target error) bool { return target == ErrHostKeyChanged }

// ErrHostKeyChanged matches any *HostKeyChangedError with errors.Is.
var ErrHostKeyChanged = errors.New("host key changed")

// ErrConnectionLost matches errors of a command or session whose SSH
// connection went away.
var ErrConnectionLost = errors.New("the SSH connection was lost")

// ExitError is a remote command that ran and exited non-zero.
type ExitError struct {
	Host       string // "node1 (10.0.0.11:22)"
	Command    string // the command line as given (never contains a password)
	Code       int    // exit status; -1 if killed by a signal or none was reported
	Signal     string // signal name when the command was killed, else ""
	StderrTail []string
}

func (e *ExitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: command %q ", e.Host, shorten(e.Command, 200))
	if e.Signal != "" {
		fmt.Fprintf(&b, "was killed by signal %s", e.Signal)
	} else {
		fmt.Fprintf(&b, "exited with code %d", e.Code)
	}
	if len(e.StderrTail) > 0 {
		b.WriteString("; stderr ends with:\n  ")
		b.WriteString(strings.Join(e.StderrTail, "\n  "))
	} else {
		b.WriteString(" and printed nothing on stderr; see the log for its output")
	}
	return b.String()
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// HostKeyUnknownError: the host's key is in neither known_hosts nor the
// cluster file. errors.Is(err, ErrHostKeyUnknown) matches it.
type HostKeyUnknownError struct {
	Host, Address, KeyType, Fingerprint string
	Key                                 ssh.PublicKey
}

func (e *HostKeyUnknownError) Error() string {
	return fmt.Sprintf("%s: %v: the server sent a %s key with fingerprint %s. "+
		"Verify it with the server's administrator, then confirm it in aginstall, "+
		"pin it as host_key in the cluster file, or run with --accept-new-host-keys",
		hostLabel(e.Host, e.Address), ErrHostKeyUnknown, e.KeyType, e.Fingerprint)
}

func (e *HostKeyUnknownError) Is(target error) bool { return target == ErrHostKeyUnknown }
