package steps

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"aginstall/assets"
	"aginstall/remote"
)

// discoverStep gathers every host's facts in one read-only round trip per host
// and runs the preflight over them. Nothing on a host changes.
type discoverStep struct{}

func init() { register(OrderDiscover, discoverStep{}) }

func (discoverStep) ID() string                { return "discover" }
func (discoverStep) Title() string             { return "Discover hosts and preflight" }
func (discoverStep) Hosts(c *Cluster) []string { return AllHosts(c) }

// gatheredFacts remembers, per run (keyed by the run's *State), the
// findings of the last discovery, so Check knows facts are fresh.
var gatheredFacts sync.Map

// Check gathers the facts if this run has not yet (gathering is read-only),
// then reports each host's blocking findings.
func (s discoverStep) Check(ctx context.Context, env *Env) []HostCheck {
	v, ok := gatheredFacts.Load(env.State)
	var errs HostErrors
	if !ok {
		_, err := Discover(ctx, env)
		errors.As(err, &errs)
		v, _ = gatheredFacts.Load(env.State)
	}
	findings, _ := v.([]Finding)
	var out []HostCheck
	for _, h := range env.Cluster.HostNames() {
		if e := hostErr(errs, h); e != nil {
			out = append(out, HostCheck{Host: h, Status: Unknown, Reason: e.Error(), Fix: "make the host reachable over SSH, then run again"})
			continue
		}
		f := env.State.FactsOf(h)
		if f == nil {
			out = append(out, HostCheck{Host: h, Status: Unknown, Reason: "no facts gathered"})
			continue
		}
		hc := HostCheck{Host: h, Status: Done, Reason: factsSummary(f)}
		var warn int
		for _, fd := range findings {
			if fd.Host != h {
				continue
			}
			if fd.Severity == Blocker && hc.Status == Done {
				hc = HostCheck{Host: h, Status: Todo, Reason: "blocked: " + fd.Message, Fix: fd.Fix}
			} else if fd.Severity == Warning {
				warn++
			}
		}
		if hc.Status == Done && warn > 0 {
			hc.Reason += fmt.Sprintf(" (%d warning(s))", warn)
		}
		out = append(out, hc)
	}
	return out
}

// Apply gathers afresh (read-only) and refuses to go on over blocking findings.
func (s discoverStep) Apply(ctx context.Context, env *Env) error {
	findings, err := Discover(ctx, env)
	if err != nil {
		return err
	}
	if Blocking(findings) {
		return &PreflightError{Findings: findings}
	}
	return nil
}

// PreflightError lists every finding when one of them blocks the install.
type PreflightError struct{ Findings []Finding }

func (e *PreflightError) Error() string {
	var b strings.Builder
	b.WriteString("preflight found problems to fix before installing:")
	for _, sev := range []Severity{Blocker, Warning} {
		for _, f := range e.Findings {
			if f.Severity == sev {
				fmt.Fprintf(&b, "\n  %s %s [%s]: %s\n    fix: %s", f.Host, f.Severity, f.Code, f.Message, f.Fix)
			}
		}
	}
	return b.String()
}

// Blocking reports whether any finding is an error.
func Blocking(fs []Finding) bool {
	for _, f := range fs {
		if f.Severity == Blocker {
			return true
		}
	}
	return false
}

// Discover gathers every host's facts in parallel (one command per host),
// stores them in env.State with each host's findings, and returns all findings.
// Unreachable hosts come back as HostErrors; the others are still stored.
func Discover(ctx context.Context, env *Env) ([]Finding, error) {
	c := env.Cluster
	var mu sync.Mutex
	facts := map[string]*Facts{}
	offsets, delays := map[string]float64{}, map[string]float64{}
	err := env.Each(ctx, "discover", c.HostNames(), func(ctx context.Context, h *HostRunner) error {
		f, off, delay, err := gatherFacts(ctx, env, c, h)
		if err != nil {
			return err
		}
		mu.Lock()
		facts[h.Host], offsets[h.Host], delays[h.Host] = f, off, delay
		mu.Unlock()
		return nil
	})
	// Clock offsets are measured against this machine; report them against
	// the manager, with both measurements' error.
	base, haveBase := offsets[c.Manager]
	for h, f := range facts {
		if haveBase && h != c.Manager {
			f.ClockOffset = math.Round((offsets[h]-base)*1000) / 1000
			f.ClockError = math.Round((delays[h]+delays[c.Manager])*1000) / 1000
		}
	}
	nameListeners(ctx, env, facts)
	findings := Preflight(c, facts)
	if m := facts[c.Manager]; m != nil && m.Swarm != "active" && !env.State.PortProbeClean(24*time.Hour) {
		// Once the swarm runs, its ports are in use and its node states tell.
		// A clean probe is remembered (it is most of a review's time); one
		// that found a blocked port runs again until the firewall is fixed.
		probed := probeSwarmPorts(ctx, env, facts)
		env.State.SetPortProbe(len(probed) == 0)
		findings = append(findings, probed...)
	}
	for h, f := range facts {
		f.Findings = nil
		for _, fd := range findings {
			if fd.Host == h {
				f.Findings = append(f.Findings, fd)
			}
		}
		env.State.SetFacts(h, f)
	}
	gatheredFacts.Store(env.State, findings)
	return findings, err
}

