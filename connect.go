package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/google/renameio/v2"
	"golang.org/x/term"

	"aginstall/remote"
	"aginstall/steps"
)

// session is one run's cluster, connections and engine.
type session struct {
	cluster *steps.Cluster
	pool    *remote.Pool
	env     *steps.Env
	engine  *steps.Engine
}

func isTerminal() bool {
	return term.IsTerminal(int(os.Stdin.Fd())) && term.IsTerminal(int(os.Stdout.Fd()))
}

// open loads the cluster file, connects (verifying host keys) and builds the engine.
func open(ctx context.Context, o *options, sink steps.Sink) (*session, error) {
	c, err := steps.LoadCluster(o.file)
	if err != nil {
		return nil, err
	}
	pool := remote.NewPool(steps.Targets(c), remote.Options{
		SSHConfigFile:     o.sshConfig,
		KnownHostsFile:    o.knownHosts,
		AcceptNewHostKeys: false, // decided below, after showing every key at once
		Passphrase:        askPassphrase,
		SudoPassword:      sudoPasswordSource(o),
	})
	if err := verifyHostKeys(ctx, o, c, pool); err != nil {
		pool.Close()
		return nil, err
	}
	env, err := steps.NewEnv(c, pool, sink)
	if err != nil {
		pool.Close()
		return nil, err
	}
	env.Limit = o.parallel
	env.Confirm = confirmOnTerminal(o)
	en := &steps.Engine{Steps: selectSteps(o.only), Env: env}
	if len(en.Steps) == 0 {
		pool.Close()
		return nil, fmt.Errorf("%w: --only %q is not a step; the steps are: %s", errBadInput, o.only, strings.Join(stepIDs(), ", "))
	}
	return &session{cluster: c, pool: pool, env: env, engine: en}, nil
}

func (s *session) close() {
	s.env.Runner.Log.Close()
	s.pool.Close()
}

func selectSteps(only string) []steps.Step {
	if only == "" {
		return steps.All()
	}
	if s, ok := steps.ByID(only); ok {
		return []steps.Step{s}
	}
	return nil
}

func stepIDs() []string {
	var ids []string
	for _, s := range steps.All() {
		ids = append(ids, s.ID())
	}
	return ids
}

// verifyHostKeys gathers every host's key first and asks ONE question about the
// unknown ones; a changed key is always refused here.
func verifyHostKeys(ctx context.Context, o *options, c *steps.Cluster, pool *remote.Pool) error {
	keys, err := pool.ScanHostKeys(ctx)
	if err != nil {
		return err
	}
	var unknown []remote.HostKey
	for _, k := range keys {
		switch k.Status {
		case remote.KeyChanged:
			return &remote.HostKeyChangedError{Host: k.Host, Address: fmt.Sprintf("%s:%d", k.Address, k.Port), KeyType: k.Type, Fingerprint: k.Fingerprint, Want: k.Want, Sources: k.Sources}
		case remote.KeyUnknown:
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	fmt.Fprintln(os.Stderr, "These hosts' SSH keys have never been seen here. Compare each fingerprint with")
	fmt.Fprintln(os.Stderr, "the server's own (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on it):")
	for _, k := range unknown {
		fmt.Fprintf(os.Stderr, "  %-14s %-22s %-20s %s\n", k.Host, fmt.Sprintf("%s:%d", k.Address, k.Port), k.Type, k.Fingerprint)
	}
	switch {
	case o.acceptNewHostKeys:
		fmt.Fprintln(os.Stderr, "Accepted (--accept-new-host-keys).")
	case isTerminal():
		if !askYes(fmt.Sprintf("Trust these %d keys and pin them in %s?", len(unknown), c.Path)) {
			return fmt.Errorf("host keys not accepted; nothing was changed")
		}
	default:
		return fmt.Errorf("%w: %d host keys are unknown and there is no terminal to confirm them; check the fingerprints above and run again with --accept-new-host-keys, or pin them as host_key in %s", errBadInput, len(unknown), c.Path)
	}
	if err := pool.AcceptHostKeys(unknown); err != nil {
		return err
	}
	return pinKeys(c, unknown)
}

// pinKeys writes accepted fingerprints into the cluster file, changing only
// the host_key lines.
func pinKeys(c *steps.Cluster, keys []remote.HostKey) error {
	data := c.Raw
	for _, k := range keys {
		if k.Bastion {
			continue
		}
		var err error
		if data, err = steps.PinHostKey(data, k.Host, k.Fingerprint); err != nil {
			return err
		}
	}
	return writeClusterFile(c, data)
}

// writeClusterFile replaces the cluster file atomically, keeping its mode.
func writeClusterFile(c *steps.Cluster, data []byte) error {
	mode := os.FileMode(0o600)
	if st, err := os.Stat(c.Path); err == nil {
		mode = st.Mode().Perm()
	}
	if err := renameio.WriteFile(c.Path, data, mode); err != nil {
		return fmt.Errorf("writing %s: %w", c.Path, err)
	}
	c.Raw = data
	return nil
}

var stdinLines = sync.OnceValue(func() *bufio.Reader { return bufio.NewReader(os.Stdin) })

func askYes(q string) bool {
	fmt.Fprintf(os.Stderr, "%s [y/N] ", q)
	line, _ := stdinLines().ReadString('\n')
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes"
}

func confirmOnTerminal(o *options) func(string) bool {
	return func(q string) bool {
		if !isTerminal() {
			fmt.Fprintf(os.Stderr, "aginstall: %s — refused: no terminal to confirm on\n", q)
			return false
		}
		return askYes(q)
	}
}

func askPassphrase(keyPath string) ([]byte, error) {
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return nil, fmt.Errorf("%s is encrypted and there is no terminal to ask for its passphrase; load it into ssh-agent first", keyPath)
	}
	fmt.Fprintf(os.Stderr, "Passphrase for %s: ", keyPath)
	pw, err := term.ReadPassword(int(os.Stdin.Fd()))
	fmt.Fprintln(os.Stderr)
	return pw, err
}

// sudoPasswordSource asks once (terminal) or reads the first stdin line
// (--sudo-password-stdin). The password stays in memory only.
func sudoPasswordSource(o *options) func(host string) ([]byte, error) {
	var once sync.Once
	var pw []byte
	var err error
	noTerminal := false // said per host: the first host to ask is not the only one refused
	return func(host string) ([]byte, error) {
		once.Do(func() {
			switch {
			case o.sudoPasswordStdin:
				var line string
				line, err = stdinLines().ReadString('\n')
				if err != nil && !errors.Is(err, io.EOF) {
					return
				}
				err = nil
				pw = []byte(strings.TrimRight(line, "\r\n"))
			case term.IsTerminal(int(os.Stdin.Fd())):
				fmt.Fprintf(os.Stderr, "sudo password for %s (asked once, kept in memory only): ", host)
				pw, err = term.ReadPassword(int(os.Stdin.Fd()))
				fmt.Fprintln(os.Stderr)
			default:
				noTerminal = true
			}
		})
		if noTerminal {
			return nil, fmt.Errorf("%s needs a sudo password and there is no terminal: use --sudo-password-stdin", host)
		}
		return pw, err
	}
}
