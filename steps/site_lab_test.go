//go:build lab

package steps

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"aginstall/internal/labtest"
)

// TestSiteLab takes fresh lab hosts through every step in order with the
// engine (discover … registry are other steps; this test asserts on settings,
// deploy, migrate and admin), then checks the result on the hosts and in
// Django itself, re-applies (no mutation), shows an unschedulable service's
// reason, stores a tricky course name literally, and upgrades to the
// stand-in repository's v2 tag.
func TestSiteLab(t *testing.T) {
	env, lab := labEnv(t)
	ctx := labCtx(t)
	var mu sync.Mutex
	var out []string
	env.Runner.Sink = func(e Event) {
		if o, ok := e.(HostOutput); ok {
			mu.Lock()
			out = append(out, o.Step+"|"+o.Host+"|"+o.Text)
			mu.Unlock()
		}
	}
	outputs := func(step, substr string) []string {
		mu.Lock()
		defer mu.Unlock()
		var got []string
		for _, l := range out {
			if strings.HasPrefix(l, step+"|") && strings.Contains(l, substr) {
				got = append(got, l)
			}
		}
		return got
	}
	en := &Engine{Env: env, Steps: All()}
	apply := func(s Step) {
		t.Helper()
		start := time.Now()
		if err := en.ApplyStep(ctx, s); err != nil {
			t.Fatalf("apply %s: %v", s.ID(), err)
		}
		t.Logf("apply %s: %s", s.ID(), time.Since(start).Round(time.Millisecond))
	}
	for _, s := range All() {
		apply(s)
	}
	siteLabTimes(t, env.Runner.Records())

	// The edits are in the manager's checkout …
	sh := func(host string, argv ...string) string {
		t.Helper()
		s, err := lab.Exec(t, host, argv...)
		if err != nil {
			t.Fatalf("%s: %v: %v", host, argv, err)
		}
		return s
	}
	compose := sh("node1", "cat", "/root/autograder-full-stack/docker-compose.yml")
	for _, want := range []string{"--workers=3", "image: postgres:15", "mode: host"} {
		if !strings.Contains(compose, want) {
			t.Errorf("docker-compose.yml on node1 lacks %q", want)
		}
	}
	if prodEnv := sh("node1", "cat", "/root/autograder-full-stack/autograder-server/_prod.env"); strings.Contains(prodEnv, "AG_DB_PASSWORD=postgres\n") || !strings.Contains(prodEnv, "SITE_DOMAIN=autograder.lab.test") {
		t.Errorf("_prod.env not edited:\n%s", prodEnv)
	}
	// … and in the built images, as they run.
	if got := siteLabInTask(t, lab, "node1", "ag-stack_website", "cat", "/usr/src/app/dist/index.html"); !strings.Contains(got, "MAX_COMMAND_TIMEOUT = 120") || !strings.Contains(got, "Lab Admin") {
		t.Errorf("the running website image does not carry the edited constants.ts:\n%s", got)
	}
	if got := siteLabInTask(t, lab, "node2", "ag-stack_django", "cat", "/usr/src/app/autograder/core/constants.py"); !strings.Contains(got, "MAX_SUBPROCESS_TIMEOUT = 120") {
		t.Errorf("the running django image does not carry the edited constants.py:\n%s", got)
	}

	// Migrations ran on node2, where django runs, not on the manager.
	var migrated []Record
	for _, r := range env.Runner.Records() {
		if r.Step == "migrate" && r.Mutating {
			migrated = append(migrated, r)
		}
	}
	if len(migrated) != 1 || migrated[0].Host != "node2" || migrated[0].Error != "" {
		t.Errorf("want one migrate exec on node2, got %+v", migrated)
	}
	if got := siteLabInTask(t, lab, "node2", "ag-stack_django", "python3", "manage.py", "showmigrations", "core"); !strings.Contains(got, "[X] 0001_initial") {
		t.Errorf("showmigrations on node2: %s", got)
	}

	// The course and its admin, asked from Django, not from our records.
	siteLabCourse(t, lab, "Lab Course 101", "admin@lab.test")

	// Re-apply: nothing mutates (the settings, deploy, migrate, admin steps at least).
	before := len(env.Runner.Records())
	reapply := time.Now()
	if err := en.Apply(ctx); err != nil {
		t.Fatalf("second apply: %v", err)
	}
	t.Logf("second apply (all steps): %s", time.Since(reapply).Round(time.Millisecond))
	for _, r := range env.Runner.Records()[before:] {
		if r.Mutating {
			t.Errorf("second apply mutated: %s %s %s", r.Step, r.Host, r.Command)
		}
	}

	// The convergence rows name the label a service needs and no node has.
	siteLabUnschedulable(t, env, lab)

	// A course name with quotes, unicode and $(...) is stored literally.
	tricky := `O'Brien "EECS" $(touch /tmp/x) ü`
	env.Cluster.Admin.Course = tricky
	admin, _ := ByID("admin")
	apply(admin)
	siteLabCourse(t, lab, tricky, "admin@lab.test")
	for _, host := range []string{"node1", "node2"} {
		if _, err := lab.Exec(t, host, "test", "-e", "/tmp/x"); err == nil {
			t.Errorf("/tmp/x exists on %s", host)
		}
	}
	if _, err := siteLabInTaskErr(t, lab, "node2", "ag-stack_django", "test", "-e", "/tmp/x"); err == nil {
		t.Error("/tmp/x exists in the django container: the course name was executed")
	}

	// Upgrade: source.ref v2 adds a migration; everything follows.
	// The source step stashes aginstall's own edits before switching refs;
	// the settings step writes them again, keeping the database password.
	pwBefore := siteLabDBPassword(t, lab)
	env.Cluster.Source.Ref = "v2"
	src, _ := ByID("source")
	t.Logf("upgrade: source check before: %+v", src.Check(ctx, env))
	before = len(env.Runner.Records())
	upgrade := time.Now()
	if err := en.Apply(ctx); err != nil {
		t.Fatalf("upgrade to v2: %v", err)
	}
	t.Logf("upgrade to v2 (all steps): %s", time.Since(upgrade).Round(time.Millisecond))
	siteLabTimes(t, env.Runner.Records()[before:])
	for _, r := range env.Runner.Records()[before:] {
		if r.Step == "source" {
			t.Logf("upgrade: source: %s: %s (exit %d) %s", r.Purpose, r.Command, r.Exit, r.Error)
		}
	}
	if got := outputs("deploy", "|changed services"); len(got) == 0 || !strings.Contains(got[len(got)-1], "django") {
		t.Errorf("the upgrade did not report django as changed: %q", got)
	} else {
		t.Logf("upgrade: %s", got[len(got)-1])
	}
	if got := siteLabInTask(t, lab, "node2", "ag-stack_django", "python3", "manage.py", "showmigrations", "core"); !strings.Contains(got, "[X] 0002_course_subtitle") {
		t.Errorf("the v2 migration did not run: %s", got)
	}
	if got := sh("node1", "cat", "/root/autograder-full-stack/AGLAB_VERSION"); !strings.Contains(got, "2") {
		t.Errorf("checkout not at v2: %q", got)
	}
	siteLabCourse(t, lab, tricky, "admin@lab.test")
	if pw := siteLabDBPassword(t, lab); pw != pwBefore {
		t.Error("the upgrade changed the database password")
	}

	// After the upgrade, another apply changes nothing.
	before = len(env.Runner.Records())
	if err := en.Apply(ctx); err != nil {
		t.Fatalf("apply after the upgrade: %v", err)
	}
	for _, r := range env.Runner.Records()[before:] {
		if r.Mutating {
			t.Errorf("apply after the upgrade mutated: %s %s %s", r.Step, r.Host, r.Command)
		}
	}
	// A password file made world-readable by hand is drift: the check says
	// so, and apply sets 600 without rewriting it.
	prodEnv := "/root/autograder-full-stack/autograder-server/_prod.env"
	if _, err := lab.Exec(t, "node1", "chmod", "644", prodEnv); err != nil {
		t.Fatal(err)
	}
	settings, _ := ByID("settings")
	if hc := settings.Check(ctx, env)[0]; hc.Status == Done || !strings.Contains(hc.Reason, "autograder-server/_prod.env: others may read the database password") {
		t.Errorf("a 644 _prod.env is not reported: %+v", hc)
	}
	apply(settings)
	if got := sh("node1", "stat", "-c", "%a", prodEnv); strings.TrimSpace(got) != "600" {
		t.Errorf("_prod.env mode after apply: %q", got)
	}
	if hc := settings.Check(ctx, env)[0]; hc.Status != Done {
		t.Errorf("settings after the chmod: %+v", hc)
	}

	// A half-finished install: the course tables unmigrated. One review
	// answers both the migrate and the admin question with one read (psql
	// on the rows, the image's migrations remembered; or one Django
	// start-up), and says what is missing instead of failing; apply repairs it.
	siteLabInTask(t, lab, "node2", "ag-stack_django", "python3", "manage.py", "migrate", "core", "zero")
	before = len(env.Runner.Records())
	verdict := map[string]StepReport{}
	for _, r := range en.Review(ctx) {
		verdict[r.ID] = r
	}
	if r := verdict["migrate"]; r.Status != Todo || !strings.Contains(r.Checks[0].Reason, "unapplied migrations") {
		t.Errorf("migrate after migrate core zero: %+v", r)
	}
	if r := verdict["admin"]; r.Status != Todo || !strings.Contains(r.Checks[0].Reason, "tables are not there yet") {
		t.Errorf("admin after migrate core zero: %+v", r)
	}
	djangoExecs, rowReads := 0, 0
	for _, r := range env.Runner.Records()[before:] {
		if strings.Contains(r.Command, "manage.py") {
			djangoExecs++
		}
		if strings.HasPrefix(r.Command, "exec psql (read-only") {
			rowReads++
		}
	}
	if djangoExecs+rowReads != 1 {
		t.Errorf("a review started Django %d times and read the rows %d times, want one of them once", djangoExecs, rowReads)
	}
	if env.State.DjangoSchema == nil || rowReads != 1 {
		t.Errorf("the image's migrations were not remembered (schema %v), or the rows not read with psql (%d)", env.State.DjangoSchema != nil, rowReads)
	}
	if err := en.Apply(ctx); err != nil {
		t.Fatalf("apply after migrate core zero: %v", err)
	}
	siteLabCourse(t, lab, tricky, "admin@lab.test")
	for _, r := range en.Review(ctx) {
		if (r.ID == "migrate" || r.ID == "admin") && r.Status != Done {
			t.Errorf("review after the repair: %s is %s: %+v", r.ID, r.Status, r.Checks)
		}
	}

	// Backups of the edited files are kept, but outside the checkout, which
	// is the images' build context.
	if got := sh("node1", "find", "/root/autograder-full-stack", "-name", "*.aginstall-*.bak"); strings.TrimSpace(got) != "" {
		t.Errorf("backups inside the checkout:\n%s", got)
	}
	if got := sh("node1", "ls", "/var/backups/aginstall"); !strings.Contains(got, "root_autograder-full-stack_autograder-server__prod.env.aginstall-") {
		t.Errorf("no backup of _prod.env in /var/backups/aginstall: %q", got)
	}

	// The generated password reached neither the log nor the state file.
	for _, f := range []string{env.Runner.Log.Path, StatePath(env.Cluster)} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), pwBefore) {
			t.Errorf("the database password is in %s", f)
		}
	}
}

