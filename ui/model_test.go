package ui

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"aginstall/steps"
	"aginstall/steps/rules"
)

// toLabels drives a fresh install to the labels screen.
func toLabels(t *testing.T) *flow {
	f := newFlow(t, 100, 30, Options{})
	f.key("enter", "enter", "enter", "enter", "a", "enter").typeText("pw").key("enter")
	f.key("enter", "enter", "enter", "enter", "enter", "enter", "enter", "enter", "enter", "enter")
	return f.wantScreen("Node labels")
}

func TestLabelsToggleUpdatesViolations(t *testing.T) {
	f := toLabels(t)
	ls := f.m.screen.(*labelsScreen)
	if len(ls.mx.viol) != 0 {
		t.Fatalf("the suggestion breaks rules: %v", ls.mx.viol)
	}
	f.wantText("Every rule holds")
	// Row 3 is database, suggested on node3: give it to node1 too.
	f.key("down", "down", "down").key("space")
	if !ls.mx.has(0, "database") {
		t.Fatalf("space did not put database on node1: %v", ls.mx.nodes[0].Labels)
	}
	if !slices.ContainsFunc(ls.mx.viol, func(v rules.Violation) bool { return v.Rule == rules.RuleOneNode && v.Severity == rules.Error }) {
		t.Fatalf("database on two nodes is not flagged: %v", ls.mx.viol)
	}
	f.wantText("error: ")
	// enter refuses while a rule is broken.
	saved := f.be.saved
	f.key("enter").wantScreen("Node labels").wantText("fix the errors")
	if f.be.saved != saved {
		t.Fatal("labels breaking a rule were saved")
	}
	// Toggling back clears it; S restores the suggestion.
	f.key("space")
	if len(ls.mx.viol) != 0 {
		t.Fatalf("toggling back leaves %v", ls.mx.viol)
	}
	f.key("right", "space", "S")
	if len(ls.mx.viol) != 0 {
		t.Fatalf("S did not restore the suggestion: %v", ls.mx.viol)
	}
	f.key("enter").wantScreen("Site settings")
	if got := f.be.cluster.Hosts[2].Labels; !slices.Contains(got, "database") {
		t.Fatalf("saved labels of node3 = %v, want the suggestion with database", got)
	}
}

func TestSkipRecordsReason(t *testing.T) {
	f := newFlow(t, 100, 30, Options{Mode: ModeResume})
	f.key("enter").typeText("pw").key("enter").wantScreen("Resume").key("enter").wantScreen("Overlay network")
	f.key("s").key("enter").wantScreen("Skip Overlay network").wantText("Say why")
	f.typeText("the network exists already").key("enter")
	if got := f.be.skipped["network"]; got != "the network exists already" {
		t.Fatalf("Skip recorded %q", got)
	}
	f.wantScreen("Get the source").wantText("↷ Overlay network").wantText("the network exists")
	if f.m.side["network"].status != steps.Skipped {
		t.Fatal("the sidebar does not show network skipped")
	}
}

func TestRunFailureSkipAndAbort(t *testing.T) {
	f := newFlow(t, 100, 30, Options{Mode: ModeResume})
	f.key("enter").typeText("pw").key("enter").wantScreen("Resume").key("enter")
	toPlan(t, f)
	f.be.failOnce["network"] = true
	f.key("enter", "y").wantScreen("Install").wantText("host:    node2").wantText("next:")
	f.key("s").typeText("done by hand").key("enter")
	if f.be.skipped["network"] != "done by hand" {
		t.Fatalf("skip after a failure recorded %q", f.be.skipped["network"])
	}
	if slices.Contains(f.be.applied[1:], "docker") {
		t.Fatalf("resume re-applied a step found done: %v", f.be.applied)
	}
	f.wantScreen("Done")
	if f.m.side["network"].status != steps.Skipped {
		t.Fatal("network not shown skipped on Done")
	}
}

