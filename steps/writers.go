package steps

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// The database's writers are the stack's services that talk to it: every
// service whose environment sets AG_DB_HOST (django, the celery workers,
// celerybeat and the graders, all of which read _prod.env). Nothing else
// needs stopping for a restore.
//
// Pausing a replicated service sets its replicas to 0; a global one (the
// graders) cannot be scaled, so it gets a placement constraint that no node
// meets. Either way the service is labelled with what it was, so a resume —
// by this run or a later one after an interruption — puts it back exactly.

const (
	writerPausedLabel      = "aginstall.paused-for-restore"
	writerPauseConstraint  = "node.labels.aginstall-paused-for-restore==true"
	writerPausedGlobal     = "global"
	writerPausedReplicated = "replicas="
)

// isWriter: the service's tasks read the site's database settings.
func isWriter(s swarm.Service) bool {
	cs := s.Spec.TaskTemplate.ContainerSpec
	return cs != nil && slices.ContainsFunc(cs.Env, func(kv string) bool { return strings.HasPrefix(kv, "AG_DB_HOST=") })
}

// pausedSpec is the spec of a paused writer (and the label that records
// what it was); ok is false when it is paused already.
func pausedSpec(s swarm.Service) (swarm.ServiceSpec, bool) {
	spec := s.Spec
	if _, paused := spec.Labels[writerPausedLabel]; paused {
		return spec, false
	}
	spec.Labels = cloneLabels(spec.Labels)
	switch {
	case spec.Mode.Replicated != nil:
		was := uint64(1)
		if spec.Mode.Replicated.Replicas != nil {
			was = *spec.Mode.Replicated.Replicas
		}
		zero := uint64(0)
		spec.Mode.Replicated = &swarm.ReplicatedService{Replicas: &zero}
		spec.Labels[writerPausedLabel] = writerPausedReplicated + strconv.FormatUint(was, 10)
	default: // global (and anything else that cannot be scaled)
		p := swarm.Placement{}
		if spec.TaskTemplate.Placement != nil {
			p = *spec.TaskTemplate.Placement
		}
		p.Constraints = append(slices.Clone(p.Constraints), writerPauseConstraint)
		spec.TaskTemplate.Placement = &p
		spec.Labels[writerPausedLabel] = writerPausedGlobal
	}
	return spec, true
}

// resumedSpec undoes pausedSpec; ok is false when the service is not paused.
func resumedSpec(s swarm.Service) (swarm.ServiceSpec, bool, error) {
	spec := s.Spec
	was, paused := spec.Labels[writerPausedLabel]
	if !paused {
		return spec, false, nil
	}
	spec.Labels = cloneLabels(spec.Labels)
	delete(spec.Labels, writerPausedLabel)
	switch {
	case strings.HasPrefix(was, writerPausedReplicated) && spec.Mode.Replicated != nil:
		n, err := strconv.ParseUint(strings.TrimPrefix(was, writerPausedReplicated), 10, 32)
		if err != nil {
			return spec, false, fmt.Errorf("service %s: label %s=%q is not a replica count", s.Spec.Name, writerPausedLabel, was)
		}
		spec.Mode.Replicated = &swarm.ReplicatedService{Replicas: &n}
	case was == writerPausedGlobal:
		if spec.TaskTemplate.Placement != nil {
			p := *spec.TaskTemplate.Placement
			p.Constraints = slices.DeleteFunc(slices.Clone(p.Constraints), func(c string) bool { return c == writerPauseConstraint })
			spec.TaskTemplate.Placement = &p
		}
	default:
		return spec, false, fmt.Errorf("service %s: label %s=%q is not one aginstall writes", s.Spec.Name, writerPausedLabel, was)
	}
	return spec, true, nil
}

func cloneLabels(l map[string]string) map[string]string {
	out := make(map[string]string, len(l)+1)
	for k, v := range l {
		out[k] = v
	}
	return out
}