// siteLabDBPassword reads AG_DB_PASSWORD from the manager's checkout.
func siteLabDBPassword(t *testing.T, lab *labtest.Lab) string {
	t.Helper()
	data, err := lab.Exec(t, "node1", "cat", "/root/autograder-full-stack/autograder-server/_prod.env")
	if err != nil {
		t.Fatal(err)
	}
	pw, keep := settingsCurrentPassword([]byte(data))
	if !keep {
		t.Fatalf("AG_DB_PASSWORD is upstream's default")
	}
	return pw
}

// siteLabTimes logs how long the deploy's parts took, from the runner's records.
func siteLabTimes(t *testing.T, recs []Record) {
	for _, r := range recs {
		switch {
		case r.Step == "deploy" && r.Mutating, r.Step == "deploy" && strings.HasPrefix(r.Purpose, "wait"),
			r.Step == "migrate" && r.Mutating, r.Step == "admin" && r.Mutating, r.Step == "settings" && r.Mutating && r.Kind == "cmd":
			t.Logf("time %s/%s on %s: %s", r.Step, r.Purpose, r.Host, r.Duration.Round(time.Millisecond))
		}
	}
}

// siteLabInTask runs argv in the running container of a service on host (docker exec through nsenter).
func siteLabInTask(t *testing.T, lab *labtest.Lab, host, service string, argv ...string) string {
	t.Helper()
	s, err := siteLabInTaskErr(t, lab, host, service, argv...)
	if err != nil {
		t.Fatalf("%s in %s on %s: %v", argv, service, host, err)
	}
	return s
}

