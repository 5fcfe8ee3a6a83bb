//go:build lab

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
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
	// The root-road file with the sudo user: it keeps identity: (no agent
	// needed) and Debian's docker.io.
	path, data := labClusterCopyOf(t, lab.ClusterFileRoot, dir)
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

// TestDayTwo installs once on the sudo road, then:
//   - backup-restore: back up, delete the course and then the postgres
//     volume itself, restore: the course and its admin are back and every
//     table has the backup's row count;
//   - move-database: the database label and its data go from node1 to
//     node2; the course survives, the cluster file follows;
//   - remove-node: node2 (one-node labels) is refused; node3 (graders only)
//     leaves: out of the swarm and the cluster file, the stack converged;
//   - upgrade: source.ref -> v2, apply: a backup is taken before the new
//     migration is applied.
func TestDayTwo(t *testing.T) {
	lab := labtest.Load(t)
	lab.Reset(t)
	dir := t.TempDir()
	c, run := labSudoCluster(t, lab, dir)
	start := time.Now()
	if out, err := run("", "apply", "--yes"); err != nil {
		t.Fatalf("install: %v\n%s", err, tail(out, 60))
	}
	t.Logf("install: %s", time.Since(start).Round(time.Second))
	if !t.Run("backup-restore", func(t *testing.T) { labBackupRestore(t, lab, c, run, dir) }) {
		return
	}
	t.Run("move-database", func(t *testing.T) { labMoveDatabase(t, lab, c, run) })
	t.Run("remove-node", func(t *testing.T) { labRemoveNode(t, lab, c, run) })
	// Last: it changes source.ref, which the others' plans and reviews would see.
	t.Run("upgrade", func(t *testing.T) { labUpgradeBacksUp(t, lab, c, run, dir) })
}

