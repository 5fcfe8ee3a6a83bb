package steps

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"aginstall/assets"
)

func TestAdminParse(t *testing.T) {
	r, err := adminParse("some Django warning\nAGINSTALL_RESULT {\"mode\":\"check\",\"email\":\"a@b\",\"course\":\"C\",\"user_exists\":true,\"is_superuser\":true,\"course_exists\":true,\"is_admin\":true,\"course_name\":\"C\"}\n")
	if err != nil || !r.adminDone() || *r.CourseName != "C" {
		t.Fatalf("%+v %v", r, err)
	}
	if _, err := adminParse("Traceback ...\nNameError: x\n"); err == nil {
		t.Fatal("no result line must be an error")
	}
	if (AdminResult{UserExists: true, IsSuperuser: true, Course: "C", CourseExists: true}).adminDone() {
		t.Fatal("a course without the user as admin is not done")
	}
	if (AdminResult{UserExists: true, Course: "C", CourseExists: true, IsAdmin: true}).adminDone() {
		t.Fatal("a user who is not a superuser is not done")
	}
}

// TestCreateAdminScriptWithDjango runs assets/create_admin.py the way the
// step does (manage.py shell -c, JSON in AGINSTALL_ADMIN) against the lab's
// stand-in server with the real Django from Debian (python3-django) on this
// machine, so the script's logic is tested without the lab.
func TestCreateAdminScriptWithDjango(t *testing.T) {
	py := "/usr/bin/python3"
	if exec.Command(py, "-c", "import django").Run() != nil {
		t.Skip("needs Debian's python3-django on this machine (apt-get install python3-django); the lab test covers the script too")
	}
	dir := t.TempDir()
	if out, err := exec.Command("cp", "-r", "../testdata/lab/standin/autograder-server", dir).CombinedOutput(); err != nil {
		t.Fatal(string(out))
	}
	srv := filepath.Join(dir, "autograder-server")
	run := func(extra []string, args ...string) []byte {
		cmd := exec.Command(py, args...)
		cmd.Dir = srv
		cmd.Env = append(os.Environ(), "DJANGO_SETTINGS_MODULE=autograder.settings.production", "MEDIA_ROOT="+srv,
			"AGLAB_SQLITE_PATH="+filepath.Join(srv, "aglab-db.sqlite3")) // the stand-in's settings default to the lab's PostgreSQL
		cmd.Env = append(cmd.Env, extra...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return out
	}
	// The settings need the secret key only; generate_secrets.py (python-gnupg
	// and a GPG key) runs in the lab tests.
	if err := os.MkdirAll(filepath.Join(srv, "autograder/settings/secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(srv, "autograder/settings/secrets/secret_key"), []byte("test-secret-key-not-for-production"), 0o600); err != nil {
		t.Fatal(err)
	}
	tricky := `O'Brien "EECS" $(touch ` + filepath.Join(dir, "x") + `) ü 😀`
	ask := func(req map[string]string) AdminResult {
		b, _ := json.Marshal(req)
		r, err := adminParse(string(run([]string{"AGINSTALL_ADMIN=" + string(b)}, "manage.py", "shell", "-c", assets.CreateAdminScript)))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// A review's one question for both steps, before any migration: the
	// migrations are pending and the tables missing, said, not a traceback.
	both := map[string]string{"mode": "check", "email": "prof@example.edu", "course": tricky, "migrations": "1"}
	if r := ask(both); r.PendingMigrations == nil || !*r.PendingMigrations || !r.TablesMissing {
		t.Fatalf("before migrating: %+v", r)
	}
	run(nil, "manage.py", "migrate", "--no-input")
	if r := ask(both); r.PendingMigrations == nil || *r.PendingMigrations || r.TablesMissing || r.UserExists {
		t.Fatalf("after migrating: %+v", r)
	}
	// What the image holds, for the checks that read the rows (django_rows.go).
	both["schema"] = "1"
	sc := ask(both).Schema
	if sc == nil || !slices.ContainsFunc(sc.Migrations, func(m []string) bool { return strings.Join(m, ".") == "core.0001_initial" }) ||
		!slices.ContainsFunc(sc.Migrations, func(m []string) bool { return m[0] == "auth" }) || sc.UserTable != "auth_user" ||
		sc.CourseTable != "core_course" || sc.AdminsTable != "core_course_admins" || sc.AdminsCourse != "course_id" || sc.AdminsUser != "user_id" ||
		sc.CourseName != "name" || sc.Engine != "django.db.backends.sqlite3" {
		t.Fatalf("schema: %+v", sc)
	}
	admin := func(mode string) AdminResult {
		return ask(map[string]string{"mode": mode, "email": "prof@example.edu", "course": tricky})
	}
	if r := admin("check"); r.UserExists || r.CourseExists {
		t.Fatalf("check on an empty database: %+v", r)
	}
	if r := admin("apply"); !r.UserCreated || !r.CourseCreated || !r.AdminAdded || !r.IsSuperuser || !r.adminDone() {
		t.Fatalf("first apply: %+v", r)
	}
	r := admin("apply")
	if r.UserCreated || r.CourseCreated || r.AdminAdded || !r.adminDone() {
		t.Fatalf("second apply must change nothing: %+v", r)
	}
	if *r.CourseName != tricky {
		t.Fatalf("course name %q, want %q", *r.CourseName, tricky)
	}
	// Demoted by hand: "to do" for the check, promoted by apply, and nothing else changes.
	run(nil, "manage.py", "shell", "-c", "from django.contrib.auth.models import User; User.objects.filter(username='prof@example.edu').update(is_superuser=False, is_staff=False)")
	if r := admin("check"); r.IsSuperuser || !r.UserExists || r.adminDone() {
		t.Fatalf("a demoted admin must not be done: %+v", r)
	}
	if r := admin("apply"); !r.UserPromoted || r.UserCreated || r.CourseCreated || r.AdminAdded || !r.IsSuperuser || !r.IsStaff || !r.adminDone() {
		t.Fatalf("apply must promote the demoted admin: %+v", r)
	}
	if r := admin("apply"); r.UserPromoted || !r.adminDone() {
		t.Fatalf("a second apply must not promote again: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); err == nil {
		t.Fatal("the course name was executed")
	}
}
