package steps

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The migrate and admin checks ask whether migrations are unapplied and
// whether the superuser and course exist. Django answers with its full
// start-up (a third of a second on a quiet lab host, seconds on a big
// server), most of it spent importing what never changes between two
// reviews: the image's code. So Django is asked once per image, and says
// what the image holds (DjangoSchema: its migrations and the tables the
// answer is in), which the state keeps; every check then reads the rows
// themselves, which do change, with one psql in the postgres task. The
// answer is always read from the database; only the image's own content is
// remembered, keyed by the image's ID (a digest of its content). Whenever the
// rows cannot be read that way (no schema for this image, another database
// than the stack's postgres, psql fails), Django is asked as before.

// DjangoSchema is what one django image holds that the checks read the
// database with.
type DjangoSchema struct {
	Image string `json:"image"` // the container's image ID
	Env   string `json:"env"`   // djangoDBEnvKey of the task's environment
	// Database is the database the settings name (on the stack's postgres).
	Database string `json:"database"`
	// Migrations are "app.name" of every migration in the graph; Replaces
	// lists, for a squashed one, those it replaces.
	Migrations []string            `json:"migrations"`
	Replaces   map[string][]string `json:"replaces,omitempty"`
	Tables     DjangoTables        `json:"tables"`
}

// DjangoTables names the tables and columns of the user, the course and the
// course's admins, as the image's models map them.
type DjangoTables struct {
	User        string `json:"user"`
	UserPK      string `json:"user_pk"`
	Course      string `json:"course"`
	CoursePK    string `json:"course_pk"`
	CourseName  string `json:"course_name"`
	Admins      string `json:"admins"`
	AdminCourse string `json:"admins_course"`
	AdminUser   string `json:"admins_user"`
}

// djangoSchemaOut is create_admin.py's "schema" answer.
type djangoSchemaOut struct {
	Migrations   [][]string            `json:"migrations"`
	Replaces     map[string][][]string `json:"replaces"`
	Engine       string                `json:"engine"`
	Host         string                `json:"host"`
	Name         string                `json:"name"`
	UserTable    string                `json:"user_table"`
	UserPK       string                `json:"user_pk"`
	CourseTable  string                `json:"course_table"`
	CoursePK     string                `json:"course_pk"`
	CourseName   string                `json:"course_name"`
	AdminsTable  string                `json:"admins_table"`
	AdminsCourse string                `json:"admins_course"`
	AdminsUser   string                `json:"admins_user"`
}

