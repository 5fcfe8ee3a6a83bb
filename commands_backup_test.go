package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseBackupRestoreArgs(t *testing.T) {
	o, err := parseArgs([]string{"restore", "/tmp/x.agbackup", "--yes", "--allow-version-change"})
	if err != nil || o.command != "restore" || o.arg != "/tmp/x.agbackup" || !o.yes || !o.allowVersionChange {
		t.Fatalf("%+v %v", o, err)
	}
	o, err = parseArgs([]string{"-o", "out", "backup"})
	if err != nil || o.command != "backup" || o.output != "out" || o.arg != "" {
		t.Fatalf("%+v %v", o, err)
	}
	for _, bad := range [][]string{{"apply", "extra"}, {"restore", "a", "b"}} {
		if _, err := parseArgs(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// A file that is not a backup is refused as bad input before any host is
// contacted (the cluster file does not even exist here).
func TestRestoreRefusesABadFileFirst(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.agbackup")
	os.WriteFile(junk, []byte("not a tar"), 0o600)
	if code := run([]string{"restore", junk, "--yes", "-f", filepath.Join(dir, "none.yaml")}); code != exitBadInput {
		t.Errorf("exit %d, want %d", code, exitBadInput)
	}
	if code := run([]string{"restore", "--yes", "-f", filepath.Join(dir, "none.yaml")}); code != exitBadInput {
		t.Errorf("no file: exit %d, want %d", code, exitBadInput)
	}
}
