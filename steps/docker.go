package steps

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"

	"aginstall/remote"
	"aginstall/steps/edit"
)

// dockerStep puts a Docker engine (20.10 or newer) on every host, lets the SSH
// user reach it (the guide's usermod -aG docker) and bounds container logs.
type dockerStep struct{}

func init() { register(OrderDocker, dockerStep{}) }

func (dockerStep) ID() string                { return "docker" }
func (dockerStep) Title() string             { return "Install Docker" }
func (dockerStep) Hosts(c *Cluster) []string { return AllHosts(c) }

// Inputs: the install mode, and the repository when one is given (a state
// written before apt_url existed keeps its fingerprint).
func (dockerStep) Inputs(c *Cluster) any {
	if c.Docker.AptURL == "" && c.Docker.AptKey == "" {
		return c.Docker.Install
	}
	return c.Docker
}

const daemonJSONPath = "/etc/docker/daemon.json"

// aptEnv makes apt never ask and wait a bounded time for the dpkg
// lock (unattended-upgrades often holds it on a fresh server).
const aptEnv = "DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300 "

// Docker's current packages (docs.docker.com/engine/install/ubuntu).
var officialPkgs = []string{"docker-ce", "docker-ce-cli", "containerd.io", "docker-buildx-plugin", "docker-compose-plugin"}

// Compose as the distributions name it, most preferred first.
var composePkgs = []string{"docker-compose-v2", "docker-compose-plugin", "docker-compose"}

// dockerInfo is what one read-only query tells about a host.
type dockerInfo struct {
	user                 string
	installed            map[string]bool
	inGroup              bool
	enabled              bool
	active               bool
	etcDocker            bool
	keyring              bool
	osID, codename, arch string
	// daemon.json as the probe read it without sudo (most hosts let
	// anyone read it), so the check needs no sudo session for it
	daemonJSON carriedFile
}

// dockerProbeScript starts few processes: a review runs it on every host,
// and one dpkg-query reads the package database once for all the packages.
var dockerProbeScript = `u=${AG_USER:-$(id -un)}
echo "user=$u"
dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' docker.io docker-ce docker-ce-cli containerd.io docker-buildx-plugin docker-compose-plugin docker-compose-v2 docker-compose 2>/dev/null |
	sed -n 's/^ii. /pkg=/p'
case " $(id -nG "$u" 2>/dev/null) " in *" docker "*) echo group=1 ;; esac
systemctl show -p UnitFileState -p ActiveState docker 2>/dev/null | sed -n 's/^UnitFileState=enabled$/enabled=1/p; s/^ActiveState=active$/active=1/p'
[ -d /etc/docker ] && echo etcdocker=1
[ -e /etc/apt/keyrings/docker.asc ] && echo keyring=1
. /etc/os-release 2>/dev/null && echo "os=$ID" && echo "codename=${UBUNTU_CODENAME:-$VERSION_CODENAME}"
echo "arch=$(dpkg --print-architecture 2>/dev/null)"
` + carriedFileScript(carriedDaemonJSON, daemonJSONPath)

func dockerProbeCmd(c *Cluster, host string) remote.Command {
	hs, _ := c.Host(host)
	return remote.Command{Line: "env " + remote.Quote("AG_USER="+hs.User) + " sh -s", Stdin: []byte(dockerProbeScript)}
}

func parseDockerInfo(out string) dockerInfo {
	in := dockerInfo{installed: map[string]bool{}}
	for _, line := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "user":
			in.user = v
		case "pkg":
			in.installed[v] = true
		case "group":
			in.inGroup = true
		case "enabled":
			in.enabled = true
		case "active":
			in.active = true
		case "etcdocker":
			in.etcDocker = true
		case "keyring":
			in.keyring = true
		case "os":
			in.osID = v
		case "codename":
			in.codename = v
		case "arch":
			in.arch = v
		default:
			in.daemonJSON.take(carriedDaemonJSON, k, v)
		}
	}
	return in
}

