package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"aginstall/steps"
)

// commandTakesArg: commands with one argument after them.
func commandTakesArg(cmd string) bool {
	return cmd == "restore" || cmd == "remove-node" || cmd == "move-database"
}

// cmdBackup dumps the database into a backup file on this machine.
func cmdBackup(ctx context.Context, o *options) error {
	if o.arg != "" {
		return fmt.Errorf("%w: backup takes no argument (the file is -o PATH)", errBadInput)
	}
	p := newPrinter(os.Stderr, true)
	s, err := open(ctx, o, p.sink)
	if err != nil {
		return err
	}
	defer s.close()
	s.env.Runner.Log.Note("backup started by aginstall %s", version)
	res, err := steps.Backup(ctx, s.env, steps.BackupOptions{Output: o.output})
	if err != nil {
		return fmt.Errorf("%w\nthe full log is %s", err, s.env.Runner.Log.Path)
	}
	m := res.Manifest
	fmt.Printf("- | backup | wrote %s (mode 0600, %s of dump, %s)\n", res.Path, sizeText(m.Dump.Bytes), res.Duration.Round(100_000_000))
	fmt.Printf("- | backup | sha256 %s (also in %s.sha256)\n", res.SHA256, res.Path)
	fmt.Printf("- | backup | PostgreSQL %s (%s) on %s, database %s, source commit %s\n", m.ServerVersion, m.PostgresImage, m.Node, m.Database, orNone(m.SourceCommit))
	fmt.Printf("- | backup | rows: %s\n", rowSummary(m.RowCounts))
	fmt.Printf("- | backup | media: %s\n", m.Media)
	return nil
}

// cmdRestore replaces the database with a backup's, after a typed
// confirmation (or --yes without a terminal).
func cmdRestore(ctx context.Context, o *options) error {
	if o.arg == "" {
		return fmt.Errorf("%w: restore needs the backup file: aginstall restore FILE", errBadInput)
	}
	// The file is checked before anything connects: a wrong file is bad input.
	m, err := steps.VerifyBackup(o.arg)
	if err != nil {
		return fmt.Errorf("%w: %v", errBadInput, err)
	}
	p := newPrinter(os.Stderr, true)
	s, err := open(ctx, o, p.sink)
	if err != nil {
		return err
	}
	defer s.close()
	fmt.Fprintf(os.Stderr, "Backup %s: stack %s, made %s from PostgreSQL %s (%s), source commit %s\n  rows: %s\n",
		o.arg, m.Stack, m.Created.Format("2006-01-02 15:04 MST"), m.ServerVersion, m.PostgresImage, orNone(m.SourceCommit), rowSummary(m.RowCounts))
	if !o.yes {
		if !isTerminal() {
			return fmt.Errorf("%w: restore replaces the database of %s; run it on a terminal to confirm, or with --yes", errBadInput, s.cluster.Name)
		}
		fmt.Fprintf(os.Stderr, "This REPLACES the database of stack %s with the backup's: everything written since %s is lost.\n"+
			"The site's writers (django, celery, graders) stop during the restore. Type the stack name (%s) to go on: ",
			s.cluster.Stack, m.Created.Format("2006-01-02 15:04 MST"), s.cluster.Stack)
		line, _ := stdinLines().ReadString('\n')
		if strings.TrimSpace(line) != s.cluster.Stack {
			return errors.New("not confirmed; nothing was changed")
		}
	}
	lock, err := acquireLock(s.cluster, o.breakLock)
	if err != nil {
		return err
	}
	defer lock.release()
	s.env.Runner.Log.Note("restore of %s started by aginstall %s", o.arg, version)
	res, err := steps.Restore(ctx, s.env, o.arg, steps.RestoreOptions{AllowVersionChange: o.allowVersionChange})
	var ve *steps.VersionChangeError
	if errors.As(err, &ve) {
		return fmt.Errorf("%w: %v", errBadInput, err)
	}
	if err != nil {
		return fmt.Errorf("%w\nthe full log is %s", err, s.env.Runner.Log.Path)
	}
	fmt.Printf("- | restore | restored %s into PostgreSQL %s in %s; writers stopped and started again: %s\n",
		o.arg, res.Server.Version, res.Duration.Round(100_000_000), strings.Join(res.Paused, ", "))
	fmt.Printf("- | restore | row counts match the backup's manifest (%d tables): %s\n", len(m.RowCounts), rowSummary(res.Server.Rows))
	if res.PendingMigrations {
		fmt.Printf("- | restore | the backup is older than the running code: migrations are pending; run `aginstall apply` (its migrate step applies them)\n")
	}
	return nil
}

func rowSummary(rows map[string]int64) string {
	var parts []string
	for _, t := range steps.CoreTables {
		if n, ok := rows[t]; ok {
			parts = append(parts, fmt.Sprintf("%s=%d", t, n))
		}
	}
	var others []string
	for t := range rows {
		if !slices.Contains(steps.CoreTables, t) {
			others = append(others, t)
		}
	}
	sort.Strings(others)
	if len(others) > 0 {
		parts = append(parts, fmt.Sprintf("and %d other tables", len(others)))
	}
	return strings.Join(parts, ", ")
}

func sizeText(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func orNone(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}