func labBackupRestore(t *testing.T, lab *labtest.Lab, c *steps.Cluster, run func(string, ...string) (string, error), dir string) {
	// Some bulk, so the dump is not only the schema.
	labDjangoShell(t, lab, c, `from django.contrib.auth.models import User; User.objects.bulk_create([User(username="student%d@lab.test" % i, email="student%d@lab.test" % i) for i in range(5000)]); print(User.objects.count())`)
	countCourses := `from autograder.core.models import Course; print(Course.objects.count())`

	// 1. Backup.
	bdir := filepath.Join(dir, "bk")
	os.Mkdir(bdir, 0o700)
	start := time.Now()
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
		{"node1", "for i in $(seq 60); do [ -z \"$(docker ps -q -f label=com.docker.swarm.service.name=" + pg + ")\" ] && break; sleep 1; done; docker ps -aq -f label=com.docker.swarm.service.name=" + pg + " | xargs -r docker rm -f; docker volume rm " + c.Stack + "_pgdata"},
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

// labUpgradeBacksUp: an apply that brings new migrations (tag v2) takes a
// backup first, into backups/ beside the cluster file.
func labUpgradeBacksUp(t *testing.T, lab *labtest.Lab, c *steps.Cluster, run func(string, ...string) (string, error), dir string) {
	path := filepath.Join(dir, "aginstall.yaml")
	data, _ := os.ReadFile(path)
	text := strings.Replace(string(data), "ref: master", "ref: v2", 1)
	if text == string(data) {
		t.Fatal("no ref: master in the cluster file")
	}
	os.WriteFile(path, []byte(text), 0o600)
	before, _ := filepath.Glob(filepath.Join(dir, "backups", "*.agbackup")) // move-database keeps its own
	start := time.Now()
	out, err := run("", "apply", "--yes")
	if err != nil {
		t.Fatalf("upgrade apply: %v\n%s", err, tail(out, 60))
	}
	t.Logf("upgrade apply: %s", time.Since(start).Round(time.Second))
	all, _ := filepath.Glob(filepath.Join(dir, "backups", "*.agbackup"))
	var files []string
	for _, f := range all {
		if !slices.Contains(before, f) {
			files = append(files, f)
		}
	}
	if len(files) != 1 {
		t.Fatalf("backups after the upgrade: %v\n%s", files, tail(out, 40))
	}
	if !strings.Contains(out, "backed up the database before migrating: "+files[0]) {
		t.Errorf("the apply did not print the backup's path:\n%s", tail(out, 40))
	}
	man, err := steps.VerifyBackup(files[0])
	if err != nil {
		t.Fatal(err)
	}
	// Taken before 0002 was applied: the migration is not in the backup, but is applied now.
	if man.RowCounts["django_migrations"] == 0 {
		t.Errorf("backup manifest: %v", man.RowCounts)
	}
	migs := labDjangoShell(t, lab, c, `from django.db.migrations.recorder import MigrationRecorder as R; print(R.Migration.objects.filter(app="core", name="0002_course_subtitle").count())`)
	if migs != "1" {
		t.Errorf("0002_course_subtitle applied: %q", migs)
	}
}

// labMoveDatabase: node1 -> node2, data and all.
func labMoveDatabase(t *testing.T, lab *labtest.Lab, c *steps.Cluster, run func(string, ...string) (string, error)) {
	start := time.Now()
	out, err := run("", "move-database", "node2", "--yes")
	if err != nil {
		t.Fatalf("move-database: %v\n%s", err, tail(out, 60))
	}
	t.Logf("move-database node1 -> node2: %s", time.Since(start).Round(time.Second))
	pg, _ := lab.Exec(t, "node2", "sh", "-c", "docker ps -q -f label=com.docker.swarm.service.name="+c.Stack+"_postgres")
	if strings.TrimSpace(pg) == "" {
		t.Errorf("no postgres container on node2 after the move")
	}
	if n := labDjangoShell(t, lab, c, `from autograder.core.models import Course; print(Course.objects.filter(admins__username="`+c.Admin.Email+`").count())`); n != "1" {
		t.Errorf("the course with its admin after the move: %q", n)
	}
	data, _ := os.ReadFile(c.Path)
	after, err := steps.ParseCluster(c.Path, data)
	if err != nil {
		t.Fatal(err)
	}
	n1, _ := after.Host("node1")
	n2, _ := after.Host("node2")
	if slices.Contains(n1.Labels, "database") || !slices.Contains(n2.Labels, "database") {
		t.Errorf("cluster file labels after the move: node1 %v node2 %v", n1.Labels, n2.Labels)
	}
	if !strings.Contains(out, "backup kept at ") {
		t.Errorf("move output:\n%s", tail(out, 10))
	}
	// The labels step has nothing to do: the cluster file matches the swarm.
	out, _ = run("", "plan")
	if !strings.Contains(out, "- | labels | Label the nodes for service placement: nothing to change") {
		t.Errorf("plan after the move:\n%s", tail(out, 30))
	}
}

// labRemoveNode: node2 is refused (it holds one-node labels), node3 leaves.
func labRemoveNode(t *testing.T, lab *labtest.Lab, c *steps.Cluster, run func(string, ...string) (string, error)) {
	out, err := run("", "remove-node", "node2", "--yes")
	if exitOf(err) != exitBadInput || !strings.Contains(out, "cache must be on exactly one node") {
		t.Errorf("remove-node node2: exit %d\n%s", exitOf(err), tail(out, 20))
	}
	start := time.Now()
	out, err = run("", "remove-node", "node3", "--yes")
	if err != nil {
		t.Fatalf("remove-node node3: %v\n%s", err, tail(out, 40))
	}
	t.Logf("remove-node node3: %s", time.Since(start).Round(time.Second))
	nodes, _ := lab.Exec(t, "node1", "docker", "node", "ls", "--format", "{{.Hostname}}")
	if strings.Contains(nodes, "node3") || !strings.Contains(nodes, "node2") {
		t.Errorf("swarm nodes after remove-node: %q", nodes)
	}
	if st, _ := lab.Exec(t, "node3", "docker", "info", "--format", "{{.Swarm.LocalNodeState}}"); strings.TrimSpace(st) != "inactive" {
		t.Errorf("node3's swarm state: %q", st)
	}
	path := c.Path
	data, _ := os.ReadFile(path)
	after, err := steps.ParseCluster(path, data)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := after.Host("node3"); ok || len(after.Hosts) != 2 {
		t.Errorf("cluster file still lists node3:\n%s", data)
	}
	waitConverged(t, lab, c, 2*time.Minute)
	// The registry firewall no longer lets node3 in, on the hosts that stay.
	for _, h := range []string{"node1", "node2"} {
		rules, _ := lab.Exec(t, h, "iptables", "-w", "-S", "AGINSTALL-REGISTRY")
		if n3 := lab.Host("node3"); strings.Contains(rules, n3.Address+"/32") {
			t.Errorf("%s's registry firewall still lets node3 (%s) in:\n%s", h, n3.Address, rules)
		}
	}
	// review of the smaller cluster: every step done.
	out, err = run("", "review")
	if err != nil {
		t.Errorf("review after remove-node: %v\n%s", err, tail(out, 30))
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, " | todo:") || strings.Contains(l, " | drifted:") || strings.Contains(l, " | unknown:") {
			t.Errorf("review after remove-node: %s", l)
		}
	}
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
