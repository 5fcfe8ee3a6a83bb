//go:build lab

package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

// badInputLabCase is refused only once the hosts are asked: connection,
// keys, sudo, what is installed. want are stable substrings that name the
// host (and the file or key) and what is wrong.
type badInputLabCase struct {
	name  string
	text  string // the cluster file
	known string // known_hosts content ("" = empty file)
	stdin string
	args  []string // default apply --yes
	code  int
	want  []string
	setup func(t *testing.T) (undo func()) // a change on the hosts the case needs
}

// badInputLabBare runs every file-level case and the host-level ones against
// the bare lab with `apply --yes`, and checks after each that no host changed.
func badInputLabBare(t *testing.T, f *faultLab) {
	before := f.snapshot(t, "")
	check := func(t *testing.T, what string) {
		if d := faultSnapshotDiff(before, f.snapshot(t, "")); len(d) > 0 {
			t.Errorf("%s changed the hosts:\n%s", what, strings.Join(d, "\n"))
			before = f.snapshot(t, "")
		}
	}
	for _, tc := range badInputFileCases {
		t.Run(tc.name, func(t *testing.T) {
			text, ok := badInputFile(t, tc, f.base, f.dir) // writes f.dir/cluster.yaml
			file := f.cluster
			if !ok {
				file = tc.fixture
				os.Remove(f.cluster)
			}
			args := tc.args
			if args == nil {
				args = []string{"apply", "--yes"}
			}
			args = append(append([]string{}, args...), "-f", file, "--known-hosts", f.known, "--ssh-config", "none")
			_, stderr, code := badInputExec(t, f.dir, "", args...)
			f.badInputs++
			if code != tc.code {
				t.Errorf("exit %d, want %d: %s", code, tc.code, stderr)
			}
			if tc.want != "" {
				if want := badInputWant(t, tc.want, file, text); strings.TrimRight(stderr, "\n") != want {
					t.Errorf("stderr:\n%s\nwant:\n%s", stderr, want)
				}
			}
			check(t, tc.name)
		})
	}

	n1 := f.lab.Host("node1")
	var knownN1 string
	for _, l := range strings.Split(f.readLocal(t, f.lab.KnownHosts), "\n") {
		if strings.HasPrefix(l, n1.Address+" ") {
			knownN1 = strings.TrimPrefix(l, n1.Address+" ")
		}
	}
	unpinned := f.unpinned()
	allUsers := func(u string) string { return strings.ReplaceAll(f.base, "user: root", "user: "+u) }
	cases := []badInputLabCase{
		{name: "closed SSH port", text: f.edited(t, [2]string{"address: 10.213.0.12\n    port: 22\n", "address: 10.213.0.12\n    port: 2222\n"}),
			code: 1, want: []string{"node2 (10.213.0.12:2222): cannot connect to 10.213.0.12:2222: dial tcp 10.213.0.12:2222: connect: connection refused. Check that the host is up, that the address and port in the cluster file are right"}},
		{name: "bastion down", text: f.edited(t, [2]string{"  - name: node3\n", "  - name: node3\n    bastion: root@10.213.0.250\n"}),
			code: 1, want: []string{"node3 (10.213.0.13:22): through bastion: root@10.213.0.250 (10.213.0.250:22): cannot connect to 10.213.0.250:22: "}},
		{name: "bastion port closed", text: f.edited(t, [2]string{"  - name: node3\n", "  - name: node3\n    bastion: root@10.213.0.1:2\n"}),
			code: 1, want: []string{"node3 (10.213.0.13:22): through bastion: root@10.213.0.1:2 (10.213.0.1:2): cannot connect to 10.213.0.1:2: dial tcp 10.213.0.1:2: connect: connection refused"}},
		{name: "address that does not resolve", text: f.edited(t, [2]string{"address: 10.213.0.13", "address: 10.213.0.300"}),
			code: 1, want: []string{"node3 (10.213.0.300:22): cannot connect to 10.213.0.300:22: dial tcp: lookup 10.213.0.300"}},
		{name: "wrong pinned host key", text: f.edited(t, [2]string{f.lab.Host("node2").HostKeyFingerprint, n1.HostKeyFingerprint}),
			code: 1, want: []string{"node2 (10.213.0.12:22): REMOTE HOST IDENTIFICATION HAS CHANGED", n1.HostKeyFingerprint, "from cluster file host_key"}},
		{name: "changed key in known_hosts", text: unpinned, known: "10.213.0.12 " + knownN1 + "\n",
			code: 1, want: []string{"node2 (10.213.0.12:22): REMOTE HOST IDENTIFICATION HAS CHANGED", "ssh-keygen -R 10.213.0.12"}},
		{name: "unknown host keys and no terminal", text: unpinned,
			code: 2, want: []string{"bad input: 3 host keys are unknown and there is no terminal to confirm them; check the fingerprints above and run again with --accept-new-host-keys, or pin them as host_key in " + f.cluster}},
		{name: "wrong sudo password", text: allUsers(f.lab.SudoUser), stdin: "not-the-password\n", args: []string{"apply", "--yes", "--sudo-password-stdin"},
			code: 1, want: []string{
				`node1 | docker | failed: reading /etc/docker/daemon.json: node1 (10.213.0.11:22): sudo rejected the password for user "agadmin". The same password is used for every host in a run`,
				`node2 | docker | failed: reading /etc/docker/daemon.json: node2 (10.213.0.12:22): sudo rejected the password for user "agadmin".`,
				`node3 | docker | failed: reading /etc/docker/daemon.json: node3 (10.213.0.13:22): sudo rejected the password for user "agadmin".`}},
		{name: "sudo password and no terminal", text: allUsers(f.lab.SudoUser),
			code: 1, want: []string{
				`node1 | docker | failed: reading /etc/docker/daemon.json: node1 (10.213.0.11:22): sudo needs "agadmin"'s password: node1 needs a sudo password and there is no terminal: use --sudo-password-stdin`,
				`node3 | docker | failed: reading /etc/docker/daemon.json: node3 (10.213.0.13:22): sudo needs "agadmin"'s password: node3 needs a sudo password and there is no terminal: use --sudo-password-stdin`}},
		{name: "user without sudo", text: allUsers(f.lab.NosudoUser),
			code: 1, want: []string{`node2 | docker | failed: reading /etc/docker/daemon.json: node2 (10.213.0.12:22): sudo needs "agnosudo"'s password: node2 needs a sudo password`}},
		{name: "user without sudo, password given", text: allUsers(f.lab.NosudoUser), stdin: f.lab.SudoPassword + "\n", args: []string{"apply", "--yes", "--sudo-password-stdin"},
			code: 1, want: []string{`node2 | docker | failed: reading /etc/docker/daemon.json: node2 (10.213.0.12:22): sudo rejected the password for user "agnosudo".`,
				`If the password is right, "agnosudo" may not be allowed to use sudo: it is in none of the groups sudo, wheel and admin`}},
		{name: "docker.install skip without Docker", text: f.edited(t, [2]string{"install: distro", "install: skip"}),
			code: 1, want: []string{"preflight found problems to fix before installing:",
				"node1 error [docker]: docker.install is skip but no Docker engine is installed", "node3 error [docker]: docker.install is skip but no Docker engine is installed",
				"fix: install Docker 20.10 or newer yourself, or set docker.install: distro or official"}},
		{name: "unknown user", text: f.edited(t, [2]string{"user: root", "user: nosuchuser"}),
			code: 1, want: []string{`node1: node1 (10.213.0.11:22): SSH authentication failed as user "nosuchuser" (offered: key ` + f.lab.Key, "ssh-copy-id nosuchuser@10.213.0.11"}},
		{name: "missing identity file", text: f.edited(t, [2]string{"identity: " + f.lab.Key, "identity: /nonexistent/id_ed25519"}),
			code: 1, want: []string{`node1: node1 (10.213.0.11:22): SSH authentication failed as user "root" (offered: no ssh-agent (SSH_AUTH_SOCK is not set); open /nonexistent/id_ed25519: no such file or directory)`}},
		{name: "--only names no step", text: f.base, args: []string{"apply", "--yes", "--only", "dockr"},
			code: 2, want: []string{`bad input: --only "dockr" is not a step; the steps are: discover, docker, limits`}},
		{name: "apply without --yes and no terminal", text: f.base, args: []string{"apply"},
			code: 2, want: []string{"bad input: apply changes the hosts; run `aginstall plan` to see what it would do, then `aginstall apply --yes`"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			badInputLabRun(t, f, tc)
			check(t, tc.name)
		})
	}
	f.writeCluster(t, f.base)
	os.WriteFile(f.known, nil, 0o600)
}

