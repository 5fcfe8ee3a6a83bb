//go:build lab

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"aginstall/internal/labtest"
	"aginstall/steps"
)

// TestWizardTmux drives the real wizard in a real terminal (tmux) with key
// presses only, from the welcome screen to the done screen, on the lab's bare
// hosts; it reads the screen on the way and then asks the hosts themselves
// (not our state) what was installed.
//
// TMUX_CAPTURES=1 also writes three screens of the run to testdata/screens/tmux-*.txt.
func TestWizardTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is needed for this test: apt-get install tmux")
	}
	start := time.Now()
	lab := labtest.Load(t)
	lab.Reset(t) // bare hosts, whatever the tests before left: the wizard installs from nothing
	dir := t.TempDir()
	bin := testBinary(t)
	clusterPath, data := labClusterCopyOf(t, lab.ClusterFileRoot, dir)
	asked, err := steps.ParseCluster(clusterPath, data)
	if err != nil {
		t.Fatal(err)
	}
	all := steps.All()

	w := tmuxStart(t, dir, 20*time.Minute, bin, "-f", clusterPath,
		"--known-hosts", filepath.Join(dir, "known_hosts"), "--ssh-config", "none")

	// Welcome: a new install of the copied cluster file.
	s := w.waitText("the welcome screen", 30*time.Second, "Install autograder.io on a Docker Swarm", "1 New install", "Cluster file: "+clusterPath)
	for _, st := range all {
		tmuxWantSidebar(t, s, "○", st)
	}
	w.save("welcome", s)
	w.keys("1")

	// Hosts: the lab's three hosts; t logs in to each for real.
	s = w.waitText("the hosts screen", 30*time.Second, "aginstall · Hosts", "The servers of the swarm")
	for _, h := range asked.Hosts {
		if !strings.Contains(s, h.Address) {
			t.Fatalf("the hosts screen lacks %s (%s):\n%s", h.Name, h.Address, s)
		}
	}
	w.keys("t")
	s = w.wait("every host logged in", time.Minute, func(s string) bool {
		return strings.Count(s, "✓ connected") == len(asked.Hosts)
	})
	w.keys("Enter")

	// Host keys: pinned in the cluster file, so known; new ones must be the lab's.
	s = w.wait("the host keys scanned", time.Minute, func(s string) bool {
		return strings.Contains(s, "aginstall · Host keys") && strings.Contains(s, "Type / SHA256 fingerprint")
	}, "STOP: a host key changed")
	for _, h := range lab.Hosts {
		if !strings.Contains(s, h.HostKeyFingerprint) {
			t.Fatalf("the host keys screen lacks %s's fingerprint %s:\n%s", h.Name, h.HostKeyFingerprint, s)
		}
	}
	w.keys("Enter")

	// Discovery: runs by itself; the table has every host, logged in as root.
	s = w.wait("discovery's table", 3*time.Minute, func(s string) bool {
		return strings.Contains(s, "aginstall · Discovery") && strings.Contains(s, "Host    OS")
	}, "Discovery failed:")
	for _, h := range asked.Hosts {
		if !regexp.MustCompile(`(?m)│` + h.Name + ` .*root`).MatchString(s) {
			t.Fatalf("discovery has no row for %s as root:\n%s", h.Name, s)
		}
	}
	tmuxWantSidebar(t, s, "✓", all[0])
	w.keys("a", "Enter")

	// One screen per step: enter keeps the cluster file's values in each form.
	for _, st := range all[1:] {
		head := "aginstall · " + st.Title()
		if st.ID() == "labels" { // the matrix screen has a title of its own
			head = "aginstall · Node labels"
		}
		s = w.wait("the screen of "+st.ID(), time.Minute, func(s string) bool {
			return strings.Contains(s, head) || strings.Contains(s, "aginstall · sudo password")
		}, "refused")
		if strings.Contains(s, "aginstall · sudo password") { // root logins should not ask; answer if they do
			w.typeText(lab.SudoPassword)
			w.keys("Enter")
			s = w.waitText("the screen of "+st.ID(), time.Minute, head)
		}
		for _, want := range tmuxStepShows[st.ID()] {
			s = w.waitText("the form of "+st.ID(), 10*time.Second, want)
		}
		w.keys(tmuxStepKeys[st.ID()]...)
	}

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
		// Keep the first screen with a pane per host, and then one where
		// they show apt-get at work, which says more to a reader.
		if len(panes.FindAllString(s, -1)) == len(asked.Hosts) && (!w.saved["run"] || !aptShown && strings.Contains(s, "apt-get")) {
			aptShown = strings.Contains(s, "apt-get")
			w.save("run", s)
		}
		return strings.Contains(s, "aginstall · Done")
	}, "r retry", "The step failed")
	s = w.waitText("the done screen", 30*time.Second, "autograder.io is installed.", "Site:     https://"+asked.Site.Domain+"/")
	w.save("done", s)
	if !strings.Contains(s, fmt.Sprintf("Steps: %d done", len(all))) {
		t.Errorf("done screen does not count %d steps done:\n%s", len(all), s)
	}
	for _, st := range all {
		tmuxWantSidebar(t, s, "✓", st)
	}
	// Quick steps (a second or less) may run between two captures; the two
	// long ones cannot.
	for _, id := range []string{"docker", "deploy"} {
		if st, _ := steps.ByID(id); !seen[st.Title()] {
			t.Errorf("the run screen never showed %q running (saw %v)", st.Title(), seen)
		}
	}
	if !w.saved["run"] {
		t.Error("the run screen never showed a pane for every host")
	}
	if log := tmuxDoneLog(s); log == "" {
		t.Errorf("the done screen names no log:\n%s", s)
	} else if _, err := os.Stat(log); err != nil {
		t.Errorf("the done screen must show the whole log path (wrapped if long), it shows %q: %v", log, err)
	}
	w.keys("Enter")
	w.waitText("the wizard to exit", 30*time.Second, "aginstall exited with 0")
	t.Logf("welcome to done in %s", time.Since(start).Round(time.Second))

	// The hosts themselves.
	labAssertInstalled(t, lab, asked)
	final, err := steps.LoadCluster(clusterPath)
	if err != nil {
		t.Fatalf("the cluster file the wizard saved: %v", err)
	}
	for i, h := range final.Hosts {
		if strings.Join(h.Labels, ",") != strings.Join(asked.Hosts[i].Labels, ",") {
			t.Errorf("the wizard saved %s's labels as %v, the file had %v", h.Name, h.Labels, asked.Hosts[i].Labels)
		}
	}
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
// (the same sequence as ui's labKeys, which checks it against the screens).
var tmuxStepKeys = map[string][]string{
	"docker": {"Enter"}, "limits": {"Enter"}, "swarm": {"Enter", "Enter"}, "network": {"Enter"},
	"source": {"Enter", "Enter", "Enter"}, "nfs": {"Enter", "Enter"}, "labels": {"Enter"},
	"settings": {"Enter", "Enter", "Enter", "Enter", "Enter", "Enter", "Enter", "Enter", "Enter"},
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
	title := tmuxSideTitle[st.ID()]
	if title == "" {
		title = st.Title()
	}
	for _, l := range strings.Split(screen, "\n") {
		side, _, _ := strings.Cut(l, "│")
		if strings.HasPrefix(side, mark+" "+title) {
			return
		}
	}
	t.Fatalf("the sidebar does not show %q as %s:\n%s", title, mark, screen)
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

// tmuxWizard is the wizard running in a detached tmux session of its own
// server (a socket in the test's directory), 100x30.
type tmuxWizard struct {
	t        *testing.T
	sock     string
	name     string
	deadline time.Time
	saved    map[string]bool
}

func tmuxStart(t *testing.T, dir string, bound time.Duration, argv ...string) *tmuxWizard {
	t.Helper()
	w := &tmuxWizard{t: t, sock: filepath.Join(dir, "tmux.sock"), name: "wizard",
		deadline: time.Now().Add(bound), saved: map[string]bool{}}
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	// The shell stays after the wizard so its exit status can be read from the screen.
	cmd := "env TERM=xterm-256color NO_COLOR=1 LANG=C.UTF-8 " + strings.Join(quoted, " ") +
		`; echo "aginstall exited with $?"; sleep 3600`
	w.tmux("new-session", "-d", "-s", w.name, "-x", "100", "-y", "30", cmd)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last screen:\n%s", w.capture())
		}
		_ = exec.Command("tmux", "-S", w.sock, "kill-server").Run()
	})
	return w
}

