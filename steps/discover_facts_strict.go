package steps

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strings"
)

// Host text is hostile: a worker's own discovery output must not decide what
// the manager writes into /etc/exports, /etc/fstab or a docker swarm command.
// Every fact is parsed strictly here; a value that does not fit its grammar is
// dropped (the fact stays unknown) and preflight warns about it.

var (
	factName    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$`) // hostname
	factToken   = regexp.MustCompile(`^[A-Za-z0-9._+~:-]{0,128}$`)         // versions, kernel, arch, ids
	factWordSet = map[string]map[string]bool{
		"sudo":          {"root": true, "nopasswd": true, "password": true, "none": true},
		"docker_access": {"direct": true, "sudo": true, "none": true},
	}
)

// strictIP is an IP address as net.ParseIP reads it (no zone, no port, no
// spaces), written back in its canonical form; "" when it is not one.
func strictIP(v string) string {
	if ip := net.ParseIP(v); ip != nil {
		return ip.String()
	}
	return ""
}

// strictFact checks one key=value line of the discovery script. ok false means
// the value does not fit: the caller drops it and remembers why.
func strictFact(k, v string) (string, bool) {
	switch k {
	case "hostname":
		return v, factName.MatchString(v)
	case "reach":
		ip := strictIP(v)
		return ip, ip != ""
	case "addr": // ip -o addr: address/prefix
		p, err := netip.ParsePrefix(v)
		return p.String(), err == nil && p.Addr().Zone() == ""
	case "kernel", "arch", "os_id", "os_version", "dockerd", "time_start", "time_end",
		"cpus", "mem_kb", "disk_free_kb", "source_free_kb", "uid":
		return v, factToken.MatchString(v)
	case "docker_info": // version|swarm|node id|is manager|swarm id
		for _, p := range strings.Split(v, "|") {
			if !factToken.MatchString(p) {
				return v, false
			}
		}
		return v, true
	case carriedLimitsConf:
		_, err := base64.StdEncoding.Strict().DecodeString(v)
		return v, err == nil
	case "sudo", "docker_access":
		return v, factWordSet[k][v]
	}
	// Free text only shown to the operator (os_name, nofile, listen, pkg):
	// printable, one line.
	return v, !strings.ContainsFunc(v, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f })
}

// droppedFinding warns that discovery ignored a malformed fact.
func droppedFinding(host, line string) Finding {
	if len(line) > 80 {
		line = line[:80] + "…"
	}
	return Finding{Host: host, Severity: Warning, Code: "fact",
		Message: fmt.Sprintf("discovery ignored a malformed fact %q (host output is parsed strictly)", line),
		Fix:     "check what the discovery script prints on this host (/etc/os-release, ip addr, docker info); a changed or hostile host can print anything"}
}
