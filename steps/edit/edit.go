// Package edit rewrites the few lines of an autograder-full-stack checkout
// that a site must change before its images are built (docker-compose.yml,
// the production nginx config, _prod.env, constants.py, constants.ts), and
// the host files the guide edits (limits.conf, /etc/exports, /etc/fstab,
// /etc/docker/daemon.json).
//
// Every editor is a pure function from the current bytes and the wanted
// Settings to the new bytes and a list of Changes. Only the target lines
// change; comments, blank lines, anchors, merges, duplicate keys, key order,
// line endings and the final newline stay byte-identical. Editing the output
// again with the same Settings returns it unchanged with no Changes. A target
// that cannot be found is an error naming the file and what was looked for;
// Plan and ApplyAll compute every file first, so the caller writes nothing
// unless every file could be edited.
//
// Decisions worth knowing:
//   - Postgres image: in the 2022 file the postgres service has two image:
//     keys; the one naming the official image (postgres:9.5) is changed and
//     127.0.0.1:5000/postgres is kept (see Compose). PostgresImage must be
//     the official image with a tag, so the line can be found again.
//   - Passwords are refused unless made of [A-Za-z0-9_-] (8–128): env files
//     have no portable quoting. In YAML they are single-quoted anyway. They
//     are masked in Changes and in the plan's diff.
//   - Values are written only where they read back literally: TLS paths
//     and the domain are restricted to characters nginx takes unquoted;
//     SysadminContact may be any UTF-8 text (a TS string literal).
//   - PublishMode "host" rewrites short ports ("80:80") into long syntax
//     with mode: host; "ingress" never converts back.
//   - The YAML is read through goccy/go-yaml's AST only (duplicate keys
//     allowed, never decoded into a map) and edited as text, line by line.
package edit

import (
	"errors"
	"fmt"
)

// Change is one edited line. Line is 1-based in the file the editor was
// given (the editors never add or remove lines before the last step, so the
// numbers hold for the whole call); New may hold several lines joined with
// "\n" when one line became many (ports in host mode).
//
// What is one of (callers may match on these; they are stable):
// "gunicorn workers", "celery -c SERVICE", "postgres image",
// "postgres password", "ports host mode SERVICE", "uncomment SERVICE"
// (docker-compose.yml); "client_max_body_size", "server_name",
// "https redirect host", "ssl_certificate", "ssl_certificate_key" (nginx);
// "allowed hosts", "site domain", "database password", "oauth2 provider"
// (_prod.env); "max subprocess timeout" (constants.py); "max command
// timeout", "sysadmin contact" (constants.ts).
//
// For the two password Changes, Secret is true and Old/New show the line
// with the value masked: a password never reaches a log or the state.
type Change struct {
	File     string
	Line     int
	Old, New string
	What     string
	Secret   bool
}

func (c Change) String() string {
	return fmt.Sprintf("%s:%d: %s: %q -> %q", c.File, c.Line, c.What, c.Old, c.New)
}

// Settings are the wanted values. A zero value means "leave the file as it is".
type Settings struct {
	GunicornWorkers      int            // 1–64: --workers= of the django command
	CeleryConcurrency    map[string]int // service → celery -c (1–32); see CeleryServices
	ClientMaxBodySize    string         // nginx size: 30M, 1G, 512k
	MaxSubprocessTimeout int            // 1–3600 s: constants.py MAX_SUBPROCESS_TIMEOUT = constants.ts MAX_COMMAND_TIMEOUT
	SysadminContact      string         // any text; written as a TS string literal
	Domain               string         // hostname: nginx server_name + redirect, _prod.env ALLOWED_HOSTS, SITE_DOMAIN
	TLSCert, TLSKey      string         // absolute paths on the webserver host: nginx ssl_certificate(_key)
	PostgresImage        string         // image reference, e.g. postgres:15
	DBPassword           string         // compose POSTGRES_PASSWORD = _prod.env AG_DB_PASSWORD
	OAuthProvider        string         // _prod.env OAUTH2_PROVIDER: google or azure
	PublishMode          string         // "" or "ingress": leave (never converts back); "host": ports in long syntax with mode: host
	UncommentTiny        bool           // uncomment tiny_* services that are commented out
}

// PostgresUpgradeWarning is what the caller must show (and have confirmed)
// before a plan that changes the postgres image is applied to a site that
// already has a database: a new major version cannot read the old data.
const PostgresUpgradeWarning = "Changing the postgres image does not upgrade the data: a database " +
	"created by another major version will not start. Dump it (pg_dumpall) with the old image, and " +
	"restore it into a new, empty volume with the new image, before deploying this change."

