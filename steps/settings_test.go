package steps

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/moby/moby/client"

	"aginstall/remote"
	"aginstall/steps/edit"
)

// siteFake is an in-memory manager and webserver for the settings step's
// own logic (what it reads, computes and writes); the real thing runs on the lab.
type siteFake struct {
	mu          sync.Mutex
	files       map[string][]byte // host:path
	modes       map[string]os.FileMode
	ran         []string
	secretsMade bool
	secretsExit int  // generate_secrets.py's exit code (124: timed out)
	secretsDeps bool // python3-django python3-gnupg gnupg installed
}

type siteFakeConn struct {
	f    *siteFake
	host string
}

func (f *siteFake) Conn(ctx context.Context, host string) (Conn, error) {
	return siteFakeConn{f, host}, nil
}

var siteFakeTestRe = regexp.MustCompile(`\[ -[sf] '?([^ ']+)'? \]`)

func (c siteFakeConn) Run(ctx context.Context, cmd remote.Command, out func(remote.Line)) (remote.Result, error) {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	c.f.ran = append(c.f.ran, c.host+": "+cmd.Line)
	var stdout []string
	switch {
	case cmd.Line == settingsSecretsDepsProbe:
		stdout = append(stdout, "apt")
		if c.f.secretsDeps {
			stdout = append(stdout, "ok")
		}
	case strings.Contains(cmd.Line, "install -y python3-django python3-gnupg gnupg"):
		c.f.secretsDeps = true
	case strings.Contains(cmd.Line, "generate_secrets.py"):
		if !c.f.secretsDeps {
			return remote.Result{ExitCode: 1}, &remote.ExitError{Host: c.host, Command: cmd.Line, Code: 1, StderrTail: []string{"ModuleNotFoundError: No module named 'gnupg'"}}
		}
		if c.f.secretsExit != 0 {
			return remote.Result{ExitCode: c.f.secretsExit}, &remote.ExitError{Host: c.host, Command: cmd.Line, Code: c.f.secretsExit}
		}
		c.f.secretsMade = true
	case strings.HasPrefix(cmd.Line, "chmod 600 -- "):
		p := strings.Trim(strings.TrimPrefix(cmd.Line, "chmod 600 -- "), "'")
		c.f.modes[c.host+":"+p] = 0o600
	case strings.Contains(cmd.Line, "[ -s "):
		if !c.f.secretsMade {
			for _, f := range settingsSecretFiles {
				stdout = append(stdout, "missing="+f)
			}
		}
		// The password files' modes, as stat prints them: a file never
		// written here is taken as upstream's 644.
		for _, f := range []string{edit.ComposeFile, edit.ProdEnvFile} {
			m, ok := c.f.modes[c.host+":"+path.Join("/srv/ag", f)]
			if !ok {
				m = 0o644
			}
			stdout = append(stdout, fmt.Sprintf("mode=%o %s", m.Perm(), f))
		}
	case strings.Contains(cmd.Line, "[ -f "):
		for _, m := range siteFakeTestRe.FindAllStringSubmatch(cmd.Line, -1) {
			if _, ok := c.f.files[c.host+":"+m[1]]; !ok {
				stdout = append(stdout, m[1])
			}
		}
	}
	return remote.Result{Stdout: []byte(strings.Join(stdout, "\n"))}, nil
}

func (c siteFakeConn) ReadFile(ctx context.Context, p string, sudo bool) ([]byte, error) {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	v, ok := c.f.files[c.host+":"+p]
	if !ok {
		return nil, fmt.Errorf("%s: %w", p, os.ErrNotExist)
	}
	return v, nil
}

func (c siteFakeConn) WriteFile(ctx context.Context, p string, data []byte, opt remote.WriteOptions) (string, error) {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	c.f.files[c.host+":"+p] = data
	c.f.modes[c.host+":"+p] = opt.Mode
	return p + ".bak", nil
}

func (c siteFakeConn) Docker(ctx context.Context) (*client.Client, error) {
	return nil, errors.New("no docker in the fake")
}

const siteTestCluster = `name: t
manager: node1
hosts:
  - {name: node1, address: 10.0.0.11, labels: [webserver, registry, database]}
  - {name: node2, address: 10.0.0.12, labels: [django_app, grader]}
source: {path: /srv/ag}
swarm: {publish_mode: host}
tuning: {gunicorn_workers: 3, celery_concurrency: {grader: 3}, client_max_body_size: 40M, max_subprocess_timeout: 120, sysadmin_contact: "O'Brien \"x\" $(y)"}
site: {domain: ag.example.edu, tls_cert: /etc/ssl/certs/ag.cert, tls_key: /etc/ssl/private/ag.key, postgres_image: "postgres:15"%s}
admin: {email: a@example.edu, course: "C 101"}
`

