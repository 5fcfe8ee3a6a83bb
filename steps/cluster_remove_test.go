package steps

import (
	"errors"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

func TestRemoveHostKeepsEverythingElse(t *testing.T) {
	in := `# my cluster
name: prod
manager: a
hosts:
  # the manager
  - name: a
    address: 10.0.0.1
    labels: [registry, database]
  # a grader, bought 2021
  - name: b   # node b
    address: 10.0.0.2
    labels:
      - grader
      - image_builder   # builds
  # the last one
  - name: c
    address: 10.0.0.3
docker: {install: distro}
`
	got, err := RemoveHost([]byte(in), "b")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(in, `  - name: b   # node b
    address: 10.0.0.2
    labels:
      - grader
      - image_builder   # builds
`, "", 1)
	if string(got) != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	var c Cluster
	if err := yaml.Unmarshal(got, &c); err != nil || len(c.Hosts) != 2 || c.Hosts[1].Name != "c" {
		t.Fatalf("%v %+v", err, c)
	}
	// The last host, no newline at the end of the file.
	last := strings.TrimSuffix(strings.Replace(in, "docker: {install: distro}\n", "", 1), "\n")
	got, err = RemoveHost([]byte(last), "c")
	if err != nil || string(got) != strings.Replace(last, "  - name: c\n    address: 10.0.0.3", "", 1) {
		t.Errorf("last host: %v\n%q", err, got)
	}
	if _, err := RemoveHost([]byte(in), "zz"); err == nil {
		t.Error("an unknown host was removed")
	}
	if _, err := RemoveHost([]byte("name: x\nhosts: [{name: a}, {name: b}]\n"), "a"); err == nil {
		t.Error("a flow list was edited")
	}
}

func TestCheckRemoveNode(t *testing.T) {
	c := &Cluster{Path: "c.yaml", Manager: "node1", Hosts: []HostSpec{
		{Name: "node1", Labels: []string{"registry", "webserver", "database", "small_tasks"}},
		{Name: "node2", Labels: []string{"django_app", "cache", "rabbitmq_broker", "custom_image_registry", "grader"}},
		{Name: "node3", Labels: []string{"fast_grader", "deferred_grader", "rerun_grader", "image_builder"}},
	}}
	if err := CheckRemoveNode(c, "node3"); err != nil {
		t.Errorf("node3 holds only grading labels others can do without: %v", err)
	}
	err := CheckRemoveNode(c, "node2")
	var r *RemoveNodeRefusal
	if !errors.As(err, &r) {
		t.Fatalf("node2: %v", err)
	}
	for _, want := range []string{"cache must be on exactly one node", "rabbitmq_broker", "custom_image_registry", "django_app", "aginstall relabel"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("node2's refusal lacks %q:\n%v", want, err)
		}
	}
	if err := CheckRemoveNode(c, "node1"); !errors.As(err, &r) || !strings.Contains(err.Error(), "manager") {
		t.Errorf("the manager: %v", err)
	}
	var ie *InputError
	if err := CheckRemoveNode(c, "node9"); !errors.As(err, &ie) {
		t.Errorf("unknown: %v", err)
	}
}

func TestDropFstabLine(t *testing.T) {
	in := "# fstab\nUUID=x / ext4 defaults 0 1\n10.0.0.1:/srv/ag\\040stack /srv/ag\\040stack nfs rw,hard,intr 0 0\n#10.0.0.1:/srv/ag /srv/ag nfs\n"
	got := string(dropFstabLine([]byte(in), "/srv/ag stack"))
	if got != "# fstab\nUUID=x / ext4 defaults 0 1\n#10.0.0.1:/srv/ag /srv/ag nfs\n" {
		t.Errorf("%q", got)
	}
}