func siteLabInTaskErr(t *testing.T, lab *labtest.Lab, host, service string, argv ...string) (string, error) {
	t.Helper()
	id, err := lab.Exec(t, host, "docker", "ps", "-q", "--filter", "label=com.docker.swarm.service.name="+service)
	id = strings.TrimSpace(id)
	if err != nil || id == "" || strings.Contains(id, "\n") {
		t.Fatalf("no single running container of %s on %s: %q %v", service, host, id, err)
	}
	// argv may start with docker exec options, ended by "--".
	opts, cmd := []string{}, argv
	for i, a := range argv {
		if a == "--" {
			opts, cmd = argv[:i], argv[i+1:]
		}
	}
	return lab.Exec(t, host, append(append(append([]string{"docker", "exec"}, opts...), id), cmd...)...)
}

// siteLabCourse asks Django on node2 whether the course exists, by its exact
// name, with the user as a superuser admin.
func siteLabCourse(t *testing.T, lab *labtest.Lab, course, email string) {
	t.Helper()
	// The name travels in an environment variable, as in the product.
	code := `import os
from autograder.core.models import Course
c = Course.objects.get(name=os.environ["AGT_COURSE"])
print("ADMINS", [(u.username, u.is_superuser) for u in c.admins.all()])`
	got := siteLabInTask(t, lab, "node2", "ag-stack_django", "-e", "AGT_COURSE="+course, "--", "python3", "manage.py", "shell", "-c", code)
	if want := fmt.Sprintf("ADMINS [(%s, True)]", pyRepr(email)); !strings.Contains(got, want) {
		t.Errorf("course %q: want %s, Django says %s", course, want, got)
	}
}