// gatherFacts runs the discovery script on one host and returns its facts
// and its clock offset against this machine (NTP-style: the script's own run
// time is taken out of the round trip, half the rest is the one-way delay),
// with that half, which bounds the offset's error.
func gatherFacts(ctx context.Context, env *Env, c *Cluster, h *HostRunner) (*Facts, float64, float64, error) {
	peer := c.Swarm.AdvertiseAddress
	if m, ok := c.Host(c.Manager); ok && peer == "" {
		peer = m.Address
	}
	if h.Host == c.Manager {
		if w := c.Workers(); len(w) > 0 {
			wh, _ := c.Host(w[0])
			peer = wh.Address
		}
	}
	line := "env " + remote.Quote("AG_PEER="+peer, "AG_SRC="+c.Source.Path) + " sh -s"
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	t0 := time.Now()
	res, err := h.Query(ctx, "gather facts (read-only)", remote.Command{Line: line, Stdin: []byte(assets.DiscoverScript)})
	t1 := time.Now()
	if err != nil {
		return nil, 0, 0, err
	}
	f, start, end := parseFacts(string(res.Stdout))
	discoverEngine(ctx, env, h, f, strings.Contains(string(res.Stdout), "docker_sock=1"))
	if env != nil && env.review != nil {
		env.review.setDiscovered(h.Host, f)
	}
	off, delay := 0.0, 0.0
	if start > 0 && end >= start {
		delay = max(0, (t1.Sub(t0).Seconds()-(end-start))/2)
		off = start - (float64(t0.UnixNano())/1e9 + delay)
	}
	return f, off, delay, nil
}

// discoverEngine asks the engine its version and swarm state over the API
// (in a review, once for every check that asks: engineInfo), where the
// script found the socket open to the user (a docker CLI start-up, with
// its plugins, costs the host more than the API's answer), or where only
// sudo with a password reaches it. An engine that does not answer leaves
// the installed daemon's version, as the script would have.
func discoverEngine(ctx context.Context, env *Env, h *HostRunner, f *Facts, sock bool) {
	direct := f.DockerAccess == "direct" && f.Docker == ""
	if !direct && !(f.DockerAccess == "none" && f.Sudo == "password" && sock) {
		return
	}
	info, err := engineInfo(ctx, env, h)
	if err != nil {
		if direct {
			f.DockerAccess = "none"
			f.Docker = installedDockerd(ctx, h)
		}
		return
	}
	if !direct {
		f.DockerAccess = "sudo"
	}
	sw := info.Swarm
	f.Docker, f.Swarm, f.NodeID, f.IsManager = info.ServerVersion, string(sw.LocalNodeState), sw.NodeID, sw.ControlAvailable
	if sw.Cluster != nil {
		f.SwarmID = sw.Cluster.ID
	}
}

// installedDockerd is the installed daemon's version, "" without one.
func installedDockerd(ctx context.Context, h *HostRunner) string {
	res, err := h.Query(ctx, "read the installed Docker daemon's version", remote.Command{Line: "command -v dockerd >/dev/null 2>&1 && dockerd --version"})
	if err != nil {
		return ""
	}
	v, ok := strings.CutPrefix(strings.TrimSpace(string(res.Stdout)), "Docker version ")
	v, _, _ = strings.Cut(v, ",")
	if !ok || !factToken.MatchString(v) {
		return ""
	}
	return v
}

