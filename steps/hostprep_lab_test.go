//go:build lab

package steps

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"aginstall/internal/labtest"
	"aginstall/remote"
)

// labEnvSudo is labEnv with node3 reached as the sudo user agadmin
// (password sudo), so the docker step has a user to add to the group.
func labEnvSudo(t *testing.T, lab *labtest.Lab) *Env {
	t.Helper()
	data, err := os.ReadFile(lab.ClusterFileRoot)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(data), "- name: node3")
	j := strings.Index(string(data[i:]), "user: root")
	data = []byte(string(data[:i+j]) + "user: " + lab.SudoUser + string(data[i+j+len("user: root"):]))
	return labEnvFromData(t, lab, data)
}

// labEnvFromData connects to the lab with this cluster file text, the lab's
// sudo password given to the pool.
func labEnvFromData(t *testing.T, lab *labtest.Lab, data []byte) *Env {
	t.Helper()
	path := filepath.Join(t.TempDir(), "aginstall.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := ParseCluster(path, data)
	if err != nil {
		t.Fatal(err)
	}
	pool := remote.NewPool(Targets(c), remote.Options{SSHConfigFile: "none", KnownHostsFile: filepath.Join(t.TempDir(), "known_hosts"),
		SudoPassword: func(string) ([]byte, error) { return []byte(lab.SudoPassword), nil }})
	t.Cleanup(func() { pool.Close() })
	env, err := NewEnv(c, pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Runner.Log.Close() })
	return env
}

func labSh(t *testing.T, lab *labtest.Lab, host, script string) string {
	t.Helper()
	out, err := lab.Exec(t, host, "sh", "-c", script)
	if err != nil {
		t.Fatalf("%s: %s: %v", host, script, err)
	}
	return out
}

