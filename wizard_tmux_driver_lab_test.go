//go:build lab

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"aginstall/internal/labtest"
	"aginstall/steps"
)

// tmuxAgent starts an ssh-agent holding the lab's key; it returns its socket.
func tmuxAgent(t *testing.T, dir, key string) string {
	t.Helper()
	sock := filepath.Join(dir, "agent.sock")
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = agent.Process.Kill(); _ = agent.Wait() })
	for i := 0; i < 50; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	add := exec.Command("ssh-add", key)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add %s: %v\n%s", key, err, out)
	}
	return sock
}

func tmuxRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
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

func tmuxStart(t *testing.T, dir, name string, bound time.Duration, env []string, argv ...string) *tmuxWizard {
	t.Helper()
	w := &tmuxWizard{t: t, sock: filepath.Join(dir, "tmux-"+name+".sock"), name: "wizard",
		deadline: time.Now().Add(bound), saved: map[string]bool{}}
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	// The shell stays after the wizard so its exit status can be read from the screen.
	for _, e := range env {
		quoted = append([]string{"'" + strings.ReplaceAll(e, "'", `'\''`) + "'"}, quoted...)
	}
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
