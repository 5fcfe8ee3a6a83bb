package steps

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/google/renameio/v2"
)

// A backup file (NAME.agbackup) is an uncompressed tar of two members:
//
//	manifest.json     what the backup is (BackupManifest), first so a restore
//	                  can refuse a wrong file before it sends anything
//	database.pgdump   pg_dump's custom format, compressed by pg_dump (-Z 6)
//
// written atomically with mode 0600, and beside it NAME.agbackup.sha256 in
// sha256sum's format (`sha256sum -c` checks it). The manifest also holds the
// dump's own SHA-256, which a restore verifies before it stops anything.

// BackupFormat names this layout; a restore refuses any other.
const BackupFormat = "aginstall-backup/1"

const (
	backupManifestName = "manifest.json"
	backupDumpName     = "database.pgdump"
)

// BackupManifest describes a backup.
type BackupManifest struct {
	Format           string           `json:"format"`
	Cluster          string           `json:"cluster"`
	Stack            string           `json:"stack"`
	Created          time.Time        `json:"created"`
	SourceRepo       string           `json:"source_repo"`
	SourceRef        string           `json:"source_ref"`
	SourceCommit     string           `json:"source_commit"`
	PostgresImage    string           `json:"postgres_image"`
	ServerVersion    string           `json:"server_version"`
	ServerVersionNum int              `json:"server_version_num"`
	Node             string           `json:"node"`
	Database         string           `json:"database"`
	RowCounts        map[string]int64 `json:"row_counts"`
	Dump             BackupDump       `json:"dump"`
	Media            string           `json:"media"`
}

// BackupDump is the dump member's format, size and checksum.
type BackupDump struct {
	Format string `json:"format"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// backupMediaNote says where the media are (they are not in the file).
const backupMediaNote = "not included: uploaded files live in the checkout's autograder-server/media_root on the NFS share; back them up with the share (see README, Backups)"

// writeBackupFile writes the manifest and the dump (read from dump, m.Dump.Bytes
// long) to path atomically with mode 0600, then the .sha256 file beside it.
// It returns the whole file's SHA-256.
func writeBackupFile(path string, m BackupManifest, dump io.Reader) (string, error) {
	mj, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return "", err
	}
	mj = append(mj, '\n')
	pf, err := renameio.NewPendingFile(path, renameio.WithPermissions(0o600))
	if err != nil {
		return "", err
	}
	defer pf.Cleanup()
	sum := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(pf, sum))
	mod := m.Created.UTC()
	if err := tw.WriteHeader(&tar.Header{Name: backupManifestName, Mode: 0o600, Size: int64(len(mj)), ModTime: mod, Format: tar.FormatPAX}); err != nil {
		return "", err
	}
	if _, err := tw.Write(mj); err != nil {
		return "", err
	}
	if err := tw.WriteHeader(&tar.Header{Name: backupDumpName, Mode: 0o600, Size: m.Dump.Bytes, ModTime: mod, Format: tar.FormatPAX}); err != nil {
		return "", err
	}
	if _, err := io.Copy(tw, dump); err != nil {
		return "", err
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	if err := pf.CloseAtomicallyReplace(); err != nil {
		return "", err
	}
	hexsum := hex.EncodeToString(sum.Sum(nil))
	line := fmt.Sprintf("%s  %s\n", hexsum, filepath.Base(path))
	return hexsum, renameio.WriteFile(path+".sha256", []byte(line), 0o600)
}

// BackupFile is an opened backup: its manifest, and the dump member
// positioned for reading.
type BackupFile struct {
	Manifest BackupManifest
	f        *os.File
	tr       *tar.Reader
}

// OpenBackup reads a backup's manifest. The dump is not verified yet
// (VerifyBackup does, reading it once).
func OpenBackup(path string) (*BackupFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	b := &BackupFile{f: f, tr: tar.NewReader(f)}
	bad := func(why string, args ...any) (*BackupFile, error) {
		f.Close()
		return nil, fmt.Errorf("%s is not an aginstall backup: %s", path, fmt.Sprintf(why, args...))
	}
	hdr, err := b.tr.Next()
	if err != nil || hdr.Name != backupManifestName || hdr.Size > 1<<20 {
		return bad("it does not start with %s", backupManifestName)
	}
	mj, err := io.ReadAll(b.tr)
	if err != nil {
		return bad("reading the manifest: %v", err)
	}
	if err := json.Unmarshal(mj, &b.Manifest); err != nil {
		return bad("the manifest is not valid JSON: %v", err)
	}
	if b.Manifest.Format != BackupFormat {
		return bad("format %q, this aginstall reads %q", b.Manifest.Format, BackupFormat)
	}
	hdr, err = b.tr.Next()
	if err != nil || hdr.Name != backupDumpName || hdr.Size != b.Manifest.Dump.Bytes {
		return bad("no %s of the manifest's size (%d bytes) after the manifest", backupDumpName, b.Manifest.Dump.Bytes)
	}
	return b, nil
}

// Dump is the dump member (read once).
func (b *BackupFile) Dump() io.Reader { return b.tr }

func (b *BackupFile) Close() error { return b.f.Close() }

// ErrBackupChecksum: the dump is not what the manifest says it is.
var ErrBackupChecksum = errors.New("the dump does not match the manifest's checksum")

// VerifyBackup reads the whole dump of path and compares it with the manifest.
func VerifyBackup(path string) (BackupManifest, error) {
	b, err := OpenBackup(path)
	if err != nil {
		return BackupManifest{}, err
	}
	defer b.Close()
	sum := sha256.New()
	n, err := io.Copy(sum, b.Dump())
	if err != nil {
		return b.Manifest, fmt.Errorf("reading %s: %w", path, err)
	}
	if n != b.Manifest.Dump.Bytes || hex.EncodeToString(sum.Sum(nil)) != b.Manifest.Dump.SHA256 {
		return b.Manifest, fmt.Errorf("%s: %w (the file is damaged or was changed)", path, ErrBackupChecksum)
	}
	return b.Manifest, nil
}
