package remote

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"
)

// KeyStatus says how a host key compares with what this machine knows.
type KeyStatus int

const (
	KeyKnown   KeyStatus = iota // in known_hosts, pinned, or accepted in this run
	KeyUnknown                  // never seen: needs the operator's confirmation
	KeyChanged                  // differs from known_hosts or the pin: refuse
)

func (s KeyStatus) String() string {
	switch s {
	case KeyKnown:
		return "known"
	case KeyUnknown:
		return "unknown"
	case KeyChanged:
		return "CHANGED"
	}
	return "status(" + strconv.Itoa(int(s)) + ")"
}

// HostKey is one server's host key as seen by ScanHostKeys.
type HostKey struct {
	Host        string // Target.Name, or the bastion spec for a jump host
	Address     string // HostName after ssh_config
	Port        int
	Type        string // ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa ...
	Fingerprint string // SHA256:...
	Key         ssh.PublicKey
	Status      KeyStatus
	Want        []string // known fingerprints when Status is KeyChanged
	Sources     []string // where Want comes from ("file:line" or "cluster file host_key")
	Bastion     bool     // a jump host, not a cluster host (nothing to pin in the cluster file)
}

// knownHostsName is how OpenSSH names host:port in known_hosts: "host" for
// port 22, "[host]:port" otherwise.
func knownHostsName(addr string) string { return knownhosts.Normalize(addr) }

// check classifies key for e. Order: the pin, then keys accepted in this run,
// then known_hosts. A pin match is enough; a pin mismatch is a change unless
// the operator re-pinned in this run.
func (p *Pool) check(e *endpoint, key ssh.PublicKey) (st KeyStatus, want, sources []string, err error) {
	fp := ssh.FingerprintSHA256(key)
	if e.pin != "" && fp == e.pin {
		return KeyKnown, nil, nil, nil
	}
	p.mu.Lock()
	acc := p.accepted[knownHostsName(e.addr())]
	p.mu.Unlock()
	for _, a := range acc {
		if a == fp {
			return KeyKnown, nil, nil, nil
		}
	}
	if e.pin != "" {
		return KeyChanged, []string{e.pin}, []string{"cluster file host_key"}, nil
	}
	db, err := loadKnownHosts(e.knownHosts)
	if err != nil {
		return 0, nil, nil, err
	}
	err = db.HostKeyCallback()(e.addr(), fakeRemote, key)
	var ke *xknownhosts.KeyError
	switch {
	case err == nil:
		return KeyKnown, nil, nil, nil
	case errors.As(err, &ke) && len(ke.Want) > 0:
		for _, w := range ke.Want {
			want = append(want, ssh.FingerprintSHA256(w.Key)+" ("+w.Key.Type()+")")
			sources = append(sources, fmt.Sprintf("%s:%d", w.Filename, w.Line))
		}
		return KeyChanged, want, sources, nil
	case errors.As(err, &ke):
		return KeyUnknown, nil, nil, nil
	}
	return 0, nil, nil, fmt.Errorf("checking host key of %s against known_hosts: %w", e.label(), err)
}

// fakeRemote: x/crypto's known_hosts check wants a *net.TCPAddr but only uses
// the host name we pass; through a bastion there is no real remote address.
var fakeRemote = &net.TCPAddr{IP: net.IPv4zero}

func loadKnownHosts(files []string) (*knownhosts.HostKeyDB, error) {
	var exist []string
	for _, f := range files {
		if _, err := os.Stat(f); err == nil {
			exist = append(exist, f)
		}
	}
	db, err := knownhosts.NewDB(exist...)
	if err != nil {
		return nil, fmt.Errorf("reading known_hosts (%s): %w; fix or move the broken line", strings.Join(exist, ", "), err)
	}
	return db, nil
}

// hostKeyAlgorithms asks the server for a key type we already know, so a
// server that also has another type is not mistaken for a changed key.
func (p *Pool) hostKeyAlgorithms(e *endpoint) []string {
	var algos []string
	if db, err := loadKnownHosts(e.knownHosts); err == nil {
		algos = db.HostKeyAlgorithms(e.addr())
	}
	p.mu.Lock()
	types := p.acceptedTypes[knownHostsName(e.addr())]
	p.mu.Unlock()
	if len(algos) == 0 {
		return nil // nothing known: let the server pick, as OpenSSH does
	}
	for _, t := range types {
		algos = append(algos, algosForType(t)...)
	}
	return dedupe(algos)
}

