package steps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// migrateStep applies Django's migrations in the running django task, on
// the node that runs it (found through the API, reached over that node's own
// SSH connection): the guide's `docker exec ... $(docker service ps ...)`
// that had to be typed on the right machine.
type migrateStep struct{}

func init() { register(OrderMigrate, migrateStep{}) }

func (migrateStep) ID() string                { return "migrate" }
func (migrateStep) Title() string             { return "Apply the database migrations" }
func (migrateStep) Hosts(c *Cluster) []string { return siteDjangoHosts(c) }

// siteDjangoHosts are the hosts labelled django_app (where the task runs), or the manager.
func siteDjangoHosts(c *Cluster) []string {
	var out []string
	for _, h := range c.Hosts {
		if slices.Contains(h.Labels, "django_app") {
			out = append(out, h.Name)
		}
	}
	if len(out) == 0 {
		out = ManagerOnly(c)
	}
	return out
}

// siteDjango is the running django task and where it runs.
type siteDjango struct {
	Host      string // the cluster host (SSH) of the node
	Node      string // the swarm node's hostname
	TaskID    string
	Container string
	// Image is the container's image ID (a digest of its content) and DBEnv
	// a digest of the task's database settings (no password): together they
	// say which remembered DjangoSchema describes this task (django_rows.go).
	Image string
	DBEnv string
}

// siteFindDjango finds the running task of <stack>_django through the
// manager's API, maps its node to a cluster host, and finds the task's
// container on that host's engine.
func siteFindDjango(ctx context.Context, env *Env, step string) (siteDjango, error) {
	return findServiceTask(ctx, env, step, "django")
}

// siteHostOfNode matches a swarm node to a cluster host by name, address,
// or (st not nil) what discovery learnt (hostname, addresses).
func siteHostOfNode(c *Cluster, st *State, n swarm.Node) string {
	name, addr := n.Description.Hostname, n.Status.Addr
	for _, h := range c.Hosts {
		if h.Name == name || (addr != "" && h.Address == addr) {
			return h.Name
		}
	}
	if st == nil {
		return ""
	}
	for _, h := range c.Hosts {
		if f := st.FactsOf(h.Name); f != nil {
			if (name != "" && f.Hostname == name) || (addr != "" && (f.ReachableAt == addr || slices.Contains(f.Addresses, addr))) {
				return h.Name
			}
		}
	}
	return ""
}

// siteExecLimit bounds one command in a container.
var siteExecLimit = 60 * time.Minute

// siteExecResult is how a command in a container ended.
type siteExecResult struct {
	Exit           int
	Stdout, Stderr string
}

// siteExec runs cmd in a container of the runner's host, streaming its
// output as events. envv reaches the process as environment variables
// (data, never code). A mutating exec is only recorded in a dry run. A
// non-zero exit is an error only when mustSucceed.
func siteExec(ctx context.Context, h *HostRunner, purpose, call, container string, cmd, envv []string, mutating, mustSucceed bool) (siteExecResult, error) {
	var res siteExecResult
	// Bounded: a long migration on a big database takes minutes, not hours.
	ctx, cancel := context.WithTimeout(ctx, siteExecLimit)
	defer cancel()
	err := h.API(ctx, purpose, call, mutating, func(ctx context.Context, cl *client.Client) error {
		ex, err := cl.ExecCreate(ctx, container, client.ExecCreateOptions{AttachStdout: true, AttachStderr: true, Cmd: cmd, Env: envv})
		if err != nil {
			return err
		}
		att, err := cl.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{})
		if err != nil {
			return err
		}
		defer att.Close()
		stop := context.AfterFunc(ctx, func() { att.Close() })
		defer stop()
		out := &siteLines{h: h, stream: "stdout"}
		errw := &siteLines{h: h, stream: "stderr"}
		_, err = stdcopy.StdCopy(out, errw, att.Reader)
		out.flush()
		errw.flush()
		res.Stdout, res.Stderr = out.all.String(), errw.all.String()
		if err != nil {
			return err
		}
		in, err := cl.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{})
		if err != nil {
			return err
		}
		res.Exit = in.ExitCode
		if mustSucceed && res.Exit != 0 {
			return fmt.Errorf("exited with code %d: %s", res.Exit, siteTail(res.Stderr+res.Stdout, 6))
		}
		return nil
	})
	return res, err
}

// siteLines turns a stream into whole lines shown as they arrive; it keeps
// the whole stream too. Lines hide says true of are kept but not shown.
type siteLines struct {
	h      *HostRunner
	stream string
	hide   func(line string) bool
	buf    []byte
	all    bytes.Buffer
}

