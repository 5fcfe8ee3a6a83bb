package steps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"aginstall/assets"
)

// adminStep makes the first superuser and course, with the user as the
// course's admin: the guide's Python shell session, made idempotent. The
// email and course name reach the script (assets/create_admin.py) as JSON in
// an environment variable of the exec, so no name can become code.
type adminStep struct{}

func init() { register(OrderAdmin, adminStep{}) }

func (adminStep) ID() string                { return "admin" }
func (adminStep) Title() string             { return "Create the superuser and the first course" }
func (adminStep) Hosts(c *Cluster) []string { return siteDjangoHosts(c) }
func (adminStep) Inputs(c *Cluster) any     { return c.Admin }

// AdminResult is what create_admin.py reports.
type AdminResult struct {
	Mode          string  `json:"mode"`
	Email         string  `json:"email"`
	Course        string  `json:"course"`
	UserCreated   bool    `json:"user_created"`
	UserPromoted  bool    `json:"user_promoted"`
	CourseCreated bool    `json:"course_created"`
	AdminAdded    bool    `json:"admin_added"`
	UserExists    bool    `json:"user_exists"`
	IsSuperuser   bool    `json:"is_superuser"`
	IsStaff       bool    `json:"is_staff"`
	CourseExists  bool    `json:"course_exists"`
	CourseName    *string `json:"course_name"`
	IsAdmin       bool    `json:"is_admin"`
	// Asked with migrations only: whether migrations are unapplied, and
	// whether the tables are still missing (then the rest is unknown).
	PendingMigrations *bool `json:"pending_migrations"`
	TablesMissing     bool  `json:"tables_missing"`
	// Asked with migrations too: what the image holds (django_rows.go).
	Schema *djangoSchemaOut `json:"schema,omitempty"`
}

// adminDone: the user exists, is a superuser (the guide's is_superuser)
// and, when a course is asked for, is its admin.
func (r AdminResult) adminDone() bool {
	return r.UserExists && r.IsSuperuser && (r.Course == "" || (r.CourseExists && r.IsAdmin))
}

const adminResultPrefix = "AGINSTALL_RESULT "

// adminRun runs the script in check (read-only) or apply mode.
func adminRun(ctx context.Context, env *Env, d siteDjango, step, mode string) (AdminResult, error) {
	return adminExec(ctx, env, d, step, mode, false)
}

// adminExec runs the script; with migrations it also asks whether
// migrations are unapplied (a review's one Django start-up for two steps).
func adminExec(ctx context.Context, env *Env, d siteDjango, step, mode string, migrations bool) (AdminResult, error) {
	a := env.Cluster.Admin
	in := map[string]string{"mode": mode, "email": a.Email, "course": a.Course}
	purpose := "check the superuser and course"
	switch {
	case mode == "apply":
		purpose = "create the superuser and course"
	case migrations:
		in["migrations"] = "1"
		in["schema"] = "1"
		purpose = "check for unapplied migrations, the superuser and course"
	}
	req, err := json.Marshal(in)
	if err != nil {
		return AdminResult{}, err
	}
	call := fmt.Sprintf("exec python3 manage.py shell -c <assets/create_admin.py> in container %s with AGINSTALL_ADMIN=%s", siteShortID(d.Container), req)
	res, err := siteExec(ctx, env.On(step, d.Host), purpose, call, d.Container,
		[]string{"python3", "manage.py", "shell", "-c", assets.CreateAdminScript},
		[]string{"AGINSTALL_ADMIN=" + string(req)}, mode == "apply", true)
	if err != nil {
		return AdminResult{}, err
	}
	return adminParse(res.Stdout)
}

// adminRunReachable runs the script in check mode, asking again (every 3 s,
// 90 s at most) while Django cannot reach postgres: the checks before it
// read the database from the postgres task itself (django_rows.go), so right
// after a rolling dockerd restart Django may be the first to need postgres's
// name, which resolves only once the swarm's DNS is back.
func adminRunReachable(ctx context.Context, env *Env, d siteDjango, step string) (AdminResult, error) {
	for deadline := time.Now().Add(90 * time.Second); ; {
		r, err := adminRun(ctx, env, d, step, "check")
		if err == nil || !strings.Contains(err.Error(), "OperationalError") || time.Now().After(deadline) {
			return r, err
		}
		env.On(step, d.Host).Progress("waiting for Django to reach postgres", 0, 0)
		select {
		case <-ctx.Done():
			return r, ctx.Err()
		case <-time.After(3 * time.Second):
		}
	}
}