func algosForType(t string) []string {
	if t == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{t}
}

// errScanned stops a handshake once the host key has been seen.
var errScanned = errors.New("host key scanned")

// errBastionUnconfirmed stops a scan's handshake with a bastion whose key
// is not known yet, before authenticating.
var errBastionUnconfirmed = errors.New("the bastion's key is not confirmed yet")

// ErrBastionKeyPending: a host behind a bastion whose key is not accepted
// yet was not scanned. Accept the bastion's key, then scan again (the CLI
// and the wizard do it in rounds).
var ErrBastionKeyPending = errors.New("its bastion's key is not accepted yet, so nothing was sent through it")

// ScanHostKeys does a handshake-only pass over every host (and bastion) in
// parallel and returns each key with its status. Nothing is written. Hosts
// that cannot be reached are left out and reported in the joined error.
// A bastion whose key is not known yet is only scanned: its key is reported
// and the hosts behind it come back as ErrBastionKeyPending, to be scanned
// once the operator has accepted the bastion's key (no authentication goes
// to a host whose key nobody confirmed).
func (p *Pool) ScanHostKeys(ctx context.Context) ([]HostKey, error) {
	var (
		mu   sync.Mutex
		keys []HostKey
		errs []error
		seen = map[string]bool{}
		wg   sync.WaitGroup
	)
	add := func(k HostKey) {
		mu.Lock()
		defer mu.Unlock()
		id := k.Address + ":" + strconv.Itoa(k.Port)
		if !seen[id] {
			seen[id] = true
			keys = append(keys, k)
		}
	}
	hops := map[string]*slot{} // bastion connections for this pass only
	defer func() {
		for _, s := range hops {
			if s.client != nil {
				s.client.Close()
			}
		}
	}()
	for _, name := range p.order {
		t := p.targets[name]
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.scanOne(ctx, t, hops, add); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// The cluster file's order, bastions first (they are needed first).
	pos := map[string]int{}
	for i, n := range p.order {
		pos[n] = i
	}
	ordered := append([]HostKey(nil), keys...)
	sort.SliceStable(ordered, func(i, j int) bool {
		if ordered[i].Bastion != ordered[j].Bastion {
			return ordered[i].Bastion
		}
		return pos[ordered[i].Host] < pos[ordered[j].Host]
	})
	return ordered, errors.Join(errs...)
}

func (p *Pool) scanOne(ctx context.Context, t Target, hops map[string]*slot, add func(HostKey)) error {
	e, err := p.resolve(t)
	if err != nil {
		return err
	}
	via, viaLabel, err := p.jumpClient(ctx, e, hops, add)
	if errors.Is(err, errBastionUnconfirmed) {
		return fmt.Errorf("%s: %w: accept the bastion's key, then scan again", e.label(), ErrBastionKeyPending)
	}
	if err != nil {
		return err
	}
	var got *HostKey
	cb := func(_ string, _ net.Addr, key ssh.PublicKey) error {
		st, want, src, err := p.check(e, key)
		if err != nil {
			return err
		}
		got = &HostKey{Host: e.name, Address: e.host, Port: e.port, Type: key.Type(),
			Fingerprint: ssh.FingerprintSHA256(key), Key: key, Status: st, Want: want, Sources: src}
		return errScanned
	}
	_, _, err = p.handshake(ctx, e, via, viaLabel, cb, false)
	if got != nil {
		add(*got)
		return nil
	}
	return err
}

// AcceptHostKeys records keys the operator confirmed: appended to known_hosts
// as OpenSSH would (hashed if the file already is), and trusted by this pool.
// For a changed key the stale known_hosts lines for that host are removed
// first (like ssh-keygen -R; the old file is kept as <file>.old).
func (p *Pool) AcceptHostKeys(keys []HostKey) error {
	var errs []error
	for _, k := range keys {
		if k.Key == nil {
			errs = append(errs, fmt.Errorf("%s: no key to accept (scan the host first)", k.Host))
			continue
		}
		e := p.endpointFor(k)
		if err := p.trust(e, k.Key, k.Status == KeyChanged); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// endpointFor finds the resolved endpoint a scanned key belongs to; a key
// the pool never resolved gets the default known_hosts file.
func (p *Pool) endpointFor(k HostKey) *endpoint {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.resolved {
		if e.host == k.Address && e.port == k.Port {
			return e
		}
	}
	e := &endpoint{name: k.Host, host: k.Address, port: k.Port}
	if p.opt.KnownHostsFile != "" {
		e.writeTo = expandTilde(p.opt.KnownHostsFile)
	} else {
		e.writeTo = filepath.Join(homeDir(), ".ssh", "known_hosts")
	}
	e.knownHosts = []string{e.writeTo}
	return e
}

// trust writes key for e to known_hosts and pins it for this pool.
func (p *Pool) trust(e *endpoint, key ssh.PublicKey, replace bool) error {
	p.khMu.Lock()
	defer p.khMu.Unlock()
	name := knownHostsName(e.addr())
	fail := func(err error) error {
		return fmt.Errorf("%s: saving its host key to %s: %w; check that the file and its directory are writable", e.label(), e.writeTo, err)
	}
	if replace {
		for _, f := range e.knownHosts {
			if f == "/etc/ssh/ssh_known_hosts" {
				continue
			}
			if err := removeKnownHost(f, name); err != nil {
				return fail(err)
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(e.writeTo), 0o700); err != nil {
		return fail(err)
	}
	hashed, empty := fileHasHashedHosts(e.writeTo)
	host := name
	if hashed || (empty && e.hash) {
		host = xknownhosts.HashHostname(name)
	}
	line := knownhosts.Line([]string{host}, key) + "\n"
	if hashed || (empty && e.hash) {
		// Line normalises its input, which would mangle a hashed name.
		line = host + " " + key.Type() + " " + base64.StdEncoding.EncodeToString(key.Marshal()) + "\n"
	}
	f, err := os.OpenFile(e.writeTo, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fail(err)
	}
	if st, err := f.Stat(); err == nil && st.Size() > 0 && !endsWithNewline(e.writeTo, st.Size()) {
		line = "\n" + line
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	p.mu.Lock()
	p.accepted[name] = append(p.accepted[name], ssh.FingerprintSHA256(key))
	p.acceptedTypes[name] = append(p.acceptedTypes[name], key.Type())
	p.mu.Unlock()
	return nil
}

func endsWithNewline(path string, size int64) bool {
	f, err := os.Open(path)
	if err != nil {
		return true
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, size-1); err != nil {
		return true
	}
	return b[0] == '\n'
}

// removeKnownHost drops the lines naming host exactly (plain or hashed), as
// ssh-keygen -R does, keeping the previous file as <file>.old.
func removeKnownHost(path, host string) error {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	} else if err != nil {
		return err
	}
	var out strings.Builder
	removed := false
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if lineNamesHost(line, host) {
			removed = true
			continue
		}
		out.WriteString(line + "\n")
	}
	if err := sc.Err(); err != nil || !removed {
		return err
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path+".old", data, st.Mode().Perm()); err != nil {
		return err
	}
	tmp := path + ".aginstall-tmp"
	if err := os.WriteFile(tmp, []byte(out.String()), st.Mode().Perm()); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func lineNamesHost(line, host string) bool {
	f := strings.Fields(line)
	if len(f) < 3 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], "@") {
		return false
	}
	for _, pat := range strings.Split(f[0], ",") {
		if pat == host {
			return true
		}
		if strings.HasPrefix(pat, "|1|") {
			parts := strings.Split(pat[3:], "|")
			if len(parts) != 2 {
				continue
			}
			salt, err1 := base64.StdEncoding.DecodeString(parts[0])
			sum, err2 := base64.StdEncoding.DecodeString(parts[1])
			if err1 != nil || err2 != nil {
				continue
			}
			m := hmac.New(sha1.New, salt)
			m.Write([]byte(host))
			if hmac.Equal(m.Sum(nil), sum) {
				return true
			}
		}
	}
	return false
}
