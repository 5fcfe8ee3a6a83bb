package steps

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"slices"
	"strings"
	"time"

	"aginstall/internal/hosttext"
	"aginstall/remote"
)

// The registries are closed to everything but the cluster's own addresses.
//
// Why: the swarm's registry (5000; in host publish mode registry-proxy on
// every other node) and the stack's sandbox image registry (5001) have no
// authentication and no TLS, and the stack's images are built from the
// checkout, so they hold _prod.env (the database password), the Django
// secret key, the GPG password and the OAuth JSON. Anyone who reaches 5000
// could pull them. Upstream's layout bakes those files into the images, so
// keeping them out would mean changing upstream's Dockerfiles; auth and TLS
// would need certificates and credentials on every node's dockerd, for
// images the nodes only ever pull over loopback (127.0.0.1:5000). A firewall
// is the smallest change that closes the hole and leaves the guide's layout
// as it is.
//
// How: Docker's DOCKER-USER chain (filter/FORWARD) sees every packet to a
// published port after Docker's DNAT, in both publish modes (ingress:
// DOCKER-INGRESS DNAT to the ingress sandbox; host: DOCKER DNAT to the task),
// with the client's own source address. The destination port may be
// rewritten, so the rule matches the original one (conntrack
// --ctorigdstport). Pulls on a node itself go to 127.0.0.1 and never pass
// FORWARD, so they are not affected. Docker never flushes DOCKER-USER and
// re-inserts only its jump to it, so the rules survive a dockerd restart; a
// reboot loses every rule, so a oneshot systemd unit ordered before
// docker.service (before any port is published) puts them back at boot.
// The check reads the live rules, not only the files: a flushed table is
// found as an open registry.
//
// IPv4 only: Docker publishes swarm ports on IPv4 (ingress has no IPv6).
const (
	registryFirewallChain    = "AGINSTALL-REGISTRY"
	registryFirewallScript   = "/usr/local/sbin/aginstall-registry-firewall"
	registryFirewallUnit     = "/etc/systemd/system/" + registryFirewallUnitName
	registryFirewallUnitName = "aginstall-registry-firewall.service"
	registryFirewallPorts    = "5000:5001" // iptables' port range
	registryPortsShown       = "5000 and 5001"
)

// registryFirewallJump is the DOCKER-USER rule, as `iptables -S` prints it.
const registryFirewallJump = "-A DOCKER-USER -p tcp -m conntrack --ctorigdstport " + registryFirewallPorts +
	" --ctdir ORIGINAL -j " + registryFirewallChain

// registryFirewallAllowed is the sources let through: loopback and each
// host's IPv4 address on the cluster's network (the cluster file's, the one
// discovery found the others reach it at, the swarm's advertise address),
// sorted. Not every address a host has: Docker's bridges (172.17.0.1, …)
// appear once Docker is installed, and the list would change under a review.
func registryFirewallAllowed(env *Env) []string {
	return registryFirewallAllowedExcept(env, "")
}

// registryFirewallAllowedExcept is registryFirewallAllowed without one host
// (remove-node: the host is still in the cluster file while it leaves).
func registryFirewallAllowedExcept(env *Env, skip string) []string {
	seen := map[string]bool{}
	add := func(s string) {
		s = strings.TrimSpace(s)
		if ip, _, err := net.ParseCIDR(s); err == nil {
			s = ip.String()
		}
		ip := net.ParseIP(s).To4()
		if ip == nil || ip.IsLoopback() || ip.IsUnspecified() || ip.IsMulticast() {
			return // a name, IPv6, or nothing a packet comes from
		}
		seen[ip.String()] = true
	}
	c := env.Cluster
	add(c.Swarm.AdvertiseAddress)
	for _, h := range c.Hosts {
		if h.Name == skip {
			continue
		}
		add(h.Address)
		if f := env.State.FactsOf(h.Name); f != nil {
			add(f.ReachableAt)
		}
	}
	out := make([]string, 0, len(seen))
	for a := range seen {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b string) int {
		return slices.Compare(net.ParseIP(a).To4(), net.ParseIP(b).To4())
	})
	return append([]string{"127.0.0.0/8"}, out...)
}