// adminParse finds the script's result line among whatever Django printed.
func adminParse(stdout string) (AdminResult, error) {
	lines := strings.Split(stdout, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(lines[i]), adminResultPrefix); ok {
			var r AdminResult
			if err := json.Unmarshal([]byte(rest), &r); err != nil {
				return r, fmt.Errorf("create_admin.py printed a result that does not parse: %v", err)
			}
			return r, nil
		}
	}
	return AdminResult{}, fmt.Errorf("create_admin.py printed no result line; it said: %s", siteTail(stdout, 6))
}

func (s adminStep) Check(ctx context.Context, env *Env) []HostCheck {
	a := env.Cluster.Admin
	hosts := s.Hosts(env.Cluster)
	if a.Email == "" {
		// Not done: the guide's install ends with an administrator. The
		// operator gives one (the wizard asks) or skips the step on purpose.
		out := checksFor(hosts, Todo, "not asked yet: no admin.email in the cluster file")
		for i := range out {
			out[i].Fix = "give admin.email and admin.course (the wizard's Admin screen asks), or skip this step on purpose"
		}
		return out
	}
	d, err := siteFindDjango(ctx, env, s.ID())
	if err != nil {
		return checksFor(hosts, Todo, "cannot reach the django task yet: "+siteFirstLine(err))
	}
	r, err := djangoState(ctx, env, d, s.ID())
	if err != nil {
		return []HostCheck{{Host: d.Host, Status: Unknown, Reason: siteFirstLine(err)}}
	}
	if r.TablesMissing {
		return []HostCheck{{Host: d.Host, Status: Todo, Reason: "Django's tables are not there yet: the migrate step creates them, then this step can run"}}
	}
	if r.adminDone() {
		reason := fmt.Sprintf("superuser %s exists", a.Email)
		if a.Course != "" {
			reason += fmt.Sprintf(" and is an admin of course %q", a.Course)
		}
		return []HostCheck{{Host: d.Host, Status: Done, Reason: reason}}
	}
	var todo []string
	switch {
	case !r.UserExists:
		todo = append(todo, "no user "+a.Email)
	case !r.IsSuperuser:
		todo = append(todo, fmt.Sprintf("user %s exists but is not a superuser: apply makes it one", a.Email))
	}
	if a.Course != "" && !r.CourseExists {
		todo = append(todo, fmt.Sprintf("no course %q", a.Course))
	} else if a.Course != "" && !r.IsAdmin {
		todo = append(todo, fmt.Sprintf("%s is not an admin of course %q", a.Email, a.Course))
	}
	return []HostCheck{{Host: d.Host, Status: Todo, Reason: strings.Join(todo, "; ")}}
}

func (s adminStep) Apply(ctx context.Context, env *Env) error {
	if env.Cluster.Admin.Email == "" {
		return &StepError{Step: s.ID(), Host: env.Cluster.Manager, Purpose: "create the superuser and course",
			Err:  errors.New("no admin.email in the cluster file: there is no administrator to create"),
			Next: "give admin.email and admin.course in the cluster file (the wizard's Admin screen asks), or skip this step on purpose"}
	}
	d, err := siteFindDjango(ctx, env, s.ID())
	if err != nil {
		if env.Runner.DryRun {
			return env.On(s.ID(), env.Cluster.Manager).API(ctx, "create the superuser and course",
				"exec python3 manage.py shell -c <assets/create_admin.py> in the running django task's container, on its node", true, nil)
		}
		return err
	}
	r, err := adminRunReachable(ctx, env, d, s.ID())
	if err != nil || r.adminDone() {
		return err
	}
	r, err = adminRun(ctx, env, d, s.ID(), "apply")
	if errors.Is(err, ErrDryRun) {
		return nil
	}
	if err != nil {
		var se *StepError
		if errors.As(err, &se) {
			se.Next = "read the Django error above (a course name Django refuses? the database not migrated?), fix it, then run apply again"
		}
		return err
	}
	siteOutput(env.On(s.ID(), d.Host), "stdout", fmt.Sprintf("user created: %v, made superuser: %v, course created: %v, admin added: %v", r.UserCreated, r.UserPromoted, r.CourseCreated, r.AdminAdded))
	return nil
}
