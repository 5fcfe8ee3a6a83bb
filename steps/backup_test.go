package steps

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
)

func testManifest(dump []byte) BackupManifest {
	s := sha256.Sum256(dump)
	return BackupManifest{Format: BackupFormat, Stack: "ag-stack", Created: time.Date(2026, 11, 30, 1, 2, 3, 0, time.UTC),
		ServerVersionNum: 150010, ServerVersion: "15.10", RowCounts: map[string]int64{"core_course": 1, "auth_user": 2},
		Dump: BackupDump{Format: "pg_dump custom (-Fc -Z 6)", Bytes: int64(len(dump)), SHA256: hex.EncodeToString(s[:])}}
}

// The file round-trips, is 0600, its .sha256 is what sha256sum -c accepts,
// and a changed byte in the dump is caught.
func TestBackupFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	dump := bytes.Repeat([]byte("PGDMP\x00binary\xff"), 1000)
	path := filepath.Join(dir, "x.agbackup")
	whole, err := writeBackupFile(path, testManifest(dump), bytes.NewReader(dump))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + ".sha256"} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", p, st.Mode().Perm())
		}
	}
	if sidecar, _ := os.ReadFile(path + ".sha256"); string(sidecar) != whole+"  x.agbackup\n" {
		t.Errorf("sidecar %q", sidecar)
	}
	if _, err := exec.LookPath("sha256sum"); err == nil {
		cmd := exec.Command("sha256sum", "-c", "x.agbackup.sha256")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("sha256sum -c: %v %s", err, out)
		}
	}
	m, err := VerifyBackup(path)
	if err != nil {
		t.Fatal(err)
	}
	if m.RowCounts["auth_user"] != 2 || m.ServerVersionNum != 150010 {
		t.Errorf("manifest read back: %+v", m)
	}
	b, err := OpenBackup(path)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(b.Dump())
	b.Close()
	if !bytes.Equal(got, dump) {
		t.Error("the dump read back differs")
	}

	// One flipped byte in the dump's middle.
	data, _ := os.ReadFile(path)
	i := bytes.LastIndex(data, []byte("binary"))
	data[i] = 'B'
	bad := filepath.Join(dir, "bad.agbackup")
	os.WriteFile(bad, data, 0o600)
	if _, err := VerifyBackup(bad); !errors.Is(err, ErrBackupChecksum) {
		t.Errorf("a damaged dump: %v", err)
	}
	// Not a backup at all.
	os.WriteFile(filepath.Join(dir, "junk"), []byte("hello"), 0o600)
	if _, err := VerifyBackup(filepath.Join(dir, "junk")); err == nil || !strings.Contains(err.Error(), "not an aginstall backup") {
		t.Errorf("junk: %v", err)
	}
}

func TestBackupPathNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	c := &Cluster{Stack: "ag-stack", Path: filepath.Join(dir, "aginstall.yaml")}
	now := time.Date(2026, 11, 30, 1, 2, 3, 0, time.UTC)
	p, err := backupPath(c, "", now)
	if err != nil || p != filepath.Join(dir, "backups", "ag-stack-20261130T010203Z.agbackup") {
		t.Fatalf("default: %q %v", p, err)
	}
	if st, _ := os.Stat(filepath.Join(dir, "backups")); st == nil || st.Mode().Perm() != 0o700 {
		t.Errorf("backups folder: %v", st)
	}
	if p, _ := backupPath(c, dir, now); p != filepath.Join(dir, "ag-stack-20261130T010203Z.agbackup") {
		t.Errorf("folder: %q", p)
	}
	existing := filepath.Join(dir, "mine.agbackup")
	os.WriteFile(existing, nil, 0o600)
	if _, err := backupPath(c, existing, now); err == nil {
		t.Error("an existing file was accepted as the output")
	}
	if _, err := backupPath(c, filepath.Join(dir, "nope", "x"), now); err == nil {
		t.Error("a missing folder was accepted")
	}
}

