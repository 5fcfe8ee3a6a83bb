package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"

	"aginstall/steps"
)

// cmdRemoveNode takes a host out of the cluster; the rules decide first,
// from the cluster file alone, whether it may go.
func cmdRemoveNode(ctx context.Context, o *options) error {
	if o.arg == "" {
		return fmt.Errorf("%w: remove-node needs the host's name: aginstall remove-node NAME", errBadInput)
	}
	c, err := steps.LoadCluster(o.file)
	if err != nil {
		return err
	}
	var refusal *steps.RemoveNodeRefusal
	if err := steps.CheckRemoveNode(c, o.arg); err != nil {
		if errors.As(err, &refusal) {
			return fmt.Errorf("%w: %v", errBadInput, err)
		}
		return err
	}
	p := newPrinter(os.Stderr, true)
	s, err := open(ctx, o, p.sink)
	if err != nil {
		return err
	}
	defer s.close()
	if !o.yes {
		if !isTerminal() {
			return fmt.Errorf("%w: remove-node drains %s and takes it out of the swarm; run it on a terminal to confirm, or with --yes", errBadInput, o.arg)
		}
		if !askYes(fmt.Sprintf("Drain %s, take it out of the swarm and the NFS export, and remove it from %s?", o.arg, s.cluster.Path)) {
			return errors.New("not confirmed; nothing was changed")
		}
	}
	lock, err := acquireLock(s.cluster, o.breakLock)
	if err != nil {
		return err
	}
	defer lock.release()
	s.env.Runner.Log.Note("remove-node %s started by aginstall %s", o.arg, version)
	if _, err := steps.RemoveNode(ctx, s.env, o.arg); err != nil {
		return fmt.Errorf("%w\nthe full log is %s", err, s.env.Runner.Log.Path)
	}
	// The host's item comes out of the file as it is on disk now, so an
	// edit made meanwhile stays.
	if err := steps.EditClusterFile(s.cluster, func(data []byte) ([]byte, error) { return steps.RemoveHost(data, o.arg) }); err != nil {
		return err
	}
	s.env.Runner.Log.Note("removed %s from %s", o.arg, s.cluster.Path)
	fmt.Printf("- | remove-node | %s drained, out of the swarm and removed from %s; the log is %s\n", o.arg, s.cluster.Path, s.env.Runner.Log.Path)
	return nil
}

// cmdMoveDatabase moves the database label and its data to another host,
// then records the labels in the cluster file. It moves data: it asks (or
// needs --yes without a terminal).
func cmdMoveDatabase(ctx context.Context, o *options) error {
	if o.arg == "" {
		return fmt.Errorf("%w: move-database needs the new host's name: aginstall move-database NAME", errBadInput)
	}
	p := newPrinter(os.Stderr, true)
	s, err := open(ctx, o, p.sink)
	if err != nil {
		return err
	}
	defer s.close()
	if _, ok := s.cluster.Host(o.arg); !ok {
		return fmt.Errorf("%w: no host named %q in %s", errBadInput, o.arg, s.cluster.Path)
	}
	if !o.yes {
		if !isTerminal() {
			return fmt.Errorf("%w: move-database moves the database; run it on a terminal to confirm, or with --yes", errBadInput)
		}
		if !askYes(fmt.Sprintf("Back up the database, stop the site's writers, move the database to %s, restore it there and start them again?", o.arg)) {
			return errors.New("not confirmed; nothing was changed")
		}
	}
	lock, err := acquireLock(s.cluster, o.breakLock)
	if err != nil {
		return err
	}
	defer lock.release()
	res, err := steps.MoveDatabase(ctx, s.env, o.arg)
	if res.From != "" && res.From != res.To && res.Backup.Path != "" {
		// The swarm's labels may have moved even if a later check failed:
		// the cluster file follows the swarm, or the next apply moves them back.
		if werr := recordDatabaseLabel(s.cluster, res.From, res.To); werr != nil {
			err = errors.Join(err, werr)
		}
	}
	if err != nil {
		return fmt.Errorf("%w\nthe full log is %s", err, s.env.Runner.Log.Path)
	}
	if res.From == res.To {
		fmt.Printf("- | move-database | the database already runs on %s; nothing to do\n", res.To)
		return nil
	}
	fmt.Printf("- | move-database | moved from %s to %s; backup kept at %s; row counts match (%s); no migration pending\n",
		res.From, res.To, res.Backup.Path, rowSummary(res.Rows))
	return nil
}

// recordDatabaseLabel writes the move into the cluster file (labels lines only).
func recordDatabaseLabel(c *steps.Cluster, from, to string) error {
	return steps.EditClusterFile(c, func(data []byte) ([]byte, error) { return databaseLabelEdit(c, data, from, to) })
}

// databaseLabelEdit moves the database label in the file's text.
func databaseLabelEdit(c *steps.Cluster, data []byte, from, to string) ([]byte, error) {
	for _, h := range c.Hosts {
		var want []string
		switch h.Name {
		case from:
			want = slices.DeleteFunc(slices.Clone(h.Labels), func(l string) bool { return l == "database" })
		case to:
			if slices.Contains(h.Labels, "database") {
				continue
			}
			want = append(slices.Clone(h.Labels), "database")
		default:
			continue
		}
		var err error
		if data, err = steps.SetHostLabels(data, h.Name, want); err != nil {
			return nil, err
		}
	}
	return data, nil
}
