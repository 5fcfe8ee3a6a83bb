//go:build lab

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"aginstall/internal/labtest"
	"aginstall/steps"
)

// labClusterCopy copies the lab's cluster file (the sudo road) into dir (mode
// 0600), so a test's run keeps its own state, pins and logs beside it; it
// returns the copy's path and content.
func labClusterCopy(t *testing.T, lab *labtest.Lab, dir string) (string, []byte) {
	t.Helper()
	return labClusterCopyOf(t, lab.ClusterFile, dir)
}

// labClusterCopyOf is labClusterCopy of one of the lab's cluster files
// (lab.ClusterFile: the sudo road; lab.ClusterFileRoot: the root road).
func labClusterCopyOf(t *testing.T, file, dir string) (string, []byte) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "aginstall.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, data
}

// labAgent starts an ssh-agent holding the lab key (as a sysadmin's
// session has one) and returns its socket; stopped at the test's end.
func labAgent(t *testing.T, lab *labtest.Lab) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Fatalf("ssh-agent: %v", err)
	}
	t.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ssh-agent did not make its socket within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	add := exec.Command("ssh-add", lab.Key)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add %s: %v\n%s", lab.Key, err, out)
	}
	return sock
}

// TestEndToEnd installs the stand-in autograder stack on the lab's bare hosts
// on the sysadmin's road: user agadmin with the sudo password on stdin, the
// key from an ssh-agent, Docker from the lab's Docker-layout repository
// (signed-by keyring), upstream-style generate_secrets.py (Django,
// python-gnupg, a GPG key). Then review, a second apply that must change
// nothing, and the hosts themselves — not our state — say what is there.
func TestEndToEnd(t *testing.T) {
	lab := labtest.Load(t)
	e2eRoad(t, lab, lab.ClusterFile, true)
}

// TestEndToEndRoot is the second road: root with the lab key, Debian's docker.io.
func TestEndToEndRoot(t *testing.T) {
	lab := labtest.Load(t)
	e2eRoad(t, lab, lab.ClusterFileRoot, false)
}

func e2eRoad(t *testing.T, lab *labtest.Lab, file string, sudo bool) {
	begin := time.Now()
	defer func() { t.Logf("e2e (sudo road %v) took %s", sudo, time.Since(begin).Round(time.Second)) }()
	lab.Reset(t) // bare hosts: the install starts from nothing
	dir := t.TempDir()
	bin := testBinary(t)
	cluster, data := labClusterCopyOf(t, file, dir)
	known := filepath.Join(dir, "known_hosts")
	env := os.Environ()
	if sudo {
		if strings.Contains(string(data), "identity:") || !strings.Contains(string(data), "user: "+lab.SudoUser) {
			t.Fatalf("the lab's default cluster file is not the sudo road:\n%s", data)
		}
		env = append(env, "SSH_AUTH_SOCK="+labAgent(t, lab))
	}
	run := func(args ...string) (string, error) {
		args = append(args, "-f", cluster, "--known-hosts", known, "--ssh-config", "none")
		if sudo {
			args = append(args, "--sudo-password-stdin")
		}
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		if sudo {
			cmd.Stdin = strings.NewReader(lab.SudoPassword + "\n")
		}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		err := cmd.Run()
		t.Logf("aginstall %s: %s", strings.Join(args[:2], " "), time.Since(start).Round(time.Second))
		return out.String(), err
	}

	// 0. The plan on bare hosts lists every step and changes nothing.
	out, err := run("plan")
	if err != nil {
		t.Fatalf("plan failed: %v\n%s", err, tail(out, 60))
	}
	for _, s := range steps.All() {
		if !strings.Contains(out, "- | "+s.ID()+" | "+s.Title()+": ") {
			t.Errorf("the plan does not list step %s:\n%s", s.ID(), tail(out, 30))
		}
	}
	for _, want := range []string{"node1 | docker | ", "node2 | swarm | join the swarm as a worker", "node1 | settings | edit docker-compose.yml"} {
		if !strings.Contains(out, want) {
			t.Errorf("the plan lacks %q", want)
		}
	}
	if docker, _ := lab.Exec(t, "node1", "sh", "-c", "command -v docker || true"); strings.TrimSpace(docker) != "" {
		t.Fatalf("the plan installed docker on node1: %q", docker)
	}

	// 1. From bare hosts to the deployed stack with a course and its admin.
	out, err = run("apply", "--yes")
	if err != nil {
		t.Fatalf("first apply failed: %v\n%s", err, tail(out, 80))
	}
	if strings.Contains(out, "changed while apply ran") {
		t.Errorf("apply's own writes to the cluster file were taken for an outside edit:\n%s", tail(out, 10))
	}
	logs := latestLog(t, dir)

	// 2. Review: every step done on every host.
	time.Sleep(1100 * time.Millisecond) // the journal's --since is in whole seconds: none of apply's
	since := time.Now().Unix()
	out, err = run("review", "--json")
	if err != nil {
		t.Fatalf("review: %v\n%s", err, tail(out, 40))
	}
	if sudo {
		e2eSudoChecksPerReview(t, lab, since)
	}
	var review struct {
		Steps []steps.StepReport `json:"steps"`
	}
	if err := json.Unmarshal([]byte(jsonPart(out)), &review); err != nil {
		t.Fatalf("review JSON: %v\n%s", err, out)
	}
	if len(review.Steps) != len(steps.All()) {
		t.Fatalf("review lists %d steps, the engine has %d", len(review.Steps), len(steps.All()))
	}
	for _, s := range review.Steps {
		for _, c := range s.Checks {
			if c.Status != steps.Done {
				t.Errorf("review: %s on %s is %s: %s", s.ID, c.Host, c.Status, c.Reason)
			}
		}
	}

	// 3. A second apply runs no mutating command, by the runner's own record (the log).
	out, err = run("apply", "--yes")
	if err != nil {
		t.Fatalf("second apply failed: %v\n%s", err, tail(out, 40))
	}
	second := latestLog(t, dir)
	if second == logs {
		t.Fatal("the second apply wrote no log of its own")
	}
	raw, _ := os.ReadFile(second)
	if m := regexp.MustCompile(`(?m)^.* \| change .*$`).FindAllString(string(raw), -1); len(m) > 0 {
		t.Fatalf("the second apply changed things:\n%s", strings.Join(m, "\n"))
	}

	// 4. The hosts themselves: 3 Ready nodes with the asked labels, the stack converged, the course.
	c, err := steps.ParseCluster(cluster, data)
	if err != nil {
		t.Fatal(err)
	}
	labAssertInstalled(t, lab, c)
	if sudo {
		e2eAssertSudoRoad(t, lab, c)
	}
}

