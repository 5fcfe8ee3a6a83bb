package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// Operator strings that have broken shell quoting somewhere, once.
var quoteFuzzSeeds = []string{
	"", " ", "plain", "it's", `"double"`, `'`, `''`, `\`, `\\'`, "a b\tc",
	"; touch /tmp/aginstall-pwned", "$(touch /tmp/aginstall-pwned)", "`touch /tmp/aginstall-pwned`",
	"$HOME", "${IFS}", "$((1+1))", "a\nb", "\n", "trailing\n", "-n", "--", "-e \\x41",
	"*", "~root", "!", "#comment", "a|b&c>d<e", "é ü 漢字 🐳", "\u202etxt.exe", "\xff\xfe", "%s%n%x",
}

// FuzzQuoteLocal: whatever the operator typed, Quote makes sh see exactly
// those words and run nothing else (the command only prints its argv).
func FuzzQuoteLocal(f *testing.F) {
	for i, s := range quoteFuzzSeeds {
		f.Add(s, quoteFuzzSeeds[(i+7)%len(quoteFuzzSeeds)])
	}
	canary := filepath.Join(f.TempDir(), "canary")
	f.Fuzz(func(t *testing.T, a, b string) {
		if strings.ContainsRune(a+b, 0) {
			t.Skip("NUL cannot be in a command line at all")
		}
		args := []string{a, b, "touch " + canary, a + "$(touch " + canary + ")"}
		line := "printf '%s\\0' " + Quote(args...)
		out, err := exec.Command("/bin/sh", "-c", line).Output()
		if err != nil {
			t.Fatalf("sh -c %q: %v", line, err)
		}
		if got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00"); strings.Join(got, "\x00") != strings.Join(args, "\x00") {
			t.Fatalf("line %q\ngot argv %q\nwant %q", line, got, args)
		}
		if _, err := os.Stat(canary); err == nil {
			t.Fatalf("line %q ran a command", line)
		}
	})
}

// fuzzSSHD is one sshd for a whole fuzz run, as the sudo test user (sudo asks
// for sudoPass) and as root.
type fuzzSSHD struct {
	addr, key, knownHosts string
	cmd                   *exec.Cmd
}

func startFuzzSSHD(f *testing.F) *fuzzSSHD {
	f.Helper()
	if os.Geteuid() != 0 {
		f.Skip("needs root (sshd, sudo test users), as in CI")
	}
	if err := ensureUsers(); err != nil {
		f.Fatal(err)
	}
	os.MkdirAll("/run/sshd", 0o755)
	dir, err := os.MkdirTemp("", "aginstall-fuzz-sshd-")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755) // sshd reads authorized_keys as the test user
	s := &fuzzSSHD{key: filepath.Join(dir, "id"), knownHosts: filepath.Join(dir, "known_hosts")}
	hk := filepath.Join(dir, "host")
	for _, k := range []string{s.key, hk} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", k).CombinedOutput(); err != nil {
			f.Fatalf("ssh-keygen: %v %s", err, out)
		}
	}
	pub, _ := os.ReadFile(s.key + ".pub")
	os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o644)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s.addr = "127.0.0.1:" + strconv.Itoa(port)
	cfg := fmt.Sprintf("Port %d\nListenAddress 127.0.0.1\nHostKey %s\nPidFile %s/pid\nUsePAM no\nStrictModes no\n"+
		"AuthorizedKeysFile %s/authorized_keys\nPasswordAuthentication no\nPermitRootLogin prohibit-password\nMaxSessions 100\n",
		port, hk, dir, dir)
	os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(cfg), 0o600)
	s.cmd = exec.Command("/usr/sbin/sshd", "-D", "-E", filepath.Join(dir, "log"), "-f", filepath.Join(dir, "sshd_config"))
	if err := s.cmd.Start(); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.cmd.Process.Kill(); s.cmd.Wait() }) // by PID: only our sshd
	hostPub, _ := os.ReadFile(hk + ".pub")
	hpk, _, _, _, _ := ssh.ParseAuthorizedKey(hostPub)
	os.WriteFile(s.knownHosts, []byte(fmt.Sprintf("[127.0.0.1]:%d %s", port, ssh.MarshalAuthorizedKey(hpk))), 0o600)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", s.addr, 200*time.Millisecond); err == nil {
			c.Close()
			return s
		}
	}
	f.Fatal("sshd did not come up")
	return nil
}

