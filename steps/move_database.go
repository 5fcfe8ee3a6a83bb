package steps

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// MoveDatabaseStepID names the records of a database move.
const MoveDatabaseStepID = "move-database"

// MoveResult is a finished move.
type MoveResult struct {
	From, To string // cluster hosts
	Backup   BackupResult
	Rows     map[string]int64
}

// MoveDatabase moves the database label, and the data with it, to host to:
// back up (the file is kept), stop the writers, move the label, wait for
// postgres to start on the new node (a new, empty volume there), restore,
// start the writers again, then check the row counts and that no migration
// is pending. The old node keeps its volume untouched. The caller records
// the new labels in the cluster file. The operator's consent is the
// caller's to ask: this moves data.
//
// The same path serves a postgres major-version change: the backup is made
// by the old image and restored into whatever the service runs afterwards.
func MoveDatabase(ctx context.Context, env *Env, to string) (MoveResult, error) {
	var res MoveResult
	c := env.Cluster
	if _, ok := c.Host(to); !ok {
		return res, &InputError{File: c.Path, Path: "hosts", Msg: fmt.Sprintf("no host named %q", to)}
	}
	d, err := findDBTask(ctx, env, MoveDatabaseStepID)
	if err != nil {
		return res, err
	}
	res.From, res.To = d.Host, to
	if d.Host == to {
		return res, nil
	}
	if res.Backup, err = Backup(ctx, env, BackupOptions{}); err != nil {
		return res, fmt.Errorf("the backup before the move failed, so nothing was moved: %w", err)
	}
	env.Runner.Log.Note("database move %s -> %s: backup %s", d.Host, to, res.Backup.Path)
	kept := fmt.Sprintf("the backup taken before the move is %s; ", res.Backup.Path)
	if _, err := PauseWriters(ctx, env, MoveDatabaseStepID); err != nil {
		_, rerr := ResumeWriters(ctx, env, MoveDatabaseStepID)
		return res, errors.Join(err, rerr)
	}
	// From here on a failure leaves the writers stopped: they must not
	// start on an empty database. `aginstall restore` finishes the job.
	fail := func(err error) (MoveResult, error) {
		var se *StepError
		if errors.As(err, &se) {
			se.Next = kept + "the writers are stopped; fix the cause, then run `aginstall restore " + res.Backup.Path + "` (it restores into wherever postgres runs and starts the writers again)"
			return res, err
		}
		return res, fmt.Errorf("%w\n  next: %sthe writers are stopped; run `aginstall restore %s` once postgres runs", err, kept, res.Backup.Path)
	}
	if err := moveLabel(ctx, env, d.Host, to, "database"); err != nil {
		return fail(err)
	}
	if err := waitTaskOn(ctx, env, MoveDatabaseStepID, d.Service, to, 5*time.Minute); err != nil {
		return fail(err)
	}
	nd, err := findDBTask(ctx, env, MoveDatabaseStepID)
	if err != nil {
		return fail(err)
	}
	if err := waitDBReady(ctx, env, MoveDatabaseStepID, nd); err != nil {
		return fail(err)
	}
	facts, err := restoreFromFileAs(ctx, env, MoveDatabaseStepID, nd, res.Backup.Path)
	if err != nil {
		return fail(err)
	}
	res.Rows = facts.Rows
	if diff := CompareRows(res.Backup.Manifest.RowCounts, facts.Rows); len(diff) > 0 {
		return fail(&StepError{Step: MoveDatabaseStepID, Host: to, Purpose: "compare the row counts with the backup", Err: fmt.Errorf("%s", strings.Join(diff, "; "))})
	}
	if _, err := ResumeWriters(ctx, env, MoveDatabaseStepID); err != nil {
		return res, err
	}
	mgr := env.On(MoveDatabaseStepID, c.Manager)
	if _, err := convergeWait(ctx, env, mgr, c.Stack, 5*time.Minute); err != nil {
		return res, err
	}
	dj, err := siteFindDjango(ctx, env, MoveDatabaseStepID)
	if err != nil {
		return res, err
	}
	pending, err := migratePending(ctx, env, dj, MoveDatabaseStepID)
	if err != nil {
		return res, err
	}
	if pending {
		return res, &StepError{Step: MoveDatabaseStepID, Host: dj.Host, Purpose: "check the migrations after the move",
			Err: errors.New("migrations are pending on the moved database"), Next: kept + "run `aginstall apply` (its migrate step applies them)"}
	}
	return res, nil
}

// moveLabel takes label off host from's node and puts it on host to's.
func moveLabel(ctx context.Context, env *Env, from, to, label string) error {
	mgr := env.On(MoveDatabaseStepID, env.Cluster.Manager)
	nodes := map[string]swarm.Node{}
	err := mgr.API(ctx, "read the nodes' labels", "NodeList", false, func(ctx context.Context, cl *client.Client) error {
		nl, err := cl.NodeList(ctx, client.NodeListOptions{})
		for _, n := range nl.Items {
			if h := siteHostOfNode(env.Cluster, env.State, n); h != "" {
				nodes[h] = n
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	fn, ok1 := nodes[from]
	tn, ok2 := nodes[to]
	if !ok1 || !ok2 {
		return &StepError{Step: MoveDatabaseStepID, Host: env.Cluster.Manager, Purpose: "find the nodes", Err: fmt.Errorf("%s or %s is not a node of the swarm", from, to)}
	}
	// Add first: a moment with the label on two nodes changes nothing for a
	// replicated service that runs; a moment on none would not either, but
	// adding first never leaves the label homeless if the second call fails.
	want := append(labelsOn(tn.Spec.Labels), label)
	if err := labelsUpdate(ctx, mgr, to, tn, want, "put the "+label+" label on "+to); err != nil {
		return err
	}
	want = slices.DeleteFunc(labelsOn(fn.Spec.Labels), func(l string) bool { return l == label })
	return labelsUpdate(ctx, mgr, from, fn, want, "take the "+label+" label off "+from)
}

// waitTaskOn polls until the service's running task is on host's node
// (any node when host is "").
func waitTaskOn(ctx context.Context, env *Env, step, service, host string, timeout time.Duration) error {
	mgr := env.On(step, env.Cluster.Manager)
	mgr.Progress("waiting for "+service+" to run", 0, 0)
	where := host
	if host == "" {
		where = "a node"
	}
	call := fmt.Sprintf("poll TaskList(service=%s), NodeList every 2s until its task runs on %s (timeout %s)", service, where, timeout)
	return mgr.API(ctx, "wait for "+service+" to run", call, false, func(ctx context.Context, cl *client.Client) error {
		deadline := time.Now().Add(timeout)
		for {
			tl, err := cl.TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("service", service).Add("desired-state", "running")})
			if err != nil {
				return err
			}
			nl, err := cl.NodeList(ctx, client.NodeListOptions{})
			if err != nil {
				return err
			}
			on := map[string]string{}
			for _, n := range nl.Items {
				on[n.ID] = siteHostOfNode(env.Cluster, env.State, n)
			}
			for _, t := range tl.Items {
				if t.Status.State == swarm.TaskStateRunning && (host == "" || on[t.NodeID] == host) {
					return nil
				}
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s has no running task on %s after %s (`docker service ps %s` says why)", service, where, timeout, service)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(2 * time.Second):
			}
		}
	})
}
