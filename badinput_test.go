package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// badInputCase is one cluster file (base.yaml with edits, or a whole fixture)
// or command line that must be refused before anything is touched.
type badInputCase struct {
	name    string
	fixture string      // testdata/badinput/<fixture>; "" means base.yaml with edits
	edits   [][2]string // old → new, each must be found once in the base
	args    []string    // default: plan
	code    int
	// want is the exact stderr, {file} being the cluster file as given to -f
	// and {line:TEXT} the number of the first line holding TEXT.
	want string
}

// badInputFileCases are refused by reading the file (or the flags) alone.
var badInputFileCases = []badInputCase{
	{name: "missing file", fixture: "does-not-exist.yaml", code: 2,
		want: "{file}: cannot read the cluster file: no such file or directory (create one with `aginstall` or copy the example in README.md)"},
	{name: "empty file", fixture: "empty.yaml", code: 2, want: "{file}: the file is empty; see the cluster file reference in README.md"},
	{name: "tab indentation", fixture: "tabs.yaml", code: 2, want: "{file}:{line:\t- name}: found character '\t' that cannot start any token"},
	{name: "unclosed flow list", fixture: "unclosed.yaml", code: 2, want: "{file}:{line:- name: node2}: ',' or ']' must be specified"},
	{name: "a list, not a mapping", fixture: "list.yaml", code: 2, want: "{file}:1: expected a mapping, found a list"},
	{name: "misspelt top-level key", edits: [][2]string{{"manager: node1", "manger: node1"}}, code: 2,
		want: `{file}:{line:manger}: manger: unknown key "manger" (did you mean "manager"?); allowed here: admin, docker, hosts, manager, name, nfs, site, source, stack, swarm, tuning`},
	{name: "misspelt host key", edits: [][2]string{{"    address: {addr2}", "    adress: {addr2}"}}, code: 2,
		want: `{file}:{line:adress}: hosts[1].adress: unknown key "adress" (did you mean "address"?); allowed here: address, bastion, host_key, identity, labels, name, port, user`},
	{name: "misspelt nested key", edits: [][2]string{{"docker: {install: distro}", "docker: {instal: distro}"}}, code: 2,
		want: `{file}:{line:{instal:}: docker.instal: unknown key "instal" (did you mean "install"?); allowed here: apt_key, apt_url, install`},
	{name: "port not a number", edits: [][2]string{{"port: 22", "port: twenty-two"}}, code: 2,
		want: `{file}:{line:twenty-two}: cannot unmarshal string into Go struct field Cluster.Hosts of type int`},
	{name: "port out of range", edits: [][2]string{{"port: 22", "port: 70000"}}, code: 2,
		want: `{file}:{line:70000}: hosts[0].port: port 70000 is out of range: use 1-65535 (or leave it out for 22 or ssh_config's Port)`},
	{name: "negative port", edits: [][2]string{{"port: 22", "port: -1"}}, code: 2,
		want: `{file}:{line:port: -1}: hosts[0].port: port -1 is out of range: use 1-65535 (or leave it out for 22 or ssh_config's Port)`},
	{name: "bad address", edits: [][2]string{{"address: {addr3}", "address: \"{addr3};reboot\""}}, code: 2,
		want: `{file}:{line:reboot}: hosts[2].address: "{addr3};reboot" is neither an IP address nor a host name`},
	{name: "duplicate host names", edits: [][2]string{{"- name: node3", "- name: node2 # was node3"}}, code: 2,
		want: `{file}:{line:was node3}: hosts[2].name: duplicate host name "node2" (also hosts[1]); every host needs its own name`},
	{name: "unknown manager", edits: [][2]string{{"manager: node1", "manager: node9"}}, code: 2,
		want: `{file}:{line:node9}: manager: "node9" is not one of the hosts (node1, node2, node3)`},
	{name: "no hosts", edits: [][2]string{{"hosts:\n", "hosts: []\nold_hosts:\n"}}, code: 2,
		want: `{file}:{line:old_hosts}: old_hosts: unknown key "old_hosts"; allowed here: admin, docker, hosts, manager, name, nfs, site, source, stack, swarm, tuning`},
	{name: "bad cluster name", edits: [][2]string{{"name: lab", "name: Fall 2027"}}, code: 2,
		want: `{file}:{line:Fall}: name: "Fall 2027" is not a valid cluster name: use lowercase letters, digits and '-', like fall-2027`},
	{name: "malformed pinned host key", edits: [][2]string{{`host_key: "SHA256:`, `host_key: "SHA256:short`}}, code: 2},
	{name: "bad user", edits: [][2]string{{"user: root", "user: Root User"}}, code: 2,
		want: `{file}:{line:Root User}: hosts[0].user: "Root User" is not a valid Linux user name`},
	{name: "bastion port out of range", edits: [][2]string{{"    user: root", "    bastion: jump@10.213.0.1:99999\n    user: root"}}, code: 2,
		want: `{file}:{line:bastion}: hosts[0].bastion: bastion "jump@10.213.0.1:99999": port "99999" is not 1-65535`},
	{name: "docker.install unknown", edits: [][2]string{{"install: distro", "install: snap"}}, code: 2,
		want: `{file}:{line:snap}: docker.install: "snap" is not allowed: use official, distro or skip`},
	{name: "nfs.mode unknown", edits: [][2]string{{"mode: skip", "mode: maybe"}}, code: 2,
		want: `{file}:{line:maybe}: nfs.mode: "maybe" is not allowed: use export or skip (shared storage handled elsewhere)`},
	{name: "repo not a git URL", edits: [][2]string{{"repo: http://", "repo: ftp://"}}, code: 2,
		want: `{file}:{line:ftp}: source.repo: "ftp://10.213.0.1:8080/git/autograder-full-stack.git" is not a git URL (https://host/path, ssh://user@host/path or git@host:path)`},
	{name: "ref is an option", edits: [][2]string{{"ref: master", `ref: "--upload-pack=touch /tmp/x"`}}, code: 2,
		want: `{file}:{line:upload-pack}: source.ref: "--upload-pack=touch /tmp/x" is not a valid branch, tag or commit`},
	{name: "relative source path", edits: [][2]string{{"path: /root/autograder-full-stack", "path: autograder-full-stack"}}, code: 2,
		want: `{file}:{line:source:}: source.path: "autograder-full-stack" must be an absolute, clean path on the manager without quotes or control characters, like /home/ubuntu/autograder-full-stack`},
	{name: "publish mode unknown", edits: [][2]string{{"publish_mode: host", "publish_mode: mesh"}}, code: 2,
		want: `{file}:{line:mesh}: swarm.publish_mode: "mesh" is not allowed: use ingress (routing mesh, needs IPVS) or host`},
	{name: "advertise address not an IP", edits: [][2]string{{"advertise_address: 10.213.0.11", "advertise_address: node1"}}, code: 2,
		want: `{file}:{line:advertise_address}: swarm.advertise_address: "node1" is not an IP address`},
	{name: "gunicorn workers out of range", edits: [][2]string{{"gunicorn_workers: 3", "gunicorn_workers: 65"}}, code: 2,
		want: `{file}:{line:gunicorn}: tuning.gunicorn_workers: 65 is out of range: use 1-64`},
	{name: "celery concurrency out of range", edits: [][2]string{{"grader: 2,", "grader: 33,"}}, code: 2,
		want: `{file}:{line:celery}: tuning.celery_concurrency.grader: 33 is out of range: use 1-32`},
	{name: "unknown grader", edits: [][2]string{{"fast_grader: 2", "fastgrader: 2"}}, code: 2,
		want: `{file}:{line:celery}: tuning.celery_concurrency.fastgrader: unknown grader "fastgrader": use grader, fast_grader, deferred_grader, rerun_grader or their tiny_ twins`},
	{name: "body size with a space", edits: [][2]string{{"client_max_body_size: 40M", `client_max_body_size: "40 MB"`}}, code: 2,
		want: `{file}:{line:client_max}: tuning.client_max_body_size: "40 MB" is not an nginx size: use a number with an optional k, m or g, like 30M or 1G`},
	{name: "subprocess timeout out of range", edits: [][2]string{{"max_subprocess_timeout: 120", "max_subprocess_timeout: 4000"}}, code: 2,
		want: `{file}:{line:max_subprocess}: tuning.max_subprocess_timeout: 4000 is out of range: use 1-3600 seconds`},
	{name: "domain without a dot", edits: [][2]string{{"domain: autograder.lab.test", "domain: localhost"}}, code: 2,
		want: `{file}:{line:localhost}: site.domain: "localhost" is not a valid domain name like autograder.example.edu`},
	{name: "relative TLS path", edits: [][2]string{{"tls_cert: /etc/ssl/certs/autograder.cert", "tls_cert: autograder.cert"}}, code: 2,
		want: `{file}:{line:tls_cert}: site.tls_cert: "autograder.cert" must be an absolute path without spaces or quotes`},
	{name: "admin email", edits: [][2]string{{"email: admin@lab.test", "email: admin"}}, code: 2,
		want: `{file}:{line:admin:}: admin.email: "admin" is not an email address`},
	{name: "label with a space", edits: [][2]string{{"labels: [registry,", `labels: ["web server", registry,`}}, code: 2,
		want: `{file}:{line:web server}: hosts[0].labels: "web server" is not a valid label name`},
	{name: "every problem at once", edits: [][2]string{{"port: 22", "port: 0x"}, {"gunicorn_workers: 3", "gunicorn_workers: 99"}, {"manager: node1", "manager: nodeX"}}, code: 2},
	{name: "parallel out of range", args: []string{"plan", "--parallel", "0"}, code: 2,
		want: "aginstall: --parallel 0 is out of range: use 1-64\nrun `aginstall --help` for the commands and flags"},
	{name: "two commands", args: []string{"plan", "apply"}, code: 2,
		want: "aginstall: one command at a time, got plan apply\nrun `aginstall --help` for the commands and flags"},
	{name: "unknown flag", args: []string{"apply", "--yes", "--brake-lock"}, code: 2,
		want: "aginstall: flag provided but not defined: -brake-lock\nrun `aginstall --help` for the commands and flags"},
}

