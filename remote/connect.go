package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// Target is one host as the cluster file describes it.
type Target struct {
	Name     string // cluster host name (used in errors/events)
	Address  string // IP, DNS name, or a Host alias from ssh_config
	Port     int    // 0: ssh_config Port or 22
	User     string // "": ssh_config User or current user
	Identity string // "": ssh_config IdentityFile(s), agent, default keys (~ expanded)
	Bastion  string // "user@host:port" or ""; otherwise ssh_config ProxyJump
	HostKey  string // pinned "SHA256:..." fingerprint or ""
}

// Options tune a Pool. The zero value is usable.
type Options struct {
	SSHConfigFile     string        // "" = ~/.ssh/config then /etc/ssh/ssh_config; "none" = don't read one
	KnownHostsFile    string        // "" = ~/.ssh/known_hosts (plus ssh_config UserKnownHostsFile)
	ConnectTimeout    time.Duration // TCP connect + SSH handshake; default 10s
	MaxHandshakes     int           // default 8 (sshd MaxStartups starts dropping at 10)
	Keepalive         time.Duration // default 15s; negative disables
	AcceptNewHostKeys bool          // non-interactive: accept (and record) unknown keys, never changed ones

	Passphrase   func(keyPath string) ([]byte, error) // encrypted identity files
	SudoPassword func(host string) ([]byte, error)    // asked at most once per pool
}

// Pool holds one SSH connection per host for a run; sessions are multiplexed
// on it. All methods are safe for concurrent use.
type Pool struct {
	opt     Options
	targets map[string]Target
	order   []string
	cfg     *sshConfig
	cfgErr  error
	sem     chan struct{} // handshakes in flight
	keys    *keyring
	done    chan struct{}

	mu            sync.Mutex
	slots         map[string]*slot // by Target.Name
	hops          map[string]*slot // by jump chain "a,b"
	resolved      map[string]*endpoint
	accepted      map[string][]string // known_hosts name → fingerprints accepted this run
	acceptedTypes map[string][]string
	closed        bool

	khMu       sync.Mutex // known_hosts writes
	handshakes atomic.Int64
	sudo       sudoCache
	// silent: connections the keepalive closed (their dead channel → how
	// long the host had not answered), so the error can say the host went
	// quiet instead of a bare EOF.
	silent sync.Map
}

// slot serialises the dial for one host; lock is a 1-buffered channel so a
// waiting caller can give up when its context ends.
type slot struct {
	lock   chan struct{}
	conn   *Conn
	client *ssh.Client
	dead   chan struct{}
}

// NewPool prepares connections to targets; nothing is dialled yet.
func NewPool(targets []Target, opt Options) *Pool {
	if opt.ConnectTimeout <= 0 {
		opt.ConnectTimeout = 10 * time.Second
	}
	if opt.MaxHandshakes <= 0 {
		opt.MaxHandshakes = 8
	}
	if opt.Keepalive == 0 {
		opt.Keepalive = 15 * time.Second
	}
	p := &Pool{
		opt:           opt,
		targets:       map[string]Target{},
		sem:           make(chan struct{}, opt.MaxHandshakes),
		keys:          &keyring{passphrase: opt.Passphrase, keys: map[string]*keyFile{}},
		done:          make(chan struct{}),
		slots:         map[string]*slot{},
		hops:          map[string]*slot{},
		resolved:      map[string]*endpoint{},
		accepted:      map[string][]string{},
		acceptedTypes: map[string][]string{},
	}
	for _, t := range targets {
		if t.Name == "" {
			t.Name = t.Address
		}
		if _, dup := p.targets[t.Name]; !dup {
			p.order = append(p.order, t.Name)
		}
		p.targets[t.Name] = t
	}
	p.cfg, p.cfgErr = loadSSHConfig(opt.SSHConfigFile)
	return p
}

// Handshakes counts the SSH connections this pool opened to targets (not the
// bastions, not ScanHostKeys' probes): one per host per run, unless a
// connection died and was re-made.
func (p *Pool) Handshakes() int { return int(p.handshakes.Load()) }

