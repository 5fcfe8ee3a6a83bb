package steps

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// serviceTask is a running task of one of the stack's services and where it
// runs; siteFindDjango is this search for django.
type serviceTask = siteDjango

// findServiceTask finds the running task of <stack>_<name> through the
// manager's API, the cluster host of its node, and its container there.
func findServiceTask(ctx context.Context, env *Env, step, name string) (serviceTask, error) {
	c := env.Cluster
	svc := c.Stack + "_" + name
	var d serviceTask
	var node swarm.Node
	call := fmt.Sprintf("TaskList(service=%s, desired-state=running), NodeList", svc)
	err := env.On(step, c.Manager).API(ctx, "find the running "+name+" task", call, false, func(ctx context.Context, cl *client.Client) error {
		f := make(client.Filters).Add("service", svc).Add("desired-state", "running")
		tl, err := cl.TaskList(ctx, client.TaskListOptions{Filters: f})
		if err != nil {
			return err
		}
		for _, t := range tl.Items {
			if t.Status.State != swarm.TaskStateRunning || t.ServiceID == "" {
				continue
			}
			d.TaskID = t.ID
			if t.Spec.ContainerSpec != nil {
				d.DBEnv = djangoDBEnvKey(t.Spec.ContainerSpec.Env)
			}
			nl, err := cl.NodeList(ctx, client.NodeListOptions{})
			if err != nil {
				return err
			}
			for _, n := range nl.Items {
				if n.ID == t.NodeID {
					node = n
				}
			}
			return nil
		}
		return fmt.Errorf("service %s has no running task (is the stack deployed? `docker service ps %s` says why)", svc, svc)
	})
	if err != nil {
		return d, err
	}
	d.Node = node.Description.Hostname
	d.Host = siteHostOfNode(c, nil, node)
	if d.Host == "" {
		// Not named in the cluster file: by what discovery learnt, which a
		// review that started this check beside discovery waits for.
		env.review.waitDiscovery(ctx)
		d.Host = siteHostOfNode(c, env.State, node)
	}
	if d.Host == "" {
		return d, &StepError{Step: step, Host: c.Manager, Purpose: "map the " + name + " node to a host",
			Err:  fmt.Errorf("node %s (%s) runs %s but is not a host of the cluster file", node.Description.Hostname, node.Status.Addr, name),
			Next: "add that server to hosts: in " + c.Path + " so aginstall can reach it over SSH, then run the command again"}
	}
	err = env.On(step, d.Host).API(ctx, "find the "+name+" task's container", "ContainerList(label=com.docker.swarm.task.id="+d.TaskID+")", false, func(ctx context.Context, cl *client.Client) error {
		f := make(client.Filters).Add("label", "com.docker.swarm.task.id="+d.TaskID)
		res, err := cl.ContainerList(ctx, client.ContainerListOptions{Filters: f})
		if err != nil {
			return err
		}
		if len(res.Items) == 0 {
			return fmt.Errorf("no container of task %s on %s", d.TaskID, d.Host)
		}
		d.Container = res.Items[0].ID
		d.Image = res.Items[0].ImageID
		return nil
	})
	return d, err
}

// streamExec is one command in a container with byte streams: stdin (may be
// nil) is copied in, stdout is copied out as is (a dump is binary), stderr is
// kept and shown line by line.
type streamExec struct {
	Purpose, Call string
	Container     string
	User          string // the container's user to run as ("" = the image's)
	Cmd           []string
	Env           []string // the command's environment (data, never code)
	Stdin         io.Reader
	Stdout        io.Writer
	Mutating      bool
	Limit         time.Duration // 0: siteExecLimit
}

// run runs the command through the runner; a non-zero exit is an error that
// carries the tail of stderr.
func (x streamExec) run(ctx context.Context, h *HostRunner) (stderr string, err error) {
	limit := x.Limit
	if limit == 0 {
		limit = siteExecLimit
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	err = h.API(ctx, x.Purpose, x.Call, x.Mutating, func(ctx context.Context, cl *client.Client) error {
		ex, err := cl.ExecCreate(ctx, x.Container, client.ExecCreateOptions{
			User: x.User, AttachStdin: x.Stdin != nil, AttachStdout: true, AttachStderr: true, Cmd: x.Cmd, Env: x.Env})
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
		inErr := make(chan error, 1)
		if x.Stdin != nil {
			go func() {
				_, err := io.Copy(att.Conn, x.Stdin)
				// The command reads a known byte count (head -c), so a
				// transport without half-close still ends; close when it can.
				att.CloseWrite()
				inErr <- err
			}()
		} else {
			inErr <- nil
		}
		out := x.Stdout
		if out == nil {
			out = io.Discard
		}
		errw := quietLines(h)
		_, err = stdcopy.StdCopy(out, errw, att.Reader)
		errw.flush()
		stderr = errw.all.String()
		if err != nil {
			return err
		}
		if err := <-inErr; err != nil {
			return fmt.Errorf("sending the input: %w", err)
		}
		in, err := cl.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{})
		if err != nil {
			return err
		}
		if in.ExitCode != 0 {
			return fmt.Errorf("exited with code %d: %s", in.ExitCode, siteTail(stderr, 6))
		}
		return nil
	})
	return stderr, err
}

// progressWriter counts bytes and reports them as the host's progress at
// most every interval.
type progressWriter struct {
	h        *HostRunner
	what     string
	total    int64 // estimate, 0 if unknown
	n        int64
	last     time.Time
	interval time.Duration
}

func (p *progressWriter) Write(b []byte) (int, error) {
	p.n += int64(len(b))
	if time.Since(p.last) >= p.interval {
		p.last = time.Now()
		p.report()
	}
	return len(b), nil
}

func (p *progressWriter) report() {
	msg := fmt.Sprintf("%s: %s", p.what, humanBytes(p.n))
	done, total := 0, 0
	if p.total > 0 {
		msg += " of ~" + humanBytes(p.total)
		done, total = int(min(p.n*100/p.total, 100)), 100
	}
	p.h.Progress(msg, done, total)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// quietLines shows a stream's lines except empty ones and the AGINSTALL
// lines the scripts print for aginstall to parse (kept, not shown).
func quietLines(h *HostRunner) *siteLines {
	return &siteLines{h: h, stream: "stderr", hide: func(l string) bool { return l == "" || strings.HasPrefix(l, dbOutPrefix) }}
}