// testBin is the product, built once for all the tests of this process that
// run the real binary.
var testBin = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "aginstall-test-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "aginstall")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// testBinary is testBin, or the test fails with the build error.
func testBinary(t *testing.T) string {
	t.Helper()
	bin, err := testBin()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// badInputFile writes the case's cluster file into dir as cluster.yaml and
// returns its text; false when the case names a fixture that is not there.
func badInputFile(t *testing.T, tc badInputCase, base, dir string) (string, bool) {
	t.Helper()
	text := base
	if tc.fixture != "" {
		raw, err := os.ReadFile(filepath.Join("testdata", "badinput", tc.fixture))
		if errors.Is(err, os.ErrNotExist) {
			return "", false
		}
		if err != nil {
			t.Fatal(err)
		}
		text = string(raw)
	}
	for _, e := range tc.edits {
		e = [2]string{badInputAddrs(base, e[0]), badInputAddrs(base, e[1])}
		if strings.Count(text, e[0]) < 1 {
			t.Fatalf("test bug: %q is not in the base cluster file", e[0])
		}
		text = strings.Replace(text, e[0], e[1], 1)
	}
	if err := os.WriteFile(filepath.Join(dir, "cluster.yaml"), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return text, true
}

var badInputAddrRe = regexp.MustCompile(`(?m)^    address: "?([0-9.]+)`)

// badInputAddrs fills {addrN} with the Nth host's address in the base file,
// so one table serves the loopback base and the lab's cluster file.
func badInputAddrs(base, s string) string {
	for i, m := range badInputAddrRe.FindAllStringSubmatch(base, -1) {
		s = strings.ReplaceAll(s, fmt.Sprintf("{addr%d}", i+1), m[1])
	}
	return s
}

var badInputLineRe = regexp.MustCompile(`\{line:([^}]*)\}`)

// badInputWant fills {file} and {line:TEXT} in.
func badInputWant(t *testing.T, want, file, text string) string {
	t.Helper()
	want = badInputAddrs(text, strings.ReplaceAll(want, "{file}", file))
	return badInputLineRe.ReplaceAllStringFunc(want, func(m string) string {
		needle := badInputLineRe.FindStringSubmatch(m)[1]
		for i, l := range strings.Split(text, "\n") {
			if strings.Contains(l, needle) {
				return strconv.Itoa(i + 1)
			}
		}
		t.Fatalf("test bug: no line holds %q", needle)
		return ""
	})
}

// badInputExec runs the binary in dir and returns stdout, stderr and the exit code.
func badInputExec(t *testing.T, dir string, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(testBinary(t), args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var xe *exec.ExitError
	if errors.As(err, &xe) {
		code = xe.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

// badInputCheck runs one case with extra flags and asserts the exit code,
// the exact message and that the cluster file and the folder are untouched.
func badInputCheck(t *testing.T, tc badInputCase, base string, extra ...string) {
	t.Helper()
	dir := t.TempDir()
	text, ok := badInputFile(t, tc, base, dir)
	file := "cluster.yaml"
	if !ok {
		file = tc.fixture // not there: the case is the missing file itself
	}
	args := tc.args
	if args == nil {
		args = []string{"plan"}
	}
	args = append(append(append([]string{}, args...), "-f", file), extra...)
	stdout, stderr, code := badInputExec(t, dir, "", args...)
	if code != tc.code {
		t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout, stderr)
	}
	got := strings.TrimRight(stderr, "\n")
	if tc.want != "" {
		if want := badInputWant(t, tc.want, file, text); got != want {
			t.Errorf("stderr:\n%s\nwant:\n%s", got, want)
		}
	} else if !strings.HasPrefix(got, file+":") {
		t.Errorf("stderr does not start with the file name %q:\n%s", file, got)
	}
	if strings.TrimSpace(stdout) != "" {
		t.Errorf("stdout should be empty on bad input: %s", stdout)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "cluster.yaml" {
			t.Errorf("bad input left %s behind", e.Name())
		}
	}
	if ok {
		if now, _ := os.ReadFile(filepath.Join(dir, "cluster.yaml")); string(now) != text {
			t.Errorf("the cluster file was changed")
		}
	}
}

func TestBadInputFiles(t *testing.T) {
	base, err := os.ReadFile(filepath.Join("testdata", "badinput", "base.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range badInputFileCases {
		t.Run(tc.name, func(t *testing.T) { badInputCheck(t, tc, string(base)) })
	}
}

// Several errors in one file are all listed, each with its line, so the
// operator fixes them in one go.
func TestBadInputEveryErrorListed(t *testing.T) {
	base, _ := os.ReadFile(filepath.Join("testdata", "badinput", "base.yaml"))
	dir := t.TempDir()
	tc := badInputCase{edits: [][2]string{{"port: 22", "port: 70000"}, {"gunicorn_workers: 3", "gunicorn_workers: 99"}, {"manager: node1", "manager: nodeX"}}}
	text, _ := badInputFile(t, tc, string(base), dir)
	_, stderr, code := badInputExec(t, dir, "", "apply", "--yes", "-f", "cluster.yaml")
	want := badInputWant(t, `cluster.yaml:{line:70000}: hosts[0].port: port 70000 is out of range: use 1-65535 (or leave it out for 22 or ssh_config's Port)
cluster.yaml:{line:nodeX}: manager: "nodeX" is not one of the hosts (node1, node2, node3)
cluster.yaml:{line:gunicorn}: tuning.gunicorn_workers: 99 is out of range: use 1-64`, "cluster.yaml", text)
	if code != 2 || strings.TrimRight(stderr, "\n") != want {
		t.Fatalf("exit %d, stderr:\n%s\nwant:\n%s", code, stderr, want)
	}
}
