package steps

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// preflightNeed is what one label asks of the host that carries it. The guide
// only says that database and webserver hosts want "a healthy amount of RAM",
// that graders can be small, and that disk matters most for the database and
// the shared source folder; these figures are this installer's reading of
// that for a course-sized site. Too little is a warning, not a refusal: a
// small test site is legitimate.
type preflightNeed struct {
	label  string
	memGB  float64
	diskGB float64 // free on /
}

var preflightNeeds = []preflightNeed{
	{"database", 4, 20},
	{"webserver", 4, 0},
	{"django_app", 4, 0},
	{"grader", 2, 0},
	{"fast_grader", 2, 0},
	{"deferred_grader", 2, 0},
	{"rerun_grader", 2, 0},
	{"tiny_grader", 2, 0},
	{"tiny_fast_grader", 2, 0},
	{"tiny_deferred_grader", 2, 0},
	{"tiny_rerun_grader", 2, 0},
}

const (
	// sourceGB is the free space the manager wants under the source
	// path: the checkout, built images' context and media_root (submissions).
	sourceGB = 10
	// maxClockSkew is the clock skew swarm's TLS and raft put up with here.
	maxClockSkew = 2.0
)

// sizeSlack accepts what a machine sold as N GB reports (MemTotal leaves
// out the kernel's reserve, df the filesystem's).
const sizeSlack = 0.9

// Preflight turns the hosts' facts into findings, in the cluster file's host
// order. Hosts without facts (unreachable) are left out: discovery reports them.
func Preflight(c *Cluster, facts map[string]*Facts) []Finding {
	var out []Finding
	add := func(host string, sev Severity, code, msg, fix string) {
		out = append(out, Finding{Host: host, Severity: sev, Code: code, Message: msg, Fix: fix})
	}
	byHostname := map[string][]string{}
	for _, h := range c.Hosts {
		f := facts[h.Name]
		if f == nil {
			continue
		}
		for _, line := range f.Dropped {
			out = append(out, droppedFinding(h.Name, line))
		}
		byHostname[f.Hostname] = append(byHostname[f.Hostname], h.Name)
		if sev, msg := osVerdict(f); sev != "" {
			add(h.Name, sev, "os", msg, "use Ubuntu 20.04 or newer or Debian 11 or newer")
		}
		if f.Sudo == "none" && !f.IsRoot {
			add(h.Name, Blocker, "sudo", "the SSH user is not root and cannot use sudo",
				"add the user to the sudo group (usermod -aG sudo USER) or connect as root")
		}
		if skew := f.ClockOffset; math.Abs(skew) > maxClockSkew {
			// Blocked only when the skew is beyond doubt: a loaded host or a
			// slow link makes the measurement loose, and a false block is a
			// dead end the operator cannot fix.
			if math.Abs(skew)-f.ClockError > maxClockSkew {
				add(h.Name, Blocker, "clock", fmt.Sprintf("the clock is %+.1f s off the manager's (more than %.0f s): swarm certificates and raft need agreeing clocks", skew, maxClockSkew),
					"enable time sync on every host (timedatectl set-ntp true, or chrony)")
			} else {
				add(h.Name, Warning, "clock", fmt.Sprintf("the clock seems %+.1f s off the manager's (more than %.0f s), but the hosts answered too slowly to be sure (±%.1f s)", skew, maxClockSkew, f.ClockError),
					"make sure time sync runs on every host (timedatectl set-ntp true, or chrony)")
			}
		}
		if !f.IPVS {
			if c.Swarm.PublishMode == "ingress" {
				add(h.Name, Blocker, "ipvs", "the kernel has no IPVS (ip_vs): the routing mesh will not work",
					"set swarm.publish_mode: host in the cluster file, or use a kernel with the ip_vs module")
			} else {
				add(h.Name, Warning, "ipvs", "the kernel has no IPVS (ip_vs): the swarm routing mesh cannot work here; fine with swarm.publish_mode: host",
					"nothing to do while swarm.publish_mode is host")
			}
		}
		if c.NFS.Mode == "export" && !f.NFSKernel {
			add(h.Name, Blocker, "nfs", fmt.Sprintf("%s: this kernel has no NFS support, so it cannot share or mount the source folder over NFS", h.Name),
				"set nfs.mode: skip and provide the source folder on every host yourself (shared storage handled elsewhere), or use a kernel with NFS")
		}
		if contains(h.Labels, "webserver") {
			if taken, procs := foreignListeners(f.Ports8043); len(taken) > 0 && f.Swarm == "active" && unnamedListeners(f.Ports8043) {
				// A sudo user's ss names no root process: on a swarm node
				// that is the deployed nginx's docker-proxy as often as not.
				add(h.Name, Warning, "ports", "ports 80/443 are taken on the webserver host by a program the SSH user cannot name (a deployed nginx's docker-proxy, or another server): "+strings.Join(taken, ", "),
					"if the site is not deployed yet, check with `sudo ss -ltnp` on "+h.Name+" and stop any other program there")
			} else if len(taken) > 0 {
				stop := "stop the program listening there (e.g. systemctl disable --now apache2 nginx)"
				if len(procs) > 0 {
					stop = fmt.Sprintf("stop %s on %s (systemctl disable --now %s, if it is a service)", strings.Join(procs, " and "), h.Name, strings.Join(procs, " "))
				}
				add(h.Name, Blocker, "ports", "ports 80/443 are already taken on the webserver host: "+strings.Join(taken, ", "),
					stop+", or put the webserver label on another host (the Node labels screen)")
			}
		}
		for _, fd := range sizeFindings(c, h, f) {
			out = append(out, fd)
		}
		if c.Docker.Install == "skip" {
			if f.Docker == "" {
				add(h.Name, Blocker, "docker", "docker.install is skip but no Docker engine is installed",
					"install Docker 20.10 or newer yourself, or set docker.install: distro or official")
			} else if !versionAtLeast(f.Docker, 20, 10) {
				add(h.Name, Blocker, "docker", fmt.Sprintf("Docker %s is older than 20.10 and docker.install is skip", f.Docker),
					"upgrade Docker yourself, or set docker.install: official")
			}
		}
	}
	names := sortedKeys(byHostname)
	for _, hn := range names {
		hosts := byHostname[hn]
		if len(hosts) < 2 {
			continue
		}
		for _, h := range hosts {
			add(h, Blocker, "hostname", fmt.Sprintf("hosts %s all call themselves %q; swarm node names and labels need distinct hostnames", strings.Join(hosts, ", "), hn),
				"give each host its own name (hostnamectl set-hostname NAME)")
		}
	}
	order := map[string]int{}
	for i, h := range c.Hosts {
		order[h.Name] = i
	}
	sort.SliceStable(out, func(i, j int) bool { return order[out[i].Host] < order[out[j].Host] })
	return out
}

