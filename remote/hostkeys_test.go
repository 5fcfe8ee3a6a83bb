package remote

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// Three servers nobody has seen: one ScanHostKeys call returns all three
// keys, one AcceptHostKeys call writes them the way OpenSSH does
// (ssh-keygen -F finds them), and then every host connects.
func TestScanBatchAndAccept(t *testing.T) {
	t.Setenv("SSH_AUTH_SOCK", "")
	servers := []*testSSHD{startSSHD(t), startSSHD(t), startSSHD(t)}
	kh := filepath.Join(t.TempDir(), "ssh", "known_hosts") // does not exist yet
	var targets []Target
	for i, s := range servers {
		targets = append(targets, target(s, "node"+strconv.Itoa(i+1), "root"))
	}
	p := testPool(t, targets, Options{KnownHostsFile: kh})
	ctx := context.Background()

	_, err := p.Conn(ctx, "node1")
	var unk *HostKeyUnknownError
	if !errors.Is(err, ErrHostKeyUnknown) || !errors.As(err, &unk) {
		t.Fatalf("want ErrHostKeyUnknown, got %v", err)
	}
	if unk.Fingerprint != ssh.FingerprintSHA256(servers[0].HostKey) || !strings.Contains(err.Error(), "node1 (127.0.0.1:") {
		t.Fatalf("unknown key error: %v", err)
	}

	keys, err := p.ScanHostKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 3 {
		t.Fatalf("scan returned %d keys, want 3: %+v", len(keys), keys)
	}
	for i, k := range keys {
		want := ssh.FingerprintSHA256(servers[i].HostKey)
		if k.Host != targets[i].Name || k.Status != KeyUnknown || k.Fingerprint != want || k.Type != "ssh-ed25519" || k.Port != servers[i].Port {
			t.Fatalf("key %d: %+v (want %s unknown)", i, k, want)
		}
		t.Logf("%s %s:%d %s %s %s", k.Host, k.Address, k.Port, k.Type, k.Fingerprint, k.Status)
	}
	if _, err := os.Stat(kh); !os.IsNotExist(err) {
		t.Fatalf("scan wrote known_hosts: %v", err)
	}
	if err := p.AcceptHostKeys(keys); err != nil {
		t.Fatal(err)
	}
	for _, s := range servers {
		out, err := exec.Command("ssh-keygen", "-F", "[127.0.0.1]:"+strconv.Itoa(s.Port), "-f", kh).Output()
		if err != nil || !strings.Contains(string(out), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.HostKey)))) {
			t.Fatalf("ssh-keygen -F does not find port %d: %v\n%s", s.Port, err, out)
		}
	}
	for _, tg := range targets {
		mustRun(t, mustConn(t, p, tg.Name), Command{Line: "true"})
	}
	if n := p.Handshakes(); n != 3 {
		t.Fatalf("Handshakes() = %d, want 3", n)
	}
	// A new run reads them back from the file.
	p2 := testPool(t, targets, Options{KnownHostsFile: kh})
	keys, err = p2.ScanHostKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.Status != KeyKnown {
			t.Fatalf("after accept: %+v", k)
		}
	}
	mustConn(t, p2, "node3")
}

// A known_hosts file with hashed names gets hashed lines, as OpenSSH's
// HashKnownHosts would write them.
func TestAcceptWritesHashedWhenFileIsHashed(t *testing.T) {
	s := startSSHD(t)
	kh := filepath.Join(t.TempDir(), "known_hosts")
	other := startSSHD(t)
	os.WriteFile(kh, []byte("[127.0.0.1]:1 "+string(ssh.MarshalAuthorizedKey(other.HostKey))), 0o600)
	run(t, "ssh-keygen", "-H", "-f", kh)
	p := testPool(t, []Target{target(s, "n1", "root")}, Options{KnownHostsFile: kh, AcceptNewHostKeys: true})
	mustConn(t, p, "n1")
	data, _ := os.ReadFile(kh)
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if !strings.HasPrefix(l, "|1|") {
			t.Fatalf("unhashed line %q in\n%s", l, data)
		}
	}
	if out, err := exec.Command("ssh-keygen", "-F", "[127.0.0.1]:"+strconv.Itoa(s.Port), "-f", kh).Output(); err != nil || len(out) == 0 {
		t.Fatalf("ssh-keygen -F: %v %s", err, out)
	}
}

