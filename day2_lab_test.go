//go:build lab

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"aginstall/internal/labtest"
	"aginstall/steps"
)

// TestDay2Lab: one install on the sudo road (agadmin, sudo password on
// stdin), then a live cluster changed as a sysadmin would: review's exit
// codes on a healthy and a drifted cluster, a daemon.json change rolled one
// node at a time, a demoted admin promoted again, a database move and a
// postgres image change refused without consent (nothing touched), and the
// webserver moved in the wizard's relabel with the TLS files copied.
func TestDay2Lab(t *testing.T) {
	lab := labtest.Load(t)
	if len(lab.Hosts) != 3 || lab.Kind != "full" {
		t.Fatalf("needs the 3 full hosts of `testdata/lab/up 3`, have %d %s", len(lab.Hosts), lab.Kind)
	}
	if _, err := lab.Exec(t, "node1", "sh", "-c", "command -v docker"); err == nil {
		lab.Reset(t) // not fresh from up: bare hosts again
	}
	f := newFaultLab(t, lab)
	// The sysadmin's road: every host as the sudo user.
	f.base = regexp.MustCompile(`(?m)^(\s+user:) \S+$`).ReplaceAllString(f.base, "$1 "+lab.SudoUser)
	if strings.Count(f.base, "user: "+lab.SudoUser) != 3 {
		t.Fatalf("test bug: the lab's cluster file has no user lines to set:\n%s", f.base)
	}
	f.writeCluster(t, f.base)
	pw := lab.SudoPassword + "\n"
	start := time.Now()
	phase := func(name string, fn func(t *testing.T)) {
		t0 := time.Now()
		if !t.Run(name, fn) {
			t.Logf("%s failed: the phases after it need it", name)
		}
		t.Logf("%s: %s (total %s)", name, time.Since(t0).Round(time.Second), time.Since(start).Round(time.Second))
	}
	phase("install", func(t *testing.T) {
		out, code := f.run(t, 25*time.Minute, pw, "apply", "--yes", "--sudo-password-stdin")
		if code != 0 {
			t.Fatalf("install as %s: exit %d\n%s", lab.SudoUser, code, faultTail(out, 60))
		}
		if out, code := f.run(t, 3*time.Minute, pw, "review", "--sudo-password-stdin"); code != 0 {
			t.Fatalf("review of the installed cluster: exit %d, want 0\n%s", code, faultTail(out, 40))
		}
	})
	phase("drift-rolling-restart-promote", func(t *testing.T) { day2DriftAndRepair(t, f, pw) })
	phase("data-moves-refused", func(t *testing.T) { day2Refusals(t, f, pw) })
	phase("webserver-move-with-tls-copy", func(t *testing.T) { day2WebserverMove(t, f) })
	phase("review-after", func(t *testing.T) {
		if out, code := f.run(t, 3*time.Minute, pw, "review", "--sudo-password-stdin"); code != 0 {
			t.Errorf("review after the day-2 changes: exit %d, want 0\n%s", code, faultTail(out, 40))
		}
	})
}