// siteTestEnv loads the lab's stand-in checkout (it carries the real lines)
// into a fake manager, with the TLS files present on node1.
func siteTestEnv(t *testing.T, extraSite string) (*Env, *siteFake, *[]Event) {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "aginstall.yaml")
	c, err := ParseCluster(p, []byte(fmt.Sprintf(siteTestCluster, extraSite)))
	if err != nil {
		t.Fatal(err)
	}
	f := &siteFake{files: map[string][]byte{}, modes: map[string]os.FileMode{}}
	standin := map[string]string{
		edit.ComposeFile:     "autograder-full-stack/docker-compose.yml",
		edit.NginxFile:       "autograder-full-stack/nginx/production/conf.d/default.conf",
		edit.ProdEnvFile:     "autograder-server/_prod.env",
		edit.ConstantsPyFile: "autograder-server/autograder/core/constants.py",
		edit.ConstantsTSFile: "ag-website-vue/src/constants.ts",
	}
	for dst, src := range standin {
		data, err := os.ReadFile(filepath.Join("../testdata/lab/standin", src))
		if err != nil {
			t.Fatal(err)
		}
		f.files["node1:"+path.Join("/srv/ag", dst)] = data
	}
	f.files["node1:/etc/ssl/certs/ag.cert"] = []byte("cert")
	f.files["node1:/etc/ssl/private/ag.key"] = []byte("key")
	st, err := LoadState(c)
	if err != nil {
		t.Fatal(err)
	}
	sec := &Secrets{}
	log, err := OpenLog(filepath.Join(dir, "logs"), c.Name, sec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	var mu sync.Mutex
	var events []Event
	sink := func(e Event) { mu.Lock(); events = append(events, e); mu.Unlock() }
	return &Env{Cluster: c, State: st, Secrets: sec, Runner: &Runner{Dial: f, Log: log, Secrets: sec, Sink: sink}}, f, &events
}

func TestSettingsApplyThenNothing(t *testing.T) {
	ctx := context.Background()
	env, f, events := siteTestEnv(t, "")
	s := settingsStep{}
	if got := s.Check(ctx, env); got[0].Status != Todo || !strings.Contains(got[0].Reason, "database password is to be generated") ||
		!strings.Contains(got[0].Reason, "the postgres image changes (image: postgres:9.5 -> image: postgres:15)") {
		t.Fatalf("check before: %+v", got)
	}
	if err := s.Apply(ctx, env); err != nil {
		t.Fatal(err)
	}
	env1 := string(f.files["node1:/srv/ag/"+edit.ProdEnvFile])
	pw, keep := settingsCurrentPassword([]byte(env1))
	if !keep || !regexp.MustCompile(`^[A-Za-z0-9]{32}$`).MatchString(pw) {
		t.Fatalf("generated password %q is not 32 of [A-Za-z0-9]", pw)
	}
	compose := string(f.files["node1:/srv/ag/"+edit.ComposeFile])
	if !strings.Contains(compose, pw) || !strings.Contains(compose, "image: postgres:15") || !strings.Contains(compose, "--workers=3") {
		t.Fatalf("compose not edited as asked:\n%s", compose)
	}
	if !f.secretsMade {
		t.Fatal("generate_secrets.py was not run while its outputs were missing")
	}
	// The password is in no record, no event and not in the log.
	for _, r := range env.Runner.Records() {
		if strings.Contains(r.Command+r.Diff+r.Error, pw) {
			t.Fatalf("password in record %+v", r)
		}
	}
	warned := false
	for _, e := range *events {
		if strings.Contains(fmt.Sprintf("%+v", e), pw) {
			t.Fatalf("password in event %+v", e)
		}
		if o, ok := e.(HostOutput); ok && strings.Contains(o.Text, "dump it (pg_dumpall)") {
			warned = true
		}
	}
	if !warned {
		t.Error("no warning about the postgres image change")
	}
	env.Runner.Log.Close()
	logs, _ := filepath.Glob(filepath.Join(filepath.Dir(env.Cluster.Path), "logs", "*"))
	for _, l := range logs {
		data, _ := os.ReadFile(l)
		if strings.Contains(string(data), pw) {
			t.Fatalf("password in the log %s", l)
		}
	}
	if got := s.Check(ctx, env); !AllDone(got) {
		t.Fatalf("check after apply: %+v", got)
	}
	// A second apply changes nothing and keeps the password.
	n := len(env.Runner.Mutations())
	if err := s.Apply(ctx, env); err != nil {
		t.Fatal(err)
	}
	if m := env.Runner.Mutations()[n:]; len(m) != 0 {
		t.Fatalf("second apply mutated: %+v", m)
	}
	if string(f.files["node1:/srv/ag/"+edit.ProdEnvFile]) != env1 {
		t.Fatal("second apply changed _prod.env")
	}
	// Made readable by others by hand: reported, and only chmod'ed back.
	f.modes["node1:/srv/ag/"+edit.ProdEnvFile] = 0o644
	if got := s.Check(ctx, env)[0]; got.Status == Done || !strings.Contains(got.Reason, edit.ProdEnvFile+": others may read the database password") {
		t.Fatalf("a 644 _prod.env: %+v", got)
	}
	n = len(env.Runner.Mutations())
	if err := s.Apply(ctx, env); err != nil {
		t.Fatal(err)
	}
	m := env.Runner.Mutations()[n:]
	if len(m) != 1 || m[0].Command != "sudo chmod 600 -- /srv/ag/"+edit.ProdEnvFile || f.modes["node1:/srv/ag/"+edit.ProdEnvFile] != 0o600 {
		t.Fatalf("want one chmod of _prod.env, got %+v", m)
	}
	if got := s.Check(ctx, env); !AllDone(got) {
		t.Fatalf("check after the chmod: %+v", got)
	}
}

