package ui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"aginstall/remote"
	"aginstall/steps"
	"aginstall/steps/rules"
)

// fakeStep stands for a registered step: the UI only reads ID and Title.
type fakeStep struct{ id, title string }

func (s fakeStep) ID() string                                          { return s.id }
func (s fakeStep) Title() string                                       { return s.title }
func (s fakeStep) Hosts(c *steps.Cluster) []string                     { return c.HostNames() }
func (s fakeStep) Check(context.Context, *steps.Env) []steps.HostCheck { return nil }
func (s fakeStep) Apply(context.Context, *steps.Env) error             { return nil }

// Inputs: the admin step's, as the real one's (a skip holds while they stay).
func (s fakeStep) Inputs(c *steps.Cluster) any {
	if s.id == "admin" {
		return c.Admin
	}
	return nil
}

var fakeSteps = []steps.Step{
	fakeStep{"discover", "Discover the hosts"}, fakeStep{"docker", "Install Docker"},
	fakeStep{"limits", "Docker limits"}, fakeStep{"swarm", "Create the swarm"},
	fakeStep{"network", "Overlay network"}, fakeStep{"source", "Get the source"},
	fakeStep{"nfs", "Share it over NFS"}, fakeStep{"labels", "Node labels"},
	fakeStep{"settings", "Site settings"}, fakeStep{"registry", "Local registry"},
	fakeStep{"deploy", "Deploy the stack"}, fakeStep{"migrate", "Migrate the DB"},
	fakeStep{"admin", "Admin and course"},
}

// fakeBackend returns canned data and emits canned events, like the real one
// would for the lab's three hosts.
type fakeBackend struct {
	mu       sync.Mutex
	cluster  *steps.Cluster
	saved    int
	accepted []remote.HostKey
	changed  bool // ScanHostKeys reports node3's key as changed
	bastion  bool // the hosts are behind a bastion whose key is new
	failOnce map[string]bool
	applied  []string
	skipped  map[string]string
	password string
	relabel  *steps.RelabelPlan
	lines    int           // output lines per host per step
	numbered bool          // docker prints numbered lines too, not the real apt output
	block    chan struct{} // when set, ApplyStep waits for it after printing
	noLogin  string        // TestConnections fails on this host
	realFile bool          // LoadCluster, SaveCluster and RefreshCluster use the real file
	noIPVS   bool          // Facts: kernels without IPVS and NFS, findings from steps.Preflight
	allDone  bool          // Review: every step done but admin
	newKey   string        // TestConnections: this host's key is not known yet
	// plannedWith and appliedWith: the cluster each Plan and ApplyStep was given.
	plannedWith, appliedWith []*steps.Cluster
	planChanges              string          // with allDone unset: the plan changes only this step
	onApply                  func(id string) // called as each ApplyStep starts (an outside edit mid-run)
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{failOnce: map[string]bool{}, skipped: map[string]string{}, lines: 5}
}

func labCluster(path string) *steps.Cluster {
	c := newCluster(path)
	c.Name, c.Manager = "lab", "node1"
	for i := 1; i <= 3; i++ {
		c.Hosts = append(c.Hosts, steps.HostSpec{Name: fmt.Sprintf("node%d", i), Address: fmt.Sprintf("10.213.0.1%d", i), User: "agadmin", Port: 22})
	}
	c.Source.Repo, c.Source.AllowHTTP = "http://10.213.0.1:8080/git/autograder-full-stack.git", true
	return c
}

func (b *fakeBackend) LoadCluster(path string) (*steps.Cluster, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.realFile {
		return steps.LoadCluster(path)
	}
	if b.cluster == nil {
		b.cluster = labCluster(path)
	}
	c := *b.cluster
	c.Hosts = append([]steps.HostSpec(nil), b.cluster.Hosts...)
	return &c, nil
}

func (b *fakeBackend) SaveCluster(c *steps.Cluster) (steps.SaveResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.saved++
	if b.realFile { // the real save on a real file
		res, err := steps.SaveCluster(c)
		if err == nil {
			b.cluster = res.Cluster
		}
		return res, err
	}
	cp := *c
	cp.Hosts = append([]steps.HostSpec(nil), c.Hosts...)
	b.cluster = &cp
	back := cp
	back.Hosts = append([]steps.HostSpec(nil), c.Hosts...)
	return steps.SaveResult{Cluster: &back}, nil
}

