package steps

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"

	"aginstall/remote"
)

// Before a re-labelling changes anything, each moved label's prerequisites
// are checked on the node it moves to. webserver: the TLS certificate and
// key must be there (they can be copied from the node that has them now),
// and ports 80/443 free; in host publish mode the public address changes,
// so DNS must follow. The data labels need the operator's consent (see
// consent.go); the grader labels have the rules' CPU advice.

// RelabelCheck is one prerequisite of a re-labelling, on the node a label
// moves to.
type RelabelCheck struct {
	Node, Label string
	Kind        string // "tls", "ports", "address"
	Blocks      bool   // the change is refused while it holds
	Message     string
	// CopyTLSFrom is the node the missing TLS files can be copied from
	// (Kind "tls"); set RelabelPlan.CopyTLS to copy them.
	CopyTLSFrom string
}

// relabelChecks checks the prerequisites of going from before to after
// (node → labels) on the nodes that gain webserver. Read-only.
func relabelChecks(ctx context.Context, env *Env, step string, before, after map[string][]string) []RelabelCheck {
	c := env.Cluster
	var out []RelabelCheck
	var from []string // where webserver is now
	for n, ls := range before {
		if slices.Contains(ls, "webserver") && !slices.Contains(after[n], "webserver") {
			from = append(from, n)
		}
	}
	slices.Sort(from)
	for _, node := range relabelGainers(before, after, "webserver") {
		if _, ok := c.Host(node); !ok {
			out = append(out, RelabelCheck{Node: node, Label: "webserver", Kind: "tls", Blocks: true,
				Message: fmt.Sprintf("%s is not among the cluster file's hosts, so its TLS files and ports cannot be checked: add it to %s first", node, c.Path)})
			continue
		}
		out = append(out, relabelTLSCheck(ctx, env, step, node, from))
		out = append(out, relabelPortsCheck(ctx, env, step, node))
		if c.Swarm.PublishMode == "host" {
			out = append(out, relabelAddressCheck(c, node, from))
		}
	}
	return out
}

// relabelGainers are the nodes that gain label, sorted.
func relabelGainers(before, after map[string][]string, label string) []string {
	var out []string
	for n, ls := range after {
		if slices.Contains(ls, label) && !slices.Contains(before[n], label) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

func relabelTLSCheck(ctx context.Context, env *Env, step, node string, from []string) RelabelCheck {
	c := env.Cluster
	rc := RelabelCheck{Node: node, Label: "webserver", Kind: "tls"}
	if c.Site.TLSCert == "" && c.Site.TLSKey == "" {
		rc.Message = fmt.Sprintf("site.tls_cert and site.tls_key are not set in %s: no TLS files to check on %s", c.Path, node)
		return rc
	}
	missing, err := settingsTLSMissing(ctx, env.On(step, node), c)
	switch {
	case err != nil:
		rc.Blocks, rc.Message = true, fmt.Sprintf("cannot check the TLS files on %s: %s", node, firstLine(err))
		return rc
	case len(missing) == 0:
		rc.Message = fmt.Sprintf("%s has the TLS certificate and key (%s, %s)", node, c.Site.TLSCert, c.Site.TLSKey)
		return rc
	}
	rc.Blocks = true
	rc.Message = fmt.Sprintf("%s lacks %s: nginx there would have no certificate, and the site no HTTPS", node, strings.Join(missing, " and "))
	for _, f := range from {
		if _, ok := c.Host(f); !ok {
			continue
		}
		if m, err := settingsTLSMissing(ctx, env.On(step, f), c); err == nil && len(m) == 0 {
			rc.CopyTLSFrom = f
			rc.Message += fmt.Sprintf("; they can be copied from %s over the open SSH connections (mode 0600)", f)
			return rc
		}
	}
	rc.Message += "; " + settingsTLSFix(c, node, missing)
	return rc
}

// relabelProcRe picks the first process of an `ss -ltnp` line.
var relabelProcRe = regexp.MustCompile(`users:\(\("([^"]{1,64})"`)

// relabelListeners parses `ss -Hltnp` lines into "port by process" for the
// ports 80 and 443. Host text: only the port digits and a cleaned process
// name are kept.
func relabelListeners(out string, ignore func(proc string) bool) []string {
	var taken []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		port := ""
		if i := strings.LastIndex(f[3], ":"); i >= 0 {
			port = f[3][i+1:]
		}
		if port != "80" && port != "443" {
			continue
		}
		proc := "an unknown process"
		if m := relabelProcRe.FindStringSubmatch(line); m != nil {
			proc = relabelCleanName(m[1])
		}
		if ignore != nil && ignore(proc) {
			continue
		}
		if s := port + " (" + proc + ")"; !slices.Contains(taken, s) {
			taken = append(taken, s)
		}
	}
	return taken
}

// relabelCleanName keeps a process name printable and short.
func relabelCleanName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-", r) {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "an unknown process"
	}
	return b.String()
}

