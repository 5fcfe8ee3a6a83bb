package steps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"aginstall/remote"
	"aginstall/steps/edit"
)

// deployStep builds the images on the manager, pushes them to the swarm's
// registry (127.0.0.1:5000), deploys the stack and watches it converge. What
// was deployed (commit, submodules, edited files, secrets) is remembered in a
// marker file in the checkout, so an apply with nothing changed rebuilds
// nothing, and an upgrade (new source.ref or settings) redeploys.
type deployStep struct{}

func init() { register(OrderDeploy, deployStep{}) }

func (deployStep) ID() string                { return "deploy" }
func (deployStep) Title() string             { return "Build, push and deploy the stack" }
func (deployStep) Hosts(c *Cluster) []string { return ManagerOnly(c) }
func (deployStep) Inputs(c *Cluster) any     { return []string{c.Stack, c.Source.Ref, c.Source.Path} }

// deployMarker is the step's own file in the checkout.
const deployMarker = ".aginstall-deployed"

// deployState is what the checkout holds now, or what the marker says was deployed.
type deployState struct {
	Stack       string `json:"stack"`
	Commit      string `json:"commit"`
	Fingerprint string `json:"fingerprint"`
}

// deployFingerprintFiles are hashed with the commits: the settings step's
// edits, the OAuth file and the secrets all go into the images.
func deployFingerprintFiles() []string {
	files := append([]string{}, edit.Files...)
	files = append(files, settingsOAuthFile)
	for _, f := range settingsSecretFiles {
		files = append(files, "autograder-server/"+f)
	}
	return files
}

// deployCurrent reads the checkout's HEAD and one hash over the submodule
// commits and the files the images bake in. Only the hash is printed, never
// a file's content or its own hash. One command: the git config guard first
// (git runs in the checkout only when it passes), then the fingerprint; a
// review on an installed cluster runs this on the manager every time.
func deployCurrent(ctx context.Context, h *HostRunner, c *Cluster) (deployState, error) {
	cur, _, err := deployRead(ctx, h, c)
	return cur, err
}

// deployRead is deployCurrent plus the marker (what was deployed last), read
// in the same command; marker is nil when the command could not say (then
// deployDeployed reads it, and says why it cannot).
func deployRead(ctx context.Context, h *HostRunner, c *Cluster) (deployState, *deployMarkerRead, error) {
	res, err := h.Query(ctx, "check the checkout's git config names no program; read what it holds (commit, submodules, edited files) and what was deployed last", remote.Command{
		Line:  "env " + remote.Quote("AG_PATH="+c.Source.Path) + " sh -s",
		Stdin: []byte(deployReadScript()), Sudo: true})
	if err != nil {
		return deployState{}, nil, err
	}
	return parseDeployRead(c, string(res.Stdout))
}

// parseDeployRead reads deployReadScript's output.
func parseDeployRead(c *Cluster, out string) (deployState, *deployMarkerRead, error) {
	guard, rest, _ := strings.Cut(out, "\n")
	if err := gitConfigAnswer(c, guard); err != nil {
		return deployState{}, nil, err
	}
	rest, marker, hasMarker := strings.Cut(rest, "\n"+deployMarkerSection+"\n")
	f := strings.Fields(rest)
	if len(f) < 2 {
		return deployState{}, nil, fmt.Errorf("unexpected output %q from the fingerprint command", out)
	}
	cur := deployState{Stack: c.Stack, Commit: f[0], Fingerprint: f[1]}
	switch {
	case !hasMarker || marker == deployMarkerSection+"-unreadable\n":
		return cur, nil, nil
	case marker == deployMarkerSection+"-none\n":
		return cur, &deployMarkerRead{}, nil
	}
	return cur, &deployMarkerRead{state: parseDeployMarker([]byte(marker)), raw: []byte(marker)}, nil
}

// deployMarkerRead is the marker as deployRead found it (raw nil: none).
type deployMarkerRead struct {
	state deployState
	raw   []byte
}

// deployMarkerSection separates the fingerprint from the marker's content
// in deployReadScript's output; the marker comes last, whole.
const deployMarkerSection = "@@aginstall-deploy-marker"