// badInputLabInstalled breaks the installed cluster's inputs one at a time:
// label rules, a ref that is not there, the compose file, a TLS file, a host
// in another swarm. Each must be refused by its step with nothing changed.
func badInputLabInstalled(t *testing.T, f *faultLab) {
	const checkout = "/root/autograder-full-stack"
	mv := func(host, from, to string) func(t *testing.T) func() {
		return func(t *testing.T) func() {
			if out, err := f.lab.Exec(t, host, "mv", from, to); err != nil {
				t.Fatalf("%s: mv %s %s: %v %s", host, from, to, err, out)
			}
			return func() { f.lab.Exec(t, host, "mv", to, from) }
		}
	}
	cases := []badInputLabCase{
		{name: "webserver on two nodes", text: f.edited(t, [2]string{"labels: [django_app,", "labels: [webserver, django_app,"}),
			code: 1, want: []string{"node1: step labels: check the labels against the guide's rules failed",
				"- [one-webserver] webserver must be on exactly one node (it binds ports 80 and 443), but node1 and node2 have it", "then apply again (no label was changed)"}},
		{name: "no webserver", text: f.edited(t, [2]string{"labels: [registry, webserver,", "labels: [registry,"}),
			code: 1, want: []string{"node1: step labels: ", "- [one-webserver] webserver must be on exactly one node (it binds ports 80 and 443), but no node has it, so nginx and website never start"}},
		{name: "two graders on one node", text: f.edited(t, [2]string{"labels: [fast_grader, deferred_grader,", "labels: [grader, fast_grader, deferred_grader,"}),
			code: 1, want: []string{"node1: step labels: ", "- [one-grader-kind] node3 has grader and deferred_grader, but a node may have at most one of grader, tiny_grader, deferred_grader and tiny_deferred_grader"}},
		{name: "no registry", text: f.edited(t, [2]string{"labels: [registry, webserver,", "labels: [webserver,"}),
			code: 1, want: []string{"node1: step labels: ", "- [one-node] registry must be on exactly one node, but no node has it, so registry never starts"}},
		{name: "database on two nodes", text: f.edited(t, [2]string{"labels: [fast_grader,", "labels: [database, fast_grader,"}),
			code: 1, want: []string{"node1: step labels: ", "- [one-node] database must be on exactly one node, but node1 and node3 have it"}},
		{name: "ref that does not exist", text: f.edited(t, [2]string{"ref: master", "ref: no-such-ref-faultlab"}),
			code: 1, want: []string{"node1: step source: find source.ref failed", `host said: the repository http://10.213.0.1:8080/git/autograder-full-stack.git has no branch, tag or commit named "no-such-ref-faultlab"`}},
		{name: "missing TLS certificate", text: f.base, setup: mv("node1", "/etc/ssl/certs/autograder.cert", "/etc/ssl/certs/autograder.cert.faultlab"),
			code: 1, want: []string{"node1: step settings: check the TLS certificate and key exist failed", "host said: missing: /etc/ssl/certs/autograder.cert"}},
		{name: "missing compose file", text: f.base, setup: mv("node1", checkout+"/docker-compose.yml", checkout+"/docker-compose.yml.faultlab"),
			code: 1, want: []string{"node1: step settings: read the files to edit failed", "host said: not found in /root/autograder-full-stack: docker-compose.yml"}},
		{name: "reshaped compose file", text: f.base, setup: func(t *testing.T) func() {
			undo := mv("node1", checkout+"/docker-compose.yml", checkout+"/docker-compose.yml.faultlab")(t)
			if out, err := f.lab.Exec(t, "node1", "sh", "-c", "printf 'services:\\n  - django\\n  - nginx\\n' > "+checkout+"/docker-compose.yml"); err != nil {
				t.Fatalf("%v %s", err, out)
			}
			return undo
		}, code: 1, want: []string{"node1: step settings: compute the edits failed", `host said: docker-compose.yml: no "services:" mapping`, "nothing was written"}},
		// Last: it takes node3 out of the lab's swarm for good.
		{name: "host in another swarm", text: f.base, setup: func(t *testing.T) func() {
			if out, err := f.lab.Exec(t, "node3", "sh", "-c", "docker swarm leave --force && docker swarm init --advertise-addr 10.213.0.13 >/dev/null"); err != nil {
				t.Fatalf("node3 into its own swarm: %v %s", err, out)
			}
			// Until the manager misses node3's heartbeats it still lists it Ready
			// (and the swarm step calls it done): wait for the steady state.
			for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Second) {
				if out, _ := f.lab.Exec(t, "node1", "docker", "node", "ls", "--format", "{{.Hostname}} {{.Status}}"); strings.Contains(out, "node3 Down") {
					break
				}
			}
			return nil
		}, code: 1, want: []string{"node3: step swarm: join the swarm failed", "host said: node3 is in another swarm ("}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var undo func()
			if tc.setup != nil {
				undo = tc.setup(t)
			}
			before := f.snapshot(t, "etc")
			badInputLabRun(t, f, tc)
			if d := faultSnapshotDiff(before, f.snapshot(t, "etc")); len(d) > 0 {
				t.Errorf("%s changed the hosts:\n%s", tc.name, strings.Join(d, "\n"))
			}
			if undo != nil {
				undo()
			}
		})
	}
	f.writeCluster(t, f.base)
}

func badInputLabRun(t *testing.T, f *faultLab, tc badInputLabCase) {
	t.Helper()
	f.writeCluster(t, tc.text)
	if err := os.WriteFile(f.known, []byte(tc.known), 0o600); err != nil {
		t.Fatal(err)
	}
	args := tc.args
	if args == nil {
		args = []string{"apply", "--yes"}
	}
	out, code := f.run(t, 5*time.Minute, tc.stdin, args...)
	f.badInputs++
	if code != tc.code {
		t.Errorf("exit %d, want %d", code, tc.code)
	}
	for _, w := range tc.want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q", w)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", faultTail(out, 40))
	} else {
		t.Logf("said: %s", faultTail(out, 8))
	}
	if now, _ := os.ReadFile(f.cluster); string(now) != tc.text {
		t.Errorf("the cluster file was changed by a refused run")
	}
}

func (f *faultLab) readLocal(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// unpinned is the lab's cluster file without host_key lines.
func (f *faultLab) unpinned() string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(f.base, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "host_key:") {
			b.WriteString(l)
		}
	}
	return b.String()
}
