package steps

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode"
)

// scpLikeRe is git's scp-like syntax, user@host:path (user and host plain
// names; a path that starts with '-' could read as an option).
var scpLikeRe = regexp.MustCompile(`^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^-/][^:]*$|^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:/[^:]*$`)

// checkRepoURL says what is wrong with source.repo, or "". It is parsed with
// net/url: https and ssh (and scp-like git@host:path) are allowed, http only
// with source.allow_http (a lab or a mirror on a trusted network). A URL
// carrying a password or token is refused, not hidden: git would put it in
// the argv of every clone and fetch on the manager (ps shows it to every
// user) and keep it in the checkout's .git/config.
func checkRepoURL(repo string, allowHTTP bool) string {
	if repo == "" {
		return "is empty"
	}
	if strings.ContainsFunc(repo, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) {
		return fmt.Sprintf("%q holds a space or a control character (a newline would forge a line of the plan)", repo)
	}
	shown := redactRepoURL(repo)
	if !strings.Contains(repo, "://") {
		if scpLikeRe.MatchString(repo) {
			return ""
		}
		return fmt.Sprintf("%q is not a git URL (https://host/path, ssh://user@host/path or git@host:path)", shown)
	}
	u, err := url.Parse(repo)
	if err != nil {
		return fmt.Sprintf("%q is not a git URL: %v", shown, err)
	}
	switch {
	case u.Scheme == "http" && !allowHTTP:
		return fmt.Sprintf("%q is plain http, which anyone on the way can alter: use https, or set source.allow_http: true for a lab or a mirror on a trusted network", shown)
	case u.Scheme != "https" && u.Scheme != "ssh" && u.Scheme != "http":
		return fmt.Sprintf("%q is not a git URL (https://host/path, ssh://user@host/path or git@host:path)", shown)
	case u.Host == "" || u.Opaque != "" || strings.HasPrefix(u.Host, "-"):
		return fmt.Sprintf("%q has no host", shown)
	case u.Fragment != "":
		return fmt.Sprintf("%q has a #fragment, which git does not read", shown)
	}
	if _, hasPW := u.User.Password(); hasPW || (u.User != nil && u.Scheme != "ssh") {
		return fmt.Sprintf("%q carries credentials, which git would show in the manager's process list and keep in .git/config: "+
			"remove them and use an ssh URL with a deploy key in root's ~/.ssh on the manager", shown)
	}
	return ""
}

// redactRepoURL hides the user and password of a URL that carries them (an
// https user name may well be a token); anything else is returned as is.
func redactRepoURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil || u.Scheme == "" || u.Opaque != "" {
		return s
	}
	if _, hasPW := u.User.Password(); u.Scheme == "ssh" && !hasPW {
		return s
	}
	u.User = url.User("[redacted]")
	return strings.Replace(u.String(), "%5Bredacted%5D", "[redacted]", 1)
}
