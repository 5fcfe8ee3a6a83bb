package steps

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"aginstall/remote"
)

// fwFake is a host as the firewall check reads it: iptables' listing,
// systemctl's answer and two files. Only for the check's own logic; the
// rules themselves are tested on the lab (registry_firewall_lab_test.go).
type fwFake struct {
	mu          sync.Mutex
	noIptables  bool
	first       string   // DOCKER-USER's first rule
	chain       []string // iptables -S AGINSTALL-REGISTRY
	files       map[string]string
	enabled     bool
	ran, writes []string
	// restartFails: how many runs of the unit fail before one succeeds;
	// journal: what journalctl prints for it.
	restartFails int
	journal      string
}

func (f *fwFake) Conn(ctx context.Context, host string) (Conn, error) { return f, nil }

func (f *fwFake) Run(ctx context.Context, cmd remote.Command, out func(remote.Line)) (remote.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ran = append(f.ran, cmd.Line)
	fail := func() (remote.Result, error) {
		return remote.Result{ExitCode: 1}, &remote.ExitError{Host: "fake", Command: cmd.Line, Code: 1}
	}
	if cmd.Line != registryFirewallProbe {
		if strings.Contains(cmd.Line, "systemctl restart") {
			if f.restartFails > 0 {
				f.restartFails--
				return fail()
			}
			return remote.Result{}, nil
		}
		if cmd.Line == registryFirewallJournalLine {
			return remote.Result{Stdout: []byte(f.journal)}, nil
		}
		return fail()
	}
	var b strings.Builder
	if f.noIptables {
		b.WriteString("noiptables=1\n")
	}
	b.WriteString("first=" + f.first + "\n")
	for _, r := range f.chain {
		b.WriteString("chain=" + r + "\n")
	}
	for _, p := range []string{registryFirewallScript, registryFirewallUnit} {
		if v, ok := f.files[p]; ok {
			b.WriteString("sum=" + sha256Hex(v) + "  " + p + "\n")
		}
	}
	if f.enabled {
		b.WriteString("enabled=enabled\n")
	} else if len(f.files) > 0 {
		b.WriteString("enabled=disabled\n")
	}
	return remote.Result{Stdout: []byte(b.String())}, nil
}

func (f *fwFake) ReadFile(ctx context.Context, path string, sudo bool) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if v, ok := f.files[path]; ok {
		return []byte(v), nil
	}
	return nil, fmt.Errorf("%s: %w", path, fs.ErrNotExist)
}

func (f *fwFake) WriteFile(ctx context.Context, path string, data []byte, opt remote.WriteOptions) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes = append(f.writes, fmt.Sprintf("%s %o", path, opt.Mode))
	return "", nil
}

func (f *fwFake) Docker(ctx context.Context) (*client.Client, error) {
	return nil, errors.New("no docker in the fake")
}

func fwEnv(t *testing.T, f *fwFake) *Env {
	t.Helper()
	c, err := ParseCluster(filepath.Join(t.TempDir(), "aginstall.yaml"), []byte(`name: lab
manager: node1
hosts:
  - {name: node1, address: 10.213.0.11, labels: [registry]}
  - {name: node2, address: node2.example.edu}
  - {name: node3, address: 10.213.0.13}
source: {repo: https://github.com/eecs-autograder/autograder-full-stack.git, ref: master, path: /srv/ag}
`))
	if err != nil {
		t.Fatal(err)
	}
	st, err := LoadState(c)
	if err != nil {
		t.Fatal(err)
	}
	sec := &Secrets{}
	return &Env{Cluster: c, State: st, Secrets: sec, Runner: &Runner{Dial: f, Secrets: sec}}
}

func TestRegistryFirewallAllowed(t *testing.T) {
	env := fwEnv(t, &fwFake{})
	env.State.SetFacts("node2", &Facts{ReachableAt: "10.213.0.12", Addresses: []string{"10.213.0.12/24", "172.17.0.1/16"}})
	env.State.SetFacts("node3", &Facts{ReachableAt: "10.0.0.12 *"}) // hostile: not an address
	env.Cluster.Swarm.AdvertiseAddress = "10.213.0.11"
	got := registryFirewallAllowed(env)
	want := []string{"127.0.0.0/8", "10.213.0.11", "10.213.0.12", "10.213.0.13"}
	if !slices.Equal(got, want) {
		t.Fatalf("allowed %q, want %q (names, Docker's bridges and bad facts left out)", got, want)
	}
	// remove-node narrows the list to the hosts that stay.
	if got, want := registryFirewallAllowedExcept(env, "node3"), want[:3]; !slices.Equal(got, want) {
		t.Errorf("without node3: allowed %q, want %q", got, want)
	}
	// The script installs exactly the rules the check expects.
	script := registryFirewallScriptText(got)
	for _, r := range registryFirewallRules(got)[1:] {
		if !strings.Contains(script, "\n"+r+"\n") {
			t.Errorf("the script lacks the rule the check expects: %s", r)
		}
	}
	if !strings.Contains(script, strings.TrimPrefix(registryFirewallJump, "-A DOCKER-USER ")) {
		t.Errorf("the script lacks the jump %s", registryFirewallJump)
	}
}