var (
	// SQL names as Django makes them: lower case, so that to_regclass finds
	// them unquoted and psql's :"name" quotes them to the same name.
	djangoSQLName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)
	djangoAppName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,99}$`)
	djangoMigName = regexp.MustCompile(`^[A-Za-z0-9_]{1,200}$`)
)

// djangoSchemaFrom checks create_admin.py's schema answer strictly (it is
// host text, and its names reach SQL) and keeps it for the task's image;
// nil when it does not fit (then Django is asked every time).
func djangoSchemaFrom(o *djangoSchemaOut, d siteDjango, stack string) *DjangoSchema {
	if o == nil || d.Image == "" || d.DBEnv == "" || !strings.HasPrefix(o.Engine, "django.db.backends.postgresql") ||
		(o.Host != "postgres" && o.Host != stack+"_postgres") {
		return nil
	}
	key := func(p []string) (string, bool) {
		if len(p) != 2 || !djangoAppName.MatchString(p[0]) || !djangoMigName.MatchString(p[1]) {
			return "", false
		}
		return p[0] + "." + p[1], true
	}
	sc := &DjangoSchema{Image: d.Image, Env: d.DBEnv, Database: o.Name, Replaces: map[string][]string{},
		Tables: DjangoTables{User: o.UserTable, UserPK: o.UserPK, Course: o.CourseTable, CoursePK: o.CoursePK,
			CourseName: o.CourseName, Admins: o.AdminsTable, AdminCourse: o.AdminsCourse, AdminUser: o.AdminsUser}}
	for _, n := range []string{sc.Database, sc.Tables.User, sc.Tables.UserPK, sc.Tables.Course, sc.Tables.CoursePK,
		sc.Tables.CourseName, sc.Tables.Admins, sc.Tables.AdminCourse, sc.Tables.AdminUser} {
		if !djangoSQLName.MatchString(n) {
			return nil
		}
	}
	for _, m := range o.Migrations {
		k, ok := key(m)
		if !ok {
			return nil
		}
		sc.Migrations = append(sc.Migrations, k)
	}
	for squash, rs := range o.Replaces {
		if !slices.Contains(sc.Migrations, squash) || len(rs) == 0 {
			return nil
		}
		for _, r := range rs {
			k, ok := key(r)
			if !ok {
				return nil
			}
			sc.Replaces[squash] = append(sc.Replaces[squash], k)
		}
	}
	if len(sc.Migrations) == 0 {
		return nil
	}
	return sc
}

// djangoDBEnvKey is a digest of what in a task's environment can point
// Django at another database or settings module; a password counts only as
// set, so neither it nor a digest of it reaches the state.
func djangoDBEnvKey(envv []string) string {
	var keep []string
	for _, kv := range envv {
		k, _, _ := strings.Cut(kv, "=")
		up := strings.ToUpper(k)
		if k != "DJANGO_SETTINGS_MODULE" && !strings.Contains(up, "DB") && !strings.Contains(up, "DATABASE") && !strings.HasPrefix(up, "PG") {
			continue
		}
		if strings.Contains(up, "PASS") || strings.Contains(up, "SECRET") {
			kv = k + "=<set>"
		}
		keep = append(keep, kv)
	}
	sort.Strings(keep)
	sum := sha256.Sum256([]byte(strings.Join(keep, "\n")))
	return hex.EncodeToString(sum[:])
}

// pending says whether a migration of the graph is unapplied, as Django's
// loader does: a squashed migration counts as applied only when everything
// it replaces is.
func (sc *DjangoSchema) pending(applied map[string]bool) bool {
	for _, m := range sc.Migrations {
		rs := sc.Replaces[m]
		if len(rs) == 0 {
			if !applied[m] {
				return true
			}
			continue
		}
		for _, r := range rs {
			if !applied[r] {
				return true
			}
		}
	}
	return false
}

// djangoRowsScript runs in the postgres container as postgres: first which
// tables exist, then only the queries whose tables do, so a database before
// its first migration answers without an error. Every value and name
// reaches psql as a variable (:'v' a literal, :"v" a name, both quoted by
// psql); the session is read-only.
const djangoRowsScript = `u=${POSTGRES_USER:-postgres}
q() { psql -X -q -At -v ON_ERROR_STOP=1 -U "$u" -d "$AG_DB" -v ut="$AG_UT" -v upk="$AG_UPK" -v ct="$AG_CT" -v cpk="$AG_CPK" \
	-v cn="$AG_CN" -v at="$AG_AT" -v ac="$AG_AC" -v au="$AG_AU" -v email="$AG_EMAIL" -v course="$AG_COURSE"; }
