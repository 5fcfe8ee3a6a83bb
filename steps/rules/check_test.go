package rules

import (
	"reflect"
	"testing"
)

func TestCheck(t *testing.T) {
	tiny := without("tiny_grader", "tiny_fast_grader", "tiny_deferred_grader", "tiny_rerun_grader")
	custom := UpstreamConstraints()
	custom["monitor"] = []string{"metrics"}
	tests := []struct {
		name        string
		nodes       []Node
		constraints map[string][]string
		want        []Violation
	}{
		{"valid cluster", valid(), nil, nil},
		{"valid with the upstream map given", valid(), UpstreamConstraints(), nil},

		// one-node
		{"database on no node", edit(valid(), "a", rm("database")), nil, []Violation{
			{RuleOneNode, Error, "database", nil, []string{"postgres"}, "database must be on exactly one node, but no node has it, so postgres never starts: add it to the node whose disk should hold the database"}}},
		{"database on two nodes", edit(valid(), "c", nil, "database"), nil, []Violation{
			{RuleOneNode, Error, "database", []string{"a", "c"}, []string{"postgres"}, "database must be on exactly one node, but a and c have it: remove it from all but the node whose disk holds the database"}}},
		{"registry on no node", edit(valid(), "a", rm("registry")), nil, []Violation{
			{RuleOneNode, Error, "registry", nil, []string{"registry"}, "registry must be on exactly one node, but no node has it, so registry never starts: add it to the manager, from which the images are pushed to 127.0.0.1:5000"}}},
		{"registry on two nodes", edit(valid(), "b", nil, "registry"), nil, []Violation{
			{RuleOneNode, Error, "registry", []string{"a", "b"}, []string{"registry"}, "registry must be on exactly one node, but a and b have it: remove it from all but the node whose ag-registry volume holds the pushed images"}}},
		{"cache on three nodes", edit(edit(valid(), "b", nil, "cache"), "c", nil, "cache"), nil, []Violation{
			{RuleOneNode, Error, "cache", []string{"a", "b", "c"}, []string{"redis"}, "cache must be on exactly one node, but a, b and c have it: remove it from all but one node"}}},
		{"cache on no node", edit(valid(), "a", rm("cache")), nil, []Violation{
			{RuleOneNode, Error, "cache", nil, []string{"redis"}, "cache must be on exactly one node, but no node has it, so redis never starts: add it to one node"}}},
		{"rabbitmq_broker on no node", edit(valid(), "a", rm("rabbitmq_broker")), nil, []Violation{
			{RuleOneNode, Error, "rabbitmq_broker", nil, []string{"rabbitmq"}, "rabbitmq_broker must be on exactly one node, but no node has it, so rabbitmq never starts: add it to one node"}}},
		{"rabbitmq_broker twice, duplicate label on one node counts once", edit(valid(), "c", nil, "rabbitmq_broker", "rabbitmq_broker"), nil, []Violation{
			{RuleOneNode, Error, "rabbitmq_broker", []string{"a", "c"}, []string{"rabbitmq"}, "rabbitmq_broker must be on exactly one node, but a and c have it: remove it from all but one node"}}},
		{"custom_image_registry on no node", edit(valid(), "a", rm("custom_image_registry")), nil, []Violation{
			{RuleOneNode, Error, "custom_image_registry", nil, []string{"sandboximageregistry"}, "custom_image_registry must be on exactly one node, but no node has it, so sandboximageregistry never starts: add it to the node whose disk should hold the custom sandbox images"}}},
		{"custom_image_registry twice", edit(valid(), "c", nil, "custom_image_registry"), nil, []Violation{
			{RuleOneNode, Error, "custom_image_registry", []string{"a", "c"}, []string{"sandboximageregistry"}, "custom_image_registry must be on exactly one node, but a and c have it: remove it from all but the node whose disk holds the custom sandbox images"}}},
		{"custom_image_registry on no node is fine when no service needs it", edit(valid(), "a", rm("custom_image_registry")), without("sandboximageregistry"), nil},

		// one-webserver
		{"webserver on no node", edit(valid(), "b", rm("webserver")), nil, []Violation{
			{RuleOneWebserver, Error, "webserver", nil, []string{"nginx", "website"}, "webserver must be on exactly one node (it binds ports 80 and 443), but no node has it, so nginx and website never start: add it to the node that the site's domain name points to"}}},
		{"webserver on two nodes", edit(valid(), "c", nil, "webserver"), nil, []Violation{
			{RuleOneWebserver, Error, "webserver", []string{"b", "c"}, []string{"nginx", "website"}, "webserver must be on exactly one node (it binds ports 80 and 443), but b and c have it: keep it on the node that the site's domain name points to and remove it from the others"}}},

		// one-grader-kind
		{"grader and deferred_grader on one node", edit(valid(), "c", nil, "deferred_grader"), nil, []Violation{
			{RuleOneGrader, Error, "", []string{"c"}, nil, "c has grader and deferred_grader, but a node may have at most one of grader, tiny_grader, deferred_grader and tiny_deferred_grader: keep one of them and remove the others"}}},
		{"three exclusive labels, named in the guide's order", edit(cpus(valid(), "c", 4), "c", rm("grader", "fast_grader"), "tiny_deferred_grader", "tiny_grader", "deferred_grader"), nil, []Violation{
			{RuleOneGrader, Error, "", []string{"c"}, nil, "c has tiny_grader, deferred_grader and tiny_deferred_grader, but a node may have at most one of grader, tiny_grader, deferred_grader and tiny_deferred_grader: keep one of them and remove the others"},
			{RuleSize, Advice, "deferred_grader", []string{"c"}, nil, "deferred_grader is on c, which has only 4 CPUs, but it runs two tasks at a time and suits nodes with more than 4 CPUs: use tiny_deferred_grader there instead"}}},
		{"grader with fast_grader and rerun_grader is fine", edit(valid(), "c", nil, "rerun_grader"), nil, nil},

		// needed
		{"django_app on no node", edit(valid(), "b", rm("django_app")), nil, []Violation{
			{RuleNeeded, Error, "django_app", nil, []string{"django"}, "django_app must be on at least one node, but no node has it, so django never starts: add it to a node"}}},
		{"small_tasks on no node names its three services", edit(valid(), "b", rm("small_tasks")), nil, []Violation{
			{RuleNeeded, Error, "small_tasks", nil, []string{"celery_project_downloads", "celery_small_tasks", "celerybeat"}, "small_tasks must be on at least one node, but no node has it, so celery_project_downloads, celery_small_tasks and celerybeat never start: add it to a node"}}},
		{"a custom constraint label on no node", valid(), custom, []Violation{
			{RuleNeeded, Error, "metrics", nil, []string{"monitor"}, "metrics must be on at least one node, but no node has it, so monitor never starts: add it to a node"}}},
		{"a custom constraint label on a node is kept and flagged", edit(valid(), "c", nil, "metrics"), custom, []Violation{
			{RuleUnknown, Advice, "metrics", []string{"c"}, nil, "unknown label metrics on c: aginstall keeps it and never removes it"}}},
		{"django_app not needed by the compose file", edit(valid(), "b", rm("django_app")), without("django"), nil},

		// grading-workers
		{"no grader and no tiny_grader", edit(valid(), "c", rm("grader")), nil, []Violation{
			{RuleGrading, Error, "grader", nil, []string{"grader", "tiny_grader"}, "grader or tiny_grader must be on at least one node, but no node has either, so no submission is ever graded: add grader to a node with more than 4 CPUs or tiny_grader to a smaller one"}}},
		{"tiny_grader alone grades", edit(cpus(valid(), "c", 4), "c", rm("grader", "fast_grader"), "tiny_grader"), nil, nil},
		{"no grader while the tiny services are commented out", edit(valid(), "c", rm("grader")), tiny, []Violation{
			{RuleGrading, Error, "grader", nil, []string{"grader"}, "grader must be on at least one node, but no node has it, so no submission is ever graded: add it to a node"}}},
		{"no deferred grader", edit(valid(), "a", rm("deferred_grader")), nil, []Violation{
			{RuleGrading, Advice, "deferred_grader", nil, []string{"deferred_grader", "tiny_deferred_grader"}, "no node has deferred_grader or tiny_deferred_grader, so deferred test suites wait: add deferred_grader to a node with more than 4 CPUs or tiny_deferred_grader to a smaller one that has no grader or tiny_grader"}}},
		{"no rerun grader", edit(valid(), "a", rm("rerun_grader")), nil, []Violation{
			{RuleGrading, Advice, "rerun_grader", nil, []string{"rerun_grader", "tiny_rerun_grader"}, "no node has rerun_grader or tiny_rerun_grader, so re-runs of tests wait: add rerun_grader to a node with more than 4 CPUs or tiny_rerun_grader to a smaller one"}}},
		{"no image_builder", edit(valid(), "a", rm("image_builder")), nil, []Violation{
			{RuleGrading, Advice, "image_builder", nil, []string{"image_builder"}, "no node has image_builder, so custom sandbox image builds wait: add it to a node"}}},
		{"no fast grader is fine: graders take the fast queues", edit(valid(), "c", rm("fast_grader")), nil, nil},
		{"no worker at all is fine when the compose file has none", edit(edit(valid(), "a", rm("deferred_grader", "rerun_grader", "image_builder")), "c", rm("grader", "fast_grader")),
			without("grader", "tiny_grader", "fast_grader", "tiny_fast_grader", "deferred_grader", "tiny_deferred_grader", "rerun_grader", "tiny_rerun_grader", "image_builder"), nil},

		// worker-size
		{"tiny_grader on 8 CPUs", edit(valid(), "c", rm("grader"), "tiny_grader"), nil, []Violation{
			{RuleSize, Advice, "tiny_grader", []string{"c"}, nil, "tiny_grader is on c, which has 8 CPUs, but a tiny worker runs one task at a time and suits nodes with at most 4 CPUs: use grader there instead"}}},
		{"tiny_fast_grader on 5 CPUs", edit(cpus(valid(), "c", 5), "c", rm("fast_grader"), "tiny_fast_grader"), nil, []Violation{
			{RuleSize, Advice, "tiny_fast_grader", []string{"c"}, nil, "tiny_fast_grader is on c, which has 5 CPUs, but a tiny worker runs one task at a time and suits nodes with at most 4 CPUs: use fast_grader there instead"}}},
		{"grader on 4 CPUs", cpus(valid(), "c", 4), nil, []Violation{
			{RuleSize, Advice, "grader", []string{"c"}, nil, "grader is on c, which has only 4 CPUs, but it runs two tasks at a time and suits nodes with more than 4 CPUs: use tiny_grader there instead"},
			{RuleSize, Advice, "fast_grader", []string{"c"}, nil, "fast_grader is on c, which has only 4 CPUs, but it runs two tasks at a time and suits nodes with more than 4 CPUs: use tiny_fast_grader there instead"}}},
		{"grader on 5 CPUs is fine", cpus(valid(), "c", 5), nil, nil},
		{"unknown CPUs: no advice", edit(cpus(valid(), "c", 0), "c", nil, "tiny_rerun_grader"), nil, nil},
		{"image_builder has no size advice", cpus(valid(), "a", 2), nil, []Violation{
			{RuleSize, Advice, "deferred_grader", []string{"a"}, nil, "deferred_grader is on a, which has only 2 CPUs, but it runs two tasks at a time and suits nodes with more than 4 CPUs: use tiny_deferred_grader there instead"},
			{RuleSize, Advice, "rerun_grader", []string{"a"}, nil, "rerun_grader is on a, which has only 2 CPUs, but it runs two tasks at a time and suits nodes with more than 4 CPUs: use tiny_rerun_grader there instead"}}},

		// unknown-label
		{"unknown label on two nodes", edit(edit(valid(), "c", nil, "gpu"), "a", nil, "gpu", "ssd"), nil, []Violation{
			{RuleUnknown, Advice, "gpu", []string{"a", "c"}, nil, "unknown label gpu on a and c: aginstall keeps it and never removes it"},
			{RuleUnknown, Advice, "ssd", []string{"a"}, nil, "unknown label ssd on a: aginstall keeps it and never removes it"}}},

		// unused-label
		{"tiny label while its service is commented out", edit(cpus(valid(), "c", 4), "c", rm("grader", "fast_grader"), "grader", "tiny_fast_grader"), tiny, []Violation{
			{RuleSize, Advice, "grader", []string{"c"}, nil, "grader is on c, which has only 4 CPUs, but it runs two tasks at a time and suits nodes with more than 4 CPUs: use tiny_grader there instead"},
			{RuleUnused, Advice, "tiny_fast_grader", []string{"c"}, nil, "tiny_fast_grader is on c, but no service of the deployed compose file uses it, so it starts nothing: enable its service in docker-compose.yml or remove the label"}}},
		{"registry is never unused", []Node{{Name: "a", Labels: []string{"registry"}}}, map[string][]string{}, nil},

		// several at once: errors first, then advice, each in the order of Rules
		{"several violations", []Node{
			{Name: "n3", CPUs: 16, Labels: []string{"tiny_grader", "gpu", "database"}},
			{Name: "n1", CPUs: 2, Labels: []string{"database", "grader", "deferred_grader", "webserver", "webserver"}},
			{Name: "n2", CPUs: 4, Labels: []string{"webserver", "registry", "cache", "rabbitmq_broker", "custom_image_registry", "django_app", "small_tasks", "rerun_grader", "image_builder"}},
		}, nil, []Violation{
			{RuleOneNode, Error, "database", []string{"n1", "n3"}, []string{"postgres"}, "database must be on exactly one node, but n1 and n3 have it: remove it from all but the node whose disk holds the database"},
			{RuleOneWebserver, Error, "webserver", []string{"n1", "n2"}, []string{"nginx", "website"}, "webserver must be on exactly one node (it binds ports 80 and 443), but n1 and n2 have it: keep it on the node that the site's domain name points to and remove it from the others"},
			{RuleOneGrader, Error, "", []string{"n1"}, nil, "n1 has grader and deferred_grader, but a node may have at most one of grader, tiny_grader, deferred_grader and tiny_deferred_grader: keep one of them and remove the others"},
			{RuleSize, Advice, "grader", []string{"n1"}, nil, "grader is on n1, which has only 2 CPUs, but it runs two tasks at a time and suits nodes with more than 4 CPUs: use tiny_grader there instead"},
			{RuleSize, Advice, "deferred_grader", []string{"n1"}, nil, "deferred_grader is on n1, which has only 2 CPUs, but it runs two tasks at a time and suits nodes with more than 4 CPUs: use tiny_deferred_grader there instead"},
			{RuleSize, Advice, "rerun_grader", []string{"n2"}, nil, "rerun_grader is on n2, which has only 4 CPUs, but it runs two tasks at a time and suits nodes with more than 4 CPUs: use tiny_rerun_grader there instead"},
			{RuleSize, Advice, "tiny_grader", []string{"n3"}, nil, "tiny_grader is on n3, which has 16 CPUs, but a tiny worker runs one task at a time and suits nodes with at most 4 CPUs: use grader there instead"},
			{RuleUnknown, Advice, "gpu", []string{"n3"}, nil, "unknown label gpu on n3: aginstall keeps it and never removes it"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Check(tt.nodes, tt.constraints)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Check:\n got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}