func TestParseDBFacts(t *testing.T) {
	f, err := parseDBFacts("pg_dump: warning\nAGINSTALL VERSION 150010 15.10 (Debian 15.10-0+deb12u1)\n" +
		"AGINSTALL SIZE 7654321\nAGINSTALL COUNT auth_user 2\nAGINSTALL COUNT core_course 1\n")
	if err != nil {
		t.Fatal(err)
	}
	if f.VersionNum != 150010 || f.Version != "15.10 (Debian 15.10-0+deb12u1)" || f.Size != 7654321 ||
		f.Rows["auth_user"] != 2 || f.Rows["core_course"] != 1 || len(f.Rows) != 2 {
		t.Errorf("%+v", f)
	}
	for _, bad := range []string{
		"AGINSTALL COUNT a\x1b[2Jb 1\nAGINSTALL VERSION 150010 15",
		"AGINSTALL COUNT 1\nAGINSTALL VERSION 150010 15",
		"AGINSTALL COUNT t x\nAGINSTALL VERSION 150010 15",
		"AGINSTALL VERSION x 15",
		"nothing",
		"AGINSTALL VERSION 150010 15\nAGINSTALL DUMPFAILED 1",
	} {
		if _, err := parseDBFacts(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	if f, _ := parseDBFacts("AGINSTALL VERSION 90524 9.5.24\x1b[31m"); f.Version != "9.5.24[31m" {
		t.Errorf("control characters kept: %q", f.Version)
	}
}

func TestPGMajorAndCompareRows(t *testing.T) {
	for num, want := range map[int]string{90524: "9.5", 90600: "9.6", 100000: "10", 150010: "15", 160002: "16"} {
		if got := PGMajor(num); got != want {
			t.Errorf("PGMajor(%d) = %s, want %s", num, got, want)
		}
	}
	diff := CompareRows(map[string]int64{"a": 1, "b": 2, "c": 3}, map[string]int64{"a": 1, "b": 5, "d": 1})
	if len(diff) != 2 || !strings.Contains(diff[0], "b: 2 rows in the backup, 5 now") || !strings.Contains(diff[1], "c: 3 rows in the backup, table missing") {
		t.Errorf("%q", diff)
	}
}

// A replicated writer is scaled to 0 and back to its count; a global one
// gets an impossible constraint and loses it again; non-writers are left.
func TestWriterPauseResume(t *testing.T) {
	three := uint64(3)
	rep := swarm.Service{Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "s_django", Labels: map[string]string{"com.docker.stack.namespace": "s"}},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Env: []string{"AG_DB_HOST=postgres"}}},
		Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &three}}}}
	glob := swarm.Service{Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "s_grader"},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Env: []string{"X=1", "AG_DB_HOST=postgres"}},
			Placement: &swarm.Placement{Constraints: []string{"node.labels.grader == true"}}},
		Mode: swarm.ServiceMode{Global: &swarm.GlobalService{}}}}
	web := swarm.Service{Spec: swarm.ServiceSpec{TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Env: []string{"AG_DB_HOSTNAME=x"}}}}}
	if !isWriter(rep) || !isWriter(glob) || isWriter(web) {
		t.Fatal("isWriter")
	}

	p, ok := pausedSpec(rep)
	if !ok || *p.Mode.Replicated.Replicas != 0 || p.Labels[writerPausedLabel] != "replicas=3" || *rep.Spec.Mode.Replicated.Replicas != 3 {
		t.Fatalf("paused replicated: %+v (original touched? %d)", p, *rep.Spec.Mode.Replicated.Replicas)
	}
	if _, again := pausedSpec(swarm.Service{Spec: p}); again {
		t.Error("a paused service was paused again (its count would be lost)")
	}
	r, ok, err := resumedSpec(swarm.Service{Spec: p})
	if err != nil || !ok || *r.Mode.Replicated.Replicas != 3 || r.Labels[writerPausedLabel] != "" || r.Labels["com.docker.stack.namespace"] != "s" {
		t.Fatalf("resumed replicated: %+v %v", r, err)
	}

	p, ok = pausedSpec(glob)
	if !ok || !slices.Contains(p.TaskTemplate.Placement.Constraints, writerPauseConstraint) || len(glob.Spec.TaskTemplate.Placement.Constraints) != 1 {
		t.Fatalf("paused global: %+v", p.TaskTemplate.Placement)
	}
	r, ok, err = resumedSpec(swarm.Service{Spec: p})
	if err != nil || !ok || !slices.Equal(r.TaskTemplate.Placement.Constraints, []string{"node.labels.grader == true"}) {
		t.Fatalf("resumed global: %+v %v", r.TaskTemplate.Placement, err)
	}
	if _, ok, _ := resumedSpec(web); ok {
		t.Error("resumed a service that was never paused")
	}
	p.Labels[writerPausedLabel] = "replicas=$(rm)"
	if _, _, err := resumedSpec(swarm.Service{Spec: p}); err == nil {
		t.Error("a forged label was accepted")
	}
}

// A dump restores into the same major version; into a newer one only with
// consent (the upgrade path); into an older one never. 9.5 -> 15 is the
// upgrade upstream's stack needs (its compose file ships postgres:9.5).
func TestVersionCheck(t *testing.T) {
	m := BackupManifest{ServerVersionNum: 90524, ServerVersion: "9.5.24", PostgresImage: "postgres:9.5"}
	pg15 := DBFacts{VersionNum: 150010, Version: "15.10"}
	var ve *VersionChangeError
	if err := versionCheck(m, DBFacts{VersionNum: 90525, Version: "9.5.25"}, "s_postgres", false); err != nil {
		t.Errorf("same major: %v", err)
	}
	err := versionCheck(m, pg15, "s_postgres", false)
	if !errors.As(err, &ve) || ve.Downgrade || !strings.Contains(err.Error(), "--allow-version-change") || !strings.Contains(err.Error(), "9.5 -> 15") || !strings.Contains(err.Error(), "postgres:9.5") {
		t.Errorf("upgrade without consent: %v", err)
	}
	if err := versionCheck(m, pg15, "s_postgres", true); err != nil {
		t.Errorf("upgrade with consent: %v", err)
	}
	m15 := BackupManifest{ServerVersionNum: 150010, ServerVersion: "15.10", PostgresImage: "postgres:15"}
	err = versionCheck(m15, DBFacts{VersionNum: 90524, Version: "9.5.24"}, "s_postgres", true)
	if !errors.As(err, &ve) || !ve.Downgrade || strings.Contains(err.Error(), "--allow-version-change") {
		t.Errorf("downgrade with consent: %v", err)
	}
}
