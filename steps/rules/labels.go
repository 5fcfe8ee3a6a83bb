// Package rules holds the swarm node-label rules of the deployment guide as
// pure functions: checking an assignment, suggesting one, and the diff and
// data-move warnings of a re-labelling. The UI shows the same rule texts.
package rules

// LabelInfo describes one node label of the guide. Labels are applied as
// "name=true", so a label is just its name here.
type LabelInfo struct {
	Name        string
	Description string // the guide's own description
	// Singleton: exactly one node. The guide asks it of database, registry,
	// cache, rabbitmq_broker and custom_image_registry; webserver has its
	// own rule (ports 80 and 443) and is not flagged here.
	Singleton bool
	// GraderExclusive: at most one of these per node (the guide's rule).
	GraderExclusive bool
	// Tiny: the worker runs one task at a time, meant for nodes with ≤4 CPUs.
	Tiny bool
	// Grader: a grading worker that has a tiny and a non-tiny variant, so the
	// CPU-size advice applies (image_builder has no tiny variant).
	Grader bool
	// HoldsData: its service keeps data in a volume on the node, so moving
	// the label leaves the data behind.
	HoldsData bool
}

// Known lists every label of the guide, in the guide's order. The
// descriptions are the guide's, with its typos fixed.
var Known = []LabelInfo{
	{Name: "registry", Description: "Stores and serves Docker images needed to create services.", Singleton: true, HoldsData: true},
	{Name: "webserver", Description: "The reverse proxy that handles incoming web traffic and the webserver that serves the frontend application."},
	{Name: "django_app", Description: "The Django backend application."},
	{Name: "database", Description: "The Postgres database.", Singleton: true, HoldsData: true},
	{Name: "cache", Description: "The Redis cache.", Singleton: true, HoldsData: true},
	{Name: "rabbitmq_broker", Description: "The Rabbitmq async task broker.", Singleton: true, HoldsData: true},
	{Name: "small_tasks", Description: "Various background tasks such as queueing submissions, updating submission statuses, and building grade spreadsheets and zips of submitted files."},
	{Name: "grader", Description: "Grading worker for non-deferred tests.", GraderExclusive: true, Grader: true},
	{Name: "tiny_grader", Description: "Like grader, but only runs one task at a time.", GraderExclusive: true, Grader: true, Tiny: true},
	{Name: "fast_grader", Description: "Dedicated worker for submissions with a low worst-case runtime.", Grader: true},
	{Name: "tiny_fast_grader", Description: "Like fast_grader, but only runs one task at a time.", Grader: true, Tiny: true},
	{Name: "deferred_grader", Description: "Grading worker for deferred tests.", GraderExclusive: true, Grader: true},
	{Name: "tiny_deferred_grader", Description: "Like deferred_grader, but only runs one task at a time.", GraderExclusive: true, Grader: true, Tiny: true},
	{Name: "rerun_grader", Description: "Grading worker for re-running tests.", Grader: true},
	{Name: "tiny_rerun_grader", Description: "Like rerun_grader, but only runs one task at a time.", Grader: true, Tiny: true},
	{Name: "image_builder", Description: "Processes custom sandbox image build tasks."},
	{Name: "custom_image_registry", Description: "A Docker registry that stores custom sandbox images.", Singleton: true, HoldsData: true},
}

// Lookup returns the known label of that name.
func Lookup(name string) (LabelInfo, bool) {
	for _, l := range Known {
		if l.Name == name {
			return l, true
		}
	}
	return LabelInfo{}, false
}

// Removable reports whether aginstall may remove the label from a node. Only
// labels of the guide are ever removed: anything else was put there by
// someone else for a reason aginstall cannot know.
func Removable(label string) bool {
	_, ok := Lookup(label)
	return ok
}

// rank orders labels as the guide lists them; unknown labels come after.
func rank(name string) int {
	for i, l := range Known {
		if l.Name == name {
			return i
		}
	}
	return len(Known)
}

// UpstreamConstraints is the placement of the real swarm docker-compose.yml
// of autograder-full-stack (2022 and 2024 alike): service → labels its
// constraints need. Check uses it when no compose file is known. The
// registry label is absent: its service is created apart from the stack.
func UpstreamConstraints() map[string][]string {
	m := map[string][]string{
		"nginx":                    {"webserver"},
		"website":                  {"webserver"},
		"django":                   {"django_app"},
		"postgres":                 {"database"},
		"redis":                    {"cache"},
		"rabbitmq":                 {"rabbitmq_broker"},
		"celery_small_tasks":       {"small_tasks"},
		"celery_project_downloads": {"small_tasks"},
		"celerybeat":               {"small_tasks"},
		"sandboximageregistry":     {"custom_image_registry"},
	}
	// Every grading worker service is named after its label.
	for _, l := range Known {
		if l.Grader || l.Name == "image_builder" {
			m[l.Name] = []string{l.Name}
		}
	}
	return m
}