// day2DriftAndRepair: the log limits removed from every daemon.json and the
// admin demoted make review exit 1 (drifted, to do); apply restarts dockerd
// one node at a time, manager last, each after the previous one is back,
// and promotes the admin; review exits 0 again.
func day2DriftAndRepair(t *testing.T, f *faultLab, pw string) {
	lab := f.lab
	for _, h := range lab.Hosts {
		if out, err := lab.Exec(t, h.Name, "sh", "-c", `printf '{"registry-mirrors": ["http://10.213.0.1:5000"], "storage-driver": "overlay2"}\n' > /etc/docker/daemon.json`); err != nil {
			t.Fatalf("%s: %v %s", h.Name, err, out)
		}
	}
	django := day2Django(t, lab)
	if out, err := lab.Exec(t, django.host, "docker", "exec", django.id, "python3", "manage.py", "shell", "-c",
		"from django.contrib.auth.models import User; print('DEMOTED', User.objects.filter(username='admin@lab.test').update(is_superuser=False))"); err != nil || !strings.Contains(out, "DEMOTED 1") {
		t.Fatalf("demote the admin: %v %s", err, out)
	}
	out, code := f.run(t, 3*time.Minute, pw, "review", "--sudo-password-stdin")
	if code != 1 {
		t.Errorf("review of a drifted cluster: exit %d, want 1\n%s", code, faultTail(out, 40))
	}
	for _, want := range []string{"node2 | docker | drifted: /etc/docker/daemon.json lacks the log limits", "| admin | todo: user admin@lab.test exists but is not a superuser"} {
		if !strings.Contains(out, want) {
			t.Errorf("review lacks %q:\n%s", want, out)
		}
	}
	jout, code := f.run(t, 3*time.Minute, pw, "review", "--json", "--sudo-password-stdin")
	var rep struct {
		Steps []steps.StepReport `json:"steps"`
	}
	if code != 1 || json.Unmarshal([]byte(jsonPart(jout)), &rep) != nil || len(rep.Steps) != len(steps.All()) {
		t.Errorf("review --json of a drifted cluster: exit %d (want 1), %d steps\n%s", code, len(rep.Steps), faultTail(jout, 20))
	}

	out, code = f.run(t, 20*time.Minute, pw, "apply", "--yes", "--sudo-password-stdin")
	if code != 0 {
		t.Fatalf("apply after the drift: exit %d\n%s", code, faultTail(out, 60))
	}
	// The order and the waits, from the runner's records in the log.
	raw, _ := os.ReadFile(latestLog(t, f.dir))
	var seq []string
	var times []time.Time
	re := regexp.MustCompile(`^(\d\d:\d\d:\d\d\.\d{3}) (\S+) \| docker \| (change cmd: sudo systemctl restart docker|read api: poll NodeList, TaskList, ServiceList every \S+ until node (\S+) is Ready).*\[exit=(-?\d+) (\S+)\]`)
	for _, l := range strings.Split(string(raw), "\n") {
		m := re.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		end, _ := time.Parse("15:04:05.000", m[1])
		d, _ := time.ParseDuration(m[6])
		ev := "restart " + m[2]
		if m[4] != "" {
			ev = "back " + m[4]
		}
		if m[5] != "0" {
			ev += " (exit " + m[5] + ")"
		}
		seq = append(seq, ev)
		times = append(times, end.Add(-d)) // when it started
		times = append(times, end)
	}
	want := []string{"restart node2", "back node2", "restart node3", "back node3", "restart node1", "back node1"}
	if !slices.Equal(seq, want) {
		t.Fatalf("the rolling restart's records: %q, want %q", seq, want)
	}
	// Each starts once the one before has ended. A start is the log line's
	// time (written just after the end) less the duration rounded to the
	// millisecond, so it may read a few ms early.
	const slack = 20 * time.Millisecond
	for i := 1; i < len(seq); i++ {
		if times[2*i].Add(slack).Before(times[2*i-1]) {
			t.Errorf("%s started at %s, before %s ended at %s", seq[i], times[2*i].Format("15:04:05.000"), seq[i-1], times[2*i-1].Format("15:04:05.000"))
		}
	}
	t.Logf("rolling restart: %s", strings.Join(seq, ", "))
	for i := 1; i < len(seq); i += 2 {
		t.Logf("  %s waited %s", seq[i], times[2*i+1].Sub(times[2*i]).Round(100*time.Millisecond))
	}
	if !strings.Contains(string(raw), " | admin | stdout: user created: false, made superuser: true") {
		t.Errorf("apply did not say it promoted the admin")
	}
	if out, err := lab.Exec(t, django.host, "sh", "-c", "docker exec $(docker ps -q -f name=ag-stack_django | head -n1) python3 manage.py shell -c \"from django.contrib.auth.models import User; print('SUPER', User.objects.get(username='admin@lab.test').is_superuser)\""); err != nil || !strings.Contains(out, "SUPER True") {
		t.Errorf("the admin is not a superuser again: %v %s", err, out)
	}
	// The restarted engines run the limits: a task container started since.
	for _, h := range lab.Hosts {
		out, err := lab.Exec(t, h.Name, "sh", "-c", "docker inspect --format '{{json .HostConfig.LogConfig}}' $(docker ps -q | head -n1)")
		if err != nil || !strings.Contains(out, `"max-size":"100m"`) {
			t.Errorf("%s: a running container's log config %s (%v), want max-size 100m", h.Name, strings.TrimSpace(out), err)
		}
	}
	if out, code := f.run(t, 3*time.Minute, pw, "review", "--sudo-password-stdin"); code != 0 {
		t.Errorf("review after the repair: exit %d, want 0\n%s", code, faultTail(out, 40))
	}
}