func TestChangedKeyRefusedThenRepinned(t *testing.T) {
	s := startSSHD(t)
	impostor := startSSHD(t) // its key stands for the one known_hosts remembers
	kh := filepath.Join(t.TempDir(), "known_hosts")
	line := "[127.0.0.1]:" + strconv.Itoa(s.Port) + " " + string(ssh.MarshalAuthorizedKey(impostor.HostKey))
	os.WriteFile(kh, []byte("# comment\n"+line), 0o600)
	p := testPool(t, []Target{target(s, "web1", "root")}, Options{KnownHostsFile: kh, AcceptNewHostKeys: true})
	ctx := context.Background()

	_, err := p.Conn(ctx, "web1")
	var ch *HostKeyChangedError
	if !errors.As(err, &ch) || !errors.Is(err, ErrHostKeyChanged) {
		t.Fatalf("want *HostKeyChangedError even with AcceptNewHostKeys, got %v", err)
	}
	msg := err.Error()
	t.Logf("the message:\n%s", msg)
	for _, want := range []string{
		"web1 (127.0.0.1:" + strconv.Itoa(s.Port) + ")",
		"REMOTE HOST IDENTIFICATION HAS CHANGED",
		"ssh-ed25519",
		ssh.FingerprintSHA256(s.HostKey),
		ssh.FingerprintSHA256(impostor.HostKey),
		kh + ":2",
		"ssh-keygen -R [127.0.0.1]:" + strconv.Itoa(s.Port),
		"administrator",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q", want)
		}
	}
	keys, err := p.ScanHostKeys(ctx)
	if err != nil || len(keys) != 1 || keys[0].Status != KeyChanged || len(keys[0].Want) != 1 {
		t.Fatalf("scan: %+v %v", keys, err)
	}
	if p.Handshakes() != 0 {
		t.Fatal("a refused host counted as connected")
	}
	// The operator confirmed the new key: re-pin.
	if err := p.AcceptHostKeys(keys); err != nil {
		t.Fatal(err)
	}
	mustRun(t, mustConn(t, p, "web1"), Command{Line: "true"})
	data, _ := os.ReadFile(kh)
	if strings.Contains(string(data), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(impostor.HostKey)))) {
		t.Fatalf("old key still in known_hosts:\n%s", data)
	}
	if old, err := os.ReadFile(kh + ".old"); err != nil || !strings.Contains(string(old), line) {
		t.Fatalf("no known_hosts.old backup: %v", err)
	}
	// And a fresh run trusts the file.
	mustConn(t, testPool(t, []Target{target(s, "web1", "root")}, Options{KnownHostsFile: kh}), "web1")
}

func TestPinnedHostKey(t *testing.T) {
	s := startSSHD(t)
	other := startSSHD(t)
	empty := filepath.Join(t.TempDir(), "known_hosts")

	// A pin match is enough: nothing in known_hosts, nothing written.
	tg := target(s, "n1", "root")
	tg.HostKey = ssh.FingerprintSHA256(s.HostKey)
	p := testPool(t, []Target{tg}, Options{KnownHostsFile: empty})
	mustRun(t, mustConn(t, p, "n1"), Command{Line: "true"})
	if _, err := os.Stat(empty); !os.IsNotExist(err) {
		t.Fatal("a pinned key was written to known_hosts")
	}

	// A pin mismatch is refused even when known_hosts agrees with the server.
	tg.HostKey = ssh.FingerprintSHA256(other.HostKey)
	p = testPool(t, []Target{tg}, Options{KnownHostsFile: knownHostsFor(t, s), AcceptNewHostKeys: true})
	_, err := p.Conn(context.Background(), "n1")
	var ch *HostKeyChangedError
	if !errors.As(err, &ch) || !strings.Contains(err.Error(), "cluster file host_key") || ch.Want[0] != tg.HostKey {
		t.Fatalf("pin mismatch: %v", err)
	}
}

// The server has ed25519 and ECDSA keys; known_hosts has only the ECDSA one.
// Asking for the known type avoids a false "changed" (skeema/knownhosts).
func TestOtherKeyTypeIsNotAMismatch(t *testing.T) {
	dir := t.TempDir()
	ecdsa := filepath.Join(dir, "host_ecdsa")
	run(t, "ssh-keygen", "-q", "-t", "ecdsa", "-N", "", "-f", ecdsa)
	s := startSSHD(t, "HostKey "+ecdsa)
	pubBytes, _ := os.ReadFile(ecdsa + ".pub")
	kh := filepath.Join(dir, "known_hosts")
	os.WriteFile(kh, []byte("[127.0.0.1]:"+strconv.Itoa(s.Port)+" "+string(pubBytes)), 0o600)
	p := testPool(t, []Target{target(s, "n1", "root")}, Options{KnownHostsFile: kh})
	mustConn(t, p, "n1")
	keys, err := p.ScanHostKeys(context.Background())
	if err != nil || keys[0].Status != KeyKnown || !strings.HasPrefix(keys[0].Type, "ecdsa") {
		t.Fatalf("%+v %v", keys, err)
	}
}

// With every option at its default: ~/.ssh/config is read, the key accepted
// non-interactively lands in ~/.ssh/known_hosts, and OpenSSH's own client
// then trusts that file with StrictHostKeyChecking=yes.
func TestDefaultsLikeOpenSSH(t *testing.T) {
	isolate(t)
	s := startSSHD(t)
	home := os.Getenv("HOME")
	os.MkdirAll(filepath.Join(home, ".ssh"), 0o700)
	os.WriteFile(filepath.Join(home, ".ssh", "config"), []byte("Host box\n  HostName 127.0.0.1\n  Port "+strconv.Itoa(s.Port)+
		"\n  User root\n  IdentityFile ~/key\n"), 0o600)
	key, _ := os.ReadFile(shared.key)
	os.WriteFile(filepath.Join(home, "key"), key, 0o600)
	p := NewPool([]Target{{Name: "box", Address: "box"}}, Options{AcceptNewHostKeys: true})
	defer p.Close()
	mustRun(t, mustConn(t, p, "box"), Command{Line: "true"})
	kh := filepath.Join(home, ".ssh", "known_hosts")
	out, err := exec.Command("ssh", "-F", "none", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
		"-o", "UserKnownHostsFile="+kh, "-o", "GlobalKnownHostsFile=/dev/null", "-i", shared.key,
		"-p", strconv.Itoa(s.Port), "root@127.0.0.1", "echo trusted").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "trusted" {
		data, _ := os.ReadFile(kh)
		t.Fatalf("OpenSSH does not trust what we wrote: %v %s\nknown_hosts:\n%s", err, out, data)
	}
}
