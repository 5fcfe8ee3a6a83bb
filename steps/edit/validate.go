package edit

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

var (
	// nginx sizes: a number with an optional k/m/g suffix. 0 (no limit) is
	// refused on purpose: it is never what an operator of a public site wants.
	sizeRe = regexp.MustCompile(`^[1-9][0-9]{0,8}[kKmMgG]?$`)
	// One DNS label (RFC 1123).
	labelRe = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
	// Paths land unquoted in nginx: no whitespace, quotes, ; { } # or $
	// (ssl_certificate expands variables), so a small safe set is allowed.
	pathRe = regexp.MustCompile(`^/[A-Za-z0-9._/+@=,:~-]*$`)
	// The official postgres image with a tag and/or digest. Only this form is
	// accepted so the editor can find the line again (idempotency) and so the
	// value is a safe plain YAML scalar.
	postgresImageRe = regexp.MustCompile(`^(?:(?:docker\.io/)?library/)?postgres(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$`)
	// The password generator's alphabet (URL-safe base64). Anything else is
	// refused rather than quoted: env files have no portable quoting.
	passwordRe = regexp.MustCompile(`^[A-Za-z0-9_-]{8,128}$`)
)

// MaxContactLen bounds SysadminContact (in runes); it is shown in a web page.
const MaxContactLen = 500

// Validate returns one error per bad value, each naming the field and what
// is allowed. Zero values ("leave") are always valid.
func Validate(s Settings) []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if s.GunicornWorkers < 0 || s.GunicornWorkers > 64 {
		bad("GunicornWorkers: %d is out of range: use 1 to 64 (0 leaves the file as it is)", s.GunicornWorkers)
	}
	names := make([]string, 0, len(s.CeleryConcurrency))
	for k := range s.CeleryConcurrency {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := s.CeleryConcurrency[k]
		if !slices.Contains(CeleryServices, k) {
			bad("CeleryConcurrency: unknown service %q: use one of %s", k, strings.Join(CeleryServices, ", "))
		} else if v < 1 || v > 32 {
			bad("CeleryConcurrency[%s]: %d is out of range: use 1 to 32", k, v)
		}
	}
	if s.ClientMaxBodySize != "" && !sizeRe.MatchString(s.ClientMaxBodySize) {
		bad("ClientMaxBodySize: %q is not an nginx size: use a positive number with an optional k, m or g suffix, like 30M, 1G or 512k", s.ClientMaxBodySize)
	}
	if s.MaxSubprocessTimeout < 0 || s.MaxSubprocessTimeout > 3600 {
		bad("MaxSubprocessTimeout: %d is out of range: use 1 to 3600 seconds (0 leaves the files as they are)", s.MaxSubprocessTimeout)
	}
	if !utf8.ValidString(s.SysadminContact) {
		bad("SysadminContact: not valid UTF-8 text")
	} else if n := utf8.RuneCountInString(s.SysadminContact); n > MaxContactLen {
		bad("SysadminContact: %d characters is too long: use at most %d", n, MaxContactLen)
	}
	if s.Domain != "" {
		if err := checkHostname(s.Domain); err != nil {
			bad("Domain: %q %v", s.Domain, err)
		}
	}
	for _, p := range []struct{ name, v string }{{"TLSCert", s.TLSCert}, {"TLSKey", s.TLSKey}} {
		if p.v != "" && (len(p.v) > 4096 || !pathRe.MatchString(p.v) || strings.Contains(p.v, "//") || strings.HasSuffix(p.v, "/")) {
			bad("%s: %q is not usable: use an absolute file path of letters, digits and . _ / + @ = , : ~ - (no spaces, quotes, $ or ;)", p.name, p.v)
		}
	}
	if s.PostgresImage != "" && (!postgresImageRe.MatchString(s.PostgresImage) || !strings.ContainsAny(s.PostgresImage, ":@")) {
		bad("PostgresImage: %q is not an official postgres image with a tag: use e.g. postgres:16 or postgres:16-alpine (docker.io/library/ prefix and @sha256: digest allowed)", s.PostgresImage)
	}
	if s.DBPassword != "" && !passwordRe.MatchString(s.DBPassword) {
		bad("DBPassword: use 8 to 128 characters from A-Z a-z 0-9 _ - (the generator's alphabet; other characters cannot be written safely to _prod.env)")
	}
	switch s.OAuthProvider {
	case "", "google", "azure":
	default:
		bad("OAuthProvider: %q is not supported: use google or azure", s.OAuthProvider)
	}
	switch s.PublishMode {
	case "", "ingress", "host":
	default:
		bad("PublishMode: %q is not a publish mode: use ingress or host", s.PublishMode)
	}
	return errs
}

// checkHostname accepts an RFC 1123 host name (not an IP address, no
// trailing dot); nginx server_name, ALLOWED_HOSTS and the redirect all take it.
func checkHostname(h string) error {
	if len(h) > 253 {
		return fmt.Errorf("is longer than 253 characters")
	}
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if !labelRe.MatchString(l) {
			return fmt.Errorf("is not a valid host name: each dot-separated part must be 1–63 letters, digits or inner hyphens")
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return fmt.Errorf("is not a valid host name: the last part must not be all digits (IP addresses are not accepted)")
	}
	return nil
}