type day2Task struct{ host, id string }

var netDialer = net.Dialer{Timeout: 5 * time.Second}

// day2Django finds the django task's container and the host it runs on.
func day2Django(t *testing.T, lab *labtest.Lab) day2Task {
	t.Helper()
	for _, h := range lab.Hosts {
		if out, err := lab.Exec(t, h.Name, "docker", "ps", "-q", "-f", "name=ag-stack_django"); err == nil && strings.TrimSpace(out) != "" {
			return day2Task{h.Name, strings.Fields(out)[0]}
		}
	}
	t.Fatal("no django container on any host")
	return day2Task{}
}

// day2Refusals: a database move in the cluster file and a postgres image
// change are refused by apply --yes with exit 2, naming the move and the
// safe way, and nothing on the hosts changes.
func day2Refusals(t *testing.T, f *faultLab, pw string) {
	cases := []struct {
		name  string
		edits [][2]string
		want  []string
	}{
		{"database move", [][2]string{
			{"labels: [registry, webserver, database, small_tasks]", "labels: [registry, webserver, small_tasks]"},
			{"labels: [django_app, cache,", "labels: [database, django_app, cache,"}},
			[]string{"database moves from node1 to node2 (volume ag-stack_pgdata stays on node1)", "the safe way: run `aginstall move-database node2`", "The database stays in volume ag-stack_pgdata on node1", "pg_dumpall", "--allow-data-move"}},
		{"postgres image change", [][2]string{{`postgres_image: "postgres:15"`, `postgres_image: "postgres:9.5"`}},
			[]string{"the postgres image changes from postgres:15 to postgres:9.5 on the existing database of stack ag-stack", "Dump it (pg_dumpall) with the old image", "--allow-data-move"}},
	}
	for _, tc := range cases {
		f.writeCluster(t, f.edited(t, tc.edits...))
		before := f.snapshot(t, "etc")
		logsBefore, _ := filepath.Glob(filepath.Join(f.dir, ".aginstall", "logs", "*.log"))
		out, code := f.run(t, 5*time.Minute, pw, "apply", "--yes", "--sudo-password-stdin")
		if code != 2 {
			t.Errorf("%s: apply --yes exit %d, want 2\n%s", tc.name, code, faultTail(out, 40))
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: the refusal lacks %q:\n%s", tc.name, w, faultTail(out, 30))
			}
		}
		if d := faultSnapshotDiff(before, f.snapshot(t, "etc")); len(d) > 0 {
			t.Errorf("%s: the refusal changed the hosts:\n%s", tc.name, strings.Join(d, "\n"))
		}
		logsAfter, _ := filepath.Glob(filepath.Join(f.dir, ".aginstall", "logs", "*.log"))
		for _, l := range logsAfter {
			if slices.Contains(logsBefore, l) {
				continue
			}
			raw, _ := os.ReadFile(l)
			if m := regexp.MustCompile(`(?m)^.* \| change .*$`).FindAllString(string(raw), -1); len(m) > 0 {
				t.Errorf("%s: the refused apply ran changes:\n%s", tc.name, strings.Join(m, "\n"))
			}
		}
		// The plan says what apply would refuse.
		if out, _ := f.run(t, 5*time.Minute, pw, "plan", "--sudo-password-stdin"); !strings.Contains(out, "apply refuses this without --allow-data-move") {
			t.Errorf("%s: the plan does not say apply refuses it:\n%s", tc.name, faultTail(out, 30))
		}
	}
	if out, err := f.lab.Exec(t, "node1", "grep", "-c", "image: postgres:15", "/root/autograder-full-stack/docker-compose.yml"); err != nil || strings.TrimSpace(out) != "1" {
		t.Errorf("the compose file's postgres image changed: %v %s", err, out)
	}
	f.writeCluster(t, f.base)
}