// pyRepr is Python's repr of a plain ASCII string without quotes inside.
func pyRepr(s string) string { return "'" + s + "'" }

// siteLabUnschedulable deploys a one-service stack constrained to a label
// no node has and checks the convergence rows say so in words.
func siteLabUnschedulable(t *testing.T, env *Env, lab *labtest.Lab) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const stack = "agtest-unsched"
	compose := `version: "3.7"
services:
  lonely:
    image: 127.0.0.1:5000/django
    command: sleep 600
    deploy:
      placement:
        constraints: [node.labels.no_such_label == true]
`
	if _, err := lab.Exec(t, "node1", "sh", "-c", "mkdir -p /tmp/agtest && cat > /tmp/agtest/c.yml <<'EOF'\n"+compose+"EOF\ndocker stack deploy -c /tmp/agtest/c.yml "+stack); err != nil {
		t.Fatal(err)
	}
	defer lab.Exec(t, "node1", "docker", "stack", "rm", stack)
	dc := labDocker(t, env, "node1")
	var rows []ServiceRow
	for ctx.Err() == nil {
		sv, ts, ns, err := convergeRead(ctx, dc, stack)
		if err != nil {
			t.Fatal(err)
		}
		rows = ConvergenceRows(sv, ts, ns)
		if len(rows) == 1 && strings.Contains(rows[0].String(), "no node has the label no_such_label (needed by service lonely)") {
			t.Logf("unschedulable service shown as: %s", rows[0])
			return
		}
		time.Sleep(time.Second)
	}
	t.Errorf("the convergence rows never named the missing label: %+v", rows)
}