func (s dockerStep) Check(ctx context.Context, env *Env) []HostCheck {
	mode := env.Cluster.Docker.Install
	return checkEachHost(ctx, env, s.ID(), s.Hosts(env.Cluster), func(ctx context.Context, h *HostRunner) HostCheck {
		version, err := checkedEngineVersion(ctx, env, h)
		if err != nil {
			return HostCheck{Status: Todo, Reason: "the Docker engine does not answer over its API: " + firstLine(err), Fix: dockerFix(mode)}
		}
		if !versionAtLeast(version, 20, 10) {
			return HostCheck{Status: Todo, Reason: fmt.Sprintf("Docker %s is older than 20.10", version), Fix: dockerFix(mode)}
		}
		if mode == "skip" {
			return HostCheck{Status: Done, Reason: fmt.Sprintf("Docker %s answers (docker.install: skip leaves its setup to you)", version)}
		}
		res, err := h.Query(ctx, "inspect Docker's packages, group and service", dockerProbeCmd(env.Cluster, h.Host))
		if err != nil {
			return HostCheck{Status: Unknown, Reason: err.Error()}
		}
		in := parseDockerInfo(string(res.Stdout))
		var todo []string
		if in.user != "root" && !in.inGroup {
			todo = append(todo, fmt.Sprintf("user %s is not in the docker group", in.user))
		}
		if !in.enabled || !in.active {
			todo = append(todo, "the docker service is not enabled and running")
		}
		old, err := in.daemonJSON.data, error(nil)
		if !in.daemonJSON.known() {
			old, err = h.ReadFile(ctx, "read the Docker daemon settings", daemonJSONPath, true)
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return HostCheck{Status: Unknown, Reason: err.Error()}
		}
		if nw, err := edit.DaemonJSON(old); err != nil {
			return HostCheck{Status: Todo, Reason: err.Error(), Fix: "fix the JSON of " + daemonJSONPath}
		} else if string(nw) != string(old) {
			todo = append(todo, daemonJSONPath+" lacks the log limits (json-file, max-size 100m, max-file 5)")
		}
		if len(todo) > 0 {
			return HostCheck{Status: notDoneStatus(env, s.ID()), Reason: strings.Join(todo, "; "), Fix: "aginstall apply does it"}
		}
		who := in.user + " in the docker group"
		if in.user == "root" {
			who = "connected as root"
		}
		return HostCheck{Status: Done, Reason: fmt.Sprintf("Docker %s answers; %s; logs bounded", version, who)}
	})
}

func dockerFix(mode string) string {
	if mode == "skip" {
		return "install Docker 20.10 or newer yourself (docker.install is skip), or set docker.install: distro or official"
	}
	return "aginstall apply installs it"
}

