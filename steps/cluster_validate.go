package steps

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// Defaults the guide implies, so a short cluster file is enough.
func (c *Cluster) defaults() {
	if c.Stack == "" {
		c.Stack = "ag-stack"
	}
	if c.Manager == "" && len(c.Hosts) > 0 {
		c.Manager = c.Hosts[0].Name
	}
	for i := range c.Hosts {
		h := &c.Hosts[i]
		if h.Address == "" {
			h.Address = h.Name
		}
	}
	if c.Docker.Install == "" {
		c.Docker.Install = "official"
	}
	if c.Source.Repo == "" {
		c.Source.Repo = "https://github.com/eecs-autograder/autograder-full-stack.git"
	}
	if c.Source.Ref == "" {
		c.Source.Ref = "master"
	}
	if c.NFS.Mode == "" {
		c.NFS.Mode = "export"
	}
	if c.NFS.Clients == "" {
		c.NFS.Clients = "cluster"
	}
	if c.Swarm.PublishMode == "" {
		c.Swarm.PublishMode = "ingress"
	}
	if c.Site.OAuthProvider == "" {
		c.Site.OAuthProvider = "google"
	}
}

var (
	nameRe   = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	hostRe   = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$`)
	userRe   = regexp.MustCompile(`^[a-z_][a-z0-9_.-]{0,31}$`)
	fpRe     = regexp.MustCompile(`^SHA256:[A-Za-z0-9+/]{43}$`)
	sizeRe   = regexp.MustCompile(`^[0-9]{1,6}[kKmMgG]?$`)
	refRe    = regexp.MustCompile(`^[A-Za-z0-9._/-]{1,200}$`)
	emailRe  = regexp.MustCompile(`^[^\s@]+@[^\s@]+\.[^\s@]+$`)
	labelRe  = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,62}$`)
	graderRe = regexp.MustCompile(`^(tiny_)?(grader|fast_grader|deferred_grader|rerun_grader)$`)
)

func vErr(path, format string, a ...any) *InputError {
	return &InputError{Path: path, Msg: fmt.Sprintf(format, a...)}
}

