package edit

import (
	"fmt"
	"regexp"
	"strings"
)

// ProdEnv edits autograder-server/_prod.env: ALLOWED_HOSTS and SITE_DOMAIN
// (the domain), AG_DB_PASSWORD (same value as the compose file's
// POSTGRES_PASSWORD) and OAUTH2_PROVIDER. Values are written bare: docker
// reads env files literally (no quotes, no $ expansion), which is why
// Validate only lets through values with no characters that would matter.
func ProdEnv(src []byte, s Settings) ([]byte, []Change, error) { return run(prodEnvText, src, s) }

var envLineRe = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)=(.*)$`)

func prodEnvText(src []byte, s Settings) (*text, error) {
	t := splitText(ProdEnvFile, src)
	if err := checkEnv(t); err != nil {
		return nil, err
	}
	sets := []struct{ key, value, what string }{
		{"ALLOWED_HOSTS", s.Domain, "allowed hosts"},
		{"SITE_DOMAIN", s.Domain, "site domain"},
		{"AG_DB_PASSWORD", s.DBPassword, "database password"},
		{"OAUTH2_PROVIDER", s.OAuthProvider, "oauth2 provider"},
	}
	for _, kv := range sets {
		if kv.value == "" {
			continue
		}
		var hits []int
		for i, l := range t.lines {
			if m := envLineRe.FindStringSubmatch(l.s); m != nil && m[1] == kv.key {
				hits = append(hits, i+1)
			}
		}
		if len(hits) != 1 {
			return nil, t.missing(fmt.Sprintf("single %q line", kv.key+"="),
				fmt.Sprintf("exactly one uncommented %s=VALUE line; found %d", kv.key, len(hits)))
		}
		ln := hits[0]
		if kv.key == "AG_DB_PASSWORD" {
			old := t.lines[ln-1].s
			if old != kv.key+"="+kv.value {
				t.setSecret(ln, kv.key+"="+kv.value, kv.key+"="+maskOld, kv.key+"="+maskNew, kv.what)
			}
			continue
		}
		t.set(ln, kv.key+"="+kv.value, kv.what)
	}
	// Validate: still a well-formed env file, and each value reads back.
	out := splitText(ProdEnvFile, t.bytes())
	if err := checkEnv(out); err != nil {
		return nil, fmt.Errorf("edited file is broken (bug in aginstall): %w", err)
	}
	for _, kv := range sets {
		if kv.value == "" {
			continue
		}
		for _, l := range out.lines {
			if m := envLineRe.FindStringSubmatch(l.s); m != nil && m[1] == kv.key && m[2] != kv.value {
				return nil, fmt.Errorf("%s: %s does not read back (bug in aginstall)", ProdEnvFile, kv.key)
			}
		}
	}
	return t, nil
}

// checkEnv: every line is blank, a # comment or KEY=VALUE.
func checkEnv(t *text) error {
	for i, l := range t.lines {
		s := strings.TrimSpace(l.s)
		if s == "" || strings.HasPrefix(s, "#") || envLineRe.MatchString(l.s) {
			continue
		}
		return fmt.Errorf("%s:%d: not a KEY=VALUE line: %q", t.file, i+1, l.s)
	}
	return nil
}
