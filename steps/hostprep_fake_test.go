package steps

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"aginstall/remote"
)

// fakeStepHosts is a host for dry-run tests of the planned commands: probes
// answer from canned output (matched by a word of the script), files are
// missing unless given, and there is no Docker engine.
type fakeStepHosts struct {
	probes map[string]string // a word of the command line or stdin → stdout
	files  map[string]string
}

func (f *fakeStepHosts) Conn(ctx context.Context, host string) (Conn, error) { return f, nil }

func (f *fakeStepHosts) Run(ctx context.Context, cmd remote.Command, out func(remote.Line)) (remote.Result, error) {
	for word, stdout := range f.probes {
		if strings.Contains(cmd.Line, word) || strings.Contains(string(cmd.Stdin), word) {
			return remote.Result{Stdout: []byte(stdout)}, nil
		}
	}
	return remote.Result{}, nil
}

func (f *fakeStepHosts) ReadFile(ctx context.Context, path string, sudo bool) ([]byte, error) {
	if s, ok := f.files[path]; ok {
		return []byte(s), nil
	}
	return nil, fs.ErrNotExist
}

func (f *fakeStepHosts) WriteFile(ctx context.Context, path string, data []byte, opt remote.WriteOptions) (string, error) {
	return "", errors.New("a dry run must not write")
}

func (f *fakeStepHosts) Docker(ctx context.Context) (*client.Client, error) {
	return nil, errors.New("no engine")
}

func planWithFake(t *testing.T, c *Cluster, fake *fakeStepHosts, s Step) []Record {
	t.Helper()
	env := &Env{Cluster: c, Runner: &Runner{DryRun: true, Dial: fake}, State: &State{Steps: map[string]*StepState{}, Facts: map[string]*Facts{}}}
	if err := s.Apply(context.Background(), env); err != nil && !errors.Is(err, ErrDryRun) {
		t.Fatalf("plan of %s: %v", s.ID(), err)
	}
	return env.Runner.Mutations()
}

func TestDockerOfficialPlan(t *testing.T) {
	c := &Cluster{Manager: "h", Hosts: []HostSpec{{Name: "h", User: "ubuntu"}}, Docker: DockerSpec{Install: "official"}}
	fake := &fakeStepHosts{
		probes: map[string]string{"dpkg --print-architecture": "user=ubuntu\nos=ubuntu\ncodename=noble\narch=arm64\n"},
		files:  map[string]string{daemonJSONPath: `{"registry-mirrors": ["https://m"]}`},
	}
	var got []string
	for _, r := range planWithFake(t, c, fake, dockerStep{}) {
		if !r.DryRun {
			t.Errorf("not a dry run: %+v", r)
		}
		got = append(got, r.Command+"\n"+r.Diff)
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{
		"write /etc/docker/daemon.json", `+  "log-driver": "json-file",`,
		"sudo DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300 install -y ca-certificates curl",
		"curl -fsSL --max-time 60 https://download.docker.com/linux/ubuntu/gpg -o /etc/apt/keyrings/docker.asc",
		"write /etc/apt/sources.list.d/docker.list", "+deb [arch=arm64 signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/ubuntu noble stable",
		"install -y docker-ce docker-ce-cli containerd.io docker-buildx-plugin docker-compose-plugin",
		"sudo systemctl enable --now docker", "sudo usermod -aG docker ubuntu",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("plan lacks %q:\n%s", want, all)
		}
	}
	if i, j := strings.Index(all, "daemon.json"), strings.Index(all, "install -y docker-ce"); i > j {
		t.Error("log limits must be written before the engine is installed (no restart needed)")
	}
}

func TestSourceAndNFSPlanOnBareManager(t *testing.T) {
	c := &Cluster{Manager: "m", Hosts: []HostSpec{{Name: "m", Address: "10.0.0.1"}, {Name: "w", Address: "10.0.0.2"}},
		Source: SourceSpec{Repo: "https://example.edu/ag.git", Ref: "v1.2", Path: "/srv/ag dir"}, NFS: NFSSpec{Mode: "export", Clients: "cluster"}}
	fake := &fakeStepHosts{probes: map[string]string{"ls-remote": "git=missing\nstate=absent\n", "findmnt": "nfs=1\nnfsd=1\n"}}
	var got []string
	for _, r := range planWithFake(t, c, fake, sourceStep{}) {
		got = append(got, r.Command)
	}
	all := strings.Join(got, "\n")
	if !strings.Contains(all, "install -y git") || !strings.Contains(all, "clone --recursive --branch v1.2 -- https://example.edu/ag.git '/srv/ag dir'") {
		t.Errorf("source plan:\n%s", all)
	}
	got = nil
	for _, r := range planWithFake(t, c, fake, nfsStep{}) {
		got = append(got, r.Host+" "+r.Command+"\n"+r.Diff)
	}
	all = strings.Join(got, "\n")
	for _, want := range []string{"m sudo DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300 install -y nfs-kernel-server",
		"m write /etc/exports", `+"/srv/ag dir" 10.0.0.2(rw,sync,no_root_squash,no_subtree_check)`, "m sudo systemctl enable --now nfs-server", "m sudo exportfs -ra",
		"m sudo mkdir -p '/srv/ag dir/autograder-server/media_root'", "m write /srv/ag dir/.aginstall-shared",
		"w sudo DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300 install -y nfs-common", "w sudo mkdir -p '/srv/ag dir'",
		"w write /etc/fstab", `+10.0.0.1:/srv/ag\040dir /srv/ag\040dir nfs rw,hard,intr 0 0`, "w sudo mount -a"} {
		if !strings.Contains(all, want) {
			t.Errorf("nfs plan lacks %q:\n%s", want, all)
		}
	}
}
