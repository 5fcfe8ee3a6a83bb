// Package labtest gives tests access to the multi-host lab that
// testdata/lab/up brings up (see testdata/lab/README.md).
//
// The package always compiles and only reads files until a helper is called;
// tests that need a running lab carry the "lab" build tag and call Load.
package labtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// HostInfo is one lab host as testdata/lab/out/lab.json describes it.
type HostInfo struct {
	Name               string   `json:"name"`
	Address            string   `json:"address"`
	Netns              string   `json:"netns"`
	PID                int      `json:"pid"`        // systemd-nspawn (full) or unshare (light)
	LeaderPID          int      `json:"leader_pid"` // the host's PID 1 as seen from the root host
	Root               string   `json:"root"`       // merged root filesystem
	Upper              string   `json:"upper"`      // overlay upper dir: what the host wrote
	DockerDir          string   `json:"docker_dir"` // bind-mounted at /var/lib/docker
	HostKeyFingerprint string   `json:"host_key_fingerprint"`
	ConsoleLog         string   `json:"console_log"`
	Labels             []string `json:"labels"`
}

// Lab is testdata/lab/out/lab.json.
type Lab struct {
	Bridge         string `json:"bridge"`
	AptURL         string `json:"apt_url"`
	RepoURL        string `json:"repo_url"`
	RegistryMirror string `json:"registry_mirror"`
	Key            string `json:"key"`
	KnownHosts     string `json:"known_hosts"`
	ClusterFile    string `json:"cluster_file"` // the sudo road: agadmin, key from an agent, Docker's repository layout
	// ClusterFileRoot is the second road: root with the lab key, Debian's docker.io.
	ClusterFileRoot string `json:"cluster_file_root"`
	// DockerAptURL, DockerAptKey: the lab's Docker-layout apt repository and its key.
	DockerAptURL string `json:"docker_apt_url"`
	DockerAptKey string `json:"docker_apt_key"`
	// CacheDir is the AGLAB_CACHE the lab was built from (Reset reuses it).
	CacheDir     string     `json:"cache_dir"`
	SharedDir    string     `json:"shared_dir"`
	SudoUser     string     `json:"sudo_user"`
	SudoPassword string     `json:"sudo_password"`
	NosudoUser   string     `json:"nosudo_user"`
	Kind         string     `json:"kind"` // "full" or "light"
	Hosts        []HostInfo `json:"hosts"`

	// OutDir is the directory lab.json was read from.
	OutDir string `json:"-"`
	// LabDir is testdata/lab (where up and down live); empty if unknown.
	LabDir string `json:"-"`
}

// NotUpMessage is what Load reports when there is no lab.
const NotUpMessage = "lab not up: run testdata/lab/up"

// Parse decodes lab.json.
func Parse(data []byte) (*Lab, error) {
	var l Lab
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("lab.json: %w", err)
	}
	if len(l.Hosts) == 0 {
		return nil, errors.New("lab.json: no hosts")
	}
	for i, h := range l.Hosts {
		if h.Name == "" || h.Address == "" {
			return nil, fmt.Errorf("lab.json: host %d has no name or address", i)
		}
	}
	return &l, nil
}

// FindRepoRoot walks up from dir to the directory holding go.mod.
func FindRepoRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// OutDir is $AGLAB_OUT, or testdata/lab/out under the repository root.
func OutDir() (string, error) {
	if d := os.Getenv("AGLAB_OUT"); d != "" {
		return filepath.Abs(d)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	root, err := FindRepoRoot(wd)
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "testdata", "lab", "out"), nil
}

// LoadDir reads DIR/lab.json.
func LoadDir(dir string) (*Lab, error) {
	data, err := os.ReadFile(filepath.Join(dir, "lab.json"))
	if err != nil {
		return nil, err
	}
	l, err := Parse(data)
	if err != nil {
		return nil, err
	}
	l.OutDir = dir
	if wd, err := os.Getwd(); err == nil {
		if root, err := FindRepoRoot(wd); err == nil {
			l.LabDir = filepath.Join(root, "testdata", "lab")
		}
	}
	return l, nil
}

// Load reads the running lab's lab.json, or fails the test with
// "lab not up: run testdata/lab/up".
func Load(t testing.TB) *Lab {
	t.Helper()
	dir, err := OutDir()
	if err != nil {
		t.Fatalf("%s (%v)", NotUpMessage, err)
		return nil
	}
	l, err := LoadDir(dir)
	if err != nil {
		t.Fatalf("%s (%v)", NotUpMessage, err)
		return nil
	}
	return l
}

// Lookup returns the host called name.
func (l *Lab) Lookup(name string) (HostInfo, bool) {
	for _, h := range l.Hosts {
		if h.Name == name {
			return h, true
		}
	}
	return HostInfo{}, false
}

// Host returns the host called name; it panics if there is none (a test bug).
func (l *Lab) Host(name string) HostInfo {
	h, ok := l.Lookup(name)
	if !ok {
		panic(fmt.Sprintf("labtest: no host %q in the lab (%d hosts)", name, len(l.Hosts)))
	}
	return h
}