// checkedEngineVersion is the check's: in a review, from the engine info
// the swarm and labels checks read too (engineInfo), else GET /version.
func checkedEngineVersion(ctx context.Context, env *Env, h *HostRunner) (string, error) {
	if env.review == nil {
		return engineVersion(ctx, h)
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	info, err := engineInfo(ctx, env, h)
	return info.ServerVersion, err
}

// engineVersion asks the engine over its API (read-only).
func engineVersion(ctx context.Context, h *HostRunner) (string, error) {
	var version string
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	err := h.API(ctx, "ask the engine its version", "GET /version", false, func(ctx context.Context, c *client.Client) error {
		v, err := c.ServerVersion(ctx, client.ServerVersionOptions{})
		version = v.Version
		return err
	})
	return version, err
}

func (s dockerStep) Apply(ctx context.Context, env *Env) error {
	mode := env.Cluster.Docker.Install
	var mu sync.Mutex
	var rolling []dockerRestart
	err := env.Each(ctx, s.ID(), s.Hosts(env.Cluster), func(ctx context.Context, h *HostRunner) error {
		if mode == "skip" {
			version, err := engineVersion(ctx, h)
			if err == nil && !versionAtLeast(version, 20, 10) {
				err = fmt.Errorf("Docker %s is older than 20.10", version)
			}
			if err != nil {
				return &StepError{Step: s.ID(), Host: h.Host, Purpose: "verify the Docker engine (docker.install: skip)", Command: "GET /version", Err: err,
					Next: dockerFix(mode)}
			}
			return nil
		}
		r, err := installDockerOn(ctx, env.Cluster, h, mode)
		if r != nil {
			mu.Lock()
			rolling = append(rolling, *r)
			mu.Unlock()
		}
		return err
	})
	// Swarm nodes restart one at a time once every host is done: a restart
	// stops the node's tasks, so the services must be back before the next.
	if rerr := dockerRollingRestart(ctx, env, rolling); rerr != nil {
		if err == nil {
			return rerr
		}
		return fmt.Errorf("%w\n%w", err, rerr)
	}
	return err
}

// installDockerOn installs and configures Docker on one host, changing
// only what differs. On a node of a running swarm, a daemon.json change
// (and the restart it needs) is not made here but returned, for the
// rolling restart.
func installDockerOn(ctx context.Context, c *Cluster, h *HostRunner, mode string) (*dockerRestart, error) {
	res, err := h.Query(ctx, "inspect Docker's packages, group and service", dockerProbeCmd(c, h.Host))
	if err != nil {
		return nil, err
	}
	in := parseDockerInfo(string(res.Stdout))
	hadEngine := in.installed["docker.io"] || in.installed["docker-ce"]

	// Log limits first: a fresh engine then starts with them, no restart needed.
	old, err := h.ReadFile(ctx, "read the Docker daemon settings", daemonJSONPath, true)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	nw, err := edit.DaemonJSON(old)
	if err != nil {
		return nil, &StepError{Step: "docker", Host: h.Host, Purpose: "merge log limits into " + daemonJSONPath, Err: err,
			Next: "fix the JSON of " + daemonJSONPath + " on the host (aginstall keeps its other keys), then run again"}
	}
	var rolling *dockerRestart
	if string(nw) != string(old) && hadEngine && in.enabled && in.active {
		rolling = dockerSwarmMember(ctx, h, old, nw)
	}
	changed := false
	if rolling == nil {
		if !in.etcDocker && string(nw) != string(old) {
			if _, err := h.Run(ctx, "create /etc/docker", remote.Command{Line: "install -d -m 0755 /etc/docker", Sudo: true}); realErr(err) {
				return nil, err
			}
		}
		if changed, err = h.WriteFile(ctx, "bound container logs (json-file, 100m x 5)", daemonJSONPath, old, nw,
			remote.WriteOptions{Sudo: true, Backup: true}, fileDiff(daemonJSONPath, old, nw)); err != nil {
			return nil, err
		}
	}

	cmds, err := dockerInstallCmds(ctx, h, in, c.Docker)
	if err != nil {
		return nil, err
	}
	for _, cmd := range cmds {
		if err := runApt(ctx, h, cmd); err != nil {
			return nil, err
		}
	}
	if !in.enabled || !in.active {
		if _, err := h.Run(ctx, "enable and start the docker service", remote.Command{Line: "systemctl enable --now docker", Sudo: true}); realErr(err) {
			return nil, err
		}
	} else if changed && hadEngine {
		// Not a swarm node: nothing runs here that others wait for.
		if _, err := h.Run(ctx, "restart docker to apply the log limits", remote.Command{Line: "systemctl restart docker", Sudo: true}); realErr(err) {
			return nil, err
		}
	}
	if in.user != "root" && !in.inGroup {
		if _, err := h.Run(ctx, "let "+in.user+" use Docker (guide: usermod -aG docker)", remote.Command{Line: remote.Quote("usermod", "-aG", "docker", in.user), Sudo: true}); realErr(err) {
			return nil, err
		}
	}
	return rolling, nil
}

// dockerInstallCmds plans the package commands for a mode; nothing when
// the packages are already there.
func dockerInstallCmds(ctx context.Context, h *HostRunner, in dockerInfo, spec DockerSpec) ([]aptCmd, error) {
	switch spec.Install {
	case "distro":
		compose := ""
		for _, p := range composePkgs {
			if in.installed[p] {
				compose = p
			}
		}
		if in.installed["docker.io"] && compose != "" || in.installed["docker-ce"] {
			return nil, nil
		}
		cmds := []aptCmd{{"refresh the package lists", aptEnv + "update"}}
		if compose == "" {
			// apt-cache reads the lists as they are; in a dry run they may be stale.
			if _, err := h.Run(ctx, cmds[0].purpose, remote.Command{Line: cmds[0].line, Sudo: true}); realErr(err) {
				return nil, err
			}
			cmds = nil
			res, err := h.Query(ctx, "find the distribution's compose package", remote.Command{Line: remote.Quote(append([]string{"apt-cache", "policy"}, composePkgs...)...)})
			if err != nil {
				return nil, err
			}
			compose = pickCandidate(string(res.Stdout), composePkgs)
			if compose == "" {
				if !h.DryRun() {
					return nil, &StepError{Step: "docker", Host: h.Host, Purpose: "find a docker compose package", Command: "apt-cache policy " + strings.Join(composePkgs, " "),
						Err: errors.New("none of them has an installation candidate"), Next: "enable the distribution's universe/main repositories, or use docker.install: official"}
				}
				compose = "docker-compose" // the dry run cannot refresh the lists; apply picks
			}
		}
		return append(cmds, aptCmd{"install the distribution's Docker", aptEnv + "install -y " + remote.Quote("docker.io", compose)}), nil
	case "official":
		before, list, after := officialRepoCmds(in, spec)
		if before == nil && after == nil {
			return nil, nil
		}
		for _, c := range before {
			if err := runApt(ctx, h, c); err != nil {
				return nil, err
			}
		}
		const listFile = "/etc/apt/sources.list.d/docker.list"
		old, err := h.ReadFile(ctx, "read Docker's apt source", listFile, false)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if _, err := h.WriteFile(ctx, "add Docker's apt repository", listFile, old, list,
			remote.WriteOptions{Sudo: true, Backup: true, BackupDir: backupDir, Mode: 0o644}, fileDiff(listFile, old, list)); err != nil {
			return nil, err
		}
		return after, nil
	}
	return nil, fmt.Errorf("docker.install %q is not known", spec.Install)
}

type aptCmd struct{ purpose, line string }

// officialRepoCmds is Docker's current apt instructions: a keyring file
// under /etc/apt/keyrings referenced with signed-by (apt-key is deprecated),
// from docker.apt_url / apt_key when the cluster file names a mirror. The
// key is fetched by the host itself (curl), from where its apt will fetch
// the packages: a host that reaches the repository reaches its key.
// before runs first, then the source list is written, then after. All nil
// when the packages are there.
func officialRepoCmds(in dockerInfo, spec DockerSpec) (before []aptCmd, list []byte, after []aptCmd) {
	missing := false
	for _, p := range officialPkgs {
		missing = missing || !in.installed[p]
	}
	if !missing {
		return nil, nil, nil
	}
	repo, key := officialRepo(in, spec)
	if !in.keyring {
		before = []aptCmd{
			{"refresh the package lists", aptEnv + "update"},
			{"install what fetching Docker's key needs", aptEnv + "install -y ca-certificates curl"},
			{"fetch Docker's apt key", "install -m 0755 -d /etc/apt/keyrings && curl -fsSL --max-time 60 " +
				remote.Quote(key) + " -o /etc/apt/keyrings/docker.asc && chmod a+r /etc/apt/keyrings/docker.asc"},
		}
	}
	list = []byte(fmt.Sprintf("deb [arch=%s signed-by=/etc/apt/keyrings/docker.asc] %s %s stable\n", in.arch, repo, in.codename))
	after = []aptCmd{
		{"refresh the package lists", aptEnv + "update"},
		{"install Docker's packages", aptEnv + "install -y " + remote.Quote(officialPkgs...)},
	}
	return before, list, after
}

// officialRepo is the repository and key URL for a host: the cluster
// file's, else Docker's own for the host's OS.
func officialRepo(in dockerInfo, spec DockerSpec) (repo, key string) {
	repo = strings.TrimSuffix(spec.AptURL, "/")
	if repo == "" {
		osID := in.osID
		if osID != "debian" {
			osID = "ubuntu"
		}
		repo = "https://download.docker.com/linux/" + osID
	}
	key = spec.AptKey
	if key == "" {
		key = repo + "/gpg"
	}
	return repo, key
}

// runApt runs one package command, bounded so a stuck mirror cannot hang the run.
func runApt(ctx context.Context, h *HostRunner, c aptCmd) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Minute)
	defer cancel()
	res, err := h.Run(ctx, c.purpose, remote.Command{Line: c.line, Sudo: true})
	if realErr(err) && strings.Contains(string(res.Stderr), "dpkg was interrupted") {
		// An earlier run was cut mid-install (host off, connection lost):
		// finish dpkg's work as apt asks, then try once more.
		if _, cerr := h.Run(ctx, "finish the package installation an interrupted run left",
			remote.Command{Line: "DEBIAN_FRONTEND=noninteractive dpkg --configure -a", Sudo: true}); !realErr(cerr) {
			_, err = h.Run(ctx, c.purpose, remote.Command{Line: c.line, Sudo: true})
		}
	}
	if realErr(err) {
		var se *StepError
		if errors.As(err, &se) && se.Next == "" && !errors.Is(err, remote.ErrConnectionLost) {
			se.Next = "check the host's apt sources and network (run the command by hand to see apt's full answer), then run aginstall apply again"
		}
		return err
	}
	return nil
}

// pickCandidate returns the first package apt-cache policy offers.
func pickCandidate(policy string, prefer []string) string {
	cand := map[string]bool{}
	pkg := ""
	for _, line := range strings.Split(policy, "\n") {
		if !strings.HasPrefix(line, " ") && strings.HasSuffix(line, ":") {
			pkg = strings.TrimSuffix(line, ":")
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Candidate:"); ok && strings.TrimSpace(v) != "(none)" {
			cand[pkg] = true
		}
	}
	for _, p := range prefer {
		if cand[p] {
			return p
		}
	}
	return ""
}

// realErr: an error other than "not run: dry run".
func realErr(err error) bool { return err != nil && !errors.Is(err, ErrDryRun) }

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
