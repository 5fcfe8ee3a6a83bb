// Package steps holds the guide's documented steps and the engine that runs
// them. Reading order:
//
// The steps, in the guide's order (engine_order.go has the numbers), one file
// each with its Check and Apply:
//
//	discover.go (+ preflight.go, preflight_fix.go, discover_facts.go, discover_facts_strict.go)  hosts and preflight
//	docker.go     Docker install and daemon.json
//	limits.go     limits.conf (the editor is edit.Limits)
//	swarm.go      swarm init and join
//	network.go    the overlay network
//	source.go     the autograder-full-stack checkout (+ source_gitsafe.go: git as root, safely)
//	nfs.go        NFS export and mounts
//	labels.go     node labels (rules in steps/rules)
//	settings.go   constants, site settings and secrets (editors in steps/edit)
//	registry.go   the registry (+ registry_proxy.go in host publish mode)
//	deploy.go     build, push, stack deploy (+ converge.go: waiting for tasks)
//	migrate.go    migrations
//	admin.go      the superuser and the first course
//
// relabel.go is the re-labelling of a running cluster (a mode, not a step).
//
// The engine is every engine_*.go file: the Step interface (engine_step.go),
// the registration order (engine_order.go), Engine and Env (engine.go), the one
// runner every side effect goes through (engine_runner.go), events, state,
// log, secrets and the review's ordering and memo. The cluster file is every
// cluster*.go file: reading, validating, and the AST edits that write it
// (cluster_save.go: only the changed keys, outside edits merged).
//
// The engine stays in this package, named by file rather than split into a
// sub-package, because the steps and the engine share unexported pieces (the
// runner's helpers, the state's per-step records, the review memo) and a
// sub-package would export them all and prefix every call site without
// changing the direction of any dependency; see docs/architecture.md.
package steps
