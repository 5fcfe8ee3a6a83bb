package steps

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/swarm"
)

func TestRelabelListeners(t *testing.T) {
	out := `LISTEN 0 4096 0.0.0.0:80 0.0.0.0:* users:(("dockerd",pid=812,fd=30))
LISTEN 0 511 [::]:443 [::]:* users:(("apache2",pid=77,fd=4),("apache2",pid=78,fd=4))
LISTEN 0 128 0.0.0.0:22 0.0.0.0:* users:(("sshd",pid=1,fd=3))
LISTEN 0 128 127.0.0.1:8080 0.0.0.0:*
LISTEN 0 10 0.0.0.0:443 0.0.0.0:* users:(("evil` + "\x1b[31m" + `x$(id)",pid=9,fd=3))
LISTEN 0 10 0.0.0.0:4430 0.0.0.0:*
LISTEN 0 10 *:80 *:*
garbage`
	got := relabelListeners(out, nil)
	want := []string{"80 (dockerd)", "443 (apache2)", "443 (evil31mxid)", "80 (an unknown process)"}
	if !slices.Equal(got, want) {
		t.Errorf("listeners %q, want %q", got, want)
	}
	// The routing mesh's own listener is not a conflict in ingress mode.
	got = relabelListeners(out, func(p string) bool { return p == "dockerd" })
	if slices.Contains(got, "80 (dockerd)") || len(got) != 3 {
		t.Errorf("ingress: %q", got)
	}
	if got := relabelListeners("", nil); len(got) != 0 {
		t.Errorf("nothing listens: %q", got)
	}
}

func TestRelabelBlockingAndCopy(t *testing.T) {
	checks := []RelabelCheck{
		{Node: "node3", Kind: "tls", Blocks: true, CopyTLSFrom: "node1"},
		{Node: "node3", Kind: "ports"},
		{Node: "node3", Kind: "address", Message: "publish mode is host"},
	}
	p := RelabelPlan{Checks: checks}
	if len(p.Blocking()) != 1 {
		t.Errorf("missing TLS files block until the copy is chosen: %+v", p.Blocking())
	}
	if c, ok := p.CanCopyTLS(); !ok || c.CopyTLSFrom != "node1" {
		t.Errorf("copy offer %+v %v", c, ok)
	}
	p.CopyTLS = true
	if len(p.Blocking()) != 0 {
		t.Errorf("with the copy chosen nothing blocks: %+v", p.Blocking())
	}
	p.Checks = append(p.Checks, RelabelCheck{Node: "node3", Kind: "ports", Blocks: true})
	if len(p.Blocking()) != 1 || p.Blocking()[0].Kind != "ports" {
		t.Errorf("a taken port blocks whatever is copied: %+v", p.Blocking())
	}
	p.Checks = []RelabelCheck{{Node: "node3", Kind: "tls", Blocks: true}} // nowhere to copy from
	if len(p.Blocking()) != 1 {
		t.Errorf("no source: %+v", p.Blocking())
	}
}

func TestRelabelGainersAndAddress(t *testing.T) {
	before := relabelLab()
	after := relabelLab()
	after["node1"] = slices.DeleteFunc(slices.Clone(after["node1"]), func(l string) bool { return l == "webserver" })
	after["node3"] = append(slices.Clone(after["node3"]), "webserver")
	if g := relabelGainers(before, after, "webserver"); !slices.Equal(g, []string{"node3"}) {
		t.Errorf("gainers %v", g)
	}
	if g := relabelGainers(before, before, "webserver"); len(g) != 0 {
		t.Errorf("no change, gainers %v", g)
	}
	env := swarmTestEnv(t, "")
	env.Cluster.Site.Domain = "ag.example.edu"
	c := relabelAddressCheck(env.Cluster, "node3", []string{"node1"})
	if c.Blocks || !strings.Contains(c.Message, "changes from node1 (10.0.0.11) to node3 (10.0.0.13); point ag.example.edu at 10.0.0.13") {
		t.Errorf("address check %+v", c)
	}
}

// The copy reads on one host and writes on the other at mode 0600, only
// what is missing, and the key's content is in no record or log.
func TestRelabelCopyTLS(t *testing.T) {
	f := &fakeHosts{files: map[string]string{}}
	env := testEnv(t, f)
	env.Runner.DryRun = false
	env.Cluster.Site.TLSCert, env.Cluster.Site.TLSKey = "/etc/ssl/certs/ag.pem", "/etc/ssl/private/ag.key"
	key := "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7secretline1\nAbCdEfGhIjKlMnOpQrStUvWxYz0123456789secretline2\n-----END PRIVATE KEY-----\n"
	f.files["node1:/etc/ssl/certs/ag.pem"] = "CERT"
	f.files["node1:/etc/ssl/private/ag.key"] = key
	if err := relabelCopyTLS(t.Context(), env, "relabel", "node1", "node3"); err != nil {
		t.Fatal(err)
	}
	if f.files["node3:/etc/ssl/private/ag.key"] != key || f.files["node3:/etc/ssl/certs/ag.pem"] != "CERT" {
		t.Fatalf("not copied: %v", f.files)
	}
	var writes []string
	for _, r := range env.Runner.Records() {
		if r.Host == "node3" && r.Kind == "file" && r.Mutating {
			writes = append(writes, r.Purpose)
		}
		if strings.Contains(r.Command+r.Diff+r.Error, "secretline") {
			t.Errorf("the key is in a record: %+v", r)
		}
	}
	if strings.Join(writes, ";") != "copy the TLS certificate from node1 (mode 0600);copy the TLS private key from node1 (mode 0600)" {
		t.Errorf("writes %q", writes)
	}
	logs, _ := filepath.Glob(filepath.Join(filepath.Dir(env.Cluster.Path), ".aginstall", "logs", "*"))
	if len(logs) == 0 {
		t.Fatal("no log to search")
	}
	for _, l := range logs {
		if b, _ := os.ReadFile(l); strings.Contains(string(b), "secretline") {
			t.Errorf("the key is in the log %s", l)
		}
	}
	// Present files are never overwritten.
	f.files["node1:/etc/ssl/private/ag.key"] = "OTHER KEY CONTENT"
	n := len(env.Runner.Mutations())
	if err := relabelCopyTLS(t.Context(), env, "relabel", "node1", "node3"); err != nil || len(env.Runner.Mutations()) != n {
		t.Errorf("a second copy changed something: %v", err)
	}
}