// day2WebserverMove drives the wizard's relabel backend: webserver from
// node1 to node3, which has no TLS files. The checks say so before any
// change, the move is refused until the copy is chosen, then the files are
// copied at mode 0600, nginx serves the certificate from node3, and the
// key is in nothing aginstall wrote.
func day2WebserverMove(t *testing.T, f *faultLab) {
	lab := f.lab
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	b := newBackend(&options{file: f.cluster, knownHosts: f.known, sshConfig: "none", parallel: 8})
	defer b.reset()
	b.SudoPassword([]byte(lab.SudoPassword))
	c, err := steps.LoadCluster(f.cluster)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/etc/ssl/certs/autograder.cert", "/etc/ssl/private/autograder.key.pem"} {
		if out, err := lab.Exec(t, "node3", "sh", "-c", "if test -e "+p+"; then echo THERE; else echo MISSING; fi"); !strings.Contains(out, "MISSING") || err != nil {
			t.Fatalf("node3 already has %s (%v): the test needs it missing", p, err)
		}
	}
	before, sizes, err := b.ReadLabels(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	after := map[string][]string{}
	for n, ls := range before {
		after[n] = slices.DeleteFunc(slices.Clone(ls), func(l string) bool { return l == "webserver" })
	}
	after["node3"] = append(after["node3"], "webserver")
	plan := steps.PlanRelabelFor(sizes, before, after)
	if len(plan.Errors()) > 0 || len(plan.NeedsTypedConfirm()) > 0 {
		t.Fatalf("plan: errors %v, typed %v", plan.Errors(), plan.NeedsTypedConfirm())
	}
	plan, err = b.CheckRelabel(ctx, c, plan)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, ch := range plan.Checks {
		kinds = append(kinds, ch.Kind)
		t.Logf("check %s on %s: blocks %v: %s", ch.Kind, ch.Node, ch.Blocks, ch.Message)
	}
	if cp, ok := plan.CanCopyTLS(); !ok || cp.Node != "node3" || cp.CopyTLSFrom != "node1" || !strings.Contains(cp.Message, "node3 lacks /etc/ssl/certs/autograder.cert and /etc/ssl/private/autograder.key.pem") {
		t.Errorf("TLS check %+v (ok %v)", cp, ok)
	}
	if !slices.Equal(kinds, []string{"tls", "ports", "address"}) {
		t.Errorf("checks %v, want tls, ports, address", kinds)
	}
	for _, ch := range plan.Checks {
		if ch.Kind == "ports" && (ch.Blocks || !strings.Contains(ch.Message, "ports 80 and 443 are free on node3")) {
			t.Errorf("ports: %+v", ch)
		}
		if ch.Kind == "address" && !strings.Contains(ch.Message, "changes from node1 (10.213.0.11) to node3 (10.213.0.13); point autograder.lab.test at 10.213.0.13") {
			t.Errorf("address: %+v", ch)
		}
	}
	var outputs []string
	sink := func(e steps.Event) {
		if o, ok := e.(steps.HostOutput); ok {
			outputs = append(outputs, o.Host+" "+o.Text)
		}
	}
	// Without the copy: refused, nothing changed.
	if _, err := b.ApplyRelabel(ctx, c, plan, []string{"relabel"}, sink); err == nil || !strings.Contains(err.Error(), "node3 lacks") {
		t.Errorf("a move to a node without TLS files: %v", err)
	}
	if out, _ := lab.Exec(t, "node1", "docker", "node", "inspect", "node3", "--format", "{{json .Spec.Labels}}"); strings.Contains(out, "webserver") {
		t.Fatalf("node3 got webserver although the move was refused: %s", out)
	}
	before, sizes, err = b.ReadLabels(ctx, c) // the refused apply left the versions; read as the wizard does
	if err != nil {
		t.Fatal(err)
	}
	plan.CopyTLS = true
	t0 := time.Now()
	res, err := b.ApplyRelabel(ctx, c, plan, []string{"relabel"}, sink)
	if err != nil {
		t.Fatalf("the move with the copy: %v\n%s", err, strings.Join(outputs, "\n"))
	}
	t.Logf("relabel with TLS copy and convergence: %s; copied %v; notes %v", time.Since(t0).Round(time.Second), res.Copied, res.Notes)
	if len(res.Copied) != 1 || len(res.Rows) == 0 {
		t.Errorf("result %+v", res)
	}
	for _, r := range res.Rows {
		if !r.Converged {
			t.Errorf("not converged: %s", r)
		}
	}
	for _, p := range []string{"/etc/ssl/certs/autograder.cert", "/etc/ssl/private/autograder.key.pem"} {
		src, _ := lab.Exec(t, "node1", "cat", p)
		dst, _ := lab.Exec(t, "node3", "cat", p)
		mode, _ := lab.Exec(t, "node3", "stat", "-c", "%a %U", p)
		if src == "" || src != dst || strings.TrimSpace(mode) != "600 root" {
			t.Errorf("node3 %s: mode %q, same content %v", p, strings.TrimSpace(mode), src == dst && src != "")
		}
	}
	if out, _ := lab.Exec(t, "node1", "docker", "service", "ps", "ag-stack_nginx", "-f", "desired-state=running", "--format", "{{.Node}} {{.CurrentState}}"); !strings.HasPrefix(strings.TrimSpace(out), "node3 Running") {
		t.Errorf("nginx runs at %q, want node3", out)
	}
	// nginx on node3 serves the site's own certificate: the lab's is
	// self-signed with a CN only, so it is compared byte for byte.
	raw, err := os.ReadFile(filepath.Join(lab.OutDir, "tls", "autograder.cert"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(raw)
	want, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	var served error = errors.New("no answer")
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(2 * time.Second) {
		conn, err := tls.DialWithDialer(&netDialer, "tcp", "10.213.0.13:443", &tls.Config{ServerName: "autograder.lab.test", InsecureSkipVerify: true}) // checked below
		if err != nil {
			served = err
			continue
		}
		certs := conn.ConnectionState().PeerCertificates
		conn.Close()
		if len(certs) > 0 && certs[0].Equal(want) {
			served = nil
			break
		}
		served = errors.New("another certificate")
	}
	if served != nil {
		t.Errorf("node3:443 does not serve the site's certificate: %v", served)
	}
	data, _ := os.ReadFile(f.cluster)
	if !regexp.MustCompile(`(?m)address: 10\.213\.0\.13[\s\S]*?labels: \[.*webserver`).Match(data) {
		t.Errorf("the cluster file does not record webserver on node3:\n%s", data)
	}
	key, _ := lab.Exec(t, "node1", "cat", "/etc/ssl/private/autograder.key.pem")
	var body string
	for _, l := range strings.Split(key, "\n") {
		if len(l) > 40 && !strings.HasPrefix(l, "-----") {
			body = l
			break
		}
	}
	if body == "" {
		t.Fatal("no key body to search for")
	}
	filepath.WalkDir(f.dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if raw, _ := os.ReadFile(p); strings.Contains(string(raw), body) {
				t.Errorf("the TLS key is in %s", p)
			}
		}
		return nil
	})
	if strings.Contains(strings.Join(outputs, "\n"), body) {
		t.Error("the TLS key was in an event")
	}
	f.base = string(data) // what later phases start from
}