// stackServices lists the stack's services.
func stackServices(ctx context.Context, h *HostRunner, stack string) ([]swarm.Service, error) {
	var out []swarm.Service
	err := h.API(ctx, "list the stack's services", "ServiceList(label=com.docker.stack.namespace="+stack+")", false, func(ctx context.Context, cl *client.Client) error {
		res, err := cl.ServiceList(ctx, client.ServiceListOptions{Filters: make(client.Filters).Add("label", "com.docker.stack.namespace="+stack)})
		out = res.Items
		return err
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Spec.Name < out[j].Spec.Name })
	return out, err
}

// PauseWriters stops every writer of the stack and waits (bounded) until
// none of their tasks runs. It returns the names of the services it paused.
func PauseWriters(ctx context.Context, env *Env, step string) ([]string, error) {
	h := env.On(step, env.Cluster.Manager)
	svcs, err := stackServices(ctx, h, env.Cluster.Stack)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, s := range svcs {
		if !isWriter(s) {
			continue
		}
		names = append(names, s.Spec.Name)
		spec, change := pausedSpec(s)
		if !change {
			continue
		}
		call := fmt.Sprintf("ServiceUpdate(%s, Version=%d, %s, label %s=%s)", s.Spec.Name, s.Version.Index, pauseHow(s), writerPausedLabel, spec.Labels[writerPausedLabel])
		err := h.API(ctx, "stop a writer of the database", call, true, func(ctx context.Context, cl *client.Client) error {
			_, err := cl.ServiceUpdate(ctx, s.ID, client.ServiceUpdateOptions{Version: s.Version, Spec: spec})
			return err
		})
		if err != nil {
			return names, err
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	return names, waitNoTasks(ctx, env, step, names, 3*time.Minute)
}

func pauseHow(s swarm.Service) string {
	if s.Spec.Mode.Replicated != nil {
		return "Replicas=0"
	}
	return "add constraint " + writerPauseConstraint
}

// ResumeWriters puts back every writer a pause stopped (found by its label,
// so it also finishes an interrupted restore's work).
func ResumeWriters(ctx context.Context, env *Env, step string) ([]string, error) {
	h := env.On(step, env.Cluster.Manager)
	svcs, err := stackServices(ctx, h, env.Cluster.Stack)
	if err != nil {
		return nil, err
	}
	var names []string
	var errs []error
	for _, s := range svcs {
		spec, change, err := resumedSpec(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !change {
			continue
		}
		how := "remove constraint " + writerPauseConstraint
		if spec.Mode.Replicated != nil {
			how = fmt.Sprintf("Replicas=%d", *spec.Mode.Replicated.Replicas)
		}
		call := fmt.Sprintf("ServiceUpdate(%s, Version=%d, %s, remove label %s)", s.Spec.Name, s.Version.Index, how, writerPausedLabel)
		err = h.API(ctx, "start a writer of the database again", call, true, func(ctx context.Context, cl *client.Client) error {
			_, err := cl.ServiceUpdate(ctx, s.ID, client.ServiceUpdateOptions{Version: s.Version, Spec: spec})
			return err
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		names = append(names, s.Spec.Name)
	}
	return names, errors.Join(errs...)
}

// waitNoTasks polls (every 2 s, bounded) until no task of the services runs.
func waitNoTasks(ctx context.Context, env *Env, step string, services []string, timeout time.Duration) error {
	h := env.On(step, env.Cluster.Manager)
	h.Progress("waiting for the writers' tasks to stop", 0, 0)
	call := fmt.Sprintf("poll TaskList(service=%s, desired-state=running) every 2s (timeout %s)", strings.Join(services, ","), timeout)
	return h.API(ctx, "wait until the writers' tasks have stopped", call, false, func(ctx context.Context, cl *client.Client) error {
		deadline := time.Now().Add(timeout)
		for {
			running := 0
			for _, s := range services {
				f := make(client.Filters).Add("service", s)
				tl, err := cl.TaskList(ctx, client.TaskListOptions{Filters: f})
				if err != nil {
					return err
				}
				running += runningTasks(tl.Items)
			}
			if running == 0 {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%d task(s) of %s still run after %s", running, strings.Join(services, ", "), timeout)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(2 * time.Second):
			}
		}
	})
}