func TestSettingsMissingTargetWritesNothing(t *testing.T) {
	env, f, _ := siteTestEnv(t, "")
	key := "node1:/srv/ag/" + edit.ConstantsTSFile
	f.files[key] = []byte(regexp.MustCompile(`(?m)^export const MAX_COMMAND_TIMEOUT.*\n`).ReplaceAllString(string(f.files[key]), ""))
	err := settingsStep{}.Apply(context.Background(), env)
	if err == nil || !strings.Contains(err.Error(), edit.ConstantsTSFile) || !strings.Contains(err.Error(), "MAX_COMMAND_TIMEOUT") {
		t.Fatalf("want an error naming %s and MAX_COMMAND_TIMEOUT, got %v", edit.ConstantsTSFile, err)
	}
	if m := env.Runner.Mutations(); len(m) != 0 {
		t.Fatalf("wrote despite the error: %+v", m)
	}
}

func TestSettingsTLSMissing(t *testing.T) {
	env, f, _ := siteTestEnv(t, "")
	delete(f.files, "node1:/etc/ssl/private/ag.key")
	checks := settingsStep{}.Check(context.Background(), env)
	if checks[0].Status != Todo || !strings.Contains(checks[0].Reason, "/etc/ssl/private/ag.key") || checks[0].Fix == "" {
		t.Fatalf("check must name the missing key with a fix: %+v", checks)
	}
	err := settingsStep{}.Apply(context.Background(), env)
	var se *StepError
	if !errors.As(err, &se) || se.Host != "node1" || !strings.Contains(err.Error(), "/etc/ssl/private/ag.key") || se.Next == "" {
		t.Fatalf("want a StepError on node1 naming the key, got %v", err)
	}
	if m := env.Runner.Mutations(); len(m) != 0 {
		t.Fatalf("wrote despite the error: %+v", m)
	}
}

func TestSettingsKeepsPasswordAndCopiesOAuth(t *testing.T) {
	oauth := filepath.Join(t.TempDir(), "client.json")
	os.WriteFile(oauth, []byte(`{"web":{"client_secret":"s3cr3t-value"}}`), 0o600)
	env, f, _ := siteTestEnv(t, ", oauth_secrets: "+oauth+", oauth_provider: azure")
	key := "node1:/srv/ag/" + edit.ProdEnvFile
	f.files[key] = []byte(strings.Replace(string(f.files[key]), "AG_DB_PASSWORD=postgres", "AG_DB_PASSWORD=KeepMe1234567890", 1))
	if err := (settingsStep{}).Apply(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(f.files[key]), "AG_DB_PASSWORD=KeepMe1234567890\n") || !strings.Contains(string(f.files[key]), "OAUTH2_PROVIDER=azure") {
		t.Fatalf("password not kept or provider not set:\n%s", f.files[key])
	}
	if !strings.Contains(string(f.files["node1:/srv/ag/"+edit.ComposeFile]), "KeepMe1234567890") {
		t.Fatal("compose POSTGRES_PASSWORD not set to the kept password")
	}
	dst := "node1:/srv/ag/" + settingsOAuthFile
	if string(f.files[dst]) != `{"web":{"client_secret":"s3cr3t-value"}}` || f.modes[dst] != 0o600 {
		t.Fatalf("OAuth file %q mode %v", f.files[dst], f.modes[dst])
	}
	for _, r := range env.Runner.Records() {
		if strings.Contains(r.Command+r.Diff, "s3cr3t") || strings.Contains(r.Command+r.Diff, "KeepMe1234567890") {
			t.Fatalf("secret in record %+v", r)
		}
	}
}