// deployReadScript is checkGitConfigScript, then, on a safe checkout, the
// fingerprint of the checkout $AG_PATH names and the deploy marker: one
// sudo session on the manager for both (a review runs it every time).
func deployReadScript() string {
	return checkGitConfigScript + `[ -z "$u" ] || exit 0
` + deployFingerprintLine(`"$AG_PATH"`) + `
echo ` + deployMarkerSection + `
m="$AG_PATH/` + deployMarker + `"
if ! [ -e "$m" ] && ! [ -L "$m" ]; then echo ` + deployMarkerSection + `-none
elif ! { [ -f "$m" ] && [ -r "$m" ]; }; then echo ` + deployMarkerSection + `-unreadable
else cat -- "$m"
fi
`
}

// deployFingerprintLine prints the checkout's HEAD and one hash over the
// submodule commits and the files the images bake in; dir is a shell word
// naming the checkout.
func deployFingerprintLine(dir string) string {
	// A check only reads: git must not refresh (rewrite) the index.
	git := "GIT_OPTIONAL_LOCKS=0 " + gitSafe
	// git submodule status is a shell script (git-sh-setup and several git
	// calls) around submodule--helper status, which prints the very same
	// lines: the helper is asked directly, the script only where there is
	// no helper. Its lines go into the hash, so they must not change.
	subs := fmt.Sprintf(`s=$(%s submodule--helper status --recursive 2>/dev/null) || s=$(%s submodule status --recursive); [ -z "$s" ] || printf '%%s\n' "$s"`, git, git)
	return fmt.Sprintf("cd %s && %s rev-parse HEAD && { %s; for f in %s; do printf '%%s ' \"$f\"; { sha256sum < \"$f\"; } 2>/dev/null || echo absent; done; } | sha256sum",
		dir, git, subs, remote.Quote(deployFingerprintFiles()...))
}

// deployDeployed reads the marker; a missing marker means never deployed.
func deployDeployed(ctx context.Context, h *HostRunner, c *Cluster) (deployState, []byte, error) {
	data, err := h.ReadFile(ctx, "read what was deployed last", path.Join(c.Source.Path, deployMarker), true)
	if errors.Is(err, fs.ErrNotExist) {
		return deployState{}, nil, nil
	}
	if err != nil {
		return deployState{}, nil, err
	}
	return parseDeployMarker(data), data, nil
}

func parseDeployMarker(data []byte) deployState {
	var st deployState
	for _, l := range strings.Split(string(data), "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(l), "=")
		switch k {
		case "stack":
			st.Stack = v
		case "commit":
			st.Commit = v
		case "fingerprint":
			st.Fingerprint = v
		}
	}
	return st
}

func deployMarkerText(st deployState) []byte {
	return []byte(fmt.Sprintf("# Written by aginstall after `docker stack deploy`: what was deployed.\n# Delete this file to make the next apply rebuild and redeploy.\nstack=%s\ncommit=%s\nfingerprint=%s\n",
		st.Stack, st.Commit, st.Fingerprint))
}

// deployServices lists the stack's services (read-only).
func deployServices(ctx context.Context, h *HostRunner, stack string) ([]swarm.Service, error) {
	var out []swarm.Service
	err := h.API(ctx, "list the stack's services", "ServiceList(label=com.docker.stack.namespace="+stack+")", false,
		func(ctx context.Context, c *client.Client) error {
			f := make(client.Filters).Add("label", "com.docker.stack.namespace="+stack)
			res, err := c.ServiceList(ctx, client.ServiceListOptions{Filters: f})
			out = res.Items
			return err
		})
	return out, err
}

// deployCompose finds `docker compose` (plugin) or `docker-compose`.
func deployCompose(ctx context.Context, h *HostRunner, sudo bool) string {
	res, err := h.Query(ctx, "find docker compose", remote.Command{Sudo: sudo,
		Line: "if docker compose version >/dev/null 2>&1; then echo 'docker compose'; elif docker-compose version >/dev/null 2>&1; then echo docker-compose; fi"})
	if err == nil {
		if s := strings.TrimSpace(string(res.Stdout)); s != "" {
			return s
		}
	}
	return ""
}

// composeWithTimeout lets compose wait on the engine as long as our own
// limit. docker-compose v1 gives up when the engine says nothing for
// COMPOSE_HTTP_TIMEOUT (60 s by default), and a push on a slow server is
// silent that long while it compresses a big layer: the push then fails
// with "Read timed out" although the engine is still working (seen on the
// VM tier). The compose plugin has no such limit; the variable is harmless
// there.
func composeWithTimeout(compose string, limit time.Duration) string {
	return fmt.Sprintf("COMPOSE_HTTP_TIMEOUT=%d %s", int(limit.Seconds()), compose)
}