func (w *tmuxWizard) tmux(args ...string) string {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "tmux", append([]string{"-u", "-S", w.sock}, args...)...).CombinedOutput()
	if err != nil {
		w.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// capture is the screen as text, trailing blanks trimmed.
func (w *tmuxWizard) capture() string {
	out, err := exec.Command("tmux", "-u", "-S", w.sock, "capture-pane", "-p", "-t", w.name).Output()
	if err != nil {
		return fmt.Sprintf("(capture-pane: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n") + "\n"
}

// wait polls the screen every 200 ms until ok says yes; a screen with one of
// the bad texts, the timeout or the test's bound fails with the last screen.
func (w *tmuxWizard) wait(what string, timeout time.Duration, ok func(string) bool, bad ...string) string {
	w.t.Helper()
	end := time.Now().Add(timeout)
	if end.After(w.deadline) {
		end = w.deadline
	}
	for {
		s := w.capture()
		if ok(s) {
			return s
		}
		for _, b := range bad {
			if strings.Contains(s, b) {
				w.t.Fatalf("waiting for %s, the screen shows %q:\n%s", what, b, s)
			}
		}
		if time.Now().After(end) {
			w.t.Fatalf("no %s after %s; the last screen:\n%s", what, timeout, s)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (w *tmuxWizard) waitText(what string, timeout time.Duration, texts ...string) string {
	w.t.Helper()
	return w.wait(what, timeout, func(s string) bool {
		for _, x := range texts {
			if !strings.Contains(s, x) {
				return false
			}
		}
		return true
	})
}

// keys presses keys (tmux names: Enter, Escape, Tab, or a letter) one at a
// time, with a pause so each is handled before the next (huh moves between
// fields through commands).
func (w *tmuxWizard) keys(keys ...string) {
	w.t.Helper()
	for _, k := range keys {
		w.tmux("send-keys", "-t", w.name, k)
		time.Sleep(300 * time.Millisecond)
	}
}

// typeText types s literally.
func (w *tmuxWizard) typeText(s string) {
	w.t.Helper()
	w.tmux("send-keys", "-t", w.name, "-l", s)
	time.Sleep(300 * time.Millisecond)
}

// planAll is the whole plan, paged through to its end (the first page may
// show only the first host).
func (w *tmuxWizard) planAll() string {
	w.t.Helper()
	var b strings.Builder
	prev := ""
	for i := 0; i < 60; i++ {
		s := w.capture()
		if s == prev {
			break
		}
		b.WriteString(s)
		prev = s
		w.keys("PageDown")
	}
	return b.String()
}

// save keeps a screen for review by eye when TMUX_CAPTURES is set.
func (w *tmuxWizard) save(name, screen string) {
	w.saved[name] = true
	if os.Getenv("TMUX_CAPTURES") == "" {
		return
	}
	path := filepath.Join("testdata", "screens", "tmux-"+name+"-100x30.txt")
	if err := os.WriteFile(path, []byte(screen), 0o644); err != nil {
		w.t.Error(err)
	}
}

// labAssertInstalled asks the hosts, not our state: every node Ready with
// the labels the cluster file asked for, every service converged, the course
// and its admin in Django. The e2e test and the wizard test both end with it.
func labAssertInstalled(t *testing.T, lab *labtest.Lab, c *steps.Cluster) {
	t.Helper()
	manager := c.Manager
	nodes, err := lab.Exec(t, manager, "docker", "node", "ls", "--format", "{{.Hostname}} {{.Status}}")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(nodes, " Ready"); got != len(c.Hosts) {
		t.Errorf("%d Ready nodes, want %d:\n%s", got, len(c.Hosts), nodes)
	}
	for _, h := range c.Hosts {
		js, err := lab.Exec(t, manager, "docker", "node", "inspect", h.Name, "--format", "{{json .Spec.Labels}}")
		if err != nil {
			t.Fatal(err)
		}
		var labels map[string]string
		if err := json.Unmarshal([]byte(strings.TrimSpace(js)), &labels); err != nil {
			t.Fatalf("%s labels %q: %v", h.Name, js, err)
		}
		var got []string
		for k, v := range labels {
			if v == "true" {
				got = append(got, k)
			}
		}
		want := append([]string(nil), h.Labels...)
		sort.Strings(got)
		sort.Strings(want)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s has labels %v, the cluster file asked for %v", h.Name, got, want)
		}
	}
	services, err := lab.Exec(t, manager, "docker", "service", "ls", "--format", "{{.Name}} {{.Replicas}}")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(services), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || !strings.HasPrefix(f[0], c.Stack+"_") {
			continue
		}
		// 0/0 is converged too: a global service with no node of its label.
		if p := strings.SplitN(f[1], "/", 2); len(p) != 2 || p[0] != p[1] {
			t.Errorf("service %s not converged: %s", f[0], f[1])
		} else if p[0] != "0" {
			n++
		}
	}
	if n == 0 {
		t.Errorf("no task of the stack %s runs:\n%s", c.Stack, services)
	}
	django := c.Stack + "_django"
	script := fmt.Sprintf("from autograder.core.models import Course; c = Course.objects.get(name=%q); print([u.username for u in c.admins.all()])", c.Admin.Course)
	var course string
	for _, h := range c.Hosts { // the django task runs where django_app is
		if !slices.Contains(h.Labels, "django_app") {
			continue
		}
		course, err = lab.Exec(t, h.Name, "sh", "-c",
			"docker exec $(docker ps -q -f label=com.docker.swarm.service.name="+django+" | head -n1) python3 manage.py shell -c '"+script+"'")
	}
	if err != nil || !strings.Contains(course, c.Admin.Email) {
		t.Errorf("course %q from Django: %q (%v)", c.Admin.Course, course, err)
	}
}