func (p *Pool) resolve(t Target) (*endpoint, error) {
	if p.cfgErr != nil {
		return nil, p.cfgErr
	}
	e, err := p.cfg.resolve(t, p.opt)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.resolved["t:"+t.Name] = e
	p.mu.Unlock()
	return e, nil
}

func (p *Pool) slotFor(m map[string]*slot, key string) *slot {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := m[key]
	if !ok {
		s = &slot{lock: make(chan struct{}, 1)}
		m[key] = s
	}
	return s
}

func (s *slot) acquire(ctx context.Context) error {
	select {
	case s.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
func (s *slot) release() { <-s.lock }

func alive(dead chan struct{}) bool {
	select {
	case <-dead:
		return false
	default:
		return true
	}
}

// Conn returns the connection to the named host, dialling it on first use.
// A connection that died is re-made; a failed dial is not cached, so a call
// after AcceptHostKeys succeeds.
func (p *Pool) Conn(ctx context.Context, host string) (*Conn, error) {
	t, ok := p.targets[host]
	if !ok {
		return nil, fmt.Errorf("host %q is not in the cluster file (known: %s)", host, strings.Join(p.order, ", "))
	}
	s := p.slotFor(p.slots, host)
	if err := s.acquire(ctx); err != nil {
		return nil, fmt.Errorf("%s: waiting to connect: %w", t.Name, err)
	}
	defer s.release()
	if p.isClosed() {
		return nil, fmt.Errorf("%s: the connection pool is closed", t.Name)
	}
	if s.conn != nil && alive(s.dead) {
		return s.conn, nil
	}
	e, err := p.resolve(t)
	if err != nil {
		return nil, err
	}
	via, viaLabel, err := p.jumpClient(ctx, e, nil, nil)
	if err != nil {
		return nil, err
	}
	cl, dead, err := p.handshake(ctx, e, via, viaLabel, p.verifier(e), true)
	if err != nil {
		return nil, err
	}
	p.handshakes.Add(1)
	s.conn = &Conn{pool: p, target: t, ep: e, client: cl, dead: dead, label: e.label()}
	s.dead = dead
	return s.conn, nil
}

// jumpClient connects the ProxyJump chain of e, first hop first, each hop
// through the previous one. scanned != nil means a ScanHostKeys pass: keys are
// reported, an unknown bastion key is tolerated for that pass only, and the
// connections go to scanned instead of the pool.
func (p *Pool) jumpClient(ctx context.Context, e *endpoint, scanned map[string]*slot, report func(HostKey)) (*ssh.Client, string, error) {
	var via *ssh.Client
	viaLabel := ""
	for i, spec := range e.jumps {
		hop, err := p.cfg.resolve(parseHop(spec), p.opt)
		if err != nil {
			return nil, "", err
		}
		hop.name, hop.jumps, hop.pin = spec, nil, ""
		// The cluster file's key for the host is a sensible key for its bastion.
		hop.identities = dedupe(append(hop.identities, e.identities...))
		chain := strings.Join(e.jumps[:i+1], ",")
		p.mu.Lock()
		p.resolved["h:"+chain] = hop
		hops := p.hops
		if scanned != nil {
			hops = scanned
		}
		p.mu.Unlock()
		s := p.slotFor(hops, chain)
		if err := s.acquire(ctx); err != nil {
			return nil, "", err
		}
		if s.client == nil || !alive(s.dead) {
			cb := p.verifier(hop)
			if scanned != nil {
				cb = p.scanBastion(hop, report)
			}
			cl, dead, err := p.handshake(ctx, hop, via, viaLabel, cb, true)
			if err != nil {
				s.release()
				return nil, "", fmt.Errorf("%s: through bastion: %w", e.label(), err)
			}
			s.client, s.dead = cl, dead
		}
		via = s.client
		s.release()
		viaLabel = hop.label()
	}
	return via, viaLabel, nil
}

func (p *Pool) scanBastion(hop *endpoint, report func(HostKey)) ssh.HostKeyCallback {
	return func(_ string, _ net.Addr, key ssh.PublicKey) error {
		st, want, src, err := p.check(hop, key)
		if err != nil {
			return err
		}
		report(HostKey{Host: hop.name, Address: hop.host, Port: hop.port, Type: key.Type(),
			Fingerprint: ssh.FingerprintSHA256(key), Key: key, Status: st, Want: want, Sources: src, Bastion: true})
		switch st {
		case KeyChanged:
			return changedError(hop, key, want, src)
		case KeyUnknown:
			// Reported for confirmation; no authentication (no key, no
			// user name) goes to a bastion before its key is confirmed, so
			// the hosts behind it wait for the next scan.
			return errBastionUnconfirmed
		}
		return nil
	}
}

// verifier is the host key callback for real connections.
func (p *Pool) verifier(e *endpoint) ssh.HostKeyCallback {
	return func(_ string, _ net.Addr, key ssh.PublicKey) error {
		st, want, src, err := p.check(e, key)
		if err != nil {
			return err
		}
		switch st {
		case KeyKnown:
			return nil
		case KeyChanged:
			return changedError(e, key, want, src)
		}
		if p.opt.AcceptNewHostKeys {
			return p.trust(e, key, false)
		}
		return &HostKeyUnknownError{Host: e.name, Address: e.addr(), KeyType: key.Type(),
			Fingerprint: ssh.FingerprintSHA256(key), Key: key}
	}
}

func changedError(e *endpoint, key ssh.PublicKey, want, src []string) error {
	return &HostKeyChangedError{Host: e.name, Address: e.addr(), KeyType: key.Type(),
		Fingerprint: ssh.FingerprintSHA256(key), Want: want, Sources: src}
}

// handshake dials e (directly or through via) and runs the SSH handshake,
// with at most MaxHandshakes in flight and ConnectTimeout for the dial and
// the handshake (paused while the operator types a key passphrase).
func (p *Pool) handshake(ctx context.Context, e *endpoint, via *ssh.Client, viaLabel string,
	cb ssh.HostKeyCallback, auth bool) (*ssh.Client, chan struct{}, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("%s: waiting to connect: %w", e.label(), ctx.Err())
	}
	defer func() { <-p.sem }()

	timeout := p.opt.ConnectTimeout
	connErr := func(err error) error {
		return &ConnectError{Host: e.name, Address: e.addr(), Via: viaLabel, Timeout: timeout, Err: err}
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	var conn net.Conn
	var err error
	if via == nil {
		conn, err = (&net.Dialer{}).DialContext(dctx, "tcp", e.addr())
	} else {
		conn, err = via.DialContext(dctx, "tcp", e.addr())
	}
	timedOut := dctx.Err() == context.DeadlineExceeded
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("%s: connecting: %w", e.label(), ctx.Err())
		}
		if timedOut {
			err = errHandshakeTimeout
		}
		return nil, nil, connErr(err)
	}

	wd := newWatchdog(timeout, func() { conn.Close() })
	stopCtx := context.AfterFunc(ctx, func() { conn.Close() })
	var cbErr error
	var notes []string
	cfg := &ssh.ClientConfig{
		User: e.user,
		HostKeyCallback: func(h string, r net.Addr, k ssh.PublicKey) error {
			err := cb(h, r, k)
			cbErr = err
			return err
		},
		HostKeyAlgorithms: p.hostKeyAlgorithms(e),
		ClientVersion:     "SSH-2.0-aginstall",
	}
	if auth {
		cfg.Auth = []ssh.AuthMethod{p.keys.authFor(e.identities, e.defaults, e.onlyFiles, wd.pause, wd.resume, &notes)}
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, e.addr(), cfg)
	fired := wd.stop()
	stopCtx()
	if err != nil {
		conn.Close()
		switch {
		case cbErr != nil:
			return nil, nil, cbErr
		case ctx.Err() != nil:
			return nil, nil, fmt.Errorf("%s: connecting: %w", e.label(), ctx.Err())
		case fired:
			return nil, nil, connErr(errHandshakeTimeout)
		case strings.Contains(err.Error(), "unable to authenticate"):
			return nil, nil, authError(e, notes)
		}
		return nil, nil, connErr(err)
	}
	cl := ssh.NewClient(c, chans, reqs)
	dead := make(chan struct{})
	go func() {
		cl.Wait()
		close(dead)
	}()
	go p.keepalive(cl, dead)
	return cl, dead, nil
}

