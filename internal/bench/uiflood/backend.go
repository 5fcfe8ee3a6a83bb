package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"aginstall/remote"
	"aginstall/steps"
	"aginstall/steps/rules"
)

// floodBackend answers the wizard like a healthy 10-host cluster and, when a
// step is applied, hands its sink to the bench and waits: the bench then
// streams the flood into that sink while the step "runs".
type floodBackend struct {
	cluster *steps.Cluster
	sinks   chan steps.Sink
	once    sync.Once
}

// writeCluster writes a valid cluster file of n hosts in dir (the wizard
// validates what it loads).
func writeCluster(dir string, n int) (string, error) {
	labels := []string{
		"[registry, webserver, database, small_tasks]",
		"[django_app, cache, rabbitmq_broker, custom_image_registry, grader]",
		"[fast_grader, deferred_grader, rerun_grader, image_builder]",
		"[tiny_grader, tiny_fast_grader]", "[tiny_deferred_grader, tiny_rerun_grader]",
		"[grader, fast_grader]", "[deferred_grader, rerun_grader]",
	}
	var b strings.Builder
	b.WriteString("name: flood\nmanager: node01\nstack: ag-stack\nhosts:\n")
	for i := 1; i <= n; i++ {
		l := labels[min(i-1, 2)]
		if i > 3 {
			l = labels[3+(i-4)%4]
		}
		fmt.Fprintf(&b, "  - name: node%02d\n    address: 10.213.0.%d\n    port: 22\n    user: root\n    labels: %s\n", i, 10+i, l)
	}
	b.WriteString(`docker: {install: distro}
source: {repo: http://10.213.0.1:8080/git/autograder-full-stack.git, allow_http: true, ref: master, path: /root/autograder-full-stack}
nfs: {mode: skip}
swarm: {advertise_address: 10.213.0.11, publish_mode: host}
site: {domain: autograder.lab.test, tls_cert: /etc/ssl/certs/autograder.cert, tls_key: /etc/ssl/private/autograder.key.pem}
admin: {email: admin@lab.test, course: "Lab Course 101"}
`)
	path := filepath.Join(dir, "aginstall.yaml")
	return path, os.WriteFile(path, []byte(b.String()), 0o600)
}

func (b *floodBackend) LoadCluster(path string) (*steps.Cluster, error) {
	c := *b.cluster
	c.Hosts = append([]steps.HostSpec(nil), b.cluster.Hosts...)
	return &c, nil
}
func (b *floodBackend) SaveCluster(c *steps.Cluster) (steps.SaveResult, error) {
	return steps.SaveResult{Cluster: c}, nil
}
func (b *floodBackend) RefreshCluster(c *steps.Cluster) (steps.SaveResult, error) {
	return steps.SaveResult{Cluster: c}, nil
}
func (b *floodBackend) TestConnections(_ context.Context, c *steps.Cluster) []steps.HostCheck {
	var out []steps.HostCheck
	for _, h := range c.Hosts {
		out = append(out, steps.HostCheck{Host: h.Name, Status: steps.Done, Reason: "logged in as root"})
	}
	return out
}
func (b *floodBackend) ScanHostKeys(_ context.Context, c *steps.Cluster) ([]remote.HostKey, error) {
	var keys []remote.HostKey
	for _, h := range c.Hosts {
		keys = append(keys, remote.HostKey{Host: h.Name, Address: h.Address, Port: 22, Type: "ssh-ed25519",
			Fingerprint: "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s", Status: remote.KeyKnown})
	}
	return keys, nil
}
func (b *floodBackend) AcceptHostKeys(context.Context, *steps.Cluster, []remote.HostKey) error {
	return nil
}
func (b *floodBackend) Steps() []steps.Step { return steps.All() }
func (b *floodBackend) Facts(c *steps.Cluster) map[string]*steps.Facts {
	out := map[string]*steps.Facts{}
	for _, h := range c.Hosts {
		out[h.Name] = &steps.Facts{Hostname: h.Name, OSID: "debian", OSVersion: "12", OSName: "Debian 12", CPUs: 4,
			MemoryMB: 8192, DiskFreeMB: 20480, Sudo: "root", Swarm: "inactive", ReachableAt: h.Address, IPVS: true}
	}
	return out
}
func (b *floodBackend) Review(_ context.Context, c *steps.Cluster, sink steps.Sink) ([]steps.StepReport, error) {
	var out []steps.StepReport
	for _, s := range steps.All() {
		var checks []steps.HostCheck
		for _, h := range s.Hosts(c) {
			checks = append(checks, steps.HostCheck{Host: h, Status: steps.Todo, Reason: "not done yet", Fix: "aginstall apply does it"})
		}
		sink(steps.StepStarted{Step: s.ID(), Title: s.Title(), Mode: "check"})
		sink(steps.StepFinished{Step: s.ID(), Checks: checks})
		out = append(out, steps.StepReport{ID: s.ID(), Title: s.Title(), Status: steps.Todo, Checks: checks})
	}
	return out, nil
}
func (b *floodBackend) Plan(context.Context, *steps.Cluster, steps.Sink) ([]steps.Record, error) {
	return nil, nil
}

// ApplyStep gives the first applied step's sink to the bench and blocks until
// the wizard quits.
func (b *floodBackend) ApplyStep(ctx context.Context, c *steps.Cluster, id string, sink steps.Sink) error {
	title := id
	if s, ok := steps.ByID(id); ok {
		title = s.Title()
	}
	sink(steps.StepStarted{Step: id, Title: title, Mode: "apply", Hosts: c.HostNames()})
	b.once.Do(func() { b.sinks <- sink })
	<-ctx.Done()
	return ctx.Err()
}
func (b *floodBackend) Skip(*steps.Cluster, string, string) error { return nil }
func (b *floodBackend) SudoPassword([]byte)                       {}
func (b *floodBackend) ReadLabels(context.Context, *steps.Cluster) (map[string][]string, map[string]rules.Node, error) {
	return nil, nil, nil
}
func (b *floodBackend) CheckRelabel(_ context.Context, _ *steps.Cluster, p steps.RelabelPlan) (steps.RelabelPlan, error) {
	return p, nil
}
func (b *floodBackend) ApplyRelabel(context.Context, *steps.Cluster, steps.RelabelPlan, []string, steps.Sink) (steps.RelabelResult, error) {
	return steps.RelabelResult{}, nil
}
func (b *floodBackend) LogPath() string { return "/tmp/aginstall-bench.log" }
