package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"

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
	chosen := selectSteps(o.only)
	if len(chosen) == 0 { // refused before any host is touched
		return nil, fmt.Errorf("%w: --only %q is not a step; the steps are: %s", errBadInput, o.only, strings.Join(stepIDs(), ", "))
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
	en := &steps.Engine{Steps: chosen, Env: env}
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

// verifyHostKeys connects every host once. Pinned and known keys are verified
// by that connection itself, so a usual run makes exactly one SSH handshake per
// host; only hosts whose key was never seen are listed, all at once, for ONE
// question, and connected again once accepted. A changed key is always refused.
// Other connection errors are left to the steps, which report that host as
// unreachable while the others go on.
func verifyHostKeys(ctx context.Context, o *options, c *steps.Cluster, pool *remote.Pool) error {
	unknown, err := connectAll(ctx, c, pool)
	// Each round can only uncover keys behind a bastion accepted in the round
	// before, so three rounds cover a cluster file's bastion plus its hosts.
	for round := 0; err == nil && len(unknown) > 0; round++ {
		if round == 3 {
			return fmt.Errorf("host keys are still unknown after they were accepted: %s", unknown[0].Host)
		}
		if err = confirmKeys(o, c, pool, unknown); err == nil {
			unknown, err = connectAll(ctx, c, pool)
		}
	}
	return err
}

// confirmKeys shows the unknown keys together and asks once.
func confirmKeys(o *options, c *steps.Cluster, pool *remote.Pool, unknown []remote.HostKey) error {
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

// connectAll connects every host in parallel and returns the keys nobody
// knows yet; a changed key is an error at once.
func connectAll(ctx context.Context, c *steps.Cluster, pool *remote.Pool) ([]remote.HostKey, error) {
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		unknown []remote.HostKey
		changed error
		seen    = map[string]bool{}
	)
	for _, h := range c.Hosts {
		wg.Add(1)
		go func(name string) {
			defer wg.Done()
			_, err := pool.Conn(ctx, name)
			var ue *remote.HostKeyUnknownError
			var ce *remote.HostKeyChangedError
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.As(err, &ce):
				if changed == nil {
					changed = ce
				}
			case errors.As(err, &ue) && !seen[ue.Address]:
				seen[ue.Address] = true
				unknown = append(unknown, unknownKey(c, ue))
			}
		}(h.Name)
	}
	wg.Wait()
	if changed != nil {
		return nil, changed
	}
	sort.Slice(unknown, func(i, j int) bool { return hostIndex(c, unknown[i].Host) < hostIndex(c, unknown[j].Host) })
	return unknown, nil
}

func unknownKey(c *steps.Cluster, e *remote.HostKeyUnknownError) remote.HostKey {
	host, portText, err := net.SplitHostPort(e.Address)
	port := 22
	if err != nil {
		host = e.Address
	} else if n, err := strconv.Atoi(portText); err == nil {
		port = n
	}
	_, inCluster := c.Host(e.Host)
	return remote.HostKey{Host: e.Host, Address: host, Port: port, Type: e.KeyType, Fingerprint: e.Fingerprint,
		Key: e.Key, Status: remote.KeyUnknown, Bastion: !inCluster}
}

// hostIndex orders bastions first (-1), then hosts as the cluster file lists them.
func hostIndex(c *steps.Cluster, name string) int {
	for i, h := range c.Hosts {
		if h.Name == name {
			return i
		}
	}
	return -1
}

// pinKeys writes accepted fingerprints into the cluster file as it is on
// disk now, changing only the host_key lines (steps.PinHostKeys).
func pinKeys(c *steps.Cluster, keys []remote.HostKey) error {
	pins := map[string]string{}
	for _, k := range keys {
		if !k.Bastion {
			pins[k.Host] = k.Fingerprint
		}
	}
	return steps.PinHostKeys(c, pins)
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