func authError(e *endpoint, notes []string) error {
	sort.Strings(notes)
	return fmt.Errorf("%s: %w as user %q (offered: %s). Check the user name, and that one of these public keys is in ~%s/.ssh/authorized_keys on the host (ssh-copy-id %s@%s), or set identity in the cluster file",
		e.label(), ErrAuthFailed, e.user, strings.Join(dedupe(notes), "; "), e.user, e.user, e.host)
}

// keepalive sends keepalive@openssh.com like ServerAliveInterval, and closes
// the connection after 3 unanswered ones (ServerAliveCountMax) so commands on
// a dead host fail instead of hanging.
func (p *Pool) keepalive(cl *ssh.Client, dead chan struct{}) {
	if p.opt.Keepalive <= 0 {
		return
	}
	t := time.NewTicker(p.opt.Keepalive)
	defer t.Stop()
	misses := 0
	answered := time.Now()
	for {
		select {
		case <-p.done:
			return
		case <-dead:
			return
		case <-t.C:
		}
		res := make(chan error, 1)
		go func() {
			_, _, err := cl.SendRequest("keepalive@openssh.com", true, nil)
			res <- err
		}()
		select {
		case err := <-res:
			if err != nil {
				cl.Close()
				return
			}
			misses, answered = 0, time.Now()
		case <-time.After(p.opt.Keepalive):
			if misses++; misses >= 3 {
				p.silent.Store(dead, time.Since(answered).Round(100*time.Millisecond))
				cl.Close()
				return
			}
		case <-dead:
			return
		}
	}
}

