package remote

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzWriteFileCut cuts the SSH connection while WriteFile streams the new
// content (aginstall killed, the network gone): the file must then hold
// either its old content or the whole new one, never the part that arrived.
// cut is how many bytes of the temp file the host has written when the
// connection is closed.
func FuzzWriteFileCut(f *testing.F) {
	s := startFuzzSSHD(f)
	f.Add(uint32(1 << 20))
	f.Add(uint32(7<<20 + 3))
	const size = 48 << 20
	data := bytes.Repeat([]byte("aginstall-cut-0\n"), size/16)
	f.Fuzz(func(t *testing.T, cut uint32) {
		cut = 1 + cut%(size-(1<<20))
		c := s.conn(t, "root")
		dir := t.TempDir()
		p := filepath.Join(dir, "limits.conf")
		if err := os.WriteFile(p, []byte("old\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		go func() {
			for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
				entries, _ := os.ReadDir(dir)
				for _, e := range entries {
					if info, err := e.Info(); err == nil && strings.Contains(e.Name(), ".aginstall-") && info.Size() >= int64(cut) {
						c.client.Close()
						return
					}
				}
			}
		}()
		_, err := c.WriteFile(context.Background(), p, data, WriteOptions{Backup: true})
		time.Sleep(500 * time.Millisecond) // the host side finishes whatever it does after the cut
		got, _ := os.ReadFile(p)
		if string(got) != "old\n" && !bytes.Equal(got, data) {
			t.Fatalf("after a cut at %d bytes (err %v) the file holds %d bytes: neither the old content (4) nor the new (%d)", cut, err, len(got), len(data))
		}
		if err == nil && !bytes.Equal(got, data) {
			t.Fatalf("WriteFile reported success but the file holds %d bytes", len(got))
		}
	})
}