// CeleryServices are the services whose celery -c the operator may set: the
// small-task workers ("worker -c N" near the start) and the graders with
// their tiny_ twins ("-c N" at the end). celerybeat and image_builder are
// left alone on purpose.
var CeleryServices = []string{
	"celery_small_tasks", "celery_project_downloads",
	"grader", "fast_grader", "deferred_grader", "rerun_grader",
	"tiny_grader", "tiny_fast_grader", "tiny_deferred_grader", "tiny_rerun_grader",
}

// Checkout-relative paths of the files these editors own, in plan order.
const (
	ComposeFile     = "docker-compose.yml"
	NginxFile       = "nginx/production/conf.d/default.conf"
	ProdEnvFile     = "autograder-server/_prod.env"
	ConstantsPyFile = "autograder-server/autograder/core/constants.py"
	ConstantsTSFile = "ag-website-vue/src/constants.ts"
)

// Files lists the paths these editors own, in order.
var Files = []string{ComposeFile, NginxFile, ProdEnvFile, ConstantsPyFile, ConstantsTSFile}

// editor is one file's editor and whether the settings touch that file (a
// file nobody asked to change need not be read).
type editor struct {
	edit  func([]byte, Settings) (*text, error)
	needs func(Settings) bool
}

// run validates s, then runs one editor: the public editors refuse a bad
// value rather than write it.
func run(f func([]byte, Settings) (*text, error), src []byte, s Settings) ([]byte, []Change, error) {
	if errs := Validate(s); len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	t, err := f(src, s)
	if err != nil {
		return nil, nil, err
	}
	return t.bytes(), t.edits, nil
}

var editors = map[string]editor{
	ComposeFile: {composeText, func(s Settings) bool {
		return s.GunicornWorkers != 0 || len(s.CeleryConcurrency) > 0 || s.PostgresImage != "" ||
			s.DBPassword != "" || s.PublishMode == "host" || s.UncommentTiny
	}},
	NginxFile: {nginxText, func(s Settings) bool {
		return s.ClientMaxBodySize != "" || s.Domain != "" || s.TLSCert != "" || s.TLSKey != ""
	}},
	ProdEnvFile: {prodEnvText, func(s Settings) bool {
		return s.Domain != "" || s.DBPassword != "" || s.OAuthProvider != ""
	}},
	ConstantsPyFile: {constantsPyText, func(s Settings) bool { return s.MaxSubprocessTimeout != 0 }},
	ConstantsTSFile: {constantsTSText, func(s Settings) bool { return s.MaxSubprocessTimeout != 0 || s.SysadminContact != "" }},
}

// Needed lists the files (in Files order) that the settings change, i.e.
// the files the caller must read and pass to Plan or ApplyAll.
func Needed(s Settings) []string {
	var out []string
	for _, f := range Files {
		if editors[f].needs(s) {
			out = append(out, f)
		}
	}
	return out
}

// FileEdit is one file's part of a plan.
type FileEdit struct {
	Path     string
	Old, New []byte
	Changes  []Change
	Diff     string // unified diff, "" when nothing changes; passwords masked
}

// Plan validates the settings and computes every needed file's new content
// (in Files order) without writing anything. On any error it returns no
// plan at all, so the caller changes no file.
func Plan(files map[string][]byte, s Settings) ([]FileEdit, error) {
	if errs := Validate(s); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	var plan []FileEdit
	var errs []error
	for _, f := range Needed(s) {
		src, ok := files[f]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: file not given (the settings change it)", f))
			continue
		}
		t, err := editors[f].edit(src, s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		so, sn := t.shown(src)
		plan = append(plan, FileEdit{Path: f, Old: src, New: t.bytes(), Changes: t.edits, Diff: UnifiedDiff(f, so, sn)})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return plan, nil
}

// ApplyAll is Plan reduced to the new contents: it returns a copy of files
// with every needed file replaced by its edited bytes, and all changes.
// All-or-nothing: on error the map is nil.
func ApplyAll(files map[string][]byte, s Settings) (map[string][]byte, []Change, error) {
	plan, err := Plan(files, s)
	if err != nil {
		return nil, nil, err
	}
	out := make(map[string][]byte, len(files))
	for k, v := range files {
		out[k] = v
	}
	var all []Change
	for _, fe := range plan {
		out[fe.Path] = fe.New
		all = append(all, fe.Changes...)
	}
	return out, all, nil
}
