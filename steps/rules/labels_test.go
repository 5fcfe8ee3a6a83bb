package rules

import (
	"reflect"
	"testing"
)

func TestKnownFollowsTheGuide(t *testing.T) {
	guide := []string{"registry", "webserver", "django_app", "database", "cache", "rabbitmq_broker", "small_tasks",
		"grader", "tiny_grader", "fast_grader", "tiny_fast_grader", "deferred_grader", "tiny_deferred_grader",
		"rerun_grader", "tiny_rerun_grader", "image_builder", "custom_image_registry"}
	var names, singles, excl, data []string
	for _, l := range Known {
		names = append(names, l.Name)
		if l.Description == "" {
			t.Errorf("%s has no description", l.Name)
		}
		if l.Singleton {
			singles = append(singles, l.Name)
		}
		if l.GraderExclusive {
			excl = append(excl, l.Name)
		}
		if l.HoldsData {
			data = append(data, l.Name)
		}
	}
	for _, c := range []struct{ got, want []string }{
		{names, guide},
		{singles, []string{"registry", "database", "cache", "rabbitmq_broker", "custom_image_registry"}},
		{excl, []string{"grader", "tiny_grader", "deferred_grader", "tiny_deferred_grader"}},
		{data, singles},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("got %v, want %v", c.got, c.want)
		}
	}
}

func TestRemovable(t *testing.T) {
	for label, want := range map[string]bool{"database": true, "tiny_rerun_grader": true, "gpu": false, "": false, "Database": false} {
		if got := Removable(label); got != want {
			t.Errorf("Removable(%q) = %v, want %v", label, got, want)
		}
	}
}

func TestRules(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Rules {
		if seen[r.ID] || r.Text == "" {
			t.Errorf("rule %q duplicated or without text", r.ID)
		}
		seen[r.ID] = true
	}
	// A cluster of unlabelled nodes breaks every "must be there" rule; every
	// violation names a listed rule.
	vs := Check([]Node{{Name: "a"}, {Name: "b"}, {Name: "c"}}, nil)
	var got []string
	for _, v := range vs {
		if !seen[v.Rule] {
			t.Errorf("violation of unlisted rule %q", v.Rule)
		}
		got = append(got, v.Severity.String()+" "+v.Rule+" "+v.Label)
	}
	want := []string{
		"error one-node registry", "error one-node database", "error one-node cache", "error one-node rabbitmq_broker", "error one-node custom_image_registry",
		"error one-webserver webserver", "error needed django_app", "error needed small_tasks", "error grading-workers grader",
		"advice grading-workers deferred_grader", "advice grading-workers rerun_grader", "advice grading-workers image_builder",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Check(unlabelled) =\n%v\nwant\n%v", got, want)
	}
}
