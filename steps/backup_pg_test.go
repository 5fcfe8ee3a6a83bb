package steps

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// The scripts that run in the postgres container, run here against a real
// PostgreSQL server (Debian's postgresql-15 on this machine, as its postgres
// user, on a private Unix socket): the dump's counts come from its snapshot,
// the archive restores over a changed database, and the counts match again.
// Without PostgreSQL's binaries or root (to run as postgres) it is skipped,
// saying why; the lab's TestDayTwo runs the same scripts in the containers.
func TestDBScriptsAgainstRealPostgres(t *testing.T) {
	pg := startTestPostgres(t)
	as := func(stdin []byte, args ...string) (string, string, error) { return pg.Run(stdin, nil, args...) }
	sql := func(q string) string {
		o, e, err := as(nil, "psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-d", "postgres", "-c", q)
		if err != nil {
			t.Fatalf("psql %q: %v %s", q, err, e)
		}
		return strings.TrimSpace(o)
	}
	sql(`CREATE TABLE core_course (id serial PRIMARY KEY, name text UNIQUE); CREATE TABLE "Odd Name" (x int);
		INSERT INTO core_course (name) SELECT 'course ' || g FROM generate_series(1, 2000) g; INSERT INTO "Odd Name" VALUES (1)`)

	if _, e, err := as(nil, "bash", "-c", dbReadyScript); err != nil {
		t.Fatalf("ready: %v %s", err, e)
	}
	start := time.Now()
	dump, stderr, err := as(nil, "bash", "-c", dbDumpScript, "aginstall-dump", "postgres", dbDumpPSQL)
	if err != nil {
		t.Fatalf("dump: %v\n%s", err, stderr)
	}
	f, err := parseDBFacts(stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	t.Logf("dump of 2000 rows: %d bytes in %s; facts %+v", len(dump), time.Since(start).Round(time.Millisecond), f)
	if !strings.HasPrefix(dump, "PGDMP") || f.Rows["core_course"] != 2000 || PGMajor(f.VersionNum) != "15" || f.Size == 0 {
		t.Fatalf("dump %q..., facts %+v", dump[:min(len(dump), 5)], f)
	}
	if f.Rows["Odd Name"] != 1 {
		t.Error("a table name with a space was not counted")
	}

	// Change the data, then restore: the dump's rows are back.
	sql(`DELETE FROM core_course WHERE id > 10; DROP TABLE "Odd Name"`)
	_, stderr, err = as([]byte(dump), "bash", "-c", dbRestoreScript, "aginstall-restore", "postgres", dbFactsSQL, strconv.Itoa(len(dump)))
	if err != nil {
		t.Fatalf("restore: %v\n%s", err, stderr)
	}
	after, err := parseDBFacts(stderr)
	if err != nil {
		t.Fatal(err)
	}
	if d := CompareRows(f.Rows, after.Rows); len(d) > 0 || sql(`SELECT count(*) FROM "Odd Name"`) != "1" {
		t.Errorf("after the restore: %v", d)
	}
	// A damaged archive fails in one transaction: the data stays.
	sql(`DELETE FROM core_course WHERE id > 5`)
	bad := []byte(dump[:len(dump)/2])
	if _, _, err := as(bad, "bash", "-c", dbRestoreScript, "aginstall-restore", "postgres", dbFactsSQL, strconv.Itoa(len(bad))); err == nil {
		t.Error("half an archive restored without error")
	}
	if n := sql(`SELECT count(*) FROM core_course`); n != "5" {
		t.Errorf("a failed restore changed the data: %s rows", n)
	}
}
