//go:build lab

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"aginstall/internal/labtest"
	"aginstall/steps"
)

// TestWizardTmux drives the real wizard in a real terminal (tmux) with key
// presses only, as a sysadmin on the guide's road: a sudo user (agadmin)
// whose password is typed at the wizard's prompt, the key in an ssh-agent,
// a cluster file of their own with comments. On the way it meets the lab
// kernel's real preflight errors (no IPVS for the ingress mesh, no NFS) and
// fixes them from the wizard; the operator edits the cluster file in
// another terminal mid-wizard; the operator quits at the admin form and
// resumes, is asked for the administrator and course, and the install ends
// on a Done screen that matches the hosts, which are then asked themselves
// (not our state) what was installed.
//
// TMUX_CAPTURES=1 also writes screens of the run to testdata/screens/tmux-*.txt.
func TestWizardTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is needed for this test: apt-get install tmux")
	}
	start := time.Now()
	lab := labtest.Load(t)
	lab.Reset(t) // bare hosts, whatever the tests before left: the wizard installs from nothing
	dir := t.TempDir()
	bin := testBinary(t)
	agent := tmuxAgent(t, dir, lab.Key)
	clusterPath := filepath.Join(dir, "aginstall.yaml")
	text := tmuxClusterFile(lab)
	if err := os.WriteFile(clusterPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	asked, err := steps.ParseCluster(clusterPath, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	all := steps.All()
	web := ""
	for _, h := range asked.Hosts {
		if slices.Contains(h.Labels, "webserver") {
			web = h.Name
		}
	}
	args := []string{bin, "-f", clusterPath, "--known-hosts", filepath.Join(dir, "known_hosts"), "--ssh-config", "none"}
	w := tmuxStart(t, dir, "first", 25*time.Minute, []string{"SSH_AUTH_SOCK=" + agent}, args...)

	// Welcome: a new install of the operator's cluster file.
	s := w.waitText("the welcome screen", 30*time.Second, "Install autograder.io on a Docker Swarm", "1 New install", "Cluster file: "+clusterPath)
	for _, st := range all {
		tmuxWantSidebar(t, s, "○", st)
	}
	w.save("welcome", s)
	w.keys("1")

	// Hosts: t logs in to each for real, with the agent's key; node3's key
	// is not pinned: that is no failure, the next screen confirms it.
	s = w.waitText("the hosts screen", 30*time.Second, "aginstall · Hosts", "The servers of the swarm")
	w.keys("t")
	s = w.wait("every host tried", time.Minute, func(s string) bool {
		return strings.Count(s, "✓ connected") == len(asked.Hosts)-1 && strings.Contains(s, "node3: new host key: you confirm it on the next screen")
	}, "fix: check the address")
	w.save("hosts", s)
	w.keys("Enter")

	// Host keys: node1 and node2 pinned in the file; node3's is new.
	s = w.wait("the host keys scanned", time.Minute, func(s string) bool {
		return strings.Contains(s, "aginstall · Host keys") && strings.Contains(s, "1 new key(s)")
	}, "STOP: a host key changed")
	for _, h := range lab.Hosts {
		if !strings.Contains(s, h.HostKeyFingerprint) {
			t.Fatalf("the host keys screen lacks %s's fingerprint %s:\n%s", h.Name, h.HostKeyFingerprint, s)
		}
	}
	w.keys("Enter")

	// Discovery: the lab's kernel has neither IPVS nor NFS, and the file
	// asks for the ingress mesh and an NFS export: two real preflight
	// errors, each fixed here with one key.
	s = w.wait("discovery's errors", 3*time.Minute, func(s string) bool {
		return strings.Contains(s, "h: switch to host publishing") && strings.Contains(s, "n: do without NFS")
	}, "Discovery failed:")
	for _, h := range asked.Hosts {
		if !regexp.MustCompile(`(?m)│` + h.Name + ` .*password`).MatchString(s) {
			t.Fatalf("discovery has no row for %s as a password-sudo user:\n%s", h.Name, s)
		}
	}
	w.save("discovery-errors", s)
	w.keys("Enter")
	w.waitText("enter refused while errors stand", 10*time.Second, "Fix the errors first")
	w.keys("h")
	w.wait("the IPVS fix", 3*time.Minute, func(s string) bool {
		return strings.Contains(s, "Set in the cluster file: swarm.publish_mode: host") && !strings.Contains(s, "h: switch") && strings.Contains(s, "Host    OS")
	})
	w.keys("n")
	s = w.wait("the NFS fix", 3*time.Minute, func(s string) bool {
		return strings.Contains(s, "nfs.mode: skip") && !strings.Contains(s, "n: do without NFS") && strings.Contains(s, "Host    OS") && !strings.Contains(s, "✗ ")
	})
	w.save("discovery-fixed", s)
	tmuxWantSidebar(t, s, "✓", all[0])
	w.keys("a", "Enter")
	w.waitText("the sudo password screen", time.Minute, "aginstall · sudo password")
	w.typeText(lab.SudoPassword)
	w.keys("Enter")

	// Another terminal, mid-wizard: the operator adds a comment and changes
	// a value while the Docker form is open. The form's save takes it in.
	w.waitText("the Docker form", time.Minute, "How does Docker get onto each host?")
	edited := strings.Replace(tmuxRead(t, clusterPath), "  gunicorn_workers: 3\n", "  # two workers: the lab's hosts are small (edited outside the wizard)\n  gunicorn_workers: 2\n", 1)
	if !strings.Contains(edited, "gunicorn_workers: 2") {
		t.Fatalf("test bug: no gunicorn_workers: 3 in the file:\n%s", tmuxRead(t, clusterPath))
	}
	if err := os.WriteFile(clusterPath, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	w.keys("Enter")
	w.waitText("the outside edit taken", time.Minute, "Took your edit of the cluster file: tuning.gunicorn_workers")
	tmuxSteps(t, w, all[2:], web)

	// The admin form asks (not given in the file): quit here.
	w.waitText("the admin form", time.Minute, "Administrator e-mail")
	w.keys("Escape")
	w.waitText("the admin screen", 10*time.Second, "Not asked yet")
	w.keys("q")
	w.waitText("the wizard to exit", 30*time.Second, "aginstall exited with 0")
	mid := tmuxRead(t, clusterPath)
	for _, want := range []string{"# two workers: the lab's hosts are small (edited outside the wizard)\n  gunicorn_workers: 2\n",
		"publish_mode: host", "  mode: skip", "# The operator's own notes stay."} {
		if !strings.Contains(mid, want) {
			t.Errorf("after the first session the cluster file lacks %q:\n%s", want, mid)
		}
	}

	// Resume: discovery done, the rest to do; every form is walked again,
	// and the admin form asks.
	w = tmuxStart(t, dir, "second", 20*time.Minute, []string{"SSH_AUTH_SOCK=" + agent}, args...)
	w.waitText("the welcome screen offering resume", 30*time.Second, "› 2 Resume")
	w.keys("2")
	s = w.waitText("the resume review", 3*time.Minute, "aginstall · Resume", "steps done.")
	w.save("resume", s)
	w.keys("Enter")
	w.waitText("the sudo password screen", time.Minute, "aginstall · sudo password")
	w.typeText(lab.SudoPassword)
	w.keys("Enter")
	// The checks that need sudo run again with the password.
	s = w.waitText("the resume review with sudo", 3*time.Minute, "aginstall · Resume", "Enter continues at the first step")
	w.keys("Enter")
	var walk []steps.Step // resume passes over what its checks found done
	for _, st := range all[1:] {
		if !tmuxSidebarHas(s, "✓", st) {
			walk = append(walk, st)
		}
	}
	tmuxSteps(t, w, walk, web)
	admin, course := "prof@lab.test", "Wizard Course 280"
	w.waitText("the admin form", time.Minute, "Administrator e-mail")
	w.typeText(admin)
	w.keys("Enter")
	w.typeText(course)
	w.keys("Enter")

	// Plan: a dry run of every step, then confirm.
	s = w.wait("the plan", 5*time.Minute, func(s string) bool {
		return strings.Contains(s, "aginstall · Plan") && strings.Contains(s, "change(s) on")
	}, "✗")
	plan := w.planAll()
	for _, h := range asked.Hosts {
		if !strings.Contains(plan, "── "+h.Name+" ──") {
			t.Errorf("the plan has no changes for %s:\n%s", h.Name, s)
		}
	}
	w.keys("Enter")
	w.waitText("the plan's confirmation", 10*time.Second, "Run these")
	w.keys("y")

	// Run: every step in turn with a pane per host, until Done. A failure
	// (r retry / s skip / a abort) ends the test with the screen.
	seen, aptShown := map[string]bool{}, false
	panes := regexp.MustCompile(`(?m)^[^│]*│.{0,3}(node\d) · `)
	s = w.wait("the install to finish", 15*time.Minute, func(s string) bool {
		if m := regexp.MustCompile(`Step \d+ of \d+: (.*)`).FindStringSubmatch(s); m != nil {
			if !seen[strings.TrimSpace(m[1])] {
				t.Logf("%s: %s", time.Since(start).Round(time.Second), strings.TrimSpace(m[1]))
			}
			seen[strings.TrimSpace(m[1])] = true
		}
		if len(panes.FindAllString(s, -1)) == len(asked.Hosts) && (!w.saved["run"] || !aptShown && strings.Contains(s, "apt-get")) {
			aptShown = strings.Contains(s, "apt-get")
			w.save("run", s)
		}
		return strings.Contains(s, "aginstall · Done")
	}, "r retry", "The step failed")

	// Done: what happened, and what is true to do next.
	s = w.waitText("the done screen", 30*time.Second, "autograder.io is installed.", "Site:     https://"+asked.Site.Domain+"/",
		fmt.Sprintf("Steps: %d done\n", len(all)), "Sign in as "+admin+" and open the course "+course+".")
	w.save("done", s)
	for _, st := range all {
		tmuxWantSidebar(t, s, "✓", st)
	}
	if strings.Contains(s, "skipped") || strings.Contains(s, "failed") {
		t.Errorf("the done screen reports skips or failures:\n%s", s)
	}
	// The outside edit came before the plan, and the wizard's own writes
	// during the run (pinned keys, recorded labels) are no outside edit.
	if strings.Contains(s, "changed while this ran") {
		t.Errorf("the done screen reports an outside edit during the run that nobody made:\n%s", s)
	}
	for _, id := range []string{"docker", "deploy"} {
		if st, _ := steps.ByID(id); !seen[st.Title()] {
			t.Errorf("the run screen never showed %q running (saw %v)", st.Title(), seen)
		}
	}
	if log := tmuxDoneLog(s); log == "" {
		t.Errorf("the done screen names no log:\n%s", s)
	} else if _, err := os.Stat(log); err != nil {
		t.Errorf("the done screen must show the whole log path (wrapped if long), it shows %q: %v", log, err)
	}
	w.keys("Enter")
	w.waitText("the wizard to exit", 30*time.Second, "aginstall exited with 0")
	t.Logf("welcome to done in %s", time.Since(start).Round(time.Second))

	// The file is still the operator's: their comments and the outside
	// edit, the wizard's fixes and answers, no zero values.
	final, err := steps.LoadCluster(clusterPath)
	if err != nil {
		t.Fatalf("the cluster file the wizard saved: %v", err)
	}
	got := string(final.Raw)
	for _, want := range []string{"# The operator's own notes stay.", "# two workers: the lab's hosts are small (edited outside the wizard)\n  gunicorn_workers: 2\n",
		"  publish_mode: host   # the guide's routing mesh", "  mode: skip", "  email: " + admin} {
		if !strings.Contains(got, want) {
			t.Errorf("the final cluster file lacks %q:\n%s", want, got)
		}
	}
	for _, bad := range []string{": 0\n", `: ""`, ": {}", "identity:"} {
		if strings.Contains(got, bad) {
			t.Errorf("the final cluster file has %q:\n%s", bad, got)
		}
	}
	if h, _ := final.Host("node3"); h.HostKey != lab.Host("node3").HostKeyFingerprint {
		t.Errorf("node3's accepted key is not pinned: %q", h.HostKey)
	}
	if final.Admin.Email != admin || final.Admin.Course != course {
		t.Errorf("the admin saved is %+v", final.Admin)
	}
	// The hosts themselves: nodes, labels, services, and the course with
	// its admin in Django.
	labAssertInstalled(t, lab, final)
}

// tmuxSteps walks the step screens from steps[0] up to (not into) the admin
// form, keeping the file's values; it checks the settings form shows the
// outside edit and names the webserver host for the TLS files.
func tmuxSteps(t *testing.T, w *tmuxWizard, sts []steps.Step, web string) {
	t.Helper()
	for _, st := range sts {
		if st.ID() == "admin" {
			return
		}
		head := "aginstall · " + st.Title()
		if st.ID() == "labels" { // the matrix screen has a title of its own
			head = "aginstall · Node labels"
		}
		w.wait("the screen of "+st.ID(), time.Minute, func(s string) bool { return strings.Contains(s, head) }, "refused")
		for _, want := range tmuxStepShows[st.ID()] {
			w.waitText("the form of "+st.ID(), 10*time.Second, want)
		}
		if st.ID() == "settings" {
			w.waitText("the TLS fields", 10*time.Second, "TLS certificate: a path on "+web+" (the webserver host)")
			w.keys(tmuxStepKeys["settings"][:5]...)
			w.wait("the outside edit in the form", 10*time.Second, func(s string) bool {
				return regexp.MustCompile(`Gunicorn workers\s*\n[^\n]*> 2\b`).MatchString(s) || strings.Contains(s, "Gunicorn workers") && strings.Contains(s, "> 2\n")
			})
			w.keys(tmuxStepKeys["settings"][5:]...)
			continue
		}
		w.keys(tmuxStepKeys[st.ID()]...)
	}
}

// tmuxClusterFile is the operator's file for the lab: block style with
// comments, the sudo user, no identity (the agent has the key), node3's
// key not pinned, the ingress mesh and an NFS export (the guide's road,
// which this lab's kernel cannot take), no administrator yet.
func tmuxClusterFile(lab *labtest.Lab) string {
	var b strings.Builder
	b.WriteString("# The operator's own notes stay.\nname: lab\nmanager: node1\nstack: ag-stack\nhosts:\n")
	for i, h := range lab.Hosts {
		fmt.Fprintf(&b, "  - name: %s\n    address: %s\n    user: %s\n", h.Name, h.Address, lab.SudoUser)
		if i < 2 {
			fmt.Fprintf(&b, "    host_key: \"%s\"\n", h.HostKeyFingerprint)
		}
		fmt.Fprintf(&b, "    labels: [%s]\n", strings.Join(h.Labels, ", "))
	}
	fmt.Fprintf(&b, `docker:
  install: distro   # Debian's docker.io from the lab's mirror
source:
  repo: %s
  allow_http: true   # the lab's own git server
  ref: master
  path: /root/autograder-full-stack
nfs:
  mode: export
swarm:
  advertise_address: %s
  publish_mode: ingress   # the guide's routing mesh
tuning:
  gunicorn_workers: 3
  celery_concurrency: {grader: 2, fast_grader: 2, deferred_grader: 1, rerun_grader: 1}
  client_max_body_size: 40M
  max_subprocess_timeout: 120
  sysadmin_contact: "Lab Admin <lab@example.edu>"
site:
  domain: autograder.lab.test
  tls_cert: /etc/ssl/certs/autograder.cert
  tls_key: /etc/ssl/private/autograder.key.pem
  postgres_image: "postgres:15"
`, lab.RepoURL, lab.Hosts[0].Address)
	return b.String()
}

// tmuxStepShows: text each step's screen shows before its keys are sent (its
// form's first question, so keys are not sent before the form is up).
var tmuxStepShows = map[string][]string{
	"docker":   {"How does Docker get onto each host?"},
	"limits":   {"Nothing to choose here"},
	"swarm":    {"Swarm advertise address"},
	"network":  {"Nothing to choose here"},
	"source":   {"autograder-full-stack repository"},
	"nfs":      {"Share the checkout with the other hosts over NFS"},
	"labels":   {"node1 node2 node3"},
	"settings": {"Site domain"},
	"registry": {"Nothing to choose here"},
	"deploy":   {"Nothing to choose here"},
	"migrate":  {"Nothing to choose here"},
	"admin":    {"Administrator e-mail"},
}

// tmuxStepKeys: enter through every field, keeping the cluster file's values
// (the same sequence as ui's labKeys, which checks it against the screens;
// the admin form is answered by the test).
var tmuxStepKeys = map[string][]string{
	"docker": {"Enter"}, "limits": {"Enter"}, "swarm": {"Enter", "Enter"}, "network": {"Enter"},
	"source": {"Enter", "Enter", "Enter"}, "nfs": {"Enter", "Enter"}, "labels": {"Enter"},
	"settings": {"Enter", "Enter", "Enter", "Enter", "Enter", "Enter", "Enter", "Enter", "Enter", "Enter", "Enter", "Enter", "Enter", "Enter"},
	"registry": {"Enter"}, "deploy": {"Enter"}, "migrate": {"Enter"}, "admin": {"Enter", "Enter"},
}

// tmuxSideTitle: the sidebar's short step titles (ui.sideTitle).
var tmuxSideTitle = map[string]string{
	"discover": "Discover hosts", "docker": "Docker", "limits": "Open-file limits",
	"swarm": "Swarm", "network": "Overlay network", "source": "Source checkout",
	"nfs": "NFS share", "labels": "Node labels", "settings": "Site settings",
	"registry": "Image registry", "deploy": "Deploy the stack", "migrate": "Migrations",
	"admin": "Admin and course",
}

// tmuxWantSidebar fails unless the sidebar lists st with the mark.
func tmuxWantSidebar(t *testing.T, screen, mark string, st steps.Step) {
	t.Helper()
	if !tmuxSidebarHas(screen, mark, st) {
		t.Fatalf("the sidebar does not show %q as %s:\n%s", st.ID(), mark, screen)
	}
}

// tmuxSidebarHas: the sidebar lists st with the mark.
func tmuxSidebarHas(screen, mark string, st steps.Step) bool {
	title := tmuxSideTitle[st.ID()]
	if title == "" {
		title = st.Title()
	}
	for _, l := range strings.Split(screen, "\n") {
		side, _, _ := strings.Cut(l, "│")
		if strings.HasPrefix(side, mark+" "+title) {
			return true
		}
	}
	return false
}

// tmuxDoneLog is the log path the done screen shows, its lines joined if
// it was wrapped.
func tmuxDoneLog(screen string) string {
	var log string
	in := false
	for _, l := range strings.Split(screen, "\n") {
		_, main, _ := strings.Cut(l, "│")
		main = strings.TrimSpace(main)
		switch {
		case strings.HasPrefix(main, "Log:"):
			log, in = strings.TrimSpace(strings.TrimPrefix(main, "Log:")), true
		case strings.HasPrefix(main, "Cluster:") || main == "":
			in = false
		case in:
			log += main
		}
	}
	return log
}
