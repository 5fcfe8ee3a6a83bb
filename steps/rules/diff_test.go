package rules

import (
	"reflect"
	"strings"
	"testing"
)

func TestDiff(t *testing.T) {
	tests := []struct {
		name          string
		before, after map[string][]string
		want          []NodeDiff
	}{
		{"no change, order and duplicates ignored",
			map[string][]string{"a": {"cache", "database"}},
			map[string][]string{"a": {"database", "cache", "cache"}}, nil},
		{"added, removed, moved, sorted by node",
			map[string][]string{"c": {"grader"}, "a": {"database", "cache"}, "b": {"webserver"}},
			map[string][]string{"c": {"tiny_grader", "grader", "fast_grader"}, "a": {"database"}, "b": {"webserver", "cache"}},
			[]NodeDiff{{"a", nil, []string{"cache"}}, {"b", []string{"cache"}, nil}, {"c", []string{"fast_grader", "tiny_grader"}, nil}}},
		{"nodes on one side only",
			map[string][]string{"old": {"grader"}},
			map[string][]string{"new": {"grader"}, "empty": nil},
			[]NodeDiff{{"new", []string{"grader"}, nil}, {"old", nil, []string{"grader"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Diff(tt.before, tt.after); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Diff:\n got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestMoves(t *testing.T) {
	before := map[string][]string{
		"a": {"database", "cache", "rabbitmq_broker", "registry"},
		"b": {"webserver", "custom_image_registry"},
		"c": {"grader"},
	}
	t.Run("non-data labels and dropping a duplicate are no moves", func(t *testing.T) {
		dup := map[string][]string{"a": {"database", "webserver"}, "c": {"database", "grader"}}
		after := map[string][]string{"a": {"database"}, "c": {"grader", "webserver"}}
		if got := Moves(dup, after); got != nil {
			t.Errorf("Moves = %v, want none", got)
		}
	})
	t.Run("every data label moves", func(t *testing.T) {
		after := map[string][]string{
			"a": {},
			"b": {"webserver", "registry", "cache"},
			"c": {"grader", "database", "rabbitmq_broker", "custom_image_registry"},
		}
		got := Moves(before, after)
		want := []struct{ label, from, to, volume, says string }{
			{"registry", "a", "b", "ag-registry", "docker-compose push"},
			{"database", "a", "c", "ag-stack_pgdata", "pg_dumpall"},
			{"cache", "a", "b", "ag-stack_redisdata", "Nothing to migrate"},
			{"rabbitmq_broker", "a", "c", "ag-stack_rabbitmqdata", "Nothing to migrate"},
			{"custom_image_registry", "b", "c", "ag-stack_sandbox_image_registry_data", "ssh b docker run --rm -v ag-stack_sandbox_image_registry_data:/v"},
		}
		if len(got) != len(want) {
			t.Fatalf("Moves = %v, want %d warnings", got, len(want))
		}
		for i, w := range want {
			g := got[i]
			if g.Label != w.label || g.From != w.from || g.To != w.to || g.Volume != w.volume || !strings.Contains(g.HowTo, w.says) {
				t.Errorf("warning %d = %+v, want %+v", i, g, w)
			}
		}
	})
	t.Run("exact text for the database", func(t *testing.T) {
		got := MovesIn("prod", map[string][]string{"old": {"database"}}, map[string][]string{"new": {"database"}})
		want := []MoveWarning{{"database", "old", "new", "prod_pgdata",
			"The database stays in volume prod_pgdata on old. First stop writers (docker service scale prod_django=0 prod_celery_small_tasks=0 prod_celerybeat=0), then dump it on old: docker exec $(docker ps -q -f name=prod_postgres) pg_dumpall -U postgres > ag.sql. Move the label, wait for postgres to start on new with an empty database, copy ag.sql there and restore it: docker exec -i $(docker ps -q -f name=prod_postgres) psql -U postgres < ag.sql; then scale the services back to 1"}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("MovesIn:\n got %#v\nwant %#v", got, want)
		}
	})
}
