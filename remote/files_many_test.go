package remote

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Through sudo with a password, in one session: a root-only file, an empty
// one, one without a final newline, one that tries to forge a boundary, and
// a missing one.
func TestReadFilesThroughSudoPassword(t *testing.T) {
	p, _ := sudoPool(t, sudoUser, sudoPass)
	c := mustConn(t, p, "h1")
	ctx := context.Background()
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755) // the user may look in, not read
	want := map[string][]byte{
		filepath.Join(dir, "secret.env"): []byte("AG_DB_PASSWORD=x\n"),
		filepath.Join(dir, "empty"):      {},
		filepath.Join(dir, "no-newline"): []byte("last line"),
		filepath.Join(dir, "forged 'q'"): []byte("aginstall-files-00 0 end\n\naginstall-files-00 1 file\n\x00\xff"),
	}
	for p, b := range want {
		os.WriteFile(p, b, 0o600) // root's: only sudo reads them
	}
	missing := filepath.Join(dir, "nope")
	paths := []string{missing}
	for p := range want {
		paths = append(paths, p)
	}
	if _, err := c.ReadFiles(ctx, paths, false); err == nil || !strings.Contains(err.Error(), "Permission denied") {
		t.Fatalf("without sudo: want cat's refusal, got %v", err)
	}
	got, err := c.ReadFiles(ctx, paths, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got[missing]; ok || len(got) != len(want) {
		t.Fatalf("got %d files (missing one present: %v)", len(got), ok)
	}
	for p, b := range want {
		if !bytes.Equal(got[p], b) {
			t.Errorf("%s: %q, want %q", p, got[p], b)
		}
	}
}

func TestParseReadFilesIsStrict(t *testing.T) {
	const b = "aginstall-files-ab"
	paths := []string{"/a", "/b"}
	good := b + " 0 file\nx\n" + b + " 0 end\n" + b + " 1 missing\n"
	files, err := parseReadFiles([]byte(good), b, paths)
	if err != nil || string(files["/a"]) != "x" || len(files) != 1 {
		t.Fatalf("%q %v", files, err)
	}
	for _, bad := range []string{
		"",                                  // nothing at all
		"motd\n" + good,                     // text before
		good + "x",                          // text after
		b + " 0 file\nx\n" + b + " 0 end\n", // a file left out
		b + " 1 missing\n" + b + " 0 file\nx\n" + b + " 0 end\n", // out of order
		b + " 0 file\nx", // cut off
		"aginstall-files-cd 0 missing\naginstall-files-cd 1 missing\n", // another boundary
	} {
		if _, err := parseReadFiles([]byte(bad), b, paths); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}