// validate refuses bad values before anything is touched; each error says what is allowed.
func (c *Cluster) validate() []*InputError {
	var errs []*InputError
	add := func(e *InputError) { errs = append(errs, e) }
	if !nameRe.MatchString(c.Name) {
		add(vErr("name", "%q is not a valid cluster name: use lowercase letters, digits and '-', like fall-2027", c.Name))
	}
	if !nameRe.MatchString(strings.ReplaceAll(c.Stack, "_", "-")) {
		add(vErr("stack", "%q is not a valid stack name: use lowercase letters, digits, '-' and '_', like ag-stack", c.Stack))
	}
	if len(c.Hosts) == 0 {
		add(vErr("hosts", "no hosts: list at least one server (the guide asks for 3)"))
	}
	seen := map[string]int{}
	for i, h := range c.Hosts {
		at := fmt.Sprintf("hosts[%d]", i)
		if !hostRe.MatchString(h.Name) {
			add(vErr(at+".name", "%q is not a valid host name: letters, digits, '.' and '-'", h.Name))
		}
		if j, dup := seen[h.Name]; dup {
			add(vErr(at+".name", "duplicate host name %q (also hosts[%d]); every host needs its own name", h.Name, j))
		}
		seen[h.Name] = i
		if net.ParseIP(h.Address) == nil && !hostRe.MatchString(h.Address) {
			add(vErr(at+".address", "%q is neither an IP address nor a host name", h.Address))
		}
		if h.Port < 0 || h.Port > 65535 {
			add(vErr(at+".port", "port %d is out of range: use 1-65535 (or leave it out for 22 or ssh_config's Port)", h.Port))
		}
		if h.User != "" && !userRe.MatchString(h.User) {
			add(vErr(at+".user", "%q is not a valid Linux user name", h.User))
		}
		if h.Bastion != "" {
			if _, _, _, err := ParseBastion(h.Bastion); err != nil {
				add(vErr(at+".bastion", "%v", err))
			}
		}
		if h.HostKey != "" && !fpRe.MatchString(h.HostKey) {
			add(vErr(at+".host_key", "%q is not a SHA256 fingerprint like \"SHA256:<43 base64 characters>\" (ssh-keygen -lf prints it)", h.HostKey))
		}
		for _, l := range h.Labels {
			if !labelRe.MatchString(l) {
				add(vErr(at+".labels", "%q is not a valid label name", l))
			}
		}
	}
	if _, ok := seen[c.Manager]; !ok && len(c.Hosts) > 0 {
		add(vErr("manager", "%q is not one of the hosts (%s)", c.Manager, strings.Join(c.HostNames(), ", ")))
	}
	switch c.Docker.Install {
	case "official", "distro", "skip":
	default:
		add(vErr("docker.install", "%q is not allowed: use official, distro or skip", c.Docker.Install))
	}
	for _, u := range []struct{ key, v string }{{"docker.apt_url", c.Docker.AptURL}, {"docker.apt_key", c.Docker.AptKey}} {
		if u.v == "" {
			continue
		}
		if c.Docker.Install != "official" {
			add(vErr(u.key, "only docker.install: official uses it (docker.install is %s): remove it or set install: official", c.Docker.Install))
		} else if msg := aptURLProblem(u.v); msg != "" {
			add(vErr(u.key, "%q %s", u.v, msg))
		}
	}
	if why := checkRepoURL(c.Source.Repo, c.Source.AllowHTTP); why != "" {
		add(vErr("source.repo", "%s", why))
	}
	if !refRe.MatchString(c.Source.Ref) || strings.HasPrefix(c.Source.Ref, "-") || strings.Contains(c.Source.Ref, "..") {
		add(vErr("source.ref", "%q is not a valid branch, tag or commit", c.Source.Ref))
	}
	if !path.IsAbs(c.Source.Path) || path.Clean(c.Source.Path) != c.Source.Path || c.Source.Path == "/" ||
		strings.ContainsFunc(c.Source.Path, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '"' || r == '\'' || r == '\\' }) {
		add(vErr("source.path", "%q must be an absolute, clean path on the manager without quotes or control characters, like /home/ubuntu/autograder-full-stack", c.Source.Path))
	}
	switch c.NFS.Mode {
	case "export", "skip":
	default:
		add(vErr("nfs.mode", "%q is not allowed: use export or skip (shared storage handled elsewhere)", c.NFS.Mode))
	}
	switch c.NFS.Clients {
	case "cluster", "*":
	default:
		add(vErr("nfs.clients", "%q is not allowed: use cluster (only the cluster's addresses) or * (anyone, as the guide does)", c.NFS.Clients))
	}
	if a := c.Swarm.AdvertiseAddress; a != "" && net.ParseIP(a) == nil {
		add(vErr("swarm.advertise_address", "%q is not an IP address", a))
	}
	switch c.Swarm.PublishMode {
	case "ingress", "host":
	default:
		add(vErr("swarm.publish_mode", "%q is not allowed: use ingress (routing mesh, needs IPVS) or host", c.Swarm.PublishMode))
	}
	t := c.Tuning
	if t.GunicornWorkers != 0 && (t.GunicornWorkers < 1 || t.GunicornWorkers > 64) {
		add(vErr("tuning.gunicorn_workers", "%d is out of range: use 1-64", t.GunicornWorkers))
	}
	for _, svc := range sortedKeys(t.CeleryConcurrency) {
		n := t.CeleryConcurrency[svc]
		if !graderRe.MatchString(svc) {
			add(vErr("tuning.celery_concurrency."+svc, "unknown grader %q: use grader, fast_grader, deferred_grader, rerun_grader or their tiny_ twins", svc))
		} else if n < 1 || n > 32 {
			add(vErr("tuning.celery_concurrency."+svc, "%d is out of range: use 1-32", n))
		}
	}
	if s := t.ClientMaxBodySize; s != "" && !sizeRe.MatchString(s) {
		add(vErr("tuning.client_max_body_size", "%q is not an nginx size: use a number with an optional k, m or g, like 30M or 1G", s))
	}
	if n := t.MaxSubprocessTimeout; n != 0 && (n < 1 || n > 3600) {
		add(vErr("tuning.max_subprocess_timeout", "%d is out of range: use 1-3600 seconds", n))
	}
	if d := c.Site.Domain; d != "" && (!hostRe.MatchString(d) || !strings.Contains(d, ".")) {
		add(vErr("site.domain", "%q is not a valid domain name like autograder.example.edu", d))
	}
	for _, p := range []struct{ key, v string }{{"site.tls_cert", c.Site.TLSCert}, {"site.tls_key", c.Site.TLSKey}} {
		if p.v != "" && (!path.IsAbs(p.v) || strings.ContainsAny(p.v, " ;{}'\"\n")) {
			add(vErr(p.key, "%q must be an absolute path without spaces or quotes", p.v))
		}
	}
	switch c.Site.OAuthProvider {
	case "google", "azure":
	default:
		add(vErr("site.oauth_provider", "%q is not allowed: use google or azure", c.Site.OAuthProvider))
	}
	if e := c.Admin.Email; e != "" && !emailRe.MatchString(e) {
		add(vErr("admin.email", "%q is not an email address", e))
	}
	if c.Admin.Course != "" && len(c.Admin.Course) > 255 {
		add(vErr("admin.course", "the course name is longer than 255 characters"))
	}
	return errs
}

// aptURLProblem says what is wrong with an apt repository or key URL: it
// goes into an apt sources line and a curl command on every host.
func aptURLProblem(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return "is not an http:// or https:// URL, like https://download.docker.com/linux/ubuntu"
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return "must not carry a user, a query or a fragment"
	case strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f || strings.ContainsRune("[]'\"\\`$", r) }):
		return "must not contain spaces, quotes, brackets or control characters"
	}
	return ""
}

// ParseBastion splits "user@host:port" (user and port optional).
func ParseBastion(s string) (user, host string, port int, err error) {
	rest := s
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		user, rest = rest[:i], rest[i+1:]
		if !userRe.MatchString(user) {
			return "", "", 0, fmt.Errorf("bastion %q: %q is not a valid user name", s, user)
		}
	}
	host, port = rest, 22
	if h, p, e := net.SplitHostPort(rest); e == nil {
		host = h
		n, e := strconv.Atoi(p)
		if e != nil || n < 1 || n > 65535 {
			return "", "", 0, fmt.Errorf("bastion %q: port %q is not 1-65535", s, p)
		}
		port = n
	}
	if net.ParseIP(host) == nil && !hostRe.MatchString(host) {
		return "", "", 0, fmt.Errorf("bastion %q: %q is not a host name or address; use user@host:port", s, host)
	}
	return user, host, port, nil
}
