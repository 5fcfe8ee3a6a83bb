//go:build lab

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"aginstall/internal/labtest"
	"aginstall/steps"
)

// labSudoCluster copies the lab's cluster file into dir with every host
// reached as the sudo user (the sysadmin's road), and returns a runner of the
// real binary that gives the sudo password on stdin.
func labSudoCluster(t *testing.T, lab *labtest.Lab, dir string) (*steps.Cluster, func(stdin string, args ...string) (string, error)) {
	t.Helper()
	path, data := labClusterCopy(t, lab, dir)
	text := strings.ReplaceAll(string(data), "user: root", "user: "+lab.SudoUser)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := steps.ParseCluster(path, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	bin := testBinary(t)
	known := filepath.Join(dir, "known_hosts")
	return c, func(stdin string, args ...string) (string, error) {
		args = append(args, "-f", path, "--known-hosts", known, "--ssh-config", "none", "--sudo-password-stdin")
		cmd := exec.Command(bin, args...)
		cmd.Stdin = strings.NewReader(lab.SudoPassword + "\n" + stdin)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
}

// labDjangoShell runs a Django shell snippet in the django task (as root on
// the django node, not through the product).
func labDjangoShell(t *testing.T, lab *labtest.Lab, c *steps.Cluster, script string) string {
	t.Helper()
	out, err := lab.Exec(t, "node2", "sh", "-c",
		"docker exec $(docker ps -q -f label=com.docker.swarm.service.name="+c.Stack+"_django | head -n1) python3 manage.py shell -c '"+script+"'")
	if err != nil {
		t.Fatalf("django shell: %v\n%s", err, out)
	}
	return strings.TrimSpace(out)
}

// TestBackupRestore: install on the sudo road, back up, delete the course
// and then the postgres volume itself, restore: the course and its admin
// are back and every table has the backup's row count.
func TestBackupRestore(t *testing.T) {
	lab := labtest.Load(t)
	lab.Reset(t)
	dir := t.TempDir()
	c, run := labSudoCluster(t, lab, dir)
	start := time.Now()
	if out, err := run("", "apply", "--yes"); err != nil {
		t.Fatalf("install: %v\n%s", err, tail(out, 60))
	}
	t.Logf("install: %s", time.Since(start).Round(time.Second))

	// Some bulk, so the dump is not only the schema.
	labDjangoShell(t, lab, c, `from django.contrib.auth.models import User; User.objects.bulk_create([User(username="student%d@lab.test" % i, email="student%d@lab.test" % i) for i in range(5000)]); print(User.objects.count())`)
	countCourses := `from autograder.core.models import Course; print(Course.objects.count())`

	// 1. Backup.
	bdir := filepath.Join(dir, "bk")
	os.Mkdir(bdir, 0o700)
	start = time.Now()
	out, err := run("", "backup", "-o", bdir)
	backupTime := time.Since(start)
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, tail(out, 40))
	}
	m := regexp.MustCompile(`wrote (\S+\.agbackup) `).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("backup did not say which file it wrote:\n%s", out)
	}
	file := m[1]
	st, err := os.Stat(file)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("backup file %s: %v %v", file, st, err)
	}
	man, err := steps.VerifyBackup(file)
	if err != nil {
		t.Fatal(err)
	}
	if man.RowCounts["core_course"] != 1 || man.RowCounts["auth_user"] != 5001 || man.RowCounts["core_course_admins"] != 1 || man.RowCounts["django_migrations"] == 0 {
		t.Errorf("manifest row counts: %v", man.RowCounts)
	}
	if man.SourceCommit == "" || man.PostgresImage != "postgres:15" || !strings.HasPrefix(man.ServerVersion, "15.") || man.Node != "node1" {
		t.Errorf("manifest: commit %q image %q version %q node %q", man.SourceCommit, man.PostgresImage, man.ServerVersion, man.Node)
	}
	t.Logf("backup: %s, file %d bytes (dump %d bytes), %d tables", backupTime.Round(10*time.Millisecond), st.Size(), man.Dump.Bytes, len(man.RowCounts))

	// A restore refuses to run without a terminal and without --yes.
	if out, err := run("", "restore", file); exitOf(err) != exitBadInput || !strings.Contains(out, "--yes") {
		t.Errorf("restore without --yes and terminal: exit %d\n%s", exitOf(err), tail(out, 10))
	}

	// 2. Disaster: the course goes, then the whole database volume.
	labDjangoShell(t, lab, c, `from autograder.core.models import Course; Course.objects.all().delete()`)
	if n := labDjangoShell(t, lab, c, countCourses); n != "0" {
		t.Fatalf("courses after delete: %s", n)
	}
	pg := c.Stack + "_postgres"
	for _, step := range [][]string{
		{"node1", "docker service scale -d " + pg + "=0"},
		{"node1", "for i in $(seq 60); do [ -z \"$(docker ps -q -f label=com.docker.swarm.service.name=" + pg + ")\" ] && break; sleep 1; done; sleep 1; docker volume rm " + c.Stack + "_pgdata"},
		{"node1", "docker service scale -d " + pg + "=1"},
	} {
		if out, err := lab.Exec(t, step[0], "sh", "-c", step[1]); err != nil {
			t.Fatalf("%s: %v\n%s", step[1], err, out)
		}
	}

	// 3. Restore (no terminal: --yes), then the site's own view.
	start = time.Now()
	out, err = run("", "restore", file, "--yes")
	restoreTime := time.Since(start)
	if err != nil {
		t.Fatalf("restore: %v\n%s", err, tail(out, 60))
	}
	if !strings.Contains(out, "row counts match the backup's manifest") || !strings.Contains(out, c.Stack+"_django") {
		t.Errorf("restore output:\n%s", tail(out, 20))
	}
	t.Logf("restore (new empty volume; includes waiting for initdb, stopping and starting the writers): %s", restoreTime.Round(10*time.Millisecond))
	if n := labDjangoShell(t, lab, c, countCourses); n != "1" {
		t.Errorf("courses after restore: %s", n)
	}
	users := labDjangoShell(t, lab, c, `from django.contrib.auth.models import User; print(User.objects.count())`)
	if n, _ := strconv.Atoi(users); n != 5001 {
		t.Errorf("users after restore: %s", users)
	}
	// The writers run again and the stack converged; the course has its admin.
	waitConverged(t, lab, c, 2*time.Minute)
	labAssertInstalled(t, lab, c)
}

func exitOf(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// waitConverged waits until every service of the stack has its tasks.
func waitConverged(t *testing.T, lab *labtest.Lab, c *steps.Cluster, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		out, err := lab.Exec(t, "node1", "docker", "service", "ls", "--format", "{{.Name}} {{.Replicas}}")
		bad := ""
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				if p := strings.SplitN(f[1], "/", 2); len(p) != 2 || p[0] != p[1] {
					bad += l + "; "
				}
			}
		}
		if err == nil && bad == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not converged after %s: %s %v", limit, bad, err)
		}
		time.Sleep(2 * time.Second)
	}
}
