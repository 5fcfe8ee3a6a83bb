package steps

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"aginstall/remote"
)

// Backup and restore are not install steps: they are commands (aginstall
// backup / restore) and building blocks of a data move or an upgrade, so
// they are functions over an Env, with every remote action through its
// runner under the step names below.
const (
	BackupStepID  = "backup"
	RestoreStepID = "restore"
)

// BackupOptions says where a backup goes.
type BackupOptions struct {
	// Output is a file or an existing directory on this machine; empty means
	// the directory "backups" beside the cluster file.
	Output string
	Now    func() time.Time // tests
}

// BackupResult is a finished backup.
type BackupResult struct {
	Path     string // the .agbackup file
	SHA256   string // of the whole file (also in Path+".sha256")
	Manifest BackupManifest
	Duration time.Duration
}

// backupPath picks the file to write.
func backupPath(c *Cluster, out string, now time.Time) (string, error) {
	name := fmt.Sprintf("%s-%s.agbackup", c.Stack, now.UTC().Format("20060102T150405Z"))
	if out == "" {
		dir := filepath.Join(filepath.Dir(c.Path), "backups")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", err
		}
		return filepath.Join(dir, name), nil
	}
	if st, err := os.Stat(out); err == nil && st.IsDir() {
		return filepath.Join(out, name), nil
	}
	if _, err := os.Stat(filepath.Dir(out)); err != nil {
		return "", &InputError{File: "aginstall backup", Path: "-o", Msg: fmt.Sprintf("the folder of %s does not exist", out)}
	}
	if _, err := os.Stat(out); err == nil {
		return "", &InputError{File: "aginstall backup", Path: "-o", Msg: fmt.Sprintf("%s exists: a backup never overwrites a file; name a new file or a folder", out)}
	}
	return out, nil
}

// Backup dumps the site's database from the postgres task, through the
// Docker API of the node that runs it, into a backup file on this machine.
func Backup(ctx context.Context, env *Env, opt BackupOptions) (BackupResult, error) {
	start := time.Now()
	now := time.Now
	if opt.Now != nil {
		now = opt.Now
	}
	c := env.Cluster
	path, err := backupPath(c, opt.Output, now())
	if err != nil {
		return BackupResult{}, err
	}
	d, err := findDBTask(ctx, env, BackupStepID)
	if err != nil {
		return BackupResult{}, err
	}
	commit := backupSourceCommit(ctx, env)
	// The size only guides the progress bar; the counts that matter are read
	// again in the dump's own snapshot.
	var hint int64
	if f, err := readDBFacts(ctx, env, BackupStepID, d); err == nil {
		hint = f.Size / 4 // pg_dump -Fc is typically several times smaller than the tables
	}

	// The dump is spooled next to the final file (mode 0600), because the
	// manifest, which leads the file, needs its size and checksum.
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return BackupResult{}, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := tmp.Chmod(0o600); err != nil {
		return BackupResult{}, err
	}
	sum := sha256.New()
	facts, err := dumpDB(ctx, env, BackupStepID, d, io.MultiWriter(tmp, sum), hint)
	if err != nil {
		return BackupResult{}, err
	}
	size, err := tmp.Seek(0, io.SeekCurrent)
	if err != nil {
		return BackupResult{}, err
	}
	if size == 0 {
		return BackupResult{}, &StepError{Step: BackupStepID, Host: d.Host, Purpose: "dump the database", Err: errors.New("pg_dump wrote nothing")}
	}
	m := BackupManifest{
		Format: BackupFormat, Cluster: c.Name, Stack: c.Stack, Created: now().UTC().Truncate(time.Second),
		SourceRepo: c.Source.Repo, SourceRef: c.Source.Ref, SourceCommit: commit,
		PostgresImage: d.Image, ServerVersion: facts.Version, ServerVersionNum: facts.VersionNum,
		Node: d.Node, Database: d.Database, RowCounts: facts.Rows,
		Dump:  BackupDump{Format: "pg_dump custom (-Fc -Z 6)", Bytes: size, SHA256: hex.EncodeToString(sum.Sum(nil))},
		Media: backupMediaNote,
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return BackupResult{}, err
	}
	whole, err := writeBackupFile(path, m, tmp)
	if err != nil {
		return BackupResult{}, fmt.Errorf("writing the backup file %s: %w", path, err)
	}
	env.Runner.Log.Note("backup written to %s (%d bytes of dump, sha256 %s)", path, size, whole)
	return BackupResult{Path: path, SHA256: whole, Manifest: m, Duration: time.Since(start)}, nil
}

// backupSourceCommit is the checkout's HEAD on the manager ("" when it
// cannot be read: a backup does not fail for want of it).
func backupSourceCommit(ctx context.Context, env *Env) string {
	c := env.Cluster
	line := fmt.Sprintf("GIT_OPTIONAL_LOCKS=0 git -c safe.directory='*' -C %s rev-parse HEAD", remote.Quote(c.Source.Path))
	res, err := env.On(BackupStepID, c.Manager).Query(ctx, "read the checkout's commit", remote.Command{Line: line, Sudo: true})
	if err != nil {
		return ""
	}
	s := strings.TrimSpace(string(res.Stdout))
	if len(s) != 40 || strings.Trim(s, "0123456789abcdef") != "" {
		return ""
	}
	return s
}

// CoreTables are the tables a summary shows first (when they exist).
var CoreTables = []string{"auth_user", "core_course", "core_course_admins", "core_project", "core_submission", "django_migrations"}