func (b *fakeBackend) RefreshCluster(c *steps.Cluster) (steps.SaveResult, error) {
	if b.realFile {
		return steps.RefreshCluster(c)
	}
	return steps.SaveResult{Cluster: c}, nil
}

func (b *fakeBackend) TestConnections(ctx context.Context, c *steps.Cluster) []steps.HostCheck {
	var out []steps.HostCheck
	for _, h := range c.Hosts {
		if h.Name == b.newKey { // as the real backend says it
			out = append(out, steps.HostCheck{Host: h.Name, Status: steps.Todo, Reason: "new host key: you confirm it on the next screen"})
			continue
		}
		if h.Name == b.noLogin {
			out = append(out, steps.HostCheck{Host: h.Name, Status: steps.Unknown,
				Reason: fmt.Sprintf("%s (%s:22): ssh: handshake failed: ssh: unable to authenticate, attempted methods [none publickey], no supported methods remain", h.Name, h.Address),
				Fix:    fmt.Sprintf("add your public key to ~%s/.ssh/authorized_keys on %s (ssh-copy-id %s@%s), or set identity: in the cluster file", h.User, h.Name, h.User, h.Address)})
			continue
		}
		out = append(out, steps.HostCheck{Host: h.Name, Status: steps.Done, Reason: "logged in as " + h.User})
	}
	return out
}

const fp = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"

func (b *fakeBackend) ScanHostKeys(ctx context.Context, c *steps.Cluster) ([]remote.HostKey, error) {
	var jump []remote.HostKey
	if b.bastion {
		// As remote.Pool does: the bastion's key alone until it is accepted.
		jump = []remote.HostKey{{Host: "jump", Address: "10.213.0.1", Port: 22, Type: "ssh-ed25519", Fingerprint: fp, Status: remote.KeyUnknown, Bastion: true}}
		b.mu.Lock()
		accepted := len(b.accepted) > 0
		b.mu.Unlock()
		if !accepted {
			return jump, fmt.Errorf("node1: %w", remote.ErrBastionKeyPending)
		}
		jump[0].Status = remote.KeyKnown
	}
	keys := []remote.HostKey{
		{Host: "node1", Address: "10.213.0.11", Port: 22, Type: "ssh-ed25519", Fingerprint: fp, Status: remote.KeyUnknown},
		{Host: "node2", Address: "10.213.0.12", Port: 22, Type: "ssh-ed25519", Fingerprint: "SHA256:7Pq0t1kJ3n8yXb0m2c9s4Ew6Lh5Za1Rv3Tq8Yp2Nd0U", Status: remote.KeyUnknown},
		{Host: "node3", Address: "10.213.0.13", Port: 22, Type: "ecdsa-sha2-nistp256", Fingerprint: "SHA256:Jm3kq9Vx2Lw8Rt5Yp1Nc6Hd0Fs4Ga7Be2Ui9Ox3Zq5", Status: remote.KeyKnown},
	}
	if b.changed {
		keys[2].Status = remote.KeyChanged
		keys[2].Want = []string{"SHA256:0ldKeyq9Vx2Lw8Rt5Yp1Nc6Hd0Fs4Ga7Be2Ui9Ox3Z"}
		keys[2].Sources = []string{"/root/.ssh/known_hosts:4"}
	}
	return append(jump, keys...), nil
}

func (b *fakeBackend) AcceptHostKeys(ctx context.Context, c *steps.Cluster, keys []remote.HostKey) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.accepted = append(b.accepted, keys...)
	if b.realFile {
		pins := map[string]string{}
		for _, k := range keys {
			pins[k.Host] = k.Fingerprint
		}
		return steps.PinHostKeys(c, pins)
	}
	return nil
}

func (b *fakeBackend) Steps() []steps.Step { return fakeSteps }