// NsenterArgs is the command line that runs argv inside host h without SSH.
// --root/--wd take the leader's root and working directory: light hosts are
// a chroot inside their mount namespace, not a pivot_root like nspawn's.
func NsenterArgs(h HostInfo, argv ...string) []string {
	return append([]string{"nsenter", "--target", fmt.Sprint(h.LeaderPID),
		"--mount", "--uts", "--ipc", "--net", "--pid", "--root", "--wd", "--"}, argv...)
}

// ExecTimeout bounds Exec.
var ExecTimeout = 5 * time.Minute

// Exec runs argv inside host (as root, with nsenter into its namespaces, no
// SSH) and returns its stdout. On failure the error includes stderr.
func (l *Lab) Exec(t testing.TB, host string, argv ...string) (string, error) {
	t.Helper()
	if l.Kind == KindVM { // a guest with its own kernel: no nsenter, SSH as root
		return l.SSH(t, host, "root", vmCommand(argv))
	}
	h := l.Host(host)
	if h.LeaderPID <= 0 {
		return "", fmt.Errorf("%s has no leader PID (stopped?)", host)
	}
	return run(ExecTimeout, nil, NsenterArgs(h, argv...)...)
}

// SSHArgs is an ssh command line (without the remote command) for user on
// host with the lab key and strict host-key checking against known_hosts.
func (l *Lab) SSHArgs(host, user string) []string {
	h := l.Host(host)
	return []string{"ssh", "-i", l.Key, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
		"-o", "UserKnownHostsFile=" + l.KnownHosts, "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR",
		"-p", "22", user + "@" + h.Address}
}

// SSH runs command on host as user over real SSH and returns its stdout.
func (l *Lab) SSH(t testing.TB, host, user, command string) (string, error) {
	t.Helper()
	return run(ExecTimeout, nil, append(l.SSHArgs(host, user), command)...)
}

// ReadFile reads path inside host through its merged root filesystem.
func (l *Lab) ReadFile(t testing.TB, host, path string) ([]byte, error) {
	t.Helper()
	if l.Kind == KindVM {
		out, err := l.Exec(t, host, "cat", filepath.Clean("/"+path))
		return []byte(out), err
	}
	return os.ReadFile(filepath.Join(l.Host(host).Root, filepath.Clean("/"+path)))
}

// ReadUpper reads path from the host's overlay upper dir: it succeeds only
// if the host itself wrote (or changed) the file after the lab came up.
func (l *Lab) ReadUpper(t testing.TB, host, path string) ([]byte, error) {
	t.Helper()
	l.notOnVM(t, "ReadUpper")
	return os.ReadFile(filepath.Join(l.Host(host).Upper, filepath.Clean("/"+path)))
}

// StopHost shuts the host down (its nspawn/unshare process, by recorded PID).
func (l *Lab) StopHost(t testing.TB, name string) {
	t.Helper()
	l.notOnVM(t, "StopHost")
	l.Host(name)
	l.labctl(t, "--stop-host", name)
}

// StartHost boots a stopped host again and waits until it answers SSH.
func (l *Lab) StartHost(t testing.TB, name string) {
	t.Helper()
	l.notOnVM(t, "StartHost")
	l.Host(name)
	l.labctl(t, "--start-host", name)
}

// Reset brings up a fresh lab of the same kind and size (testdata/lab/up;
// a few seconds with a warm cache): every host is new, Docker not installed.
func (l *Lab) Reset(t testing.TB) {
	t.Helper()
	args := []string{fmt.Sprint(len(l.Hosts))}
	if l.Kind == "light" || l.Kind == KindVM {
		args = append([]string{"--" + l.Kind}, args...)
	}
	l.labctl(t, args...)
}

func (l *Lab) labctl(t testing.TB, args ...string) {
	t.Helper()
	if l.LabDir == "" {
		t.Fatalf("labtest: testdata/lab not found (no go.mod above the working directory)")
	}
	cmd := append([]string{filepath.Join(l.LabDir, "up")}, args...)
	env := []string{"AGLAB_OUT=" + l.OutDir}
	if l.Kind == KindVM {
		env = []string{"AGLAB_VM_OUT=" + l.OutDir}
	}
	if os.Getenv("AGLAB_CACHE") == "" && l.CacheDir != "" {
		// The lab's own cache: a test run without AGLAB_CACHE set must not
		// start a cold build of another one in the default place.
		env = append(env, "AGLAB_CACHE="+l.CacheDir)
	}
	if out, err := run(10*time.Minute, env, cmd...); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd, " "), err, out)
	}
	fresh, err := LoadDir(l.OutDir)
	if err != nil {
		t.Fatalf("labtest: reload lab.json: %v", err)
	}
	fresh.LabDir = l.LabDir
	*l = *fresh
}

// run runs argv with a timeout; the error carries stderr.
func run(timeout time.Duration, env []string, argv ...string) (string, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return stdout.String(), fmt.Errorf("%s: %w: %s", argv[0], err, strings.TrimSpace(stderr.String()))
		}
		return stdout.String(), nil
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		return stdout.String(), fmt.Errorf("%s: timed out after %s: %s", argv[0], timeout, strings.TrimSpace(stderr.String()))
	}
}
