package steps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/moby/moby/client"

	"aginstall/remote"
)

// fakeHosts is an in-memory stand-in for hosts, only for the engine's own
// logic (ordering, dry run, state, parallelism); real behaviour is tested on the lab.
type fakeHosts struct {
	mu     sync.Mutex
	files  map[string]string // host:path → content
	ran    []string          // host: command, in order
	fail   map[string]bool   // hosts whose commands fail
	forgot []string          // hosts told ForgetDocker, in order
}

type fakeConn struct {
	h    *fakeHosts
	host string
}

func (f *fakeHosts) Conn(ctx context.Context, host string) (Conn, error) {
	return fakeConn{f, host}, nil
}

func (c fakeConn) Run(ctx context.Context, cmd remote.Command, out func(remote.Line)) (remote.Result, error) {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	c.h.ran = append(c.h.ran, c.host+": "+cmd.Line)
	if c.h.fail[c.host] {
		return remote.Result{ExitCode: 1}, &remote.ExitError{Host: c.host, Command: cmd.Line, Code: 1, StderrTail: []string{"boom"}}
	}
	if out != nil {
		out(remote.Line{Stream: "stdout", Text: "ok " + cmd.Line})
	}
	return remote.Result{}, nil
}

func (c fakeConn) ReadFile(ctx context.Context, path string, sudo bool) ([]byte, error) {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	v, ok := c.h.files[c.host+":"+path]
	if !ok {
		return nil, fmt.Errorf("%s: %w", path, os.ErrNotExist)
	}
	return []byte(v), nil
}

func (c fakeConn) WriteFile(ctx context.Context, path string, data []byte, opt remote.WriteOptions) (string, error) {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	c.h.files[c.host+":"+path] = string(data)
	return path + ".bak", nil
}

func (c fakeConn) Docker(ctx context.Context) (*client.Client, error) {
	return nil, errors.New("no docker in the fake")
}

func (c fakeConn) ForgetDocker() {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	c.h.forgot = append(c.h.forgot, c.host)
}