func (b *fakeBackend) Facts(c *steps.Cluster) map[string]*steps.Facts {
	out := map[string]*steps.Facts{}
	for i, h := range c.Hosts {
		f := &steps.Facts{Hostname: h.Name, OSID: "debian", OSVersion: "12", OSName: "Debian 12", CPUs: 2 + 2*i, MemoryMB: 4096 * (i + 1),
			DiskFreeMB: 71100, Sudo: "nopasswd", Swarm: "inactive", ReachableAt: h.Address, IPVS: true, Docker: "20.10.24+dfsg1"}
		if h.Name == "node2" {
			f.Sudo = "password"
			f.Findings = []steps.Finding{{Host: h.Name, Severity: steps.Warning, Code: "clock", Message: "the clock is 3 s off the manager's", Fix: "enable NTP: timedatectl set-ntp true"}}
		}
		if b.noIPVS { // the lab's kernel: no IPVS, no NFS; the real preflight judges
			f.IPVS, f.SourceFreeMB, f.Findings = false, 71100, nil
		}
		out[h.Name] = f
	}
	if b.noIPVS {
		for _, fd := range steps.Preflight(c, out) {
			out[fd.Host].Findings = append(out[fd.Host].Findings, fd)
		}
	}
	return out
}

func (b *fakeBackend) Review(ctx context.Context, c *steps.Cluster, sink steps.Sink) ([]steps.StepReport, error) {
	var out []steps.StepReport
	for i, s := range fakeSteps {
		st := steps.Todo
		if i < 4 || b.allDone && s.ID() != "admin" {
			st = steps.Done
		}
		var checks []steps.HostCheck
		for _, h := range c.HostNames() {
			reason := "not done yet"
			if st == steps.Done {
				reason = "done"
			}
			checks = append(checks, steps.HostCheck{Host: h, Status: st, Reason: reason, Fix: map[bool]string{true: "", false: "aginstall apply does it"}[st == steps.Done]})
		}
		sink(steps.StepStarted{Step: s.ID(), Title: s.Title(), Mode: "check"})
		sink(steps.StepFinished{Step: s.ID(), Checks: checks})
		rep := steps.StepReport{ID: s.ID(), Title: s.Title(), Status: st, Checks: checks}
		if why, ok := b.skipped[s.ID()]; ok {
			rep.Note = "skipped by the operator: " + why
		}
		out = append(out, rep)
	}
	return out, nil
}

func (b *fakeBackend) Plan(ctx context.Context, c *steps.Cluster, sink steps.Sink) ([]steps.Record, error) {
	b.mu.Lock()
	b.plannedWith = append(b.plannedWith, c)
	b.mu.Unlock()
	for _, s := range fakeSteps {
		sink(steps.StepStarted{Step: s.ID(), Title: s.Title(), Mode: "plan", Hosts: c.HostNames()})
		sink(steps.CommandStarted{Step: s.ID(), Host: c.Manager, Purpose: "read", Command: "planning-read " + s.ID()})
		sink(steps.HostOutput{Step: s.ID(), Host: c.Manager, Stream: "stdout", Text: "planning-output"})
		sink(steps.HostFinished{Step: s.ID(), Host: c.Manager, Status: steps.Done})
		sink(steps.StepFinished{Step: s.ID(), Err: steps.ErrDryRun})
	}
	if b.allDone {
		// An installed cluster: the plan only reads (the admin's creation,
		// when asked, is queued because its step is not done).
		return []steps.Record{{Step: "docker", Host: "node1", Purpose: "see whether Docker is installed", Kind: "cmd", Command: "docker version --format '{{.Server.Version}}'"}}, nil
	}
	if b.planChanges != "" {
		return []steps.Record{{Step: b.planChanges, Host: c.Manager, Purpose: "rebuild after the settings", Kind: "cmd", Command: "docker-compose build", Mutating: true, DryRun: true}}, nil
	}
	return []steps.Record{
		{Step: "docker", Host: "node2", Purpose: "see whether Docker is installed", Kind: "cmd", Command: "docker version --format '{{.Server.Version}}'"},
		{Step: "docker", Host: "node1", Purpose: "see whether Docker is installed", Kind: "cmd", Command: "docker version --format '{{.Server.Version}}'"},
		{Step: "docker", Host: "node1", Purpose: "install Docker from Docker's apt repository", Kind: "cmd", Command: "apt-get install -y docker-ce docker-ce-cli containerd.io", Mutating: true, DryRun: true},
		{Step: "limits", Host: "node1", Purpose: "raise LimitNOFILE for dockerd", Kind: "file", Command: "write /etc/systemd/system/docker.service.d/aginstall.conf", Mutating: true, DryRun: true,
			Diff: "--- /etc/systemd/system/docker.service.d/aginstall.conf\n+++ new\n@@ -0,0 +1,2 @@\n+[Service]\n+LimitNOFILE=1048576\n"},
		{Step: "swarm", Host: "node1", Purpose: "initialise the swarm", Kind: "api", Command: "SwarmInit(AdvertiseAddr=10.213.0.11)", Mutating: true, DryRun: true},
		{Step: "docker", Host: "node2", Purpose: "install Docker from Docker's apt repository", Kind: "cmd", Command: "apt-get install -y docker-ce docker-ce-cli containerd.io", Mutating: true, DryRun: true},
		{Step: "swarm", Host: "node2", Purpose: "join the swarm as a worker", Kind: "api", Command: "SwarmJoin(RemoteAddrs=[10.213.0.11:2377], JoinToken=<redacted>)", Mutating: true, DryRun: true},
	}, nil
}