func relabelPortsCheck(ctx context.Context, env *Env, step, node string) RelabelCheck {
	rc := RelabelCheck{Node: node, Label: "webserver", Kind: "ports"}
	res, err := env.On(step, node).Query(ctx, "check that ports 80 and 443 are free", remote.Command{Line: "ss -Hltnp", Sudo: true})
	if err != nil {
		rc.Blocks, rc.Message = true, fmt.Sprintf("cannot check ports 80 and 443 on %s: %s", node, firstLine(err))
		return rc
	}
	// With the routing mesh every node's dockerd holds the published ports:
	// that is the swarm itself, not a conflict.
	ingress := env.Cluster.Swarm.PublishMode != "host"
	taken := relabelListeners(string(res.Stdout), func(proc string) bool { return ingress && proc == "dockerd" })
	if len(taken) > 0 {
		rc.Blocks = true
		rc.Message = fmt.Sprintf("ports are taken on %s: %s; nginx could not bind them there: stop that program or choose another node", node, strings.Join(taken, ", "))
		return rc
	}
	rc.Message = fmt.Sprintf("ports 80 and 443 are free on %s", node)
	return rc
}

func relabelAddressCheck(c *Cluster, node string, from []string) RelabelCheck {
	rc := RelabelCheck{Node: node, Label: "webserver", Kind: "address"}
	to, _ := c.Host(node)
	name := c.Site.Domain
	if name == "" {
		name = "the site's DNS name"
	}
	old := "no node"
	if len(from) > 0 {
		old = from[0]
		if h, ok := c.Host(from[0]); ok {
			old = fmt.Sprintf("%s (%s)", h.Name, h.Address)
		}
	}
	rc.Message = fmt.Sprintf("publish mode is host: the site's public address changes from %s to %s (%s); point %s at %s, or the site is unreachable once nginx moves",
		old, node, to.Address, name, to.Address)
	return rc
}

// relabelBlocking is the checks that refuse the change: a TLS check
// that the operator chose to fix by copying is not one.
func relabelBlocking(checks []RelabelCheck, copyTLS bool) []RelabelCheck {
	var out []RelabelCheck
	for _, c := range checks {
		if c.Blocks && !(copyTLS && c.Kind == "tls" && c.CopyTLSFrom != "") {
			out = append(out, c)
		}
	}
	return out
}

// relabelCopyTLS copies the TLS certificate and key that to lacks from
// from, at mode 0600, read on one host and written on the other through
// the runner. The key's content is registered as a secret first, so no
// record, event or log can carry it.
func relabelCopyTLS(ctx context.Context, env *Env, step, from, to string) error {
	c := env.Cluster
	src, dst := env.On(step, from), env.On(step, to)
	files := []struct{ what, path, dirMode string }{{"certificate", c.Site.TLSCert, "0755"}, {"private key", c.Site.TLSKey, "0700"}}
	for _, f := range files {
		if f.path == "" {
			continue
		}
		have, err := dst.ReadFile(ctx, "check the TLS "+f.what+" on "+to, f.path, true)
		if err == nil && len(have) > 0 {
			continue // there already: never overwritten
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		data, err := src.ReadFile(ctx, "read the TLS "+f.what+" to copy it to "+to, f.path, true)
		if err != nil {
			return &StepError{Step: step, Host: from, Purpose: "read the TLS " + f.what, Command: "read " + f.path, Err: err,
				Next: settingsTLSFix(c, to, []string{f.path})}
		}
		if f.what == "private key" {
			for _, l := range strings.Split(string(data), "\n") {
				if !strings.HasPrefix(l, "-----") {
					env.Secrets.Add(strings.TrimSpace(l))
				}
			}
			env.Secrets.Add(string(data))
		}
		dir := path.Dir(f.path)
		if _, err := dst.Run(ctx, "make the folder of the TLS "+f.what, remote.Command{
			Line: fmt.Sprintf("[ -d %s ] || install -d -m %s %s", remote.Quote(dir), f.dirMode, remote.Quote(dir)), Sudo: true}); realErr(err) {
			return err
		}
		if _, err := dst.WriteFile(ctx, fmt.Sprintf("copy the TLS %s from %s (mode 0600)", f.what, from), f.path, nil, data,
			remote.WriteOptions{Sudo: true, Mode: 0o600}, fmt.Sprintf("(TLS %s copied from %s:%s: contents not shown)", f.what, from, f.path)); err != nil {
			return err
		}
	}
	return nil
}
