package steps

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// RestoreOptions are the operator's consents.
type RestoreOptions struct {
	// AllowVersionChange restores a dump made by another major version of
	// PostgreSQL (the upgrade path: dump on the old, restore on the new).
	AllowVersionChange bool
}

// RestoreResult is a finished restore.
type RestoreResult struct {
	Manifest BackupManifest
	Server   DBFacts  // after the restore
	Paused   []string // the writers stopped during it (and started again)
	// PendingMigrations: the restored database is behind the running code
	// (a backup from before an upgrade); apply's migrate step brings it up.
	PendingMigrations bool
	Duration          time.Duration
}

// VersionChangeError refuses a dump from another major version.
type VersionChangeError struct {
	From, To       string // majors
	FromV, ToV     string // full versions
	Image, Service string
	Downgrade      bool // into an older server: never, consent or not
}

func (e *VersionChangeError) Error() string {
	if e.Downgrade {
		return fmt.Sprintf("the backup was made by PostgreSQL %s (%s) and %s runs the older PostgreSQL %s (%s): a dump never goes into an older server; "+
			"point %s back at the image the backup came from (%s) or a newer one, with a new volume, then restore", e.From, e.FromV, e.Service, e.To, e.ToV, e.Service, e.Image)
	}
	return fmt.Sprintf("the backup was made by PostgreSQL %s (%s) and %s runs PostgreSQL %s (%s): a dump restores into the same major version without question; "+
		"into another one only as an upgrade path: a dump of the old server (pg_dump, which this backup is) restored into a new, empty server of the newer major version "+
		"(never an older one). If that is what you mean (%s -> %s), run the restore again with --allow-version-change; "+
		"otherwise point %s at the image the backup came from (%s) first",
		e.From, e.FromV, e.Service, e.To, e.ToV, e.From, e.To, e.Service, e.Image)
}

// Restore replaces the site's database with a backup's: it verifies the
// file, checks the server's version, stops the writers, restores in one
// transaction, starts the writers again and compares the row counts with
// the manifest's.
func Restore(ctx context.Context, env *Env, path string, opt RestoreOptions) (RestoreResult, error) {
	start := time.Now()
	var res RestoreResult
	m, err := VerifyBackup(path)
	if err != nil {
		return res, err
	}
	res.Manifest = m
	if m.Stack != env.Cluster.Stack {
		env.Runner.Log.Note("restoring a backup of stack %s into stack %s", m.Stack, env.Cluster.Stack)
	}
	// A restore often follows trouble: postgres may be (re)starting.
	if err := waitTaskOn(ctx, env, RestoreStepID, env.Cluster.Stack+"_postgres", "", 3*time.Minute); err != nil {
		return res, err
	}
	d, err := findDBTask(ctx, env, RestoreStepID)
	if err != nil {
		return res, err
	}
	if err := waitDBReady(ctx, env, RestoreStepID, d); err != nil {
		return res, err
	}
	live, err := readDBFacts(ctx, env, RestoreStepID, d)
	if err != nil {
		return res, err
	}
	if err := versionCheck(m, live, d.Service, opt.AllowVersionChange); err != nil {
		return res, err
	}
	if from, to := PGMajor(m.ServerVersionNum), PGMajor(live.VersionNum); from != to {
		env.Runner.Log.Note("restoring a PostgreSQL %s dump into %s (--allow-version-change)", from, to)
	}

	res.Paused, err = PauseWriters(ctx, env, RestoreStepID)
	if err == nil {
		res.Server, err = restoreFromFileAs(ctx, env, RestoreStepID, d, path)
	}
	// The writers come back whatever happened: a failed restore is one
	// rolled-back transaction, so the database is as it was before.
	resumed, rerr := ResumeWriters(ctx, env, RestoreStepID)
	if len(resumed) > 0 {
		env.Runner.Log.Note("writers started again: %s", strings.Join(resumed, ", "))
	}
	if err = errors.Join(err, rerr); err != nil {
		return res, err
	}
	if diff := CompareRows(m.RowCounts, res.Server.Rows); len(diff) > 0 {
		return res, &StepError{Step: RestoreStepID, Host: d.Host, Purpose: "compare the row counts with the backup's manifest",
			Err:  fmt.Errorf("%d table(s) differ:\n    %s", len(diff), strings.Join(diff, "\n    ")),
			Next: "the writers run again; read the log, then restore the same file again (it replaces the database) or restore an older backup"}
	}
	// The writers are back only when their tasks run; then Django says
	// whether the restored schema matches the code.
	mgr := env.On(RestoreStepID, env.Cluster.Manager)
	if _, err := convergeWait(ctx, env, mgr, env.Cluster.Stack, 5*time.Minute); err != nil {
		return res, err
	}
	if dj, err := siteFindDjango(ctx, env, RestoreStepID); err == nil {
		res.PendingMigrations, err = migratePending(ctx, env, dj, RestoreStepID)
		if err != nil {
			return res, err
		}
	}
	res.Duration = time.Since(start)
	return res, nil
}

// versionCheck refuses a dump of another major version, unless the operator
// consents and it is an upgrade (never into an older server).
func versionCheck(m BackupManifest, live DBFacts, service string, allow bool) error {
	from, to := PGMajor(m.ServerVersionNum), PGMajor(live.VersionNum)
	if from == to {
		return nil
	}
	ve := &VersionChangeError{From: from, To: to, FromV: m.ServerVersion, ToV: live.Version, Image: m.PostgresImage, Service: service,
		Downgrade: live.VersionNum < m.ServerVersionNum}
	if !allow || ve.Downgrade {
		return ve
	}
	return nil
}

func restoreFromFileAs(ctx context.Context, env *Env, step string, d dbTask, path string) (DBFacts, error) {
	b, err := OpenBackup(path)
	if err != nil {
		return DBFacts{}, err
	}
	defer b.Close()
	return restoreDB(ctx, env, step, d, b.Dump(), b.Manifest.Dump.Bytes)
}