func TestQuitAsksWhileRunning(t *testing.T) {
	f := newFlow(t, 100, 30, Options{})
	f.m.busy = "applying docker"
	f.key("ctrl+c")
	if f.quit || !f.m.confirmQuit {
		t.Fatal("ctrl+c while busy quit without asking")
	}
	f.key("n")
	if f.quit || f.m.confirmQuit {
		t.Fatal("n did not cancel the question")
	}
	f.key("q", "y")
	if !f.quit {
		t.Fatal("y did not quit")
	}
	if f.m.ctx.Err() == nil {
		t.Fatal("quitting did not cancel the running work")
	}
	// Idle: q quits at once.
	g := newFlow(t, 100, 30, Options{})
	g.key("q")
	if !g.quit {
		t.Fatal("q did not quit when idle")
	}
}

func TestRelabelTypedConfirmation(t *testing.T) {
	f := newFlow(t, 100, 30, Options{Mode: ModeRelabel})
	f.key("down", "down", "down", "space", "right", "space", "enter")
	f.key("enter")
	if f.be.relabel != nil {
		t.Fatal("applied without the typed confirmation")
	}
	f.wantText("Type database")
	f.typeText("database").key("enter").wantText("The labels are changed")
	p := f.be.relabel
	if p == nil || len(p.Moves) != 1 || p.Moves[0].Label != "database" || !slices.Contains(p.After["node2"], "database") {
		t.Fatalf("ApplyRelabel got %+v", p)
	}
}

// A webserver move: the target node's checks come before the typed
// confirmation; missing TLS files refuse it until the operator chooses to
// copy them (tab); the outcome shows the copy and the services.
func TestRelabelWebserverChecksAndTLSCopy(t *testing.T) {
	f := newFlow(t, 110, 40, Options{Mode: ModeRelabel})
	f.key("down", "right", "space", "right", "space", "enter")
	f.wantText("On the target nodes").wantText("node3 lacks /etc/ssl/certs/ag.pem").wantText("public address changes from node2")
	f.wantText("tab: copy the TLS certificate and key from node2 to node3 (mode 0600): no")
	f.typeText("relabel").key("enter")
	if f.be.relabel != nil {
		t.Fatal("applied while node3 lacks the TLS files")
	}
	f.key("tab").wantText("(mode 0600): yes").wantText("they will be copied first")
	f.key("enter").wantText("The labels are changed").wantText("TLS certificate and key copied from node2 to node3").wantText("nginx 1/1")
	if p := f.be.relabel; p == nil || !p.CopyTLS || !slices.Contains(p.After["node3"], "webserver") {
		t.Fatalf("ApplyRelabel got %+v", p)
	}
}