func TestRegistryFirewallCheck(t *testing.T) {
	ctx := context.Background()
	allowed := []string{"127.0.0.0/8", "10.213.0.11"}
	done := func() *fwFake {
		return &fwFake{first: registryFirewallJump, chain: registryFirewallRules(allowed), enabled: true, files: map[string]string{
			registryFirewallScript: registryFirewallScriptText(allowed), registryFirewallUnit: registryFirewallUnitText}}
	}
	for _, tc := range []struct {
		name   string
		fake   func() *fwFake
		open   bool
		status Status
		reason string
	}{
		{"in force", done, true, Done, "closed but to the cluster's 1 addresses"},
		{"nothing yet, no registry", func() *fwFake { return &fwFake{} }, false, Todo, "not closed yet"},
		{"nothing, registry published", func() *fwFake { return &fwFake{} }, true, Drifted, "open to every address"},
		{"chain flushed", func() *fwFake { f := done(); f.chain = []string{"-N AGINSTALL-REGISTRY"}; return f }, true, Drifted, "missing or differ"},
		{"jump not first", func() *fwFake { f := done(); f.first = "-A DOCKER-USER -j ACCEPT"; return f }, true, Drifted, "first"},
		{"other addresses", func() *fwFake { f := done(); f.chain = registryFirewallRules([]string{"127.0.0.0/8"}); return f }, true, Drifted, "missing or differ"},
		{"no boot unit", func() *fwFake { f := done(); delete(f.files, registryFirewallUnit); return f }, true, Drifted, "after a reboot"},
		{"unit disabled", func() *fwFake { f := done(); f.enabled = false; return f }, true, Drifted, "not enabled"},
		{"no iptables", func() *fwFake { return &fwFake{noIptables: true} }, true, Drifted, "iptables is not installed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.fake()
			env := fwEnv(t, f)
			c := registryFirewallCheck(ctx, env.On("registry", "node1"), allowed, tc.open)
			if c.Status != tc.status || !strings.Contains(c.Reason, tc.reason) {
				t.Errorf("got %s %q, want %s with %q", c.Status, c.Reason, tc.status, tc.reason)
			}
		})
	}
	// Apply on a done host changes nothing; on a bare one it writes both
	// files with their modes and runs the unit.
	f := done()
	env := fwEnv(t, f)
	if err := registryFirewallApply(ctx, env, env.On("registry", "node1"), allowed); err != nil || len(f.writes) != 0 || len(env.Runner.Mutations()) != 0 {
		t.Errorf("apply on a done host: %v, wrote %v, mutations %v", err, f.writes, env.Runner.Mutations())
	}
	f = &fwFake{}
	env = fwEnv(t, f)
	if err := registryFirewallApply(ctx, env, env.On("registry", "node1"), allowed); err != nil {
		t.Fatal(err)
	}
	if want := []string{registryFirewallScript + " 755", registryFirewallUnit + " 644"}; !slices.Equal(f.writes, want) {
		t.Errorf("wrote %v, want %v", f.writes, want)
	}
	if last := f.ran[len(f.ran)-1]; !strings.Contains(last, "systemctl restart aginstall-registry-firewall.service") {
		t.Errorf("last command %q", last)
	}
}

// The unit is run again when it fails (bounded), and the last failure's
// error carries the unit's journal, cleaned, so it names its cause.
func TestRegistryFirewallStartRetries(t *testing.T) {
	defer func(p time.Duration) { registryFirewallPause = p }(registryFirewallPause)
	registryFirewallPause = 0
	ctx := context.Background()
	allowed := []string{"127.0.0.0/8", "10.213.0.11"}
	runs := func(f *fwFake) int {
		n := 0
		for _, l := range f.ran {
			if strings.Contains(l, "systemctl restart") {
				n++
			}
		}
		return n
	}

	f := &fwFake{restartFails: 1, journal: "iptables: Resource temporarily unavailable.\n"}
	env := fwEnv(t, f)
	if err := registryFirewallApply(ctx, env, env.On("registry", "node1"), allowed); err != nil {
		t.Fatalf("one failure, then success: %v", err)
	}
	if n := runs(f); n != 2 {
		t.Errorf("ran the unit %d times, want 2", n)
	}

	f = &fwFake{restartFails: 99, journal: "iptables v1.8.9 (nf_tables): Couldn't load match `conntrack'\x1b[31m\n"}
	env = fwEnv(t, f)
	err := registryFirewallApply(ctx, env, env.On("registry", "node1"), allowed)
	var se *StepError
	if !errors.As(err, &se) {
		t.Fatalf("always failing: %v", err)
	}
	if n := runs(f); n != registryFirewallTries {
		t.Errorf("ran the unit %d times, want %d", n, registryFirewallTries)
	}
	msg := err.Error()
	for _, want := range []string{"the unit's run logged", "Couldn't load match `conntrack'", "journalctl -u aginstall-registry-firewall", "next:"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "\x1b") {
		t.Errorf("host text reached the error raw: %q", msg)
	}
}

// In a review whose discovery found a host without Docker, the firewall is
// not probed there: the docker step comes first.
func TestRegistryCheckSkipsHostsWithoutDocker(t *testing.T) {
	f := &fwFake{}
	env := fwEnv(t, f)
	env.review = &reviewMemo{discovered: make(chan struct{})}
	env.review.setDiscovered("node1", &Facts{Docker: "29.1.0"})
	env.review.setDiscovered("node2", &Facts{}) // no Docker
	env.review.setDiscovered("node3", &Facts{})
	close(env.review.discovered)
	checks := registryStep{}.Check(context.Background(), env)
	probes := 0
	for _, l := range f.ran {
		if l == registryFirewallProbe {
			probes++
		}
	}
	if probes != 1 {
		t.Errorf("probed %d hosts, want 1 (node1)", probes)
	}
	for _, c := range checks {
		if c.Host == "node1" {
			continue
		}
		if c.Status != Todo || !strings.Contains(c.Reason, "Docker is not installed on "+c.Host) {
			t.Errorf("%s: %s %q", c.Host, c.Status, c.Reason)
		}
	}
}
