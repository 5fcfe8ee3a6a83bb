package steps

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"aginstall/steps/edit"
)

func TestExportsEdit(t *testing.T) {
	const want = "/srv/ag 10.0.0.12(rw,sync,no_root_squash,no_subtree_check) 10.0.0.13(rw,sync,no_root_squash,no_subtree_check)\n"
	clients := []string{"10.0.0.12", "10.0.0.13"}
	cases := []struct{ name, old, want string }{
		{"empty", "", want},
		{"debian comments kept", "# /etc/exports: the access control list\n#\n", "# /etc/exports: the access control list\n#\n" + want},
		{"guide's wide line narrowed in place", "/home 1.2.3.4(ro)\n/srv/ag *(rw,sync,no_root_squash,no_subtree_check)\n/x y(ro)\n",
			"/home 1.2.3.4(ro)\n" + want + "/x y(ro)\n"},
		{"duplicates dropped", "/srv/ag a(rw)\n/srv/ag b(rw)\n", want},
		{"right line with tabs kept", strings.ReplaceAll(want, " ", "\t"), strings.ReplaceAll(want, " ", "\t")},
		{"other path with same prefix untouched", "/srv/ag2 a(rw)\n", "/srv/ag2 a(rw)\n" + want},
		{"no final newline", "/a b(ro)", "/a b(ro)\n" + want},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := string(edit.Exports([]byte(tc.old), "/srv/ag", clients))
			if got != tc.want {
				t.Fatalf("got %q\nwant %q", got, tc.want)
			}
			if again := string(edit.Exports([]byte(got), "/srv/ag", clients)); again != got {
				t.Fatalf("not idempotent: %q", again)
			}
		})
	}
	wide := edit.ExportsLine("/srv/my ag", []string{"*"})
	if wide != `"/srv/my ag" *(rw,sync,no_root_squash,no_subtree_check)` {
		t.Errorf("quoted: %q", wide)
	}
	got := string(edit.Exports([]byte("\"/srv/my ag\" old(ro)\n/srv/my x(ro)\n"), "/srv/my ag", []string{"*"}))
	if got != wide+"\n/srv/my x(ro)\n" {
		t.Errorf("quoted path replaced: %q", got)
	}
}

func TestFstabEdit(t *testing.T) {
	const want = "10.0.0.11:/srv/ag /srv/ag nfs rw,hard,intr 0 0\n"
	base := "# /etc/fstab\nUUID=abc / ext4 errors=remount-ro 0 1\n"
	cases := []struct{ name, old, want string }{
		{"added", base, base + want},
		{"stale server replaced in place", base + "oldhost:/srv/ag /srv/ag nfs rw 0 0\n/dev/sdb1 /data ext4 defaults 0 2\n",
			base + want + "/dev/sdb1 /data ext4 defaults 0 2\n"},
		{"duplicates dropped", want + want, want},
		{"already right", base + want, base + want},
		{"commented line untouched", "#10.0.0.11:/srv/ag /srv/ag nfs rw 0 0\n", "#10.0.0.11:/srv/ag /srv/ag nfs rw 0 0\n" + want},
		{"sub-folder mount untouched", "x:/srv/ag/media /srv/ag/media nfs rw 0 0\n", "x:/srv/ag/media /srv/ag/media nfs rw 0 0\n" + want},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := string(edit.Fstab([]byte(tc.old), "10.0.0.11", "/srv/ag"))
			if got != tc.want {
				t.Fatalf("got %q\nwant %q", got, tc.want)
			}
			n := 0
			for _, l := range strings.Split(got, "\n") {
				if !strings.HasPrefix(l, "#") && strings.Contains(l, " /srv/ag nfs ") {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("not exactly one mount line: %q", got)
			}
		})
	}
	odd := edit.FstabLine("m", "/srv/my ag")
	if odd != `m:/srv/my\040ag /srv/my\040ag nfs rw,hard,intr 0 0` {
		t.Errorf("escaped: %q", odd)
	}
	stale := "m:/old /srv/my\\040ag nfs ro 0 0\n"
	if got := string(edit.Fstab([]byte(stale), "m", "/srv/my ag")); got != odd+"\n" {
		t.Errorf("escaped stale line: %q", got)
	}
}