// probeSwarmPorts runs a listener on the manager for a few seconds while
// every other reachable host connects and sends datagrams to it.
func probeSwarmPorts(ctx context.Context, env *Env, facts map[string]*Facts) []Finding {
	c := env.Cluster
	var senders []string
	for _, w := range c.Workers() {
		if facts[w] != nil {
			senders = append(senders, w)
		}
	}
	if len(senders) == 0 {
		return nil
	}
	const window = "3" // seconds; both sides stop early once all is heard
	addr := c.Swarm.AdvertiseAddress
	if addr == "" {
		if f := facts[c.Manager]; f.reach() != "" {
			addr = f.reach()
		} else {
			m, _ := c.Host(c.Manager)
			addr = m.Address
		}
	}
	py := func(args ...string) string {
		return "command -v python3 >/dev/null 2>&1 || { echo nopython; exit 0; }; exec python3 - " + remote.Quote(args...)
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	listened := make(chan string, 1)
	go func() {
		res, _ := env.On("discover", c.Manager).Query(ctx, "listen on the swarm ports (3 s at most)",
			remote.Command{Line: py(append([]string{window}, senders...)...), Stdin: []byte(assets.SwarmPortsListen)})
		listened <- string(res.Stdout)
	}()
	var mu sync.Mutex
	said := map[string]string{}
	_ = env.Each(ctx, "discover", senders, func(ctx context.Context, h *HostRunner) error {
		res, err := h.Query(ctx, "reach the manager on the swarm ports", remote.Command{Line: py(addr, h.Host, window), Stdin: []byte(assets.SwarmPortsSend)})
		mu.Lock()
		said[h.Host] = string(res.Stdout)
		mu.Unlock()
		return err
	})
	return portFindings(c.Manager, addr, <-listened, said)
}

// parseFacts reads the script's key=value lines. It returns the
// host's clock at the script's start and end (Unix seconds).
func parseFacts(out string) (f *Facts, start, end float64) {
	f = &Facts{}
	kb := func(v string) int { n, _ := strconv.Atoi(v); return n / 1024 }
	uname := ""
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		if v, ok = strictFact(k, v); !ok {
			f.Dropped = append(f.Dropped, line)
			continue
		}
		switch k {
		case "time_start":
			start, _ = strconv.ParseFloat(v, 64)
		case "time_end":
			end, _ = strconv.ParseFloat(v, 64)
		case "uname_s":
			uname = v
		case "hostname":
			f.Hostname = v
		case "kernel":
			f.Kernel = v
		case "arch":
			f.Arch = v
		case "os_id":
			f.OSID = v
		case "os_version":
			f.OSVersion = v
		case "os_name":
			f.OSName = v
		case "cpus":
			f.CPUs, _ = strconv.Atoi(v)
		case "mem_kb":
			f.MemoryMB = kb(v)
		case "disk_free_kb":
			f.DiskFreeMB = kb(v)
		case "source_free_kb":
			f.SourceFreeMB = kb(v)
		case "uid":
			f.IsRoot = v == "0"
		case "sudo":
			f.Sudo = v
		case "docker_access":
			f.DockerAccess = v
		case "docker_info":
			p := strings.Split(v, "|")
			for len(p) < 5 {
				p = append(p, "")
			}
			f.Docker, f.Swarm, f.NodeID, f.IsManager, f.SwarmID = p[0], p[1], p[2], p[3] == "true", p[4]
		case "dockerd":
			if f.Docker == "" {
				f.Docker = v
			}
		case "nofile":
			f.NofileLines = append(f.NofileLines, v)
		case "pkg":
			name, st, _ := strings.Cut(v, " ")
			installed := strings.HasPrefix(st, "ii")
			f.NFSClient = f.NFSClient || (name == "nfs-common" && installed)
			f.NFSServer = f.NFSServer || (name == "nfs-kernel-server" && installed)
		case "nfs_kernel":
			f.NFSKernel = v == "1"
		case "ipvs":
			f.IPVS = v == "1"
		case "addr":
			f.Addresses = append(f.Addresses, v)
		case "reach":
			f.ReachableAt = v
		case "listen":
			f.Ports8043 = append(f.Ports8043, strings.TrimSpace(v))
		case carriedLimitsConf, carriedLimitsConf + "_missing":
			f.limitsConf.take(carriedLimitsConf, k, v)
		}
	}
	if f.DockerAccess == "" {
		f.DockerAccess = "none"
	}
	if uname != "" && uname != "Linux" {
		f.OSID, f.OSVersion, f.OSName = "", "", uname
	}
	return f, start, end
}

func factsSummary(f *Facts) string {
	name := f.OSName
	if name == "" {
		name = strings.TrimSpace(f.OSID + " " + f.OSVersion)
	}
	s := fmt.Sprintf("%s, %d CPUs, %.1f GB RAM, %.0f GB free", name, f.CPUs, float64(f.MemoryMB)/1024, float64(f.DiskFreeMB)/1024)
	if f.Docker != "" {
		s += ", Docker " + f.Docker
	}
	return s
}

func hostErr(errs HostErrors, host string) error {
	for _, e := range errs {
		if e.Host == host {
			return e.Err
		}
	}
	return nil
}
