package steps

import (
	"context"
	"fmt"
)

// Automatic backups before risky steps. Migrations on an upgrade (a
// database that already has applied migrations and now has pending ones:
// a changed source.ref brought new ones) are preceded by a backup into the
// folder "backups" beside the cluster file; its path is shown and logged.
// A first install (no applied migration yet) has nothing to lose.

// backupBeforeMigrate takes that backup when the database already holds
// applied migrations. In a dry run the backup is planned, not taken.
func backupBeforeMigrate(ctx context.Context, env *Env, step string) error {
	h := env.On(step, env.Cluster.Manager)
	d, err := findDBTask(ctx, env, step)
	if err != nil {
		return err
	}
	// A fresh stack's postgres may still run initdb: wait for it (this also
	// keeps the migrations from racing a server that is not up yet).
	if err := waitDBReady(ctx, env, step, d); err != nil {
		return err
	}
	facts, err := readDBFacts(ctx, env, step, d)
	if err != nil {
		return err
	}
	if facts.Rows["django_migrations"] == 0 {
		return nil // a new database: nothing to keep
	}
	if env.Runner.DryRun {
		// Recorded as planned work: the dump itself only reads, but the plan
		// must say that a backup file will be written before migrating.
		err := h.API(ctx, "back up the database before migrating (an upgrade)", "aginstall backup: pg_dump -Fc of "+d.Database+" on "+d.Node+" into backups/ beside the cluster file", true, nil)
		if err == ErrDryRun {
			return nil
		}
		return err
	}
	res, err := Backup(ctx, env, BackupOptions{})
	if err != nil {
		return fmt.Errorf("the backup before the migrations failed, so nothing was migrated: %w", err)
	}
	msg := fmt.Sprintf("backed up the database before migrating: %s (%d bytes)", res.Path, res.Manifest.Dump.Bytes)
	env.Runner.Log.Note("%s", msg)
	h.Progress(msg, 1, 1)
	siteOutput(h, "stderr", msg)
	return nil
}