// siteDockerSudo: run docker commands through sudo unless discovery found
// the user can reach the engine directly.
func siteDockerSudo(env *Env, host string) bool {
	f := env.State.FactsOf(host)
	return f == nil || f.DockerAccess != "direct"
}

func (s deployStep) Check(ctx context.Context, env *Env) []HostCheck {
	c := env.Cluster
	h := env.On(s.ID(), c.Manager)
	one := func(st Status, reason, fix string) []HostCheck {
		return []HostCheck{{Host: c.Manager, Status: st, Reason: reason, Fix: fix}}
	}
	cur, marker, err := deployRead(ctx, h, c)
	if errors.Is(err, errNoCheckout) {
		return one(Todo, "nothing to build yet: "+err.Error(), "the source step makes the checkout")
	}
	if err != nil {
		return one(Unknown, "cannot read the checkout: "+err.Error(), "")
	}
	if marker == nil {
		var m deployMarkerRead
		if m.state, m.raw, err = deployDeployed(ctx, h, c); err != nil {
			return one(Unknown, "cannot read "+deployMarker+": "+err.Error(), "")
		}
		marker = &m
	}
	was := marker.state
	services, err := deployServices(ctx, h, c.Stack)
	if err != nil {
		return one(Unknown, "cannot list the stack's services: "+err.Error(), "")
	}
	switch {
	case was.Fingerprint == "":
		return one(Todo, "the stack has not been built and deployed from this checkout yet", "")
	case was != cur:
		return one(Todo, fmt.Sprintf("the checkout changed since the last deploy (commit %s, now %s; or the settings changed): rebuild, push and redeploy", deployShort(was.Commit), deployShort(cur.Commit)), "")
	case len(services) == 0:
		return one(Drifted, fmt.Sprintf("stack %s has no services (removed by hand?): redeploy", c.Stack), "")
	}
	var rows []ServiceRow
	err = h.API(ctx, "read the services' tasks", "ServiceList, TaskList, NodeList", false, func(ctx context.Context, cl *client.Client) error {
		sv, ts, ns, err := convergeRead(ctx, cl, c.Stack)
		rows = ConvergenceRows(sv, ts, ns)
		return err
	})
	if err != nil {
		return one(Unknown, "cannot read the tasks: "+err.Error(), "")
	}
	if d := convergeDescribe(rows); !deployAllConverged(rows) {
		return one(Todo, "deployed, but not every service runs: "+d, "apply waits for them again; the reasons say what to fix")
	}
	return one(Done, fmt.Sprintf("stack %s deployed from commit %s; %d services running", c.Stack, deployShort(cur.Commit), len(rows)), "")
}

func deployAllConverged(rows []ServiceRow) bool {
	for _, r := range rows {
		if !r.Converged {
			return false
		}
	}
	return len(rows) > 0
}

func deployShort(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	if commit == "" {
		return "(none)"
	}
	return commit
}

