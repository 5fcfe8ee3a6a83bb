package steps

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testSchemaOut() *djangoSchemaOut {
	return &djangoSchemaOut{
		Migrations: [][]string{{"auth", "0001_initial"}, {"core", "0001_initial"}, {"core", "0002_squashed_0004"}},
		Replaces:   map[string][][]string{"core.0002_squashed_0004": {{"core", "0002_a"}, {"core", "0003_b"}, {"core", "0004_c"}}},
		Engine:     "django.db.backends.postgresql", Host: "postgres", Name: "postgres",
		UserTable: "auth_user", UserPK: "id", CourseTable: "core_course", CoursePK: "id", CourseName: "name",
		AdminsTable: "core_course_admins", AdminsCourse: "course_id", AdminsUser: "user_id",
	}
}

func TestDjangoSchemaFromIsStrict(t *testing.T) {
	d := siteDjango{Image: "sha256:abc", DBEnv: djangoDBEnvKey([]string{"AG_DB_HOST=postgres", "AG_DB_PASSWORD=hunter2"})}
	sc := djangoSchemaFrom(testSchemaOut(), d, "ag-stack")
	if sc == nil || len(sc.Migrations) != 3 || len(sc.Replaces["core.0002_squashed_0004"]) != 3 {
		t.Fatalf("%+v", sc)
	}
	for name, spoil := range map[string]func(o *djangoSchemaOut){
		"another database host": func(o *djangoSchemaOut) { o.Host = "db.example.edu" },
		"sqlite":                func(o *djangoSchemaOut) { o.Engine = "django.db.backends.sqlite3" },
		"a table name to quote": func(o *djangoSchemaOut) { o.CourseTable = `core"; DROP TABLE x; --` },
		"an upper-case table":   func(o *djangoSchemaOut) { o.UserTable = "Auth_User" },
		"a migration name":      func(o *djangoSchemaOut) { o.Migrations[0][1] = "0001 initial|x" },
		"no migrations":         func(o *djangoSchemaOut) { o.Migrations = nil; o.Replaces = nil },
		"a replaced stranger":   func(o *djangoSchemaOut) { o.Replaces["core.9999_x"] = [][]string{{"core", "0001_initial"}} },
	} {
		o := testSchemaOut()
		spoil(o)
		if sc := djangoSchemaFrom(o, d, "ag-stack"); sc != nil {
			t.Errorf("%s: kept %+v", name, sc)
		}
	}
	if djangoSchemaFrom(testSchemaOut(), siteDjango{DBEnv: d.DBEnv}, "ag-stack") != nil {
		t.Error("kept without an image ID")
	}
	// The password counts only as set: a change of it is not in the key.
	if d.DBEnv != djangoDBEnvKey([]string{"AG_DB_PASSWORD=other", "AG_DB_HOST=postgres", "SITE_DOMAIN=x"}) ||
		d.DBEnv == djangoDBEnvKey([]string{"AG_DB_HOST=elsewhere", "AG_DB_PASSWORD=hunter2"}) {
		t.Error("database environment key")
	}
}

func TestDjangoRowsParse(t *testing.T) {
	sc := djangoSchemaFrom(testSchemaOut(), siteDjango{Image: "i", DBEnv: "e"}, "ag-stack")
	all := "tables|t|t\nm|auth|0001_initial\nm|core|0001_initial\nm|core|0002_a\nm|core|0003_b\nm|core|0004_c\n"
	r, err := parseDjangoRows(all+"u|t|t\nc|1\na|1\n", sc, "prof@x.edu", "EECS 280")
	if err != nil || *r.PendingMigrations || !r.adminDone() || *r.CourseName != "EECS 280" {
		t.Fatalf("done: %+v %v", r, err)
	}
	// The squashed migration's own row does not count while what it replaces is not all applied.
	half := "tables|t|t\nm|auth|0001_initial\nm|core|0001_initial\nm|core|0002_squashed_0004\nm|core|0002_a\nu|t|t\nc|1\na|1\n"
	if r, err := parseDjangoRows(half, sc, "prof@x.edu", "EECS 280"); err != nil || !*r.PendingMigrations || r.TablesMissing {
		t.Fatalf("half-migrated: %+v %v", r, err)
	}
	if r, err := parseDjangoRows("tables|f|f\n", sc, "prof@x.edu", "C"); err != nil || !*r.PendingMigrations || !r.TablesMissing {
		t.Fatalf("before the first migration: %+v %v", r, err)
	}
	if r, err := parseDjangoRows(all+"c|1\na|0\n", sc, "prof@x.edu", "C"); err != nil || r.UserExists || !r.CourseExists || r.IsAdmin || r.adminDone() {
		t.Fatalf("no user: %+v %v", r, err)
	}
	if r, err := parseDjangoRows(all+"u|f|t\nc|1\na|1\n", sc, "prof@x.edu", "C"); err != nil || r.IsSuperuser || r.adminDone() {
		t.Fatalf("demoted: %+v %v", r, err)
	}
	for name, out := range map[string]string{
		"nothing":               "",
		"no counts":             all + "u|t|t\n",
		"a stranger's line":     all + "u|t|t\nc|1\na|1\nERROR: \x1b[31mx\n",
		"a count not a number":  all + "c|one\na|1\n",
		"tables gone, all done": "tables|t|f\nm|auth|0001_initial\nm|core|0001_initial\nm|core|0002_squashed_0004\nm|core|0002_a\nm|core|0003_b\nm|core|0004_c\n",
	} {
		if _, err := parseDjangoRows(out, sc, "prof@x.edu", "C"); err == nil {
			t.Errorf("%s: no error", name)
		} else if strings.Contains(err.Error(), "\x1b") {
			t.Errorf("%s: host text not sanitised: %q", name, err)
		}
	}
}

