package steps

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// blockFile is a cluster file as an operator writes it: comments, block
// style, quoting of their own.
const blockFile = `# Our autograder: ask Jane before changing the hosts.
name: lab
manager: node1
hosts:
  - name: node1   # the big one
    address: 10.213.0.11
    user: agadmin
    labels: [database, cache]
  - name: node2
    address: "10.213.0.12"
    user: agadmin
    labels:
      - webserver
      - django_app

# Docker from Debian: our mirror has it.
docker:
  install: distro
source:
  path: /home/agadmin/autograder-full-stack
swarm:
  advertise_address: 10.213.0.11
  publish_mode: ingress   # we have IPVS, says the kernel team
tuning:
  gunicorn_workers: 3
site:
  domain: 'autograder.example.edu'
`

// flowFile is the lab's style: sections in flow mappings.
const flowFile = `# Written by testdata/lab/up
name: lab
manager: node1
hosts:
  - name: node1
    address: 10.213.0.11
    labels: [database]
docker: {install: distro}
source: {path: /root/autograder-full-stack}
swarm: {advertise_address: 10.213.0.11, publish_mode: host}
tuning: {gunicorn_workers: 3, celery_concurrency: {grader: 2}, client_max_body_size: 40M}
admin: {email: admin@lab.test, course: "Lab Course 101"}
`

func writeCluster(t *testing.T, text string) *Cluster {
	t.Helper()
	path := filepath.Join(t.TempDir(), "aginstall.yaml")
	if err := os.WriteFile(path, []byte(text), 0o640); err != nil {
		t.Fatal(err)
	}
	c, err := LoadCluster(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func readText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSaveChangesOnlyTheWizardsKeys: every comment, blank line, quote and
// style stays; only the changed lines differ; zero values are left out.
func TestSaveChangesOnlyTheWizardsKeys(t *testing.T) {
	c := writeCluster(t, blockFile)
	c.Swarm.PublishMode = "host"
	c.Tuning.CeleryConcurrency = map[string]int{"grader": 4, "fast_grader": 2}
	c.Site.Domain = "ag.example.edu"
	c.Site.PostgresImage = "postgres:15"
	c.Admin = AdminSpec{Email: "prof@example.edu", Course: "EECS 280"}
	c.Hosts[1].Labels = []string{"webserver", "django_app", "grader"}
	c.Tuning.GunicornWorkers = 0 // cleared: left out
	res, err := SaveCluster(c)
	if err != nil {
		t.Fatal(err)
	}
	got := readText(t, c.Path)
	want := `# Our autograder: ask Jane before changing the hosts.
name: lab
manager: node1
hosts:
  - name: node1   # the big one
    address: 10.213.0.11
    user: agadmin
    labels: [database, cache]
  - name: node2
    address: "10.213.0.12"
    user: agadmin
    labels: [webserver, django_app, grader]

# Docker from Debian: our mirror has it.
docker:
  install: distro
source:
  path: /home/agadmin/autograder-full-stack
swarm:
  advertise_address: 10.213.0.11
  publish_mode: host   # we have IPVS, says the kernel team
tuning:
  celery_concurrency:
    fast_grader: 2
    grader: 4
site:
  domain: 'ag.example.edu'
  postgres_image: postgres:15
admin:
  course: EECS 280
  email: prof@example.edu
`
	// "EECS 280" has a space: quoted? It reads back the same either way;
	// the renderer quotes what is not a simple word.
	want = strings.Replace(want, "course: EECS 280", `course: "EECS 280"`, 1)
	if got != want {
		t.Fatalf("saved:\n%s\nwant:\n%s", got, want)
	}
	if res.Cluster.Swarm.PublishMode != "host" || res.Cluster.Tuning.CeleryConcurrency["grader"] != 4 || string(res.Cluster.Raw) != got {
		t.Fatalf("read back: %+v", res.Cluster)
	}
	if st, _ := os.Stat(c.Path); st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want the file's own 640", st.Mode().Perm())
	}
	// Saving again with nothing changed writes nothing.
	if res2, err := SaveCluster(res.Cluster); err != nil || len(res2.Wrote) != 0 || readText(t, c.Path) != got {
		t.Fatalf("second save: %+v %v", res2, err)
	}
}

func TestSaveFlowStyle(t *testing.T) {
	c := writeCluster(t, flowFile)
	c.Swarm.PublishMode = "ingress"
	c.Tuning.CeleryConcurrency["rerun_grader"] = 1
	c.Tuning.ClientMaxBodySize = ""
	c.Admin.Course = "Lab Course 102"
	c.NFS.Mode = "skip"
	if _, err := SaveCluster(c); err != nil {
		t.Fatal(err)
	}
	got := readText(t, c.Path)
	for _, want := range []string{
		"# Written by testdata/lab/up\n",
		"swarm: {advertise_address: 10.213.0.11, publish_mode: ingress}\n",
		"tuning: {gunicorn_workers: 3, celery_concurrency: {grader: 2, rerun_grader: 1}}\n",
		`admin: {email: admin@lab.test, course: "Lab Course 102"}` + "\n",
		"\nnfs:\n  mode: skip\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("saved file lacks %q:\n%s", want, got)
		}
	}
}