// registryFirewallRules is the chain as `iptables -S CHAIN` prints it.
func registryFirewallRules(allowed []string) []string {
	out := []string{"-N " + registryFirewallChain}
	for _, a := range allowed {
		if !strings.Contains(a, "/") {
			a += "/32"
		}
		out = append(out, fmt.Sprintf("-A %s -s %s -j RETURN", registryFirewallChain, a))
	}
	return append(out, "-A "+registryFirewallChain+" -p tcp -j REJECT --reject-with tcp-reset")
}

// registryFirewallScriptText (re)builds the chain atomically (one
// iptables-restore transaction) and makes its jump DOCKER-USER's first rule,
// so no rule the operator added there lets a packet past it first.
func registryFirewallScriptText(allowed []string) string {
	var b strings.Builder
	b.WriteString(`#!/bin/sh
# Written by aginstall (registry step); apply rewrites it, edits are lost.
# Only the cluster's own addresses may reach the image registries (ports
# ` + registryPortsShown + `): they have no authentication and their images hold
# the site's secrets. See the README's Security section.
set -e
iptables -w -N DOCKER-USER 2>/dev/null || true
iptables -w -N ` + registryFirewallChain + ` 2>/dev/null || true
iptables-restore -w --noflush <<'EOF'
*filter
-F ` + registryFirewallChain + "\n")
	for _, r := range registryFirewallRules(allowed)[1:] {
		b.WriteString(r + "\n")
	}
	jump := strings.TrimPrefix(registryFirewallJump, "-A DOCKER-USER ")
	b.WriteString(`COMMIT
EOF
first=$(iptables -w -S DOCKER-USER | sed -n 2p)
if [ "$first" != "` + registryFirewallJump + `" ]; then
	while iptables -w -D DOCKER-USER ` + jump + ` 2>/dev/null; do :; done
	iptables -w -I DOCKER-USER 1 ` + jump + `
fi
`)
	return b.String()
}

// registryFirewallUnitText runs the script at boot, before dockerd publishes
// any port.
const registryFirewallUnitText = `# Written by aginstall (registry step).
[Unit]
Description=aginstall: close the image registries (5000, 5001) to all but the cluster
Before=docker.service
After=network-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=` + registryFirewallScript + `

[Install]
WantedBy=multi-user.target
`

// registryFirewallState is what one read-only query finds on a host.
type registryFirewallState struct {
	noIptables bool
	first      string            // DOCKER-USER's first rule
	chain      []string          // iptables -S AGINSTALL-REGISTRY; none when it is missing
	sums       map[string]string // path → sha256 of the files there
	enabled    bool              // the boot unit is enabled
}

// registryFirewallProbe reads the live rules, the files' checksums and the
// unit's state in one command (one SSH session per host: review reads every
// host).
// Every review runs it on every host, so it starts few processes: the
// shell's read instead of sed, and systemctl (a round trip to systemd over
// D-Bus) only when the symlink that enabling our own unit makes is absent.
const registryFirewallProbe = `command -v iptables-restore >/dev/null 2>&1 || echo noiptables=1
iptables -w -S DOCKER-USER 2>/dev/null | { read -r _; read -r l; echo "first=$l"; }
iptables -w -S ` + registryFirewallChain + ` 2>/dev/null | while IFS= read -r l; do echo "chain=$l"; done
sha256sum ` + registryFirewallScript + ` ` + registryFirewallUnit + ` 2>/dev/null | while IFS= read -r l; do echo "sum=$l"; done
if [ -L /etc/systemd/system/multi-user.target.wants/aginstall-registry-firewall.service ] &&
	[ -f ` + registryFirewallUnit + ` ] && ! [ -L ` + registryFirewallUnit + ` ]; then
	echo enabled=enabled
else
	systemctl is-enabled aginstall-registry-firewall.service 2>/dev/null | while IFS= read -r l; do echo "enabled=$l"; done
fi
exit 0`