// e2eAssertSudoRoad checks on the hosts what only the sudo road does: Docker's
// packages from the Docker-layout repository through a signed-by keyring,
// the user in the docker group, and a GPG key pair made by the upstream-style
// generate_secrets.py with the distribution's Django and python-gnupg.
func e2eAssertSudoRoad(t *testing.T, lab *labtest.Lab, c *steps.Cluster) {
	t.Helper()
	for _, h := range c.Hosts {
		out, err := lab.Exec(t, h.Name, "sh", "-c", "dpkg-query -W -f='${Package} ${db:Status-Abbrev}\\n' docker-ce docker-ce-cli containerd.io docker-buildx-plugin docker-compose-plugin; cat /etc/apt/sources.list.d/docker.list; test -s /etc/apt/keyrings/docker.asc && echo keyring; id -nG "+lab.SudoUser)
		if err != nil {
			t.Fatalf("%s: %v\n%s", h.Name, err, out)
		}
		for _, want := range []string{"docker-ce ii", "containerd.io ii", "docker-compose-plugin ii", "keyring",
			"deb [arch=amd64 signed-by=/etc/apt/keyrings/docker.asc] " + lab.DockerAptURL + " bookworm stable", " docker"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: no %q in\n%s", h.Name, want, out)
			}
		}
	}
	secrets := "/root/autograder-full-stack/autograder-server/autograder/settings/secrets"
	out, err := lab.Exec(t, c.Manager, "sh", "-c", "cat "+secrets+"/gpg_key_id_file; echo; pgrep -x gpg-agent || echo no-agent; dpkg-query -W -f='${Package} ${db:Status-Abbrev}\\n' python3-django python3-gnupg gnupg; "+
		// Listing the secret keys starts an agent: stop it again.
		"GNUPGHOME="+secrets+" gpg --batch --list-secret-keys --with-colons | grep -c '^sec'; gpgconf --homedir "+secrets+" --kill gpg-agent")
	if err != nil {
		t.Fatalf("%s: %v\n%s", c.Manager, err, out)
	}
	lines := strings.Split(out, "\n")
	if !regexp.MustCompile(`^[0-9A-F]{40}$`).MatchString(lines[0]) {
		t.Errorf("gpg_key_id_file is not a key fingerprint: %q", lines[0])
	}
	for _, want := range []string{"\n1", "python3-django ii", "python3-gnupg ii", "gnupg ii", "no-agent"} {
		if !strings.Contains(out, want) {
			t.Errorf("%s: no %q in\n%s", c.Manager, want, out)
		}
	}
}

// e2eSudoChecksPerReview holds the installed review to the sudo password
// checks it makes on each host, as the hosts' journals count them: each is a
// session, a PAM password hash and a log line on the host, and a review runs
// from cron (README, Performance). A new one is fine when a check needs it:
// then raise the figure here, knowingly.
func e2eSudoChecksPerReview(t *testing.T, lab *labtest.Lab, since int64) {
	t.Helper()
	// The first is the password's verification; then, on the manager, the
	// source and deploy checks, settings (its files, its secrets, TLS), NFS
	// and the registry firewall; on the others NFS and the firewall.
	want := map[string]int{"node1": 8, "node2": 3, "node3": 3}
	for host, most := range want {
		out, err := lab.Exec(t, host, "sh", "-c", fmt.Sprintf("journalctl --sync; journalctl --no-pager -o cat _COMM=sudo --since @%d", since))
		if err != nil {
			t.Fatalf("%s: %v\n%s", host, err, out)
		}
		n := 0
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "COMMAND=") && !strings.Contains(l, "a password is required") {
				n++
			}
		}
		t.Logf("%s: %d sudo password checks in the review", host, n)
		if n > most {
			t.Errorf("%s: the review ran sudo with the password %d times, at most %d expected:\n%s", host, n, most, out)
		}
	}
}

func latestLog(t *testing.T, dir string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, ".aginstall", "logs", "*.log"))
	if len(files) == 0 {
		t.Fatal("no log written")
	}
	sort.Strings(files)
	return files[len(files)-1]
}

func jsonPart(s string) string {
	if i := strings.Index(s, "{\n"); i >= 0 {
		return s[i:]
	}
	return s
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