// TestSaveTakesOutsideEdit: the operator edits the file (a comment and a
// value) while the wizard has changes of its own pending: both end up there.
func TestSaveTakesOutsideEdit(t *testing.T) {
	c := writeCluster(t, blockFile)
	outside := strings.Replace(blockFile, "  gunicorn_workers: 3\n", "  # four: the new box has the cores\n  gunicorn_workers: 4\n", 1)
	if err := os.WriteFile(c.Path, []byte(outside), 0o640); err != nil {
		t.Fatal(err)
	}
	c.Swarm.PublishMode = "host" // the wizard's own change
	// A re-read shows the outside value, the wizard's change still pending.
	ref, err := RefreshCluster(c)
	if err != nil {
		t.Fatal(err)
	}
	if ref.Cluster.Tuning.GunicornWorkers != 4 || ref.Cluster.Swarm.PublishMode != "host" || strings.Join(ref.Taken, ",") != "tuning.gunicorn_workers" {
		t.Fatalf("refresh: %+v taken %v", ref.Cluster, ref.Taken)
	}
	if readText(t, c.Path) != outside {
		t.Fatal("a refresh must not write")
	}
	res, err := SaveCluster(ref.Cluster)
	if err != nil {
		t.Fatal(err)
	}
	got := readText(t, c.Path)
	if got != strings.Replace(outside, "publish_mode: ingress", "publish_mode: host", 1) {
		t.Fatalf("saved:\n%s", got)
	}
	// The same when the wizard saves its stale copy without a re-read.
	c = writeCluster(t, blockFile)
	if err := os.WriteFile(c.Path, []byte(outside), 0o640); err != nil {
		t.Fatal(err)
	}
	c.Swarm.PublishMode = "host"
	if res, err = SaveCluster(c); err != nil {
		t.Fatal(err)
	}
	if readText(t, c.Path) != got || len(res.Taken) != 1 {
		t.Fatalf("stale save:\n%s\ntaken %v", readText(t, c.Path), res.Taken)
	}
}