// TestHostPrepLab runs discover → docker (distro) → limits → source → nfs
// (skip, as the lab's cluster file says) from the hosts as `up` leaves them,
// with node3 prepared by hand half-way; then re-applies and expects no
// mutating action, shows the lab's preflight findings, and tries nfs export.
func TestHostPrepLab(t *testing.T) {
	lab := labtest.Load(t)
	lab.Reset(t) // from bare hosts, whatever the tests before left
	ctx := labCtx(t)

	// node3 half-way: one limits line right and one wrong, Docker installed
	// by hand (agadmin not in the group), a stale fstab line.
	start := time.Now()
	labSh(t, lab, "node3", `printf '* soft nofile 1000000\n* hard nofile 65536\n' >> /etc/security/limits.conf &&
		echo '10.213.0.99:/old /root/autograder-full-stack nfs ro 0 0' >> /etc/fstab &&
		DEBIAN_FRONTEND=noninteractive apt-get -q update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get -q install -y docker.io >/dev/null`)
	t.Logf("node3 prepared by hand in %s", time.Since(start).Round(time.Millisecond))

	env := labEnvSudo(t, lab)
	en := &Engine{Env: env}
	var steps []Step
	for _, id := range []string{"discover", "docker", "limits", "source", "nfs"} {
		s, ok := ByID(id)
		if !ok {
			t.Fatalf("step %s not registered", id)
		}
		steps = append(steps, s)
	}
	// The plan (a dry run) lists the work and changes nothing.
	start = time.Now()
	recs, err := (&Engine{Env: env, Steps: steps}).Plan(ctx)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	t.Logf("plan of the 5 steps: %s", time.Since(start).Round(time.Millisecond))
	var planned []string
	for _, r := range recs {
		if r.Mutating {
			if !r.DryRun {
				t.Errorf("the plan ran a mutating action: %+v", r)
			}
			planned = append(planned, r.Step+"|"+r.Host+"|"+r.Command)
		}
	}
	for _, want := range []string{"docker|node1|sudo DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300 install -y docker.io docker-compose",
		"docker|node1|write /etc/docker/daemon.json", "docker|node3|sudo systemctl restart docker", "docker|node3|sudo usermod -aG docker agadmin",
		"limits|node2|write /etc/security/limits.conf", "source|node1|sudo " + gitCmd + "clone --recursive --branch master",
		"nfs|node1|write /root/autograder-full-stack/.aginstall-shared"} {
		found := false
		for _, p := range planned {
			found = found || strings.HasPrefix(p, want)
		}
		if !found {
			t.Errorf("the plan lacks %q; it has:\n%s", want, strings.Join(planned, "\n"))
		}
	}
	if out, err := lab.Exec(t, "node1", "sh", "-c", "command -v dockerd; test -e /root/autograder-full-stack/.aginstall-shared && echo marker"); err == nil || out != "" {
		t.Errorf("the plan changed node1: %q %v", out, err)
	}
	env.Runner = &Runner{Dial: env.Runner.Dial, Log: env.Runner.Log, Secrets: env.Secrets}

	for _, s := range steps {
		start := time.Now()
		if err := en.ApplyStep(ctx, s); err != nil {
			t.Fatalf("apply %s: %v", s.ID(), err)
		}
		t.Logf("apply %s: %s", s.ID(), time.Since(start).Round(time.Millisecond))
	}
	for _, s := range steps {
		checks := s.Check(ctx, env)
		if !AllDone(checks) || len(checks) != len(s.Hosts(env.Cluster)) {
			t.Errorf("%s not done after apply: %+v", s.ID(), checks)
		}
		for _, c := range checks {
			t.Logf("check %s %s: %s (%s)", s.ID(), c.Host, c.Status, c.Reason)
		}
	}

	// The half-way host was completed without duplicates.
	limits := labSh(t, lab, "node3", "cat /etc/security/limits.conf")
	if strings.Count(limits, "* soft nofile 1000000\n") != 1 || strings.Count(limits, "* hard nofile 1000000\n") != 1 || strings.Contains(limits, "65536") {
		t.Errorf("node3 limits.conf:\n%s", limits)
	}
	if g := labSh(t, lab, "node3", "id -nG agadmin"); !contains(strings.Fields(g), "docker") {
		t.Errorf("agadmin not in the docker group: %q", g)
	}
	for _, h := range env.Cluster.HostNames() {
		dj := labSh(t, lab, h, "cat /etc/docker/daemon.json")
		if !strings.Contains(dj, `"registry-mirrors"`) || !strings.Contains(dj, `"max-size": "100m"`) || !strings.Contains(dj, `"max-file": "5"`) {
			t.Errorf("%s daemon.json:\n%s", h, dj)
		}
		if ls := labSh(t, lab, h, "ls -d /root/autograder-full-stack/autograder-server/media_root"); ls == "" {
			t.Errorf("%s: no media_root", h)
		}
	}
	if backups := labSh(t, lab, "node3", "ls /etc/security/ | grep -c aginstall || true"); strings.TrimSpace(backups) == "0" {
		t.Error("no backup of node3's limits.conf")
	}

	// A second apply of every step (not only the engine's check) changes nothing.
	env.Runner = &Runner{Dial: env.Runner.Dial, Log: env.Runner.Log, Secrets: env.Secrets}
	gatheredFacts.Delete(env.State)
	for _, s := range steps {
		start := time.Now()
		if err := s.Apply(ctx, env); err != nil {
			t.Fatalf("second apply %s: %v", s.ID(), err)
		}
		t.Logf("second apply %s: %s", s.ID(), time.Since(start).Round(time.Millisecond))
	}
	if m := env.Runner.Mutations(); len(m) != 0 {
		for _, r := range m {
			t.Errorf("second apply mutated: %s %s %s: %s", r.Step, r.Host, r.Purpose, r.Command)
		}
	}
	for _, r := range env.Runner.Records() {
		if r.Step == "discover" {
			t.Logf("discover record %s: %s in %s", r.Host, r.Purpose, r.Duration.Round(time.Millisecond))
		}
	}

	// Speed: one discovery round trip per host on a fresh pool (SSH handshakes
	// included) against a bare OpenSSH `true` per host, both in parallel.
	hosts := env.Cluster.HostNames()
	start = time.Now()
	done := make(chan error, len(hosts))
	for _, h := range hosts {
		go func() { _, err := lab.SSH(t, h, "root", "true"); done <- err }()
	}
	for range hosts {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	bare := time.Since(start)
	fresh := labEnvSudo(t, lab)
	start = time.Now()
	if err := fresh.Each(ctx, "discover", hosts, func(ctx context.Context, h *HostRunner) error {
		_, _, _, err := gatherFacts(ctx, nil, fresh.Cluster, h)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("facts of %d hosts on a fresh pool: %s; bare OpenSSH `true` on each: %s", len(hosts), time.Since(start).Round(time.Millisecond), bare.Round(time.Millisecond))

	// Preflight on the lab: no IPVS (a warning with publish_mode host, an
	// error with ingress), no NFS (an error with nfs.mode export).
	facts := map[string]*Facts{}
	for _, h := range env.Cluster.HostNames() {
		facts[h] = env.State.FactsOf(h)
		f := facts[h]
		t.Logf("facts %s: %s; sudo %s, docker %s (%s), swarm %q, addrs %v, reach %s, clock %+.3f s, nofile %q",
			h, factsSummary(f), f.Sudo, f.Docker, f.DockerAccess, f.Swarm, f.Addresses, f.ReachableAt, f.ClockOffset, f.NofileLines)
		if f.Swarm != "inactive" || f.Docker == "" || f.Hostname != h || f.CPUs == 0 || f.MemoryMB == 0 || f.ReachableAt != lab.Host(h).Address {
			t.Errorf("%s: facts not gathered right: %+v", h, f)
		}
		if !hasFinding(f.Findings, "ipvs", Warning, "routing mesh") {
			t.Errorf("%s: no IPVS warning among %+v", h, f.Findings)
		}
		for _, fd := range f.Findings {
			if fd.Code == "swarm-ports" {
				t.Errorf("%s: the lab's swarm ports are open, yet: %s", h, fd.Message)
			}
		}
	}
	strict := *env.Cluster
	strict.NFS.Mode, strict.Swarm.PublishMode = "export", "ingress"
	for _, fd := range Preflight(&strict, facts) {
		t.Logf("preflight (export, ingress): %s %s [%s] %s / fix: %s", fd.Host, fd.Severity, fd.Code, fd.Message, fd.Fix)
	}
	got := Preflight(&strict, facts)
	for _, h := range env.Cluster.HostNames() {
		if !hasFinding(got, "nfs", Blocker, h+": this kernel has no NFS support") || !hasFindingOn(got, h, "ipvs", Blocker, "the routing mesh will not work") {
			t.Errorf("%s: missing nfs/ipvs errors in %+v", h, got)
		}
	}

	// Findings the lab can produce on demand: a duplicate hostname and a taken port 80.
	pid := strings.TrimSpace(labSh(t, lab, "node1", "nohup timeout 60 python3 -m http.server 80 >/dev/null 2>&1 & echo $!"))
	labSh(t, lab, "node2", "hostname node1")
	t.Cleanup(func() { lab.Exec(t, "node2", "hostname", "node2") })
	time.Sleep(time.Second) // let the listener bind
	findings, err := Discover(ctx, env)
	labSh(t, lab, "node2", "hostname node2")
	if err != nil {
		t.Fatal(err)
	}
	if !hasFindingOn(findings, "node1", "ports", Blocker, "0.0.0.0:80 (python3)") ||
		!hasFindingOn(findings, "node2", "hostname", Blocker, `hosts node1, node2 all call themselves "node1"`) {
		t.Errorf("no port/hostname findings: %+v", findings)
	}
	var pe *PreflightError
	if err := (discoverStep{}).Apply(ctx, env); !errors.As(err, &pe) {
		t.Errorf("discover apply with a taken port: %v", err)
	} else {
		t.Logf("discover apply refuses:\n%v", err)
	}
	labSh(t, lab, "node1", "kill "+pid+" || true")
	if _, err := Discover(ctx, env); err != nil {
		t.Fatal(err)
	}

	// nfs.mode export on this kernel: a plain error naming each host, nothing changed.
	exportEnv := *env
	exportCluster := *env.Cluster
	exportCluster.NFS.Mode = "export"
	exportEnv.Cluster = &exportCluster
	exportEnv.Runner = &Runner{Dial: env.Runner.Dial, Log: env.Runner.Log, Secrets: env.Secrets}
	err = nfsStep{}.Apply(ctx, &exportEnv)
	t.Logf("nfs export on the lab:\n%v", err)
	for _, h := range env.Cluster.HostNames() {
		if err == nil || !strings.Contains(err.Error(), h+": this kernel cannot") || !strings.Contains(err.Error(), "nfs.mode: skip") {
			t.Errorf("export error does not name %s in plain words: %v", h, err)
		}
	}
	if m := exportEnv.Runner.Mutations(); len(m) != 0 {
		t.Errorf("export refused but changed things: %+v", m)
	}
	// The client half on node3: the stale fstab line is replaced (not
	// duplicated), then mount -a meets the kernel's "No such device".
	err = applyNFSClient(ctx, &exportEnv, exportEnv.On("nfs", "node3"))
	fstab := labSh(t, lab, "node3", "cat /etc/fstab")
	t.Logf("nfs client on node3: %v\nfstab:\n%s", err, fstab)
	if strings.Count(fstab, " /root/autograder-full-stack ") != 1 || !strings.Contains(fstab, "10.213.0.11:/root/autograder-full-stack /root/autograder-full-stack nfs rw,hard,intr 0 0\n") {
		t.Errorf("node3 fstab not one right line:\n%s", fstab)
	}
	if err == nil || !strings.Contains(err.Error(), "node3: this kernel cannot mount NFS") {
		t.Errorf("mount on a kernel without NFS: %v", err)
	}
	labSh(t, lab, "node3", `sed -i '\# /root/autograder-full-stack nfs #d' /etc/fstab`)

	labSourceSwitch(t, lab, env)
}

// TestHostPrepLab's source part: a ref that does not exist, a switch
// refused over the operator's change, then done over aginstall's own edits.
func labSourceSwitch(t *testing.T, lab *labtest.Lab, env *Env) {
	ctx := labCtx(t)
	src := sourceStep{}
	env.Cluster.Source.Ref = "no-such-ref"
	err := src.Apply(ctx, env)
	t.Logf("source.ref no-such-ref:\n%v", err)
	if err == nil || !strings.Contains(err.Error(), `has no branch, tag or commit named "no-such-ref"`) || !strings.Contains(err.Error(), env.Cluster.Source.Repo) {
		t.Errorf("a missing ref: %v", err)
	}
	dir := "/root/autograder-full-stack"
	head := labSh(t, lab, "node1", "git -C "+dir+" rev-parse HEAD")
	labSh(t, lab, "node1", "echo '# operator note' >> "+dir+"/README.md && echo '# edited' >> "+dir+"/docker-compose.yml")
	env.Cluster.Source.Ref = "v2"
	err = src.Apply(ctx, env)
	t.Logf("switch to v2 over an operator's change:\n%v", err)
	if err == nil || !strings.Contains(err.Error(), "local changes to tracked files (README.md)") || !strings.Contains(err.Error(), "stash") {
		t.Errorf("switch over local changes: %v", err)
	}
	if now := labSh(t, lab, "node1", "git -C "+dir+" rev-parse HEAD; grep -c 'operator note' "+dir+"/README.md"); now != head+"1\n" {
		t.Errorf("a refused switch changed the checkout: %q", now)
	}
	labSh(t, lab, "node1", "git -C "+dir+" checkout -- README.md")
	start := time.Now()
	if err := src.Apply(ctx, env); err != nil {
		t.Fatalf("switch to v2 over aginstall's own edits: %v", err)
	}
	t.Logf("switch to v2 (stash, fetch, checkout, submodules): %s", time.Since(start).Round(time.Millisecond))
	if checks := src.Check(ctx, env); !AllDone(checks) {
		t.Errorf("source not done at v2: %+v", checks)
	}
	if got := labSh(t, lab, "node1", "cat "+dir+"/AGLAB_VERSION; git -C "+dir+" stash list"); !strings.Contains(got, "2") || !strings.Contains(got, "aginstall: its own edits, before switching to v2") {
		t.Errorf("not at v2 with the edit stashed: %q", got)
	}
	env.Cluster.Source.Ref = "master"
}

func hasFinding(fs []Finding, code string, sev Severity, words string) bool {
	for _, f := range fs {
		if f.Code == code && f.Severity == sev && strings.Contains(f.Message, words) && f.Fix != "" {
			return true
		}
	}
	return false
}

func hasFindingOn(fs []Finding, host, code string, sev Severity, words string) bool {
	var on []Finding
	for _, f := range fs {
		if f.Host == host {
			on = append(on, f)
		}
	}
	return hasFinding(on, code, sev, words)
}
