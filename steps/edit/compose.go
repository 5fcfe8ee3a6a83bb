package edit

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// Compose edits docker-compose.yml: gunicorn workers, celery -c, the
// postgres image and password, ports in host mode and commented-out tiny
// services. Each target is found through the YAML AST (service, then key),
// and only the digits or the scalar on that line are rewritten; the result
// is parsed again and every value read back.
//
// Postgres image: the 2022 file has two `image:` keys in the postgres
// service (127.0.0.1:5000/postgres, then postgres:9.5). The one naming the
// official image (postgres:TAG) is changed; the 127.0.0.1:5000/postgres
// line is kept. It is the last one, which is the one YAML loaders that
// accept duplicate keys use.
func Compose(src []byte, s Settings) ([]byte, []Change, error) { return run(composeText, src, s) }

func composeText(src []byte, s Settings) (*text, error) {
	t := splitText(ComposeFile, src)
	if s.UncommentTiny {
		uncommentTiny(t) // first: the tiny services' lines are then found like any other
	}
	d, err := parseYAML(ComposeFile, t.lf())
	if err != nil {
		if len(t.edits) > 0 {
			err = fmt.Errorf("after uncommenting the tiny services: %w", err)
		}
		return nil, err
	}
	if len(d.services()) == 0 {
		return nil, t.missing(`"services:" mapping`, "a top-level services: key holding a mapping of services")
	}
	if s.GunicornWorkers > 0 {
		if err := setCommandNumber(t, d, "django", gunicornRe, s.GunicornWorkers, "gunicorn workers",
			`"gunicorn --workers="`, `a one-line "command: gunicorn ... --workers=N" in services.django; --workers N and -w N also work`); err != nil {
			return nil, err
		}
	}
	for _, name := range CeleryServices { // fixed order: stable Changes
		n, ok := s.CeleryConcurrency[name]
		if !ok {
			continue
		}
		if d.service(name) == nil && commentedService(t, name) {
			return nil, fmt.Errorf("%s: service %q is commented out: set UncommentTiny to enable it before setting its -c", ComposeFile, name)
		}
		if err := setCommandNumber(t, d, name, celeryRe, n, "celery -c "+name,
			`"-c N"`, `a one-line "command: ... celery ... -c N" in services.`+name+`; --concurrency=N also works`); err != nil {
			return nil, err
		}
	}
	if s.PostgresImage != "" {
		if err := setPostgresImage(t, d, s.PostgresImage); err != nil {
			return nil, err
		}
	}
	if s.DBPassword != "" {
		if err := setPostgresPassword(t, d, s.DBPassword); err != nil {
			return nil, err
		}
	}
	if s.PublishMode == "host" {
		if err := portsHostMode(t, d); err != nil {
			return nil, err
		}
		if err := endpointDNSRR(t, d); err != nil {
			return nil, err
		}
	}
	if err := checkCompose(splitText(ComposeFile, t.bytes()).lf(), s); err != nil {
		return nil, err
	}
	return t, nil
}

var (
	// The number follows --workers=, --workers or -w, as a whole word.
	gunicornRe = regexp.MustCompile(`(?:^|\s)(?:--workers=|--workers\s+|-w\s*)(\d+)(?:\s|$)`)
	// celery -c N / --concurrency=N, at the end or right after "worker".
	celeryRe = regexp.MustCompile(`(?:^|\s)(?:-c\s*|--concurrency=|--concurrency\s+)(\d+)(?:\s|$)`)
)

// commandOf returns the line and value of service svc's own one-line
// command, or why not.
func commandOf(d *yamlDoc, svc string) (int, string, error) {
	m := d.service(svc)
	if m == nil {
		return 0, "", fmt.Errorf("no service %q", svc)
	}
	cmds := own(m, "command")
	if len(cmds) != 1 {
		return 0, "", fmt.Errorf("%d command: keys in service %q", len(cmds), svc)
	}
	ln, v, ok := inlineScalar(cmds[0])
	if !ok {
		return 0, "", fmt.Errorf("the command of service %q is not a one-line string", svc)
	}
	return ln, v, nil
}

// setCommandNumber rewrites the one number re captures in svc's command.
// Only digits change, so the scalar's quoting stays valid.
func setCommandNumber(t *text, d *yamlDoc, svc string, re *regexp.Regexp, n int, what, target, lookedFor string) error {
	where := fmt.Sprintf("%s in the command of service %q", target, svc)
	ln, v, err := commandOf(d, svc)
	if err != nil {
		return t.missing(where, lookedFor+"; found "+err.Error())
	}
	if svc == "django" && !strings.Contains(v, "gunicorn") {
		return t.missing(where, lookedFor)
	}
	ms := re.FindAllStringSubmatchIndex(v, -1)
	if len(ms) != 1 {
		if len(ms) > 1 {
			return fmt.Errorf("%s:%d: %s appears %d times in the command of service %q; edit it by hand", t.file, ln, target, len(ms), svc)
		}
		return t.missing(where, lookedFor)
	}
	l := t.lines[ln-1].s
	at := strings.Index(l, v) // the raw line holds the value verbatim: digits are never escaped
	if at < 0 || strings.Index(l[at+1:], v) >= 0 {
		return t.missing(where, fmt.Sprintf("line %d holding the command verbatim", ln))
	}
	lo, hi := at+ms[0][2], at+ms[0][3]
	t.set(ln, l[:lo]+strconv.Itoa(n)+l[hi:], what)
	return nil
}