func (b *fakeBackend) ApplyStep(ctx context.Context, c *steps.Cluster, id string, sink steps.Sink) error {
	b.mu.Lock()
	fail := b.failOnce[id]
	delete(b.failOnce, id)
	b.applied = append(b.applied, id)
	b.appliedWith = append(b.appliedWith, c)
	lines, onApply := b.lines, b.onApply
	b.mu.Unlock()
	if onApply != nil {
		onApply(id)
	}
	title := id
	for _, s := range fakeSteps {
		if s.ID() == id {
			title = s.Title()
		}
	}
	hosts := c.HostNames()
	switch id {
	case "network", "source", "registry", "deploy": // the manager-only steps
		hosts = []string{c.Manager}
	}
	sink(steps.StepStarted{Step: id, Title: title, Mode: "apply", Hosts: hosts})
	var checks []steps.HostCheck
	for _, h := range hosts {
		sink(steps.CommandStarted{Step: id, Host: h, Purpose: "work on " + id, Command: "apt-get install -y docker.io", Mutating: true})
		for _, l := range b.output(id, lines) {
			sink(steps.HostOutput{Step: id, Host: h, Stream: "stdout", Text: l})
		}
		sink(steps.HostProgress{Step: id, Host: h, Purpose: "installing packages", Done: 3, Total: 4})
		checks = append(checks, steps.HostCheck{Host: h, Status: steps.Done, Reason: "ok"})
	}
	if id == "deploy" {
		sink(steps.CommandStarted{Step: id, Host: c.Manager, Purpose: "wait for the stack's services to converge", Command: "poll ServiceList, TaskList, NodeList every 2s"})
		for _, l := range []string{"django 1/1", "postgres 1/1", "nginx 0/1: no node has label webserver", "grader 1/1 (global)"} {
			sink(steps.HostOutput{Step: id, Host: c.Manager, Stream: "stdout", Text: l})
		}
	}
	if b.block != nil {
		select {
		case <-b.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if fail {
		err := &steps.StepError{Step: id, Host: "node2", Purpose: "install Docker", Command: "apt-get install -y docker.io",
			Err: errors.New("E: Unable to locate package docker.io"), Next: "add the distribution's main repository on node2, or choose the official source"}
		sink(steps.HostFinished{Step: id, Host: "node1", Status: steps.Done, Reason: "ok"})
		sink(steps.HostFinished{Step: id, Host: "node2", Status: steps.Failed, Reason: err.Error(), Err: err})
		sink(steps.HostFinished{Step: id, Host: "node3", Status: steps.Done, Reason: "ok"})
		sink(steps.StepFinished{Step: id, Err: err, Duration: time.Second})
		return err
	}
	for _, h := range hosts {
		sink(steps.HostFinished{Step: id, Host: h, Status: steps.Done, Reason: "ok"})
	}
	sink(steps.StepFinished{Step: id, Checks: checks, Duration: time.Second})
	return nil
}

// realAptOutput is the docker step's own apt-get install of docker.io as
// the runner received it over SSH from a lab host (dpkg writes through
// apt's pty: "\r\n" line ends, its database progress redrawn with carriage
// returns; testdata/hostoutput/README.md), split into lines as remote's
// reader does and left raw: the panes must draw it without a broken line.
// It stops at the first package unpacked, so the panes show dpkg's redrawn
// database progress at its final state.
var realAptOutput = func() []string {
	lines := hostOutputLines("apt-install-docker.raw")
	for i, l := range lines {
		if strings.HasPrefix(l, "Unpacking ") {
			return lines[:i+1]
		}
	}
	panic("apt-install-docker.raw unpacks nothing")
}()

func hostOutputLines(name string) []string {
	data, err := os.ReadFile(filepath.Join("..", "testdata", "hostoutput", name))
	if err != nil {
		panic(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// output is what a host prints during step id: the real apt output for
// docker, numbered lines for the others (whose output only fills panes).
func (b *fakeBackend) output(id string, lines int) []string {
	if id == "docker" && !b.numbered {
		return realAptOutput
	}
	out := make([]string, lines)
	for i := range out {
		out[i] = fmt.Sprintf("Unpacking package %d of %d …", i+1, lines)
	}
	return out
}

func (b *fakeBackend) Skip(c *steps.Cluster, id, reason string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.skipped[id] = reason
	return nil
}

func (b *fakeBackend) SudoPassword(pw []byte) { b.password = string(pw) }

func (b *fakeBackend) ReadLabels(ctx context.Context, c *steps.Cluster) (map[string][]string, map[string]rules.Node, error) {
	labels := map[string][]string{
		"node1": {"database", "cache", "rabbitmq_broker", "registry", "custom_image_registry"},
		"node2": {"webserver", "django_app", "small_tasks", "deferred_grader"},
		"node3": {"tiny_grader", "rerun_grader", "image_builder"},
	}
	sizes := map[string]rules.Node{"node1": {CPUs: 8, MemoryMB: 16384}, "node2": {CPUs: 8, MemoryMB: 8192}, "node3": {CPUs: 4, MemoryMB: 8192}}
	return labels, sizes, nil
}

// CheckRelabel: a webserver moving to node3 finds no TLS files there,
// which node2 has; in host publish mode the address changes.
func (b *fakeBackend) CheckRelabel(ctx context.Context, c *steps.Cluster, plan steps.RelabelPlan) (steps.RelabelPlan, error) {
	for _, d := range plan.Diff {
		if d.Node == "node3" && slices.Contains(d.Added, "webserver") {
			plan.Checks = []steps.RelabelCheck{
				{Node: "node3", Label: "webserver", Kind: "tls", Blocks: true, CopyTLSFrom: "node2",
					Message: "node3 lacks /etc/ssl/certs/ag.pem and /etc/ssl/private/ag.key; they can be copied from node2"},
				{Node: "node3", Label: "webserver", Kind: "ports", Message: "ports 80 and 443 are free on node3"},
				{Node: "node3", Label: "webserver", Kind: "address", Message: "publish mode is host: the site's public address changes from node2 (10.0.0.12) to node3 (10.0.0.13)"},
			}
		}
	}
	return plan, nil
}

func (b *fakeBackend) ApplyRelabel(ctx context.Context, c *steps.Cluster, plan steps.RelabelPlan, confirmed []string, sink steps.Sink) (steps.RelabelResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.relabel = &plan
	res := steps.RelabelResult{Applied: true, Rows: []steps.ServiceRow{{Service: "nginx", Mode: "replicated", Running: 1, Desired: 1, Converged: true}}}
	if plan.CopyTLS {
		res.Copied = []string{"TLS certificate and key copied from node2 to node3 (mode 0600)"}
	}
	return res, nil
}

func (b *fakeBackend) LogPath() string { return "/home/admin/.aginstall/aginstall.log" }