func (w *siteLines) Write(p []byte) (int, error) {
	w.all.Write(p)
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.show(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
}

func (w *siteLines) show(l string) {
	l = strings.TrimRight(l, "\r")
	if w.hide != nil && w.hide(l) {
		return
	}
	siteOutput(w.h, w.stream, l)
}

func (w *siteLines) flush() {
	if len(w.buf) > 0 {
		w.show(string(w.buf))
		w.buf = nil
	}
}

// siteTail is the last n non-empty lines of s.
func siteTail(s string, n int) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n  ")
}

var (
	migrateCheckCmd = []string{"python3", "manage.py", "migrate", "--check"}
	migrateCmd      = []string{"python3", "manage.py", "migrate", "--no-input"}
)

// migratePending asks Django (read-only) whether migrations are unapplied.
func migratePending(ctx context.Context, env *Env, d siteDjango, step string) (bool, error) {
	h := env.On(step, d.Host)
	var res siteExecResult
	var err error
	// Django reaches postgres by its service name: while postgres's task
	// restarts (a rolling dockerd restart, a node back from a reboot) the name
	// does not resolve or the server refuses. Ask again, for at most 90 s.
	for deadline := time.Now().Add(90 * time.Second); ; {
		res, err = siteExec(ctx, h, "check for unapplied migrations", "exec python3 manage.py migrate --check in container "+siteShortID(d.Container),
			d.Container, migrateCheckCmd, nil, false, false)
		if err != nil {
			return false, err
		}
		if res.Exit == 0 || !strings.Contains(res.Stderr, "OperationalError") || time.Now().After(deadline) {
			break
		}
		h.Progress("waiting for Django to reach postgres", 0, 0)
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(3 * time.Second):
		}
	}
	switch {
	case res.Exit == 0:
		return false, nil
	case res.Exit == 1 && !strings.Contains(res.Stderr, "Traceback"):
		return true, nil
	}
	return false, &StepError{Step: step, Host: d.Host, Purpose: "check for unapplied migrations", Command: strings.Join(migrateCheckCmd, " "),
		Err:  fmt.Errorf("exited with code %d: %s", res.Exit, siteTail(res.Stderr+res.Stdout, 6)),
		Next: fmt.Sprintf("read the error above; `docker service logs %s_django` shows why Django cannot start", env.Cluster.Stack)}
}

func (s migrateStep) Check(ctx context.Context, env *Env) []HostCheck {
	hosts := s.Hosts(env.Cluster)
	d, err := siteFindDjango(ctx, env, s.ID())
	if err != nil {
		return checksFor(hosts, Todo, "cannot reach the django task yet: "+siteFirstLine(err))
	}
	var pending bool
	if r, ok := djangoRowsOnce(ctx, env, d, s.ID()); ok {
		pending = *r.PendingMigrations
	} else if env.review != nil {
		if r, err = env.review.djangoState(ctx, env, d, s.ID()); err == nil {
			pending = *r.PendingMigrations
		}
	} else {
		// Django itself, waiting while postgres restarts.
		pending, err = migratePending(ctx, env, d, s.ID())
	}
	switch {
	case err != nil:
		return []HostCheck{{Host: d.Host, Status: Unknown, Reason: err.Error()}}
	case pending:
		return []HostCheck{{Host: d.Host, Status: Todo, Reason: fmt.Sprintf("unapplied migrations (django runs on node %s)", d.Node)}}
	}
	return []HostCheck{{Host: d.Host, Status: Done, Reason: fmt.Sprintf("no unapplied migrations (django runs on node %s)", d.Node)}}
}

func (s migrateStep) Apply(ctx context.Context, env *Env) error {
	d, err := siteFindDjango(ctx, env, s.ID())
	if err != nil {
		if env.Runner.DryRun {
			// Planned before the stack runs: the node is found at apply.
			return env.On(s.ID(), env.Cluster.Manager).API(ctx, "apply the migrations", "exec python3 manage.py migrate --no-input in the running django task's container, on its node", true, nil)
		}
		return err
	}
	pending, err := migratePending(ctx, env, d, s.ID())
	if err != nil || !pending {
		return err
	}
	if err := backupBeforeMigrate(ctx, env, s.ID()); err != nil {
		return err
	}
	h := env.On(s.ID(), d.Host)
	h.Progress("migrating on "+d.Node, 0, 1)
	_, err = siteExec(ctx, h, "apply the migrations", "exec python3 manage.py migrate --no-input in container "+siteShortID(d.Container)+" (task "+d.TaskID+")",
		d.Container, migrateCmd, nil, true, true)
	if errors.Is(err, ErrDryRun) {
		return nil
	}
	var se *StepError
	if errors.As(err, &se) {
		se.Next = "read the migration's error above; fix the database (is postgres running? `docker service ps " + env.Cluster.Stack + "_postgres`) and run apply again"
	}
	return err
}

func siteFirstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n  next:")
	return s
}

func siteShortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