func TestNFSProbeParseAndVerdict(t *testing.T) {
	in := parseNFS("dir=1\nmedia=1\nmarker=aginstall shared-folder check 00ff\nhead=abc\npkg=nfs-common\nmount=10.0.0.11:/srv/ag   nfs4\nnfs=1\n")
	if !in.dir || !in.media || in.marker != "aginstall shared-folder check 00ff" || !in.pkgs["nfs-common"] || in.mount != "10.0.0.11:/srv/ag nfs4" || !in.nfs || in.nfsd {
		t.Fatalf("%+v", in)
	}
	env := &Env{Cluster: &Cluster{Source: SourceSpec{Path: "/srv/ag"}, NFS: NFSSpec{Mode: "skip"}}, State: &State{Steps: map[string]*StepState{}}}
	todo := func(r, f string) HostCheck { return HostCheck{Status: Todo, Reason: r, Fix: f} }
	if v := sharedVerdict(env, in, in, false, todo); v.Status != Done || !strings.Contains(v.Reason, "handled elsewhere") {
		t.Errorf("same marker: %+v", v)
	}
	other := in
	other.marker, other.head = "", "def"
	v := sharedVerdict(env, in, other, false, todo)
	if v.Status != Todo || !strings.Contains(v.Reason, "HEAD is def, the manager's abc") || !strings.Contains(v.Fix, "nfs.mode is skip") {
		t.Errorf("other folder: %+v", v)
	}
	noMedia := in
	noMedia.media = false
	if v := sharedVerdict(env, noMedia, in, true, todo); v.Status != Todo || !strings.Contains(v.Reason, "media_root") {
		t.Errorf("media_root: %+v", v)
	}
}

func TestNoNFSErrorIsPlain(t *testing.T) {
	msg := noNFSError("nfs", "node2", "mount", "/root/ag", "mount -a", "mount said: mount.nfs: No such device").Error()
	for _, want := range []string{"node2: step nfs", "node2: this kernel cannot mount NFS (mount said: mount.nfs: No such device)",
		"command: mount -a", "set nfs.mode: skip", "shared storage handled elsewhere"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
}

// The probe script runs here under the same sh the hosts use: each role asks
// only what its verdict reads.
func TestNFSProbeScriptRoles(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "autograder-server", "media_root"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, sharedMarker), []byte("aginstall shared-folder check 42\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(role string) string {
		cmd := exec.Command("sh", "-s")
		cmd.Env = append(os.Environ(), "AG_PATH="+dir, "AG_NFS="+role)
		cmd.Stdin = strings.NewReader(nfsProbeScript)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", role, err, out)
		}
		return string(out)
	}
	none := run("none")
	in := parseNFS(none)
	if !in.dir || !in.media || in.marker != "aginstall shared-folder check 42" {
		t.Fatalf("none: %+v from %q", in, none)
	}
	for _, k := range []string{"pkg=", "mount=", "nfs=", "nfsd=", "enabled=", "active="} {
		if strings.Contains(none, "\n"+k) || strings.HasPrefix(none, k) {
			t.Errorf("role none asked NFS things (%s): %q", k, none)
		}
	}
	// The server asks about the server side, never the client's mount.
	if srv := run("server"); strings.Contains(srv, "mount=") || strings.Contains(srv, "nfs=1") || strings.Contains(srv, "pkg=nfs-common") {
		t.Errorf("server: %q", srv)
	}
	if cl := run("client"); strings.Contains(cl, "nfsd=1") || strings.Contains(cl, "enabled=") || strings.Contains(cl, "pkg=nfs-kernel-server") {
		t.Errorf("client: %q", cl)
	}
	missing := parseNFS(func() string {
		cmd := exec.Command("sh", "-s")
		cmd.Env = append(os.Environ(), "AG_PATH="+filepath.Join(dir, "nope"), "AG_NFS=none")
		cmd.Stdin = strings.NewReader(nfsProbeScript)
		out, _ := cmd.Output()
		return string(out)
	}())
	if missing.dir || missing.media || missing.marker != "" {
		t.Errorf("missing folder: %+v", missing)
	}
	c := &Cluster{Manager: "m", NFS: NFSSpec{Mode: "export"}}
	if nfsRole(c, "m") != "server" || nfsRole(c, "w") != "client" {
		t.Error("export roles")
	}
	c.NFS.Mode = "skip"
	if nfsRole(c, "m") != "none" {
		t.Error("skip role")
	}
}