// osVerdict: Ubuntu ≥ 20.04 and Debian ≥ 11 are fine; Ubuntu 16.04
// and 18.04 (the guide's) work but are end of life; the rest is refused.
func osVerdict(f *Facts) (Severity, string) {
	name := f.OSName
	if name == "" {
		name = "an unknown system"
	}
	if f.OSID == "" {
		return Blocker, fmt.Sprintf("%s is not a supported Linux (no /etc/os-release)", name)
	}
	major, minor := parseVersion(f.OSVersion)
	switch f.OSID {
	case "ubuntu":
		switch {
		case major >= 20:
			return "", ""
		case (major == 16 || major == 18) && minor == 4:
			return Warning, fmt.Sprintf("%s is end of life (no security updates); it works but upgrade soon", name)
		}
	case "debian":
		if major >= 11 {
			return "", ""
		}
	}
	return Blocker, fmt.Sprintf("%s is not supported (Ubuntu 20.04+ or Debian 11+)", name)
}

// parseVersion reads "20.10.24+dfsg1" or "22.04" as major, minor.
func parseVersion(v string) (int, int) {
	parts := strings.SplitN(v, ".", 3)
	num := func(s string) int {
		end := 0
		for end < len(s) && s[end] >= '0' && s[end] <= '9' {
			end++
		}
		n, _ := strconv.Atoi(s[:end])
		return n
	}
	major := num(parts[0])
	minor := 0
	if len(parts) > 1 {
		minor = num(parts[1])
	}
	return major, minor
}