func (p *Pool) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// Close closes every connection (hosts first, then bastions).
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.done)
	slots := make([]*slot, 0, len(p.slots))
	for _, s := range p.slots {
		slots = append(slots, s)
	}
	hops := make([]*slot, 0, len(p.hops))
	for _, s := range p.hops {
		hops = append(hops, s)
	}
	p.mu.Unlock()
	var errs []error
	for _, s := range slots {
		s.lock <- struct{}{}
		if s.conn != nil {
			if err := s.conn.client.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, err)
			}
		}
		<-s.lock
	}
	for _, s := range hops {
		s.lock <- struct{}{}
		if s.client != nil {
			s.client.Close()
		}
		<-s.lock
	}
	p.sudo.forget()
	return errors.Join(errs...)
}

// watchdog closes the connection when the connect timeout passes, except
// while paused (the operator typing a passphrase).
type watchdog struct {
	mu      sync.Mutex
	t       *time.Timer
	d       time.Duration
	paused  int
	stopped bool
	fired   bool
}

func newWatchdog(d time.Duration, f func()) *watchdog {
	w := &watchdog{d: d}
	w.t = time.AfterFunc(d, func() {
		w.mu.Lock()
		if w.paused > 0 || w.stopped {
			w.mu.Unlock()
			return
		}
		w.fired = true
		w.mu.Unlock()
		f()
	})
	return w
}

func (w *watchdog) pause() {
	w.mu.Lock()
	w.paused++
	w.t.Stop()
	w.mu.Unlock()
}

func (w *watchdog) resume() {
	w.mu.Lock()
	if w.paused--; w.paused == 0 && !w.stopped {
		w.t.Reset(w.d)
	}
	w.mu.Unlock()
}

func (w *watchdog) stop() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	w.t.Stop()
	return w.fired
}