func (s *fuzzSSHD) conn(f testing.TB, user string) *Conn {
	f.Helper()
	_, port, _ := net.SplitHostPort(s.addr)
	n, _ := strconv.Atoi(port)
	p := NewPool([]Target{{Name: "fuzz", Address: "127.0.0.1", Port: n, User: user, Identity: s.key}}, Options{
		SSHConfigFile: "none", KnownHostsFile: s.knownHosts, ConnectTimeout: 5 * time.Second,
		SudoPassword: func(string) ([]byte, error) { return []byte(sudoPass), nil },
	})
	f.Cleanup(func() { p.Close() })
	c, err := p.Conn(context.Background(), "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	return c
}

// FuzzSudoRunOverSSH: an operator string goes through Quote, the sudo
// wrapper (sudo -S ... sh -c '<quoted again>') and a real sshd; the command
// sees exactly the words and its own stdin, never the password.
func FuzzSudoRunOverSSH(f *testing.F) {
	s := startFuzzSSHD(f)
	c := s.conn(f, sudoUser)
	for _, seed := range quoteFuzzSeeds {
		f.Add(seed, []byte("stdin "+seed))
	}
	f.Fuzz(func(t *testing.T, arg string, stdin []byte) {
		if strings.ContainsRune(arg, 0) || len(arg) > 4096 {
			t.Skip("NUL cannot be in a command line")
		}
		args := []string{arg, "x" + arg + "y"}
		line := "id -u; printf '%s\\0' " + Quote(args...) + "; printf '|'; cat"
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		res, err := c.Run(ctx, Command{Line: line, Sudo: true, Stdin: stdin}, nil)
		if err != nil {
			t.Fatalf("run %q: %v", line, err)
		}
		want := "0\n" + strings.Join(args, "\x00") + "\x00|" + string(stdin)
		if string(res.Stdout) != want {
			t.Fatalf("line %q\n got %q\nwant %q", line, res.Stdout, want)
		}
		if bytes.Contains(res.Stdout, []byte(sudoPass)) && !bytes.Contains([]byte(arg+string(stdin)), []byte(sudoPass)) {
			t.Fatalf("the sudo password reached the command: %q", res.Stdout)
		}
	})
}

// FuzzFilesOverSSH: any file name the operator can cause (a checkout path,
// a TLS path) is written atomically, read back byte for byte, with a backup
// of the old content and no stray temp file.
func FuzzFilesOverSSH(f *testing.F) {
	s := startFuzzSSHD(f)
	c := s.conn(f, sudoUser)
	dir, err := os.MkdirTemp("", "aginstall-fuzz-files-")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { os.RemoveAll(dir) })
	for _, seed := range quoteFuzzSeeds {
		f.Add(seed, []byte(seed+"\n"))
	}
	var n int
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") || len(name) > 100 {
			t.Skip("not one file name")
		}
		n++
		sub := filepath.Join(dir, strconv.Itoa(n))
		if err := os.Mkdir(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(sub)
		p := filepath.Join(sub, name)
		if err := os.WriteFile(p, []byte("old"), 0o640); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		bak, err := c.WriteFile(ctx, p, data, WriteOptions{Sudo: true, Backup: true})
		if err != nil {
			t.Fatalf("write %q: %v", p, err)
		}
		got, err := c.ReadFile(ctx, p, true)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read back %q: %q, %v; want %q", p, got, err, data)
		}
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o640 {
			t.Fatalf("mode of %q after write: %v %v, want 0640 kept", p, st, err)
		}
		if old, err := os.ReadFile(bak); err != nil || string(old) != "old" {
			t.Fatalf("backup %q: %q %v", bak, old, err)
		}
		entries, _ := os.ReadDir(sub)
		if len(entries) != 2 {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Fatalf("after writing %q the folder holds %q, want the file and its backup", name, names)
		}
		if _, err := c.ReadFile(ctx, p+".missing", true); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("missing file: %v", err)
		}
	})
}