// TestSaveConflict: both changed the same key: nothing is written until the
// operator chooses, and each choice keeps the other side's other edits.
func TestSaveConflict(t *testing.T) {
	c := writeCluster(t, blockFile)
	outside := strings.Replace(blockFile, "publish_mode: ingress", "publish_mode: host", 1)
	outside = strings.Replace(outside, "gunicorn_workers: 3", "gunicorn_workers: 5", 1)
	if err := os.WriteFile(c.Path, []byte(outside), 0o640); err != nil {
		t.Fatal(err)
	}
	c.Tuning.GunicornWorkers = 2
	c.Admin.Email = "prof@example.edu"
	_, err := SaveCluster(c)
	var ce *ConflictError
	if !errors.As(err, &ce) || len(ce.Conflicts) != 1 || ce.Conflicts[0] != (Conflict{Key: "tuning.gunicorn_workers", File: "5", Wizard: "2"}) {
		t.Fatalf("want one conflict on gunicorn_workers, got %v", err)
	}
	if readText(t, c.Path) != outside {
		t.Fatal("a conflict must write nothing")
	}
	for _, keepFile := range []bool{true, false} {
		r, err := ce.Resolve(keepFile)
		if err != nil {
			t.Fatal(err)
		}
		res, err := SaveCluster(r)
		if err != nil {
			t.Fatal(err)
		}
		want := 2
		if keepFile {
			want = 5
		}
		if g := res.Cluster.Tuning.GunicornWorkers; g != want || res.Cluster.Swarm.PublishMode != "host" || res.Cluster.Admin.Email != "prof@example.edu" {
			t.Fatalf("keepFile=%v: %+v", keepFile, res.Cluster)
		}
		if err := os.WriteFile(c.Path, []byte(outside), 0o640); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSaveHostsAddedAndRemoved: the hosts screen's add and delete.
func TestSaveHostsAddedAndRemoved(t *testing.T) {
	c := writeCluster(t, blockFile)
	c.Hosts = append(c.Hosts[1:], HostSpec{Name: "node3", Address: "10.213.0.13", User: "agadmin", Port: 22})
	c.Manager = "node2"
	if _, err := SaveCluster(c); err != nil {
		t.Fatal(err)
	}
	got := readText(t, c.Path)
	want := `# Our autograder: ask Jane before changing the hosts.
name: lab
manager: node2
hosts:
  - name: node2
    address: "10.213.0.12"
    user: agadmin
    labels:
      - webserver
      - django_app
  - name: node3
    address: 10.213.0.13
    port: 22
    user: agadmin
`
	if !strings.HasPrefix(got, want) {
		t.Fatalf("saved:\n%s\nwant it to start with:\n%s", got, want)
	}
}

// TestNewClusterFileLeavesZerosOut: a new file has no port: 0, identity: "",
// celery_concurrency: {} and the like.
func TestNewClusterFileLeavesZerosOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.yaml")
	c := &Cluster{Name: "autograder", Manager: "node1", Path: path,
		Hosts:  []HostSpec{{Name: "node1", Address: "10.0.0.1", User: "root"}},
		Docker: DockerSpec{Install: "official"}, Source: SourceSpec{Path: "/root/autograder-full-stack"}, NFS: NFSSpec{Mode: "export", Clients: "cluster"},
		Tuning: TuningSpec{CeleryConcurrency: map[string]int{}}}
	res, err := SaveCluster(c)
	if err != nil {
		t.Fatal(err)
	}
	got := readText(t, path)
	for _, bad := range []string{": 0", `""`, "{}", "identity", "bastion", "tuning", "site", "admin"} {
		if strings.Contains(got, bad) {
			t.Errorf("new file has %q:\n%s", bad, got)
		}
	}
	if res.Cluster.Hosts[0].Address != "10.0.0.1" || res.Cluster.NFS.Mode != "export" {
		t.Fatalf("read back %+v", res.Cluster)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("a new cluster file is 600, got %v", st.Mode().Perm())
	}
}

// TestPinHostKeysKeepsOutsideEdit: a pin goes into the file as it is now.
func TestPinHostKeysKeepsOutsideEdit(t *testing.T) {
	c := writeCluster(t, blockFile)
	outside := blockFile + "# added by hand\n"
	if err := os.WriteFile(c.Path, []byte(outside), 0o640); err != nil {
		t.Fatal(err)
	}
	fp := "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"
	if err := PinHostKeys(c, map[string]string{"node2": fp}); err != nil {
		t.Fatal(err)
	}
	got := readText(t, c.Path)
	if !strings.Contains(got, "# added by hand") || !strings.Contains(got, "  - name: node2\n    host_key: \""+fp+"\"\n") {
		t.Fatalf("pinned:\n%s", got)
	}
}

// TestSaveEdgeShapes: an empty section, a flow key left out, a block host
// removed, a key with a comment and a quoted value.
func TestSaveEdgeShapes(t *testing.T) {
	c := writeCluster(t, `name: lab
hosts:
  - name: node1
    address: 10.0.0.1
  -
    name: node2
    address: 10.0.0.2   # the second
  - name: node3
    address: 10.0.0.3
source: {path: /root/autograder-full-stack, ref: "v1"}
tuning: {client_max_body_size: 40M, gunicorn_workers: 2}
admin: {}   # later
`)
	c.Hosts = []HostSpec{c.Hosts[0], c.Hosts[2]}
	c.Tuning.ClientMaxBodySize = ""
	c.Source.Ref = "v2"
	c.Admin.Email = "a@b.edu"
	if _, err := SaveCluster(c); err != nil {
		t.Fatal(err)
	}
	want := `name: lab
hosts:
  - name: node1
    address: 10.0.0.1
  - name: node3
    address: 10.0.0.3
source: {path: /root/autograder-full-stack, ref: "v2"}
tuning: {gunicorn_workers: 2}
admin: {email: a@b.edu}   # later
`
	if got := readText(t, c.Path); got != want {
		t.Fatalf("saved:\n%s\nwant:\n%s", got, want)
	}
}