t=$(q <<'EOF'
SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY;
SELECT 'tables', to_regclass('django_migrations') IS NOT NULL, to_regclass(:'ut') IS NOT NULL AND to_regclass(:'ct') IS NOT NULL AND to_regclass(:'at') IS NOT NULL;
EOF
) || exit
echo "$t"
case $t in
'tables|t|t') q <<'EOF'
SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY;
SELECT 'm', app, name FROM django_migrations;
SELECT 'u', is_superuser, is_staff FROM :"ut" WHERE username = :'email';
SELECT 'c', count(*) FROM :"ct" WHERE :"cn" = :'course';
SELECT 'a', count(*) FROM :"at" a JOIN :"ut" u ON u.:"upk" = a.:"au" JOIN :"ct" c ON c.:"cpk" = a.:"ac" WHERE u.username = :'email' AND c.:"cn" = :'course';
EOF
;;
'tables|t|f') q <<'EOF'
SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY;
SELECT 'm', app, name FROM django_migrations;
EOF
;;
esac
`

// djangoRows answers both questions from the database's rows with the
// schema remembered for the task's image; ok is false when that cannot be
// done, and Django is asked instead.
func djangoRows(ctx context.Context, env *Env, d siteDjango, step string) (AdminResult, bool) {
	sc := env.State.DjangoSchemaFor(d.Image, d.DBEnv)
	if sc == nil {
		return AdminResult{}, false
	}
	pg, err := findServiceTask(ctx, env, step, "postgres")
	if err != nil {
		return AdminResult{}, false
	}
	a, t := env.Cluster.Admin, sc.Tables
	var out bytes.Buffer
	_, err = streamExec{Purpose: "read the applied migrations, the superuser and course", Container: pg.Container, User: "postgres",
		Call: fmt.Sprintf("exec psql (read-only: django_migrations, %s, %s, %s) in container %s", t.User, t.Course, t.Admins, siteShortID(pg.Container)),
		Cmd:  []string{"sh", "-c", djangoRowsScript},
		Env: []string{"AG_DB=" + sc.Database, "AG_UT=" + t.User, "AG_UPK=" + t.UserPK, "AG_CT=" + t.Course, "AG_CPK=" + t.CoursePK,
			"AG_CN=" + t.CourseName, "AG_AT=" + t.Admins, "AG_AC=" + t.AdminCourse, "AG_AU=" + t.AdminUser,
			"AG_EMAIL=" + a.Email, "AG_COURSE=" + a.Course},
		Stdout: &out, Limit: time.Minute}.run(ctx, env.On(step, pg.Host))
	if err != nil {
		return AdminResult{}, false
	}
	r, err := parseDjangoRows(out.String(), sc, a.Email, a.Course)
	return r, err == nil
}

// parseDjangoRows reads the script's lines strictly (host text): an
// unexpected or missing answer is an error, never a guess.
func parseDjangoRows(out string, sc *DjangoSchema, email, course string) (AdminResult, error) {
	r := AdminResult{Mode: "check", Email: email, Course: course}
	var tables []string
	applied := map[string]bool{}
	counts := map[string]int{}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Split(strings.TrimSpace(l), "|")
		switch {
		case len(f) == 3 && f[0] == "tables":
			tables = f[1:]
		case len(f) == 3 && f[0] == "m":
			if djangoAppName.MatchString(f[1]) && djangoMigName.MatchString(f[2]) {
				applied[f[1]+"."+f[2]] = true
			}
		case len(f) == 3 && f[0] == "u":
			r.UserExists, r.IsSuperuser, r.IsStaff = true, f[1] == "t", f[2] == "t"
		case len(f) == 2 && (f[0] == "c" || f[0] == "a"):
			n, err := strconv.Atoi(f[1])
			if err != nil {
				return r, fmt.Errorf("psql said %q", sanitizeLine(l))
			}
			counts[f[0]] = n
		case strings.TrimSpace(l) != "":
			return r, fmt.Errorf("psql said %q", sanitizeLine(l))
		}
	}
	if len(tables) != 2 {
		return r, errors.New("psql did not say which tables exist")
	}
	pending := tables[0] != "t" || sc.pending(applied)
	r.PendingMigrations = &pending
	if tables[1] != "t" {
		if !pending {
			return r, errors.New("no unapplied migrations, but the user and course tables are missing")
		}
		r.TablesMissing = true
		return r, nil
	}
	c, cok := counts["c"]
	n, aok := counts["a"]
	if !cok || !aok {
		return r, errors.New("psql did not say whether the course exists")
	}
	if course != "" && c > 0 {
		r.CourseExists, r.CourseName = true, &course
		r.IsAdmin = r.UserExists && n > 0
	}
	return r, nil
}

// djangoAsk asks Django itself both questions (one start-up) and what the
// image holds, which is remembered for the next check of this image.
func djangoAsk(ctx context.Context, env *Env, d siteDjango, step string) (AdminResult, error) {
	r, err := adminExec(ctx, env, d, step, "check", true)
	if err != nil {
		return r, err
	}
	if r.PendingMigrations == nil {
		return r, errors.New("create_admin.py did not say whether migrations are unapplied")
	}
	if sc := djangoSchemaFrom(r.Schema, d, env.Cluster.Stack); sc != nil {
		env.State.SetDjangoSchema(sc)
	}
	r.Schema = nil
	return r, nil
}
