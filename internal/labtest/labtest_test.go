package labtest

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const sample = `{
  "bridge": "10.213.0.1",
  "apt_url": "http://10.213.0.1:8080/apt",
  "repo_url": "http://10.213.0.1:8080/git/autograder-full-stack.git",
  "key": "/lab/out/id_ed25519",
  "known_hosts": "/lab/out/known_hosts",
  "cluster_file": "/lab/out/aginstall.yaml",
  "sudo_user": "agadmin",
  "sudo_password": "pw",
  "nosudo_user": "agnosudo",
  "kind": "full",
  "hosts": [
    {"name": "node1", "address": "10.213.0.11", "netns": "aglab-node1", "pid": 10, "leader_pid": 11,
     "root": "ROOT1", "upper": "UPPER1", "host_key_fingerprint": "SHA256:abc", "console_log": "/c",
     "labels": ["registry", "webserver"]},
    {"name": "node2", "address": "10.213.0.12", "netns": "aglab-node2", "pid": 20, "leader_pid": 21,
     "root": "ROOT2", "upper": "UPPER2", "host_key_fingerprint": "SHA256:def", "console_log": "/d"}
  ]
}`

func TestParse(t *testing.T) {
	l, err := Parse([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	if l.Kind != "full" || l.SudoPassword != "pw" || len(l.Hosts) != 2 {
		t.Fatalf("parsed %+v", l)
	}
	h := l.Host("node2")
	if h.Address != "10.213.0.12" || h.LeaderPID != 21 || h.HostKeyFingerprint != "SHA256:def" {
		t.Fatalf("node2 = %+v", h)
	}
	if got := l.Host("node1").Labels; !reflect.DeepEqual(got, []string{"registry", "webserver"}) {
		t.Fatalf("labels = %v", got)
	}
	if _, ok := l.Lookup("node9"); ok {
		t.Fatal("Lookup(node9) found a host")
	}
}

func TestParseRejects(t *testing.T) {
	for _, bad := range []string{`{`, `{"hosts": []}`, `{"hosts": [{"name": "node1"}]}`} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%s) accepted", bad)
		}
	}
}

func TestHostPanicsOnUnknown(t *testing.T) {
	l, _ := Parse([]byte(sample))
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "node7") {
			t.Fatalf("recover() = %v", r)
		}
	}()
	l.Host("node7")
}

func TestNsenterArgs(t *testing.T) {
	got := NsenterArgs(HostInfo{LeaderPID: 42}, "cat", "/etc/hostname")
	want := []string{"nsenter", "--target", "42", "--mount", "--uts", "--ipc", "--net", "--pid", "--root", "--wd", "--", "cat", "/etc/hostname"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v", got)
	}
}

func TestSSHArgs(t *testing.T) {
	l, _ := Parse([]byte(sample))
	got := strings.Join(l.SSHArgs("node1", "agadmin"), " ")
	for _, want := range []string{"-i /lab/out/id_ed25519", "StrictHostKeyChecking=yes",
		"UserKnownHostsFile=/lab/out/known_hosts", "agadmin@10.213.0.11"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
}

func TestFindRepoRoot(t *testing.T) {
	root := t.TempDir()
	deep := filepath.Join(root, "a", "b", "c")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := FindRepoRoot(deep)
	if err != nil || got != root {
		t.Fatalf("FindRepoRoot = %q, %v; want %q", got, err, root)
	}
	// This package lives in the aginstall module.
	wd, _ := os.Getwd()
	if r, err := FindRepoRoot(wd); err != nil || !strings.HasSuffix(wd, filepath.Join(r, "internal", "labtest")) {
		t.Fatalf("FindRepoRoot(%s) = %q, %v", wd, r, err)
	}
}

func TestOutDirEnv(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AGLAB_OUT", dir)
	if got, err := OutDir(); err != nil || got != dir {
		t.Fatalf("OutDir = %q, %v", got, err)
	}
	t.Setenv("AGLAB_OUT", "")
	got, err := OutDir()
	if err != nil || !strings.HasSuffix(got, filepath.Join("testdata", "lab", "out")) {
		t.Fatalf("OutDir = %q, %v", got, err)
	}
}

func TestLoadAndFiles(t *testing.T) {
	dir := t.TempDir()
	root, upper := filepath.Join(dir, "root"), filepath.Join(dir, "upper")
	for _, p := range []string{filepath.Join(root, "etc"), filepath.Join(upper, "etc")} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(root, "etc", "hostname"), []byte("node1\n"), 0o644)
	os.WriteFile(filepath.Join(upper, "etc", "fstab"), []byte("x\n"), 0o644)
	js := strings.ReplaceAll(strings.ReplaceAll(sample, `"ROOT1"`, fmt.Sprintf("%q", root)), `"UPPER1"`, fmt.Sprintf("%q", upper))
	if err := os.WriteFile(filepath.Join(dir, "lab.json"), []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AGLAB_OUT", dir)
	l := Load(t)
	if l.OutDir != dir || l.LabDir == "" {
		t.Fatalf("OutDir %q LabDir %q", l.OutDir, l.LabDir)
	}
	if b, err := l.ReadFile(t, "node1", "/etc/hostname"); err != nil || string(b) != "node1\n" {
		t.Fatalf("ReadFile = %q, %v", b, err)
	}
	if b, err := l.ReadFile(t, "node1", "../../etc/hostname"); err != nil || string(b) != "node1\n" {
		t.Fatalf("ReadFile must stay inside the root: %q, %v", b, err)
	}
	if _, err := l.ReadUpper(t, "node1", "/etc/fstab"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.ReadUpper(t, "node1", "/etc/hostname"); err == nil {
		t.Fatal("ReadUpper found a file the host did not write")
	}
}

// fatalRecorder is a testing.TB whose Fatalf records instead of stopping.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper()                        {}
func (f *fatalRecorder) Fatalf(format string, a ...any) { f.msg = fmt.Sprintf(format, a...) }

func TestLoadNotUp(t *testing.T) {
	t.Setenv("AGLAB_OUT", t.TempDir())
	rec := &fatalRecorder{TB: t}
	if l := Load(rec); l != nil {
		t.Fatalf("Load = %+v", l)
	}
	if !strings.Contains(rec.msg, "lab not up: run testdata/lab/up") {
		t.Fatalf("message %q", rec.msg)
	}
}

func TestRunTimeout(t *testing.T) {
	if _, err := run(50e6, nil, "sleep", "5"); err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("err = %v", err)
	}
	out, err := run(ExecTimeout, nil, "sh", "-c", "echo out; echo err >&2; exit 3")
	if err == nil || out != "out\n" || !strings.Contains(err.Error(), "err") {
		t.Fatalf("out %q err %v", out, err)
	}
}
