package main

import "aginstall/steps"

// The wizard takes the CLI's run lock (lock.go) before its first change to
// a cluster (a step applied or skipped, a re-label) and keeps it until the
// wizard leaves that cluster or ends, so a CLI apply and the wizard never
// change one cluster at the same time, nor interleave between two steps.
// Reading (review, plan, host keys) needs no lock, as in the CLI.

// lockFor takes the run lock for c, once per cluster file.
func (b *backend) lockFor(c *steps.Cluster) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.lock != nil && b.lockPath == c.Path {
		return nil
	}
	b.lock.release()
	b.lock = nil
	l, err := acquireLock(c, b.o.breakLock)
	if err != nil {
		return err
	}
	b.lock, b.lockPath = l, c.Path
	return nil
}

// Close releases the run lock; the wizard calls it when it ends.
func (b *backend) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lock.release()
	b.lock = nil
}
