package edit

import (
	"fmt"
	"regexp"
	"strings"
)

// NginxProduction edits nginx/production/conf.d/default.conf:
// client_max_body_size and server_name in every server block, the host of
// the `return 301 https://HOST$request_uri;` redirect, ssl_certificate and
// ssl_certificate_key. Works on the 2022 (listen 443; ssl on;) and 2024
// (listen 443 ssl;) files alike: neither listen line is touched.
func NginxProduction(src []byte, s Settings) ([]byte, []Change, error) {
	return run(nginxText, src, s)
}

// Directives are edited only when alone on their line, directly inside a
// server block (not in a location); group 2 is the value.
var (
	nginxBodySizeRe   = regexp.MustCompile(`^(\s*client_max_body_size\s+)([^;\s'"]+)(\s*;.*)$`)
	nginxServerNameRe = regexp.MustCompile(`^(\s*server_name\s+)([^;'"#]*[^;'"#\s])(\s*;.*)$`)
	nginxRedirectRe   = regexp.MustCompile(`^(\s*return\s+30[12378]\s+https://)([^/$;\s'"]+)(\$request_uri\s*;.*)$`)
	nginxCertRe       = regexp.MustCompile(`^(\s*ssl_certificate\s+)([^;\s'"]+)(\s*;.*)$`)
	nginxKeyRe        = regexp.MustCompile(`^(\s*ssl_certificate_key\s+)([^;\s'"]+)(\s*;.*)$`)
)

// nginxPlace is where a line sits: in which server block (0-based, -1 for
// none) and at what brace depth at the start of the line.
type nginxPlace struct{ server, depth int }

// scanNginx is the light structural check: braces balance and quotes
// close, ignoring # comments. It returns each line's place.
func scanNginx(t *text) ([]nginxPlace, error) {
	places := make([]nginxPlace, len(t.lines))
	depth, server, servers := 0, -1, 0
	var stmt strings.Builder
	for i, l := range t.lines {
		places[i] = nginxPlace{server, depth}
		var quote rune
		escaped := false
	chars:
		for _, c := range l.s {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case quote != 0:
				if c == quote {
					quote = 0
				}
			case c == '"' || c == '\'':
				quote = c
			case c == '#' && (strings.TrimSpace(stmt.String()) == "" || strings.TrimRight(stmt.String(), " \t") != stmt.String()):
				break chars // # starts a comment where a token may start
			case c == '{':
				if depth == 0 && strings.TrimSpace(stmt.String()) == "server" {
					server, servers = servers, servers+1
				}
				depth++
				stmt.Reset()
				continue
			case c == '}':
				depth--
				if depth < 0 {
					return nil, fmt.Errorf("%s:%d: unbalanced }", t.file, i+1)
				}
				if depth == 0 {
					server = -1
				}
				stmt.Reset()
				continue
			case c == ';':
				stmt.Reset()
				continue
			}
			stmt.WriteRune(c)
		}
		if quote != 0 {
			return nil, fmt.Errorf("%s:%d: unclosed quote", t.file, i+1)
		}
		stmt.WriteByte(' ')
	}
	if depth != 0 {
		return nil, fmt.Errorf("%s: %d unclosed {", t.file, depth)
	}
	if servers == 0 {
		return nil, t.missing(`"server {" block`, "server blocks at the top level of the file")
	}
	return places, nil
}

// nginxTargets finds, for one directive, its lines directly in server
// blocks, grouped by block.
func nginxTargets(t *text, places []nginxPlace, re *regexp.Regexp) map[int][]int {
	out := map[int][]int{}
	for i, l := range t.lines {
		if p := places[i]; p.server >= 0 && p.depth == 1 && re.MatchString(l.s) {
			out[p.server] = append(out[p.server], i+1)
		}
	}
	return out
}

func serverCount(places []nginxPlace) int {
	n := 0
	for _, p := range places {
		n = max(n, p.server+1)
	}
	return n
}

func nginxText(src []byte, s Settings) (*text, error) {
	t := splitText(NginxFile, src)
	places, err := scanNginx(t)
	if err != nil {
		return nil, err
	}
	type target struct {
		re          *regexp.Regexp
		value, what string
		perServer   bool // in every server block, else exactly once in the file
		name        string
	}
	targets := []target{
		{nginxBodySizeRe, s.ClientMaxBodySize, "client_max_body_size", true, `"client_max_body_size SIZE;"`},
		{nginxServerNameRe, s.Domain, "server_name", true, `"server_name NAME;"`},
		{nginxRedirectRe, s.Domain, "https redirect host", false, `"return 301 https://HOST$request_uri;"`},
		{nginxCertRe, s.TLSCert, "ssl_certificate", false, `"ssl_certificate PATH;"`},
		{nginxKeyRe, s.TLSKey, "ssl_certificate_key", false, `"ssl_certificate_key PATH;"`},
	}
	for _, tg := range targets {
		if tg.value == "" {
			continue
		}
		found := nginxTargets(t, places, tg.re)
		var lines []int
		if tg.perServer {
			for b := range serverCount(places) {
				if len(found[b]) != 1 {
					return nil, t.missing(fmt.Sprintf("single %s in server block %d", tg.name, b+1),
						fmt.Sprintf("one %s line directly inside each of the %d server blocks; found %d in block %d", tg.name, serverCount(places), len(found[b]), b+1))
				}
				lines = append(lines, found[b][0])
			}
		} else {
			for _, ls := range found {
				lines = append(lines, ls...)
			}
			if len(lines) != 1 {
				return nil, t.missing("single "+tg.name, fmt.Sprintf("exactly one %s line directly inside a server block; found %d", tg.name, len(lines)))
			}
		}
		for _, ln := range lines {
			m := tg.re.FindStringSubmatch(t.lines[ln-1].s)
			t.set(ln, m[1]+tg.value+m[3], tg.what)
		}
	}
	// Validate: the edited file still scans, and each value reads back.
	out := splitText(NginxFile, t.bytes())
	places, err = scanNginx(out)
	if err != nil {
		return nil, fmt.Errorf("edited file is broken (bug in aginstall): %w", err)
	}
	for _, tg := range targets {
		if tg.value == "" {
			continue
		}
		for _, ls := range nginxTargets(out, places, tg.re) {
			for _, ln := range ls {
				if m := tg.re.FindStringSubmatch(out.lines[ln-1].s); m[2] != tg.value {
					return nil, fmt.Errorf("%s:%d: %s does not read back (bug in aginstall)", NginxFile, ln, tg.what)
				}
			}
		}
	}
	return t, nil
}