// isOfficialPostgres says whether an image value names docker.io's postgres.
func isOfficialPostgres(v string) bool {
	return postgresImageRe.MatchString(v)
}

func setPostgresImage(t *text, d *yamlDoc, img string) error {
	const target = `"image: postgres:..." in service "postgres"`
	const lookedFor = `a one-line image: key of service "postgres" naming the official image (postgres:TAG); other image: keys such as 127.0.0.1:5000/postgres are left alone`
	m := d.service("postgres")
	if m == nil {
		return t.missing(target, lookedFor+`; found no service "postgres"`)
	}
	var hits []*ast.MappingValueNode
	for _, mv := range own(m, "image") {
		if _, v, ok := inlineScalar(mv); ok && isOfficialPostgres(v) {
			hits = append(hits, mv)
		}
	}
	if len(hits) != 1 {
		if len(hits) > 1 {
			return fmt.Errorf("%s: %d image: keys of service \"postgres\" name the postgres image; edit it by hand", t.file, len(hits))
		}
		return t.missing(target, lookedFor)
	}
	ln, v, _ := inlineScalar(hits[0])
	if v == img {
		return nil
	}
	l := t.lines[ln-1].s
	i := strings.Index(l, "image:")
	j := -1
	if i >= 0 {
		j = strings.Index(l[i:], v)
	}
	if j < 0 {
		return t.missing(target, fmt.Sprintf("line %d holding %q verbatim", ln, v))
	}
	j += i
	// Both values are validated image references (no quotes, spaces or #):
	// swapping them keeps any quoting and the line comment as they were.
	t.set(ln, l[:j]+img+l[j+len(v):], "postgres image")
	return nil
}

// yamlScalarRe matches the scalar after `KEY:` up to an optional comment.
var yamlScalarRe = regexp.MustCompile(`^(\s*[A-Za-z_]+:[ \t]*)('(?:[^']|'')*'|"(?:[^"\\]|\\.)*"|[^'"#\s](?:[^#]*[^#\s])?)([ \t]*(?:#.*)?)$`)

func setPostgresPassword(t *text, d *yamlDoc, pw string) error {
	const target = `"POSTGRES_PASSWORD:" in the environment of service "postgres"`
	const lookedFor = `services.postgres.environment as a mapping with a one-line POSTGRES_PASSWORD: value`
	env := d.mapping(nil)
	if m := d.service("postgres"); m != nil {
		if e := own(m, "environment"); len(e) == 1 {
			env = d.mapping(e[0].Value)
		}
	}
	pws := own(env, "POSTGRES_PASSWORD")
	if len(pws) != 1 {
		return t.missing(target, lookedFor)
	}
	ln, v, ok := inlineScalar(pws[0])
	if !ok {
		return t.missing(target, lookedFor)
	}
	if v == pw {
		return nil
	}
	l := t.lines[ln-1].s
	m := yamlScalarRe.FindStringSubmatch(l)
	if m == nil {
		return t.missing(target, fmt.Sprintf("line %d as POSTGRES_PASSWORD: VALUE [# comment]", ln))
	}
	t.setSecret(ln, m[1]+yamlQuote(pw)+m[3], m[1]+maskOld+m[3], m[1]+maskNew+m[3], "postgres password")
	return nil
}

// checkCompose parses the edited file and reads every set value back.
func checkCompose(out []byte, s Settings) error {
	d, err := parseYAML(ComposeFile, out)
	if err != nil {
		return fmt.Errorf("edited file does not parse (bug in aginstall): %w", err)
	}
	fail := func(what string) error {
		return fmt.Errorf("%s: %s does not read back from the edited file (bug in aginstall)", ComposeFile, what)
	}
	if s.GunicornWorkers > 0 {
		if _, v, err := commandOf(d, "django"); err != nil || !numberIs(gunicornRe, v, s.GunicornWorkers) {
			return fail("gunicorn --workers")
		}
	}
	for name, n := range s.CeleryConcurrency {
		if _, v, err := commandOf(d, name); err != nil || !numberIs(celeryRe, v, n) {
			return fail("celery -c of " + name)
		}
	}
	pg := d.service("postgres")
	if s.PostgresImage != "" {
		var imgs []string
		for _, mv := range own(pg, "image") {
			if _, v, ok := inlineScalar(mv); ok && isOfficialPostgres(v) {
				imgs = append(imgs, v)
			}
		}
		if !slices.Equal(imgs, []string{s.PostgresImage}) {
			return fail("the postgres image")
		}
	}
	if s.DBPassword != "" {
		if v, ok := scalarText(d.lookup(d.mapping(d.lookup(pg, "environment")), "POSTGRES_PASSWORD")); !ok || v != s.DBPassword {
			return fail("POSTGRES_PASSWORD")
		}
	}
	if s.PublishMode == "host" {
		if err := checkHostPorts(d); err != nil {
			return fmt.Errorf("%s: %v (bug in aginstall)", ComposeFile, err)
		}
		if err := checkDNSRR(d); err != nil {
			return fmt.Errorf("%s: %v (bug in aginstall)", ComposeFile, err)
		}
	}
	return nil
}

func numberIs(re *regexp.Regexp, v string, n int) bool {
	m := re.FindAllStringSubmatch(v, -1)
	return len(m) == 1 && m[0][1] == strconv.Itoa(n)
}
