//go:build lab

package steps

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"aginstall/internal/labtest"
	"aginstall/remote"
)

// labEnv connects to the lab's hosts through the real remote package, with the
// lab's root-road cluster file (root, the lab key, Debian's docker.io: these
// tests are about each step's own work) copied into a temp dir (so state and
// logs stay there). The sudo road runs end to end in e2e_lab_test.go.
func labEnv(t *testing.T) (*Env, *labtest.Lab) {
	t.Helper()
	lab := labtest.Load(t)
	// Every lab test starts from bare hosts: the suite runs them one after
	// another on one lab, and each leaves it installed to some point.
	lab.Reset(t)
	data, err := os.ReadFile(lab.ClusterFileRoot)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "aginstall.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := ParseCluster(path, data)
	if err != nil {
		t.Fatal(err)
	}
	pool := remote.NewPool(Targets(c), remote.Options{SSHConfigFile: "none", KnownHostsFile: filepath.Join(t.TempDir(), "known_hosts")})
	t.Cleanup(func() { pool.Close() })
	env, err := NewEnv(c, pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Runner.Log.Close() })
	return env, lab
}

func labCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}