func (s deployStep) Apply(ctx context.Context, env *Env) error {
	c := env.Cluster
	h := env.On(s.ID(), c.Manager)
	if err := consentRefusal(env, s.ID(), c.Manager, s.DataChanges(ctx, env)); err != nil {
		return err
	}
	sudo := siteDockerSudo(env, c.Manager)
	cur, curErr := deployCurrent(ctx, h, c)
	if curErr != nil && !h.DryRun() {
		return curErr
	}
	was, oldMarker, err := deployDeployed(ctx, h, c)
	if err != nil && !h.DryRun() {
		return err
	}
	before, err := deployServices(ctx, h, c.Stack)
	if err != nil && !h.DryRun() {
		return err
	}
	if curErr == nil && was == cur && len(before) > 0 && !deployUpstreamPlanned(env) {
		if h.DryRun() {
			return nil // nothing to build; waiting is not part of a plan
		}
		_, err := convergeWait(ctx, env, h, c.Stack, convergeTimeout(env))
		return err
	}
	compose := deployCompose(ctx, h, sudo)
	if compose == "" {
		if !h.DryRun() {
			return &StepError{Step: s.ID(), Host: c.Manager, Purpose: "find docker compose", Command: "docker compose version; docker-compose version",
				Err: errors.New("neither `docker compose` nor `docker-compose` works"), Next: "install the compose plugin (apt-get install docker-compose-plugin) or docker-compose on " + c.Manager + ", then run apply again"}
		}
		compose = "docker compose"
	}
	dir := remote.Quote(c.Source.Path)
	// Bounded, but generously: a first build on a slow link takes long.
	const buildLimit, pushLimit = 90 * time.Minute, 30 * time.Minute
	runs := []struct {
		purpose, line, next string
		limit               time.Duration
	}{
		{"build the images", "cd " + dir + " && " + composeWithTimeout(compose, buildLimit) + " build", "read the build output above; a failing Dockerfile step names the file to fix", buildLimit},
		{"push the images to the swarm's registry (127.0.0.1:5000)", "cd " + dir + " && " + composeWithTimeout(compose, pushLimit) + " push",
			"check the registry service runs (`docker service ps registry`) and answers on 127.0.0.1:5000 on " + c.Manager, pushLimit},
		{"deploy the stack", "cd " + dir + " && docker stack deploy -c docker-compose.yml " + remote.Quote(c.Stack), "", 10 * time.Minute},
	}
	for _, r := range runs {
		rctx, cancel := context.WithTimeout(ctx, r.limit)
		// Always through sudo, even for a user in the docker group: the
		// checkout is root's (the source step writes it with sudo, under
		// /root by default) and docker-compose.yml and _prod.env are 0600,
		// so only root can read the build context and the compose file.
		_, err := h.Run(rctx, r.purpose, remote.Command{Line: r.line, Sudo: true})
		cancel()
		if errors.Is(err, ErrDryRun) {
			continue
		}
		if err != nil {
			var se *StepError
			if errors.As(err, &se) && r.next != "" {
				se.Next = r.next + "; then run `aginstall apply` again"
			}
			return err
		}
	}
	if _, err := h.WriteFile(ctx, "remember what was deployed", path.Join(c.Source.Path, deployMarker), oldMarker, deployMarkerText(cur),
		remote.WriteOptions{Sudo: true, Mode: 0o644}, fmt.Sprintf("stack=%s commit=%s", c.Stack, deployShort(cur.Commit))); err != nil {
		return err
	}
	if h.DryRun() {
		return nil
	}
	after, err := deployServices(ctx, h, c.Stack)
	if err != nil {
		return err
	}
	for _, l := range deployChanges(before, after) {
		siteOutput(h, "stdout", l)
	}
	_, err = convergeWait(ctx, env, h, c.Stack, convergeTimeout(env))
	return err
}

// deployUpstreamPlanned: in a plan, the source or settings step has planned
// changes to the checkout, so the images would be rebuilt even though the
// files on disk still match what was deployed.
func deployUpstreamPlanned(env *Env) bool {
	if !env.Runner.DryRun {
		return false
	}
	for _, r := range env.Runner.Mutations() {
		if r.DryRun && (r.Step == "source" || r.Step == "settings") {
			return true
		}
	}
	return false
}

// deployChanges says which services a deploy created, changed or left alone,
// comparing each service's task template (image with its digest, command,
// environment, mounts) before and after.
func deployChanges(before, after []swarm.Service) []string {
	old := map[string]string{}
	for _, s := range before {
		old[s.Spec.Name] = deployTemplate(s)
	}
	var created, changed, same []string
	for _, s := range after {
		name := convergeShortName(s)
		prev, ok := old[s.Spec.Name]
		switch {
		case !ok:
			created = append(created, name)
		case prev != deployTemplate(s):
			changed = append(changed, name)
		default:
			same = append(same, name)
		}
	}
	var out []string
	for _, g := range []struct {
		what  string
		names []string
	}{{"new services", created}, {"changed services", changed}, {"unchanged services", same}} {
		if len(g.names) > 0 {
			sort.Strings(g.names)
			out = append(out, fmt.Sprintf("%s (%d): %s", g.what, len(g.names), strings.Join(g.names, ", ")))
		}
	}
	return out
}

func deployTemplate(s swarm.Service) string {
	b, _ := json.Marshal(s.Spec.TaskTemplate.ContainerSpec)
	return string(b)
}