func TestReviewExportMarkdown(t *testing.T) {
	dir := t.TempDir()
	f := newFlow(t, 100, 30, Options{Mode: ModeReview, ClusterPath: dir + "/aginstall.yaml"})
	f.key("x").wantText("Written to")
	md := readFile(t, dir+"/aginstall-review.md")
	for _, want := range []string{"# aginstall review of lab", "| Overlay network | todo | 3 todo |", "- **node1**: todo — not done yet", "fix: aginstall apply does it"} {
		if !strings.Contains(md, want) {
			t.Errorf("the Markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestParseHostLines(t *testing.T) {
	hs, err := parseHostLines("node1 10.0.0.1\nroot@web-2.example.edu:2222\n# comment\n10.0.0.9\nnode4 10.0.0.4 admin 22")
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, h := range hs {
		parts = append(parts, fmt.Sprintf("%s=%s@%s:%d", h.Name, h.User, h.Address, h.Port))
	}
	got := strings.Join(parts, " ")
	want := "node1=@10.0.0.1:0 web-2=root@web-2.example.edu:2222 10-0-0-9=@10.0.0.9:0 node4=admin@10.0.0.4:22"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if _, err := parseHostLines("a b c notaport"); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("a bad port is not refused with its line: %v", err)
	}
}

func TestRingBounded(t *testing.T) {
	r := newRing(3)
	for i := 1; i <= 5; i++ {
		r.add(fmt.Sprint(i))
	}
	if r.len() != 3 || r.total != 5 || strings.Join(r.window(10, 0), ",") != "3,4,5" || strings.Join(r.window(2, 1), ",") != "3,4" {
		t.Fatalf("ring: len %d total %d window %v", r.len(), r.total, r.window(10, 0))
	}
}

func TestImportFromSSHConfig(t *testing.T) {
	cfg := "testdata/ssh_config"
	hs, err := sshConfigHosts(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range hs {
		got = append(got, fmt.Sprintf("%s=%s@%s:%d", h.Name, h.User, h.Address, h.Port))
	}
	if strings.Join(got, " ") != "web1=admin@10.1.0.5:2222 web2=admin@10.1.0.5:2222 bastion=@bastion:0" {
		t.Fatalf("imported %v", got)
	}
	// Through the screen: i lists them, space picks the first, enter adds it.
	for _, sz := range sizes {
		f := newFlow(t, sz[0], sz[1], Options{SSHConfig: cfg, ClusterPath: "new.yaml"})
		f.be.cluster = newCluster("new.yaml")
		f.key("enter", "i").golden("hosts-import")
	}
	f := newFlow(t, 100, 30, Options{SSHConfig: cfg, ClusterPath: "new.yaml"})
	f.be.cluster = newCluster("new.yaml")
	f.key("enter").wantScreen("Hosts").wantText("no hosts yet")
	f.key("i").wantText("Hosts from " + cfg)
	f.key("space", "enter").wantText("web1")
	if c := f.m.cluster; len(c.Hosts) != 1 || c.Hosts[0].Name != "web1" || c.Hosts[0].Port != 2222 {
		t.Fatalf("hosts after import: %+v", c.Hosts)
	}
	// Paste adds the rest; enter saves with web1 as the manager.
	f.key("p").typeText("db1 10.1.0.7 root").key("enter").wantText("db1")
	f.key("enter").wantScreen("Host keys")
	if c := f.be.cluster; c.Manager != "web1" || len(c.Hosts) != 2 || c.Source.Path != "/home/admin/autograder-full-stack" {
		t.Fatalf("saved cluster: manager %q, %d hosts, source path %q", c.Manager, len(c.Hosts), c.Source.Path)
	}
}

func TestWelcomeOffersResume(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(dir+"/.aginstall", 0o755); err != nil {
		t.Fatal(err)
	}
	f := newFlow(t, 100, 30, Options{ClusterPath: dir + "/aginstall.yaml", Recent: []string{"/srv/other/aginstall.yaml"}})
	f.wantText("› 2 Resume").wantText("/srv/other/aginstall.yaml")
	f.key("enter").wantScreen("Resume")
	// A recent file is picked with the arrows and enter.
	g := newFlow(t, 100, 30, Options{Recent: []string{"/srv/other/aginstall.yaml"}})
	g.key("up", "enter")
	if g.m.path != "/srv/other/aginstall.yaml" {
		t.Fatalf("path after picking a recent file = %q", g.m.path)
	}
}

func TestPlanHostsInClusterOrder(t *testing.T) {
	f := newFlow(t, 100, 30, Options{Mode: ModeResume})
	f.key("enter").typeText("pw").key("enter").wantScreen("Resume").key("enter")
	toPlan(t, f)
	if l := f.m.logs["node1"]; l != nil {
		t.Fatalf("a dry run's commands reached node1's pane: %q", l.lines.window(5, 0))
	}
	f.key("r").wantText("(read)") // node2's read comes first in the records
	scr := f.screen()
	if i, j := strings.Index(scr, "── node1"), strings.Index(scr, "── node2"); i < 0 || j < 0 || i > j {
		t.Fatalf("hosts not in cluster order:\n%s", scr)
	}
}

// toPlan presses enter through the step screens to the plan, giving the
// administrator when asked (the fake cluster has none).
func toPlan(t *testing.T, f *flow) {
	t.Helper()
	for i := 0; f.title() != "Plan"; i++ {
		if i > 100 {
			t.Fatalf("enter does not reach the plan:\n%s", f.screen())
		}
		if f.title() == "Admin and course" {
			f.typeText("prof@umich.edu").key("enter").typeText("EECS 280").key("enter")
			continue
		}
		f.key("enter")
	}
}
