package steps

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
)

// testPostgres is a throwaway PostgreSQL 15 server (Debian's postgresql-15
// on this machine) run as the postgres user in a temporary folder, on a
// private socket there and a free loopback TCP port, as the image's final
// server listens (dbReadyScript waits for TCP). Without its binaries or
// root the test is skipped, saying why; the lab runs the same scripts in
// the stack's containers.
type testPostgres struct {
	t   *testing.T
	Dir string
	env []string
}

func startTestPostgres(t *testing.T) *testPostgres {
	t.Helper()
	bin := "/usr/lib/postgresql/15/bin"
	pgUser, err := user.Lookup("postgres")
	if _, serr := os.Stat(bin + "/initdb"); serr != nil || err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and Debian's postgresql-15 (initdb in " + bin + ", user postgres)")
	}
	uid, _ := strconv.Atoi(pgUser.Uid)
	gid, _ := strconv.Atoi(pgUser.Gid)
	dir, err := os.MkdirTemp("", "agpg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chown(dir, uid, gid)
	p := &testPostgres{t: t, Dir: dir,
		env: []string{"PATH=" + bin + ":/usr/bin:/bin", "PGHOST=" + dir, "PGPORT=" + freeLoopbackPort(t), "LANG=C.UTF-8"}}
	data := filepath.Join(dir, "data")
	if _, e, err := p.Run(nil, nil, "initdb", "-U", "postgres", "-A", "trust", "-D", data); err != nil {
		t.Fatalf("initdb: %v %s", err, e)
	}
	if _, e, err := p.Run(nil, nil, "pg_ctl", "-D", data, "-w", "-o", "-c listen_addresses=127.0.0.1 -c unix_socket_directories="+dir, "-l", filepath.Join(dir, "log"), "start"); err != nil {
		t.Fatalf("pg_ctl start: %v %s", err, e)
	}
	t.Cleanup(func() { p.Run(nil, nil, "pg_ctl", "-D", data, "-m", "immediate", "stop") })
	return p
}

// Run runs args as the postgres user with the server's environment plus env,
// stdin on its standard input.
func (p *testPostgres) Run(stdin []byte, env []string, args ...string) (stdout, stderr string, err error) {
	cmd := exec.Command("setpriv", append([]string{"--reuid=postgres", "--regid=postgres", "--init-groups", "--"}, args...)...)
	cmd.Env, cmd.Dir = append(append([]string{}, p.env...), env...), p.Dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err = cmd.Run()
	return out.String(), errb.String(), err
}

// freeLoopbackPort is a TCP port on 127.0.0.1 that was free a moment ago.
func freeLoopbackPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}