func TestPostgresImageName(t *testing.T) {
	for in, want := range map[string]string{
		"postgres:15@sha256:0123abcd":          "postgres:15",
		"docker.io/library/postgres:9.5":       "postgres:9.5",
		"postgres:16-alpine":                   "postgres:16-alpine",
		"library/postgres:15@sha256:ffff":      "postgres:15",
		"127.0.0.1:5000/postgres:15@sha256:ab": "127.0.0.1:5000/postgres:15",
	} {
		if got := postgresImageName(in); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}

// The cluster file moving database is a data change; one adding a grader
// or keeping everything is not; nodes not yet in the swarm hold nothing.
func TestLabelsDataChanges(t *testing.T) {
	env := swarmTestEnv(t, "")
	node := func(ls ...string) swarm.Node {
		m := map[string]string{}
		for _, l := range ls {
			m[l] = "true"
		}
		return swarm.Node{Spec: swarm.NodeSpec{Annotations: swarm.Annotations{Labels: m}}}
	}
	live := &swarmView{isManager: true, byHost: map[string]swarm.Node{
		"node1": node("registry", "webserver", "database", "small_tasks"),
		"node2": node("django_app", "cache", "rabbitmq_broker", "custom_image_registry", "grader"),
		"node3": node("fast_grader", "deferred_grader", "rerun_grader", "image_builder"),
	}}
	if ch := labelsDataChanges(env, live); len(ch) != 0 {
		t.Errorf("same labels: %+v", ch)
	}
	env.Cluster.Hosts[0].Labels = []string{"registry", "webserver", "small_tasks"}
	env.Cluster.Hosts[1].Labels = append(env.Cluster.Hosts[1].Labels, "database")
	ch := labelsDataChanges(env, live)
	if len(ch) != 1 || ch[0].Label != "database" || !strings.Contains(ch[0].What, "database moves from node1 to node2 (volume ag-stack_pgdata stays on node1)") ||
		!strings.Contains(ch[0].SafeWay, "aginstall move-database node2") || !strings.Contains(ch[0].SafeWay, "pg_dumpall") {
		t.Fatalf("database move: %+v", ch)
	}
	msg := (&ConsentError{Changes: ch}).Error()
	for _, want := range []string{"nothing was changed", "database moves from node1 to node2", "the safe way: ", "--allow-data-move", "aginstall relabel"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the refusal lacks %q:\n%s", want, msg)
		}
	}
	// One set of rules: the labels apply asks consent for are the labels
	// the wizard asks to type.
	before := map[string][]string{}
	for h, n := range live.byHost {
		before[h] = labelsKnownOn(n.Spec.Labels)
	}
	if typed := PlanRelabel(before, labelsWanted(env.Cluster)).NeedsTypedConfirm(); !slices.Equal(typed, []string{ch[0].Label}) {
		t.Errorf("wizard types %v, apply asks consent for %s", typed, ch[0].Label)
	}
	delete(live.byHost, "node2") // not joined yet: nothing is placed there
	if ch := labelsDataChanges(env, live); len(ch) != 0 {
		t.Errorf("a node not in the swarm yet: %+v", ch)
	}
	if ch := labelsDataChanges(env, &swarmView{}); len(ch) != 0 {
		t.Errorf("no swarm: %+v", ch)
	}
}

// consentRefusal: refused without consent, noted with it, and only noted in
// a plan.
func TestConsentRefusal(t *testing.T) {
	env := swarmTestEnv(t, "")
	ch := []DataChange{{Step: "settings", What: "the postgres image changes from postgres:15 to postgres:16", SafeWay: "dump and restore"}}
	if err := consentRefusal(env, "settings", "node1", nil); err != nil {
		t.Errorf("nothing to consent to: %v", err)
	}
	env.Runner.DryRun = true
	if err := consentRefusal(env, "settings", "node1", ch); err != nil {
		t.Errorf("a plan notes it: %v", err)
	}
	env.Runner.DryRun = false
	if err := consentRefusal(env, "settings", "node1", ch); err == nil {
		t.Error("refused without consent")
	}
	env.AllowDataMove = true
	if err := consentRefusal(env, "settings", "node1", ch); err != nil {
		t.Errorf("consented: %v", err)
	}
}