func versionAtLeast(v string, major, minor int) bool {
	a, b := parseVersion(v)
	return a > major || (a == major && b >= minor)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// unnamedListeners: no listener's process could be named.
func unnamedListeners(listeners []string) bool {
	for _, l := range listeners {
		if _, proc, _ := strings.Cut(l, " "); proc != "" {
			return false
		}
	}
	return true
}

// foreignListeners drops listeners that are Docker's own (a stack
// already deployed by an earlier run publishes 80/443 through them), by
// their process name or, for a user who cannot see it, by what Docker
// says (nameListeners). The second list is the programs' names, once each
// (unnamed ones left out).
func foreignListeners(listeners []string) (taken, procs []string) {
	for _, l := range listeners {
		addr, proc, _ := strings.Cut(l, " ")
		if proc == "docker-proxy" || proc == "dockerd" || strings.HasPrefix(proc, stackListener) {
			continue
		}
		if proc == "" {
			proc = "a program this user cannot name"
		} else if !contains(procs, proc) {
			procs = append(procs, proc)
		}
		taken = append(taken, fmt.Sprintf("%s (%s)", addr, proc))
	}
	return taken, procs
}

// sizeFindings compares memory and free disk with what the host's
// labels (and holding the source folder) ask for.
func sizeFindings(c *Cluster, h HostSpec, f *Facts) []Finding {
	var memGB, diskGB float64
	var memWhy, diskWhy []string
	for _, n := range preflightNeeds {
		if !contains(h.Labels, n.label) {
			continue
		}
		if n.memGB > memGB {
			memGB = n.memGB
		}
		if n.memGB > 0 {
			memWhy = append(memWhy, n.label)
		}
		if n.diskGB > 0 {
			diskGB += n.diskGB
			diskWhy = append(diskWhy, n.label)
		}
	}
	var out []Finding
	have := func(mb int) float64 { return float64(mb) / 1024 }
	if memGB > 0 && have(f.MemoryMB) < memGB*sizeSlack {
		out = append(out, Finding{Host: h.Name, Severity: Warning, Code: "memory",
			Message: fmt.Sprintf("%.1f GB of RAM; its labels (%s) want at least %.0f GB", have(f.MemoryMB), strings.Join(memWhy, ", "), memGB),
			Fix:     "add memory, or move those labels to a bigger host"})
	}
	if diskGB > 0 && have(f.DiskFreeMB) < diskGB*sizeSlack {
		out = append(out, Finding{Host: h.Name, Severity: Warning, Code: "disk",
			Message: fmt.Sprintf("%.1f GB free on /; its labels (%s) want at least %.0f GB", have(f.DiskFreeMB), strings.Join(diskWhy, ", "), diskGB),
			Fix:     "free or add disk space, or move those labels to a bigger host"})
	}
	if h.Name == c.Manager && have(f.SourceFreeMB) < sourceGB*sizeSlack {
		out = append(out, Finding{Host: h.Name, Severity: Warning, Code: "disk",
			Message: fmt.Sprintf("%.1f GB free under %s; the source folder (with media_root) wants at least %d GB", have(f.SourceFreeMB), c.Source.Path, sourceGB),
			Fix:     "free or add disk space there, or choose another source.path"})
	}
	return out
}

// swarmPorts are the ports swarm needs from every node to the manager.
var swarmPorts = []string{"tcp/2377", "tcp/7946", "udp/7946", "udp/4789"}

// portFindings reads the port probe: the manager's listener output
// and each other host's sender output. A port the listener could not bind
// (in use) counts as reached when the host's TCP connect succeeded; UDP on a
// busy port cannot be told and is not reported.
func portFindings(manager, managerAddr, listener string, senders map[string]string) []Finding {
	const fix = "open 2377/tcp, 7946/tcp+udp and 4789/udp from every host to the manager (firewall, ufw, cloud security group), then run again"
	if strings.Contains(listener, "nopython") {
		return []Finding{{Host: manager, Severity: Warning, Code: "swarm-ports",
			Message: "could not probe the swarm ports: no python3 on the manager", Fix: fix}}
	}
	state := map[string]string{} // tcp/2377 → bound | busy
	heard := map[string]bool{}   // "tcp/2377 node2"
	for _, l := range strings.Split(listener, "\n") {
		k, v, _ := strings.Cut(l, "=")
		switch k {
		case "bound", "busy":
			state[v] = k
		case "got":
			heard[v] = true
		}
	}
	var out []Finding
	for _, host := range sortedKeys(senders) {
		said := senders[host]
		if strings.Contains(said, "nopython") {
			out = append(out, Finding{Host: host, Severity: Warning, Code: "swarm-ports",
				Message: "could not probe the swarm ports from here: no python3", Fix: fix})
			continue
		}
		var missing []string
		for _, p := range swarmPorts {
			ok := heard[p+" "+host]
			if state[p] == "busy" {
				ok = !strings.HasPrefix(p, "tcp/") || strings.Contains(said, p+"=ok")
			}
			if !ok {
				proto, port, _ := strings.Cut(p, "/")
				missing = append(missing, port+"/"+proto)
			}
		}
		if len(missing) > 0 {
			out = append(out, Finding{Host: host, Severity: Blocker, Code: "swarm-ports",
				Message: fmt.Sprintf("cannot reach the manager (%s) on %s: swarm needs them", managerAddr, strings.Join(missing, ", ")), Fix: fix})
		}
	}
	return out
}