// The psql script runs here against a real PostgreSQL server (as
// TestDBScriptsAgainstRealPostgres): an empty database, a half-migrated one
// and a migrated one with a hostile course name, read-only.
func TestDjangoRowsScriptAgainstRealPostgres(t *testing.T) {
	pg := startTestPostgres(t)
	dir := pg.Dir
	as := func(env []string, args ...string) (string, string, error) { return pg.Run(nil, env, args...) }
	sql := func(q string) {
		if _, e, err := as(nil, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-d", "postgres", "-c", q); err != nil {
			t.Fatalf("psql %q: %v %s", q, err, e)
		}
	}
	sc := djangoSchemaFrom(testSchemaOut(), siteDjango{Image: "i", DBEnv: "e"}, "ag-stack")
	course := `O'Brien "EECS" :'course' $(touch ` + filepath.Join(dir, "pwned") + `) ü`
	ask := func() AdminResult {
		t.Helper()
		tb := sc.Tables
		out, e, err := as([]string{"AG_DB=postgres", "AG_UT=" + tb.User, "AG_UPK=" + tb.UserPK, "AG_CT=" + tb.Course, "AG_CPK=" + tb.CoursePK,
			"AG_CN=" + tb.CourseName, "AG_AT=" + tb.Admins, "AG_AC=" + tb.AdminCourse, "AG_AU=" + tb.AdminUser,
			"AG_EMAIL=prof@x.edu", "AG_COURSE=" + course}, "sh", "-c", djangoRowsScript)
		if err != nil {
			t.Fatalf("script: %v\n%s\n%s", err, out, e)
		}
		if e != "" {
			t.Errorf("script said on stderr: %s", e)
		}
		r, err := parseDjangoRows(out, sc, "prof@x.edu", course)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return r
	}
	if r := ask(); !*r.PendingMigrations || !r.TablesMissing {
		t.Fatalf("empty database: %+v", r)
	}
	sql(`CREATE TABLE django_migrations (id serial PRIMARY KEY, app varchar(255), name varchar(255), applied timestamptz DEFAULT now());
		INSERT INTO django_migrations (app, name) VALUES ('auth', '0001_initial')`)
	if r := ask(); !*r.PendingMigrations || !r.TablesMissing {
		t.Fatalf("half-migrated, tables missing: %+v", r)
	}
	sql(`CREATE TABLE auth_user (id serial PRIMARY KEY, username varchar(150) UNIQUE, is_superuser bool, is_staff bool);
		CREATE TABLE core_course (id serial PRIMARY KEY, name varchar(255) UNIQUE);
		CREATE TABLE core_course_admins (id serial PRIMARY KEY, course_id int, user_id int);
		INSERT INTO django_migrations (app, name) VALUES ('core', '0001_initial'), ('core', '0002_a'), ('core', '0003_b')`)
	if r := ask(); !*r.PendingMigrations || r.TablesMissing || r.UserExists || r.CourseExists {
		t.Fatalf("half-migrated: %+v", r)
	}
	sql(`INSERT INTO django_migrations (app, name) VALUES ('core', '0004_c'), ('core', '0002_squashed_0004')`)
	if r := ask(); *r.PendingMigrations || r.UserExists || r.adminDone() {
		t.Fatalf("migrated, no admin: %+v", r)
	}
	quoted := strings.ReplaceAll(course, "'", "''")
	sql(`INSERT INTO auth_user (username, is_superuser, is_staff) VALUES ('prof@x.edu', true, true);
		INSERT INTO core_course (name) VALUES ('` + quoted + `');
		INSERT INTO core_course_admins (course_id, user_id) VALUES (1, 1)`)
	if r := ask(); *r.PendingMigrations || !r.adminDone() || !r.IsStaff {
		t.Fatalf("done: %+v", r)
	}
	sql(`UPDATE auth_user SET is_superuser = false`)
	if r := ask(); r.IsSuperuser || r.adminDone() {
		t.Fatalf("demoted: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
		t.Fatal("the course name was executed")
	}
}
