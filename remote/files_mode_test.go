package remote

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// A secret file is never readable by others, not even for a moment: a chmod
// wrapper on the host (first in sshd's PATH) logs the temp file's mode and
// size after every chmod the write makes; no chmod may leave content readable
// by group or others when the file's final mode is 0600. Independent of the
// host's umask.
func TestWriteFileSecretNeverReadableByOthers(t *testing.T) {
	shim := t.TempDir()
	log := filepath.Join(shim, "chmod.log")
	os.Chmod(shim, 0o755)
	script := "#!/bin/sh\n/bin/chmod \"$@\" || exit\nfor last; do :; done\nstat -c '%a %s %n' -- \"$last\" >> " + log + "\n"
	if err := os.WriteFile(filepath.Join(shim, "chmod"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	s := startSSHD(t, "SetEnv PATH="+shim+":/usr/sbin:/usr/bin:/sbin:/bin")
	p := testPool(t, []Target{target(s, "n1", "root")}, Options{KnownHostsFile: knownHostsFor(t, s)})
	c := mustConn(t, p, "n1")
	ctx := context.Background()
	dir := t.TempDir()
	secret := []byte("DB_PASSWORD=hunter2hunter2\n")

	check := func(name string, want os.FileMode) {
		t.Helper()
		data, _ := os.ReadFile(log)
		os.Remove(log)
		if !strings.Contains(string(data), ".aginstall-") {
			t.Fatalf("%s: the chmod wrapper saw no temp file (PATH not used?): %q", name, data)
		}
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			if !strings.Contains(l, ".aginstall-") {
				continue // the login shell's own chmods
			}
			f := strings.Fields(l)
			if len(f) < 2 {
				t.Fatalf("%s: log line %q", name, l)
			}
			mode, err1 := strconv.ParseUint(f[0], 8, 32)
			size, err2 := strconv.ParseUint(f[1], 10, 64)
			if err1 != nil || err2 != nil {
				t.Fatalf("%s: log line %q", name, l)
			}
			if size > 0 && mode&0o077 != 0 {
				t.Errorf("%s: the temp file held %d bytes with mode %o: %s", name, size, mode, l)
			}
		}
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: final mode %v (%v), want %v", name, st.Mode().Perm(), err, want)
		}
	}
	// A new secret file.
	if _, err := c.WriteFile(ctx, filepath.Join(dir, "new.env"), secret, WriteOptions{Mode: 0o600}); err != nil {
		t.Fatal(err)
	}
	check("new.env", 0o600)
	// An old world-readable file narrowed to 0600.
	os.WriteFile(filepath.Join(dir, "old.env"), []byte("old\n"), 0o644)
	if _, err := c.WriteFile(ctx, filepath.Join(dir, "old.env"), secret, WriteOptions{Mode: 0o600, Backup: true}); err != nil {
		t.Fatal(err)
	}
	check("old.env", 0o600)
	// A file the operator narrowed is never widened by a wider default.
	os.WriteFile(filepath.Join(dir, "narrow.conf"), []byte("old\n"), 0o600)
	if _, err := c.WriteFile(ctx, filepath.Join(dir, "narrow.conf"), secret, WriteOptions{Mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	check("narrow.conf", 0o600)
}
