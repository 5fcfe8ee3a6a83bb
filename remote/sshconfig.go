package remote

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kevinburke/ssh_config"
)

// endpoint is a host after merging the cluster file's values with ssh_config.
type endpoint struct {
	name       string   // Target.Name, or the bastion spec for a hop
	alias      string   // what was looked up in ssh_config
	host       string   // HostName
	port       int      //
	user       string   //
	identities []string // explicit key files, in order, ~ expanded
	defaults   bool     // no IdentityFile anywhere: try ~/.ssh/id_* like OpenSSH
	onlyFiles  bool     // IdentitiesOnly yes: agent keys only if they are one of the files'
	jumps      []string // ProxyJump hops, first hop first
	knownHosts []string // files to read
	writeTo    string   // file to append accepted keys to
	hash       bool     // HashKnownHosts yes
	pin        string   // Target.HostKey
}

func (e *endpoint) addr() string { return net.JoinHostPort(e.host, strconv.Itoa(e.port)) }
func (e *endpoint) label() string {
	return hostLabel(e.name, e.addr())
}

// sshConfig holds the parsed ssh_config files, user's first (first value wins,
// as in OpenSSH).
type sshConfig struct{ files []*ssh_config.Config }

func loadSSHConfig(path string) (*sshConfig, error) {
	sc := &sshConfig{}
	var paths []string
	switch path {
	case "none":
	case "":
		// Like OpenSSH without -F: the user's file, then the system one.
		paths = []string{filepath.Join(homeDir(), ".ssh", "config"), "/etc/ssh/ssh_config"}
	default:
		paths = []string{expandTilde(path)}
	}
	for i, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			if os.IsNotExist(err) && (path == "" || i > 0) {
				continue
			}
			return nil, fmt.Errorf("reading ssh config %s: %w (set another file, or \"none\", in the options)", p, err)
		}
		cfg, err := ssh_config.DecodeBytes(data)
		if err != nil {
			return nil, fmt.Errorf("parsing ssh config %s: %w; fix the file or run with no ssh config", p, err)
		}
		sc.files = append(sc.files, cfg)
	}
	return sc, nil
}

func (sc *sshConfig) get(alias, key string) string {
	for _, f := range sc.files {
		if v, err := f.Get(alias, key); err == nil && v != "" {
			return v
		}
	}
	return ""
}

func (sc *sshConfig) getAll(alias, key string) []string {
	var all []string
	for _, f := range sc.files {
		if v, err := f.GetAll(alias, key); err == nil {
			all = append(all, v...)
		}
	}
	return all
}

// resolve merges t with ssh_config. Cluster-file values win.
func (sc *sshConfig) resolve(t Target, opt Options) (*endpoint, error) {
	e := &endpoint{name: t.Name, alias: t.Address, pin: t.HostKey}
	if e.name == "" {
		e.name = t.Address
	}
	e.host = sc.get(t.Address, "HostName")
	if e.host == "" {
		e.host = t.Address
	}
	e.host = strings.ReplaceAll(e.host, "%h", t.Address)
	e.port = t.Port
	if e.port == 0 {
		if p := sc.get(t.Address, "Port"); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n <= 0 || n > 65535 {
				return nil, fmt.Errorf("%s: ssh config gives Port %q for %s; fix it or set port in the cluster file", e.name, p, t.Address)
			}
			e.port = n
		} else {
			e.port = 22
		}
	}
	e.user = t.User
	if e.user == "" {
		e.user = sc.get(t.Address, "User")
	}
	if e.user == "" {
		e.user = currentUser()
	}
	expand := func(s string) string {
		s = expandTilde(s)
		return strings.NewReplacer("%d", homeDir(), "%u", currentUser(), "%r", e.user,
			"%h", e.host, "%n", t.Address, "%p", strconv.Itoa(e.port), "%%", "%").Replace(s)
	}
	if t.Identity != "" {
		e.identities = []string{expand(t.Identity)}
	} else {
		for _, f := range sc.getAll(t.Address, "IdentityFile") {
			e.identities = append(e.identities, expand(f))
		}
		e.defaults = len(e.identities) == 0
	}
	// Servers close the connection after MaxAuthTries refused keys (6 by
	// default): an agent full of other keys must not be offered when the
	// operator's ssh config says not to.
	e.onlyFiles = strings.EqualFold(sc.get(t.Address, "IdentitiesOnly"), "yes")
	if pc := sc.get(t.Address, "ProxyCommand"); pc != "" && !strings.EqualFold(pc, "none") && t.Bastion == "" && sc.get(t.Address, "ProxyJump") == "" {
		// Dialling directly would reach the wrong place or nothing at all.
		return nil, fmt.Errorf("%s: ssh config sets ProxyCommand for %s, which aginstall does not run; "+
			"use ProxyJump in the ssh config or bastion: in the cluster file instead", e.name, t.Address)
	}
	if t.Bastion != "" {
		e.jumps = []string{t.Bastion}
	} else if j := sc.get(t.Address, "ProxyJump"); j != "" && !strings.EqualFold(j, "none") {
		for _, hop := range strings.Split(j, ",") {
			e.jumps = append(e.jumps, strings.TrimPrefix(strings.TrimSpace(hop), "ssh://"))
		}
	}
	// known_hosts: the file in the options (or ~/.ssh/known_hosts), plus the
	// ones ssh_config names, plus the system-wide file. Accepted keys go to the
	// options' file when set, else to ssh_config's first, like OpenSSH.
	userFiles := []string{}
	for _, v := range sc.getAll(t.Address, "UserKnownHostsFile") {
		for _, f := range strings.Fields(v) {
			if f != "none" {
				userFiles = append(userFiles, expand(f))
			}
		}
	}
	switch {
	case opt.KnownHostsFile != "":
		e.writeTo = expandTilde(opt.KnownHostsFile)
	case len(userFiles) > 0:
		e.writeTo = userFiles[0]
	default:
		e.writeTo = filepath.Join(homeDir(), ".ssh", "known_hosts")
	}
	e.knownHosts = dedupe(append(append([]string{e.writeTo}, userFiles...), "/etc/ssh/ssh_known_hosts"))
	e.hash = strings.EqualFold(sc.get(t.Address, "HashKnownHosts"), "yes")
	return e, nil
}

// parseHop turns a bastion spec "user@host:port" (or an ssh_config alias) into
// a Target that resolve can handle.
func parseHop(spec string) Target {
	t := Target{Name: spec}
	rest := spec
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		t.User, rest = rest[:i], rest[i+1:]
	}
	if h, p, err := net.SplitHostPort(rest); err == nil {
		if n, err := strconv.Atoi(p); err == nil {
			t.Port = n
			rest = h
		}
	}
	t.Address = strings.Trim(rest, "[]")
	return t
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func homeDir() string {
	if h, err := os.UserHomeDir(); err == nil {
		return h
	}
	if u, err := user.Current(); err == nil {
		return u.HomeDir
	}
	return "/"
}

func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return os.Getenv("USER")
}

func expandTilde(p string) string {
	if p == "~" {
		return homeDir()
	}
	if strings.HasPrefix(p, "~/") {
		return filepath.Join(homeDir(), p[2:])
	}
	return p
}

// fileHasHashedHosts reports whether a known_hosts file already uses hashed
// host names, so new lines follow the user's choice.
func fileHasHashedHosts(path string) (hashed, empty bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return false, true
	}
	empty = true
	for _, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		empty = false
		if bytes.HasPrefix(line, []byte("|1|")) {
			return true, false
		}
	}
	return false, empty
}
