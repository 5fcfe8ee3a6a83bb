package main

import (
	"context"
	"errors"
	"fmt"
	"os"

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
	data, err := steps.RemoveNode(ctx, s.env, o.arg)
	if err != nil {
		return fmt.Errorf("%w\nthe full log is %s", err, s.env.Runner.Log.Path)
	}
	if err := writeClusterFile(s.cluster, data); err != nil {
		return err
	}
	s.env.Runner.Log.Note("removed %s from %s", o.arg, s.cluster.Path)
	fmt.Printf("- | remove-node | %s drained, out of the swarm and removed from %s; the log is %s\n", o.arg, s.cluster.Path, s.env.Runner.Log.Path)
	return nil
}