// A change on a host (a mutating command, a written file) makes its
// connection forget a failed way to Docker; reads do not.
func TestHostChangeForgetsDocker(t *testing.T) {
	f := &fakeHosts{files: map[string]string{}}
	env := testEnv(t, f)
	h := env.On("docker", "node1")
	ctx := context.Background()
	if _, err := h.Query(ctx, "read", remote.Command{Line: "true"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.ReadFile(ctx, "read", "/etc/x", false); err == nil {
		t.Fatal("the fake has no /etc/x")
	}
	if len(f.forgot) != 0 {
		t.Fatalf("reads made the connection forget: %v", f.forgot)
	}
	if _, err := h.Run(ctx, "install", remote.Command{Line: "apt-get install -y docker.io"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.WriteFile(ctx, "write", "/etc/docker/daemon.json", nil, []byte("{}"), remote.WriteOptions{}, ""); err != nil {
		t.Fatal(err)
	}
	if strings.Join(f.forgot, " ") != "node1 node1" {
		t.Fatalf("want node1 told twice, got %v", f.forgot)
	}
}

// markerStep writes /etc/marker on every host unless it is there.
type markerStep struct{}

func (markerStep) ID() string                { return "marker" }
func (markerStep) Title() string             { return "Write the marker" }
func (markerStep) Hosts(c *Cluster) []string { return AllHosts(c) }
func (markerStep) Check(ctx context.Context, env *Env) []HostCheck {
	var out []HostCheck
	for _, h := range env.Cluster.HostNames() {
		data, err := env.On("marker", h).ReadFile(ctx, "read marker", "/etc/marker", false)
		switch {
		case err != nil:
			out = append(out, HostCheck{Host: h, Status: Todo, Reason: "no marker"})
		case string(data) != "v1\n":
			out = append(out, HostCheck{Host: h, Status: Drifted, Reason: "marker differs"})
		default:
			out = append(out, HostCheck{Host: h, Status: Done, Reason: "marker present"})
		}
	}
	return out
}
func (markerStep) Apply(ctx context.Context, env *Env) error {
	return env.Each(ctx, "marker", env.Cluster.HostNames(), func(ctx context.Context, h *HostRunner) error {
		old, _ := h.ReadFile(ctx, "read marker", "/etc/marker", false)
		if _, err := h.Run(ctx, "prepare", remote.Command{Line: remote.Quote("mkdir", "-p", "/etc"), Sudo: true}); err != nil && !errors.Is(err, ErrDryRun) {
			return err
		}
		_, err := h.WriteFile(ctx, "write marker", "/etc/marker", old, []byte("v1\n"), remote.WriteOptions{Backup: true}, "+v1")
		return err
	})
}

func testEnv(t *testing.T, f *fakeHosts) *Env {
	t.Helper()
	dir := t.TempDir()
	data, err := os.ReadFile("../testdata/cluster/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "aginstall.yaml")
	c, err := ParseCluster(path, data)
	if err != nil {
		t.Fatal(err)
	}
	st, err := LoadState(c)
	if err != nil {
		t.Fatal(err)
	}
	sec := &Secrets{}
	log, err := OpenLog(filepath.Join(dir, ".aginstall", "logs"), c.Name, sec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	return &Env{Cluster: c, State: st, Secrets: sec, Runner: &Runner{Dial: f, Log: log, Secrets: sec}}
}

func TestEnginePlanThenApplyThenNothing(t *testing.T) {
	f := &fakeHosts{files: map[string]string{}}
	env := testEnv(t, f)
	en := &Engine{Steps: []Step{markerStep{}}, Env: env}
	ctx := context.Background()

	recs, err := en.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.ran) != 0 || len(f.files) != 0 {
		t.Fatalf("the plan touched the hosts: ran %v files %v", f.ran, f.files)
	}
	var planned []string
	for _, r := range recs {
		if r.Mutating {
			if !r.DryRun {
				t.Fatalf("mutating record not marked dry run: %+v", r)
			}
			planned = append(planned, r.Host+" "+r.Command)
		}
	}
	if len(planned) != 4 {
		t.Fatalf("planned %v", planned)
	}

	if err := en.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.files["node2:/etc/marker"]; got != "v1\n" {
		t.Fatalf("node2 marker %q", got)
	}
	// What apply ran is exactly what the plan listed.
	var applied []string
	for _, r := range env.Runner.Mutations() {
		if !r.DryRun {
			applied = append(applied, r.Host+" "+strings.SplitN(r.Command, "; old content kept at", 2)[0])
		}
	}
	if strings.Join(sortStrings(applied), "|") != strings.Join(sortStrings(planned), "|") {
		t.Fatalf("apply ran %v, plan said %v", applied, planned)
	}

	// The state file parses, is 0600, and says done.
	fi, err := os.Stat(StatePath(env.Cluster))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("state mode %v", fi.Mode())
	}
	raw, _ := os.ReadFile(StatePath(env.Cluster))
	var st State
	if err := json.Unmarshal(raw, &st); err != nil || st.Steps["marker"].Status != Done {
		t.Fatalf("state %s (%v)", raw, err)
	}

	// A second apply writes nothing. (The mkdir is inside Apply, which the engine
	// does not call because the check says done.)
	env2 := testEnv(t, f)
	en2 := &Engine{Steps: []Step{markerStep{}}, Env: env2}
	if err := en2.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	if m := env2.Runner.Mutations(); len(m) != 0 {
		t.Fatalf("second apply mutated: %+v", m)
	}
}

func TestEachReportsEveryHostsFailure(t *testing.T) {
	f := &fakeHosts{files: map[string]string{}, fail: map[string]bool{"node1": true}}
	env := testEnv(t, f)
	var events []Event
	var mu sync.Mutex
	env.Runner.Sink = func(e Event) { mu.Lock(); events = append(events, e); mu.Unlock() }
	en := &Engine{Steps: []Step{markerStep{}}, Env: env}
	err := en.Apply(context.Background())
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{"node1: step marker: prepare failed", "command: sudo mkdir -p /etc", "host said:", "boom", "next:"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("error %q lacks %q", msg, want)
		}
	}
	// node2 still finished its work although node1 failed.
	if f.files["node2:/etc/marker"] != "v1\n" {
		t.Fatal("node2 was stopped by node1's failure")
	}
	if st := env.State.Get("marker"); st == nil || st.Status != Failed {
		t.Fatalf("state %+v", st)
	}
	var finished int
	for _, e := range events {
		if hf, ok := e.(HostFinished); ok && hf.Step == "marker" {
			finished++
		}
	}
	if finished != 2 {
		t.Fatalf("%d HostFinished events, want 2", finished)
	}
}

func TestSecretsRedactedEverywhere(t *testing.T) {
	f := &fakeHosts{files: map[string]string{}}
	env := testEnv(t, f)
	env.Secrets.Add("tok-SECRET-123")
	h := env.On("swarm", "node1")
	if _, err := h.Run(context.Background(), "join", remote.Command{Line: "echo tok-SECRET-123"}); err != nil {
		t.Fatal(err)
	}
	env.Runner.Log.Close()
	for _, r := range env.Runner.Records() {
		if strings.Contains(r.Command, "SECRET") {
			t.Fatalf("record leaks: %+v", r)
		}
	}
	raw, _ := os.ReadFile(env.Runner.Log.Path)
	if strings.Contains(string(raw), "SECRET") || !strings.Contains(string(raw), "[redacted]") {
		t.Fatalf("log:\n%s", raw)
	}
	if fi, _ := os.Stat(env.Runner.Log.Path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("log mode %v", fi.Mode())
	}
}

func sortStrings(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