func registryFirewallRead(ctx context.Context, h *HostRunner) (registryFirewallState, error) {
	st := registryFirewallState{sums: map[string]string{}}
	res, err := h.Query(ctx, "read the registry firewall (rules, files, boot unit)", remote.Command{Line: registryFirewallProbe, Sudo: true})
	if err != nil {
		return st, err
	}
	for _, l := range strings.Split(string(res.Stdout), "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(l), "=")
		switch k {
		case "noiptables":
			st.noIptables = true
		case "first":
			st.first = v
		case "chain":
			st.chain = append(st.chain, v)
		case "sum":
			if f := strings.Fields(v); len(f) == 2 {
				st.sums[f[1]] = f[0]
			}
		case "enabled":
			st.enabled = v == "enabled"
		}
	}
	return st, nil
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// registryFirewallCheck says whether the host's registries are closed, and
// why not. open: the service is published, so a missing rule is a hole
// (drifted), not work still to do.
func registryFirewallCheck(ctx context.Context, h *HostRunner, allowed []string, open bool) HostCheck {
	st, err := registryFirewallRead(ctx, h)
	if err != nil {
		return HostCheck{Status: Unknown, Reason: err.Error()}
	}
	return registryFirewallVerdict(st, allowed, open)
}

// registryFirewallVerdict judges what registryFirewallRead found.
func registryFirewallVerdict(st registryFirewallState, allowed []string, open bool) HostCheck {
	notDone := Todo
	if open {
		notDone = Drifted
	}
	if st.noIptables {
		return HostCheck{Status: notDone, Reason: "iptables is not installed: the registry ports cannot be closed",
			Fix: "apt-get install iptables (Docker's packages depend on it), then apply"}
	}
	var why []string
	if !slices.Equal(st.chain, registryFirewallRules(allowed)) {
		why = append(why, "the rules letting only the cluster's addresses reach ports "+registryPortsShown+" are missing or differ")
	} else if st.first != registryFirewallJump {
		why = append(why, "DOCKER-USER does not send ports "+registryPortsShown+" to "+registryFirewallChain+" first")
	}
	for _, f := range []struct{ path, want string }{
		{registryFirewallScript, registryFirewallScriptText(allowed)},
		{registryFirewallUnit, registryFirewallUnitText},
	} {
		switch sum, ok := st.sums[f.path]; {
		case !ok:
			why = append(why, f.path+" is missing (the rules would not come back after a reboot)")
		case sum != sha256Hex(f.want):
			why = append(why, f.path+" differs from aginstall's")
		}
	}
	if len(why) == 0 && !st.enabled {
		why = append(why, "aginstall-registry-firewall.service is not enabled (the rules would not come back after a reboot)")
	}
	if len(why) > 0 {
		reason := "the image registries (ports " + registryPortsShown + ") are open to every address"
		if !open {
			reason = "the image registries' ports (" + registryPortsShown + ") are not closed yet"
		}
		return HostCheck{Status: notDone, Reason: reason + ": " + strings.Join(why, "; "),
			Fix: "apply installs the firewall rules (only the cluster's addresses may pull: the images hold the site's secrets)"}
	}
	return HostCheck{Status: Done, Reason: fmt.Sprintf("ports %s closed but to the cluster's %d addresses and loopback", registryPortsShown, len(allowed)-1)}
}

// registryFirewallApply writes the script and the unit and runs them, on a
// host whose check is not done.
func registryFirewallApply(ctx context.Context, env *Env, h *HostRunner, allowed []string) error {
	st, err := registryFirewallRead(ctx, h)
	return registryFirewallApplyRead(ctx, h, allowed, st, err)
}

// registryFirewallApplyRead is registryFirewallApply on a state already read
// (readErr: it could not be; then the files are written anyway).
func registryFirewallApplyRead(ctx context.Context, h *HostRunner, allowed []string, st registryFirewallState, readErr error) error {
	if readErr == nil && registryFirewallVerdict(st, allowed, true).Status == Done {
		return nil
	}
	for _, f := range []struct {
		path, want string
		mode       fs.FileMode
	}{
		{registryFirewallScript, registryFirewallScriptText(allowed), 0o755},
		{registryFirewallUnit, registryFirewallUnitText, 0o644},
	} {
		old, err := h.ReadFile(ctx, "read "+f.path, f.path, true)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if _, err := h.WriteFile(ctx, "write the registry firewall ("+f.path+")", f.path, old, []byte(f.want),
			remote.WriteOptions{Sudo: true, Mode: f.mode, Backup: old != nil}, fileDiff(f.path, old, []byte(f.want))); err != nil {
			return err
		}
	}
	return registryFirewallStart(ctx, h)
}

// registryFirewallTries bounds registryFirewallStart; registryFirewallPause
// is the wait between tries (a var: the tests do not wait).
const registryFirewallTries = 3

var registryFirewallPause = 2 * time.Second

// registryFirewallStart enables the unit and (re)runs it: restart, because
// a oneshot that "remains" active would not run again on start.
// Why it tries up to three times: once, in CI, the script failed on the
// manager a few seconds after the swarm was made, and a later apply would
// have passed (the rules are rebuilt whole each time); the cause was not
// found (200 runs beside a swarm being made and left did not fail), so each
// failure reads the script's own journal, which shows in the log, and the
// last one's goes into the error, so the next failure names its cause.
func registryFirewallStart(ctx context.Context, h *HostRunner) error {
	for try := 1; ; try++ {
		_, err := h.Run(ctx, "close the registry ports to all but the cluster's addresses",
			remote.Command{Line: "systemctl daemon-reload && systemctl enable --quiet " + registryFirewallUnitName +
				" && systemctl restart " + registryFirewallUnitName, Sudo: true})
		var se *StepError
		if !errors.As(err, &se) {
			return err // done, a dry run, or no connection
		}
		journal := registryFirewallJournal(ctx, h)
		if try == registryFirewallTries || ctx.Err() != nil {
			if journal != "" {
				se.Err = fmt.Errorf("%w\n  the unit's run logged:\n  %s", se.Err, journal)
			}
			se.Next = "see `journalctl -u aginstall-registry-firewall` on " + h.Host + "; the host needs iptables with the conntrack match (apt-get install iptables), then run apply again"
			return se
		}
		h.Note(fmt.Sprintf("the registry firewall failed (try %d of %d); trying again in %s", try, registryFirewallTries, registryFirewallPause))
		select {
		case <-ctx.Done():
		case <-time.After(registryFirewallPause):
		}
	}
}

// registryFirewallJournalLine prints what the unit's latest run logged: the
// script's own lines (which iptables command failed, and why), found by the
// run's invocation ID; where there are none (the script was killed, or
// journald has not caught up), the unit's last lines, systemd's included.
const registryFirewallJournalLine = `id=$(systemctl show -p InvocationID --value ` + registryFirewallUnitName + `)
out=$(journalctl --no-pager -o cat -n 8 _SYSTEMD_INVOCATION_ID="$id" 2>/dev/null)
if [ -n "$id" ] && [ -n "$out" ]; then printf '%s\n' "$out"; else journalctl --no-pager -o cat -n 8 -u ` + registryFirewallUnitName + `; fi`

// registryFirewallJournal is registryFirewallJournalLine's answer, cleaned
// host text; "" when the journal cannot be read.
func registryFirewallJournal(ctx context.Context, h *HostRunner) string {
	res, err := h.Query(ctx, "read why the registry firewall failed", remote.Command{Line: registryFirewallJournalLine, Sudo: true})
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(hosttext.Clean(string(res.Stdout))), "\n")
	return strings.Join(lines, "\n  ")
}