func TestSettingsPlanBeforeCheckout(t *testing.T) {
	env, f, _ := siteTestEnv(t, "")
	for k := range f.files {
		if strings.HasPrefix(k, "node1:/srv/ag/") {
			delete(f.files, k)
		}
	}
	env.Runner.DryRun = true
	if err := (settingsStep{}).Apply(context.Background(), env); err != nil && !errors.Is(err, ErrDryRun) {
		t.Fatal(err)
	}
	var planned []string
	for _, r := range env.Runner.Mutations() {
		planned = append(planned, r.Command)
	}
	if len(planned) != 8 || !strings.Contains(strings.Join(planned, "\n"), "generate_secrets.py") ||
		!strings.Contains(planned[6], "install -y python3-django python3-gnupg gnupg") {
		t.Fatalf("a plan before the checkout must show the 5 edits, the install of what the script needs, and the secrets: %q", planned)
	}
	if len(f.files) != 2 {
		t.Fatalf("a dry run wrote files: %v", f.files)
	}
}

func TestSettingsNewPassword(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		pw, err := settingsNewPassword()
		if err != nil || !regexp.MustCompile(`^[A-Za-z0-9]{32}$`).MatchString(pw) || seen[pw] {
			t.Fatalf("bad or repeated password %q (%v)", pw, err)
		}
		seen[pw] = true
	}
	for in, want := range map[string]bool{"AG_DB_PASSWORD=postgres\n": false, "AG_DB_PASSWORD=\n": false, "X=1\nAG_DB_PASSWORD=abcdefgh12\r\n": true, "# AG_DB_PASSWORD=abc\n": false} {
		if _, keep := settingsCurrentPassword([]byte(in)); keep != want {
			t.Errorf("%q: keep=%v, want %v", in, keep, want)
		}
	}
}

func TestSettingsSecretsTimeoutSaysEntropy(t *testing.T) {
	env, f, _ := siteTestEnv(t, "")
	f.secretsExit = 124
	err := settingsStep{}.Apply(context.Background(), env)
	var se *StepError
	if !errors.As(err, &se) || !strings.Contains(se.Next, "entropy") || !strings.Contains(se.Next, "haveged") || !strings.Contains(err.Error(), "timeout 120 python3 generate_secrets.py") {
		t.Fatalf("want a StepError naming the timeout and entropy, got %v", err)
	}
}

// On a fresh manager the settings step installs what upstream's
// generate_secrets.py imports (Django, python-gnupg, gpg) before running it,
// stops the GnuPG agent it left, makes the secrets its owner's, and installs nothing when they are there.
func TestSettingsInstallsSecretsDeps(t *testing.T) {
	env, f, _ := siteTestEnv(t, "")
	if err := (settingsStep{}).Apply(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	ran := strings.Join(f.ran, "\n")
	i := strings.Index(ran, "install -y python3-django python3-gnupg gnupg")
	j := strings.Index(ran, "python3 generate_secrets.py")
	k := strings.Index(ran, "--kill gpg-agent 2>/dev/null || true; } && chmod -R go= -- /srv/ag/autograder-server/autograder/settings/secrets")
	if i < 0 || j < i || k < j {
		t.Fatalf("want install, then generate_secrets.py, then the agent stopped:\n%s", ran)
	}

	env, f, _ = siteTestEnv(t, "")
	f.secretsDeps = true
	if err := (settingsStep{}).Apply(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if ran := strings.Join(f.ran, "\n"); strings.Contains(ran, "apt-get -q") || !strings.Contains(ran, "generate_secrets.py") {
		t.Fatalf("with the needs there, nothing is installed:\n%s", ran)
	}
}
