package remote

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestWriteFileAtomicKeepsOwnerModeWithBackup(t *testing.T) {
	c := rootConn(t)
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "daemon.json")
	os.WriteFile(path, []byte("old\n"), 0o640)
	os.Chown(path, 1234, 2345)

	data := []byte("new content\nwith 'quotes' and $vars\n\x00binary\n")
	backup, err := c.WriteFile(ctx, path, data, WriteOptions{Backup: true})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if string(got) != string(data) {
		t.Fatalf("content %q", got)
	}
	st, _ := os.Stat(path)
	sys := st.Sys().(*syscall.Stat_t)
	if st.Mode().Perm() != 0o640 || sys.Uid != 1234 || sys.Gid != 2345 {
		t.Fatalf("mode %v owner %d:%d, want 0640 1234:2345", st.Mode(), sys.Uid, sys.Gid)
	}
	if !strings.HasPrefix(backup, path+".aginstall-") || !strings.HasSuffix(backup, "Z.bak") {
		t.Fatalf("backup name %q", backup)
	}
	if old, _ := os.ReadFile(backup); string(old) != "old\n" {
		t.Fatalf("backup content %q", old)
	}
	// Backups kept elsewhere: a new 0700 folder, the path flattened.
	bdir := filepath.Join(t.TempDir(), "backups")
	bOut, err := c.WriteFile(ctx, path, []byte("old\n"), WriteOptions{Backup: true, BackupDir: bdir})
	if err != nil {
		t.Fatal(err)
	}
	flat := strings.ReplaceAll(strings.TrimPrefix(path, "/"), "/", "_")
	if filepath.Dir(bOut) != bdir || !strings.HasPrefix(filepath.Base(bOut), flat+".aginstall-") || !strings.HasSuffix(bOut, ".bak") {
		t.Fatalf("backup in a folder: %q", bOut)
	}
	if old, _ := os.ReadFile(bOut); string(old) != string(data) {
		t.Fatalf("backup in a folder holds %q", old)
	}
	if st, err := os.Stat(bdir); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("backup folder: %v %v", st.Mode(), err)
	}
	if _, err := c.WriteFile(ctx, path, data, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	// A second write in the same second gets its own backup.
	b2, err := c.WriteFile(ctx, path, []byte("third\n"), WriteOptions{Backup: true})
	if err != nil || b2 == backup {
		t.Fatalf("second backup %q (first %q): %v", b2, backup, err)
	}
	// ReadFile and Stat agree.
	if b, err := c.ReadFile(ctx, path, false); err != nil || string(b) != "third\n" {
		t.Fatalf("ReadFile %q %v", b, err)
	}
	fi, err := c.Stat(ctx, path, false)
	if err != nil || !fi.Exists || fi.Mode != 0o640 || fi.UID != 1234 || fi.GID != 2345 || fi.Size != 6 {
		t.Fatalf("Stat %+v %v", fi, err)
	}
	// No temp files left behind.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".aginstall-") && !strings.HasSuffix(e.Name(), ".bak") {
			t.Fatalf("leftover %s", e.Name())
		}
	}
	// An explicit mode wins; a new file gets 0644 and no backup.
	if _, err := c.WriteFile(ctx, path, data, WriteOptions{Mode: 0o600}); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode())
	}
	fresh := filepath.Join(dir, "new.conf")
	if b, err := c.WriteFile(ctx, fresh, []byte("x"), WriteOptions{Backup: true}); err != nil || b != "" {
		t.Fatalf("new file: backup %q, %v", b, err)
	}
	if st, _ := os.Stat(fresh); st.Mode().Perm() != 0o644 {
		t.Fatalf("new file mode %v", st.Mode())
	}
	// A symlink stays a symlink; its target is replaced.
	link := filepath.Join(dir, "link.conf")
	os.Symlink(fresh, link)
	if _, err := c.WriteFile(ctx, link, []byte("via link"), WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&fs.ModeSymlink == 0 {
		t.Fatal("symlink replaced by a file")
	}
	if b, _ := os.ReadFile(fresh); string(b) != "via link" {
		t.Fatalf("%q", b)
	}
}

func TestReadFileMissing(t *testing.T) {
	c := rootConn(t)
	ctx := context.Background()
	missing := filepath.Join(t.TempDir(), "nope")
	_, err := c.ReadFile(ctx, missing, false)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "n1 (127.0.0.1:") {
		t.Fatalf("want fs.ErrNotExist naming the host, got %v", err)
	}
	if fi, err := c.Stat(ctx, missing, false); err != nil || fi.Exists {
		t.Fatalf("Stat missing: %+v %v", fi, err)
	}
	if _, err := c.WriteFile(ctx, filepath.Join(missing, "x"), []byte("x"), WriteOptions{}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("write into a missing dir: %v", err)
	}
}

// As a sudo user with a password: the file is written as root, the data
// following the password line on stdin.
func TestWriteFileThroughSudoPassword(t *testing.T) {
	p, _ := sudoPool(t, sudoUser, sudoPass)
	c := mustConn(t, p, "h1")
	ctx := context.Background()
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	path := filepath.Join(dir, "root-owned.conf")
	os.WriteFile(path, []byte("old"), 0o600)
	if _, err := c.WriteFile(ctx, path, []byte("x"), WriteOptions{}); err == nil {
		t.Fatal("writing a root file without sudo worked")
	}
	data := []byte("first line\nsecond line\n")
	if _, err := c.WriteFile(ctx, path, data, WriteOptions{Sudo: true, Backup: true}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	st, _ := os.Stat(path)
	if string(got) != string(data) || st.Mode().Perm() != 0o600 || st.Sys().(*syscall.Stat_t).Uid != 0 {
		t.Fatalf("%q %v", got, st.Mode())
	}
	if b, err := c.ReadFile(ctx, path, true); err != nil || string(b) != string(data) {
		t.Fatalf("ReadFile with sudo: %q %v", b, err)
	}
}
