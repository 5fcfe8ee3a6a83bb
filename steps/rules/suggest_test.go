package rules

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

func TestSuggestThreeNodes(t *testing.T) {
	nodes := []Node{
		{Name: "mgr", CPUs: 4, MemoryMB: 16000},
		{Name: "db", CPUs: 8, MemoryMB: 64000},
		{Name: "web", CPUs: 16, MemoryMB: 32000},
	}
	want := map[string][]string{
		"db":  {"database", "cache", "rabbitmq_broker"},
		"web": {"webserver", "django_app", "small_tasks", "deferred_grader", "rerun_grader", "image_builder"},
		"mgr": {"registry", "tiny_grader", "tiny_fast_grader", "custom_image_registry"},
	}
	got := Suggest(nodes, "mgr")
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Suggest:\n got %v\nwant %v", got, want)
	}
	if vs := Check(nodesWith(nodes, got), nil); vs != nil {
		t.Errorf("Check(Suggest) = %v, want none", vs)
	}
}

func TestSuggestFiveNodes(t *testing.T) {
	nodes := []Node{
		{Name: "n1", CPUs: 8, MemoryMB: 32000},
		{Name: "n2", CPUs: 8, MemoryMB: 32000}, // ties with n1: name decides
		{Name: "n3", CPUs: 4, MemoryMB: 8000},
		{Name: "n4", CPUs: 12, MemoryMB: 16000},
		{Name: "n5", CPUs: 0, MemoryMB: 0}, // unknown size: full-size workers
	}
	want := map[string][]string{
		"n1": {"registry", "database", "cache", "rabbitmq_broker", "custom_image_registry"},
		"n4": {"webserver", "django_app", "small_tasks"},
		"n2": {"grader", "fast_grader"},
		"n3": {"tiny_grader"},
		"n5": {"deferred_grader", "rerun_grader", "image_builder"},
	}
	got := Suggest(nodes, "n1")
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Suggest:\n got %v\nwant %v", got, want)
	}
	if vs := Check(nodesWith(nodes, got), nil); vs != nil {
		t.Errorf("Check(Suggest) = %v, want none", vs)
	}
}

// TestSuggestSizes: any cluster of three or more nodes gets an assignment
// that breaks no rule at all; two nodes too; one node only misses a
// deferred grader, which cannot share the node with grader.
func TestSuggestSizes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{1, 2, 3, 4, 5, 7, 10, 16} {
		for trial := range 20 {
			var nodes []Node
			for i := range size {
				nodes = append(nodes, Node{Name: fmt.Sprintf("h%02d", i), CPUs: []int{0, 2, 4, 8, 32}[r.IntN(5)], MemoryMB: r.IntN(4) * 8192})
			}
			manager := nodes[r.IntN(size)].Name
			got := Suggest(nodes, manager)
			var want []Violation
			if size == 1 {
				want = []Violation{{RuleGrading, Advice, "deferred_grader", nil, []string{"deferred_grader", "tiny_deferred_grader"},
					"no node has deferred_grader or tiny_deferred_grader, so deferred test suites wait: add deferred_grader to a node with more than 4 CPUs or tiny_deferred_grader to a smaller one that has no grader or tiny_grader"}}
			}
			if vs := Check(nodesWith(nodes, got), nil); !reflect.DeepEqual(vs, want) {
				t.Fatalf("%d nodes, trial %d: Check(Suggest) = %v, want %v\nnodes %v\nsuggested %v", size, trial, vs, want, nodes, got)
			}
			if len(got) != size || !slices.Contains(got[manager], "registry") {
				t.Fatalf("%d nodes: every node must be listed and registry on the manager %s: %v", size, manager, got)
			}
			shuffled := slices.Clone(nodes)
			r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			if again := Suggest(shuffled, manager); !reflect.DeepEqual(again, got) {
				t.Fatalf("%d nodes: Suggest depends on the order of nodes:\n%v\n%v", size, got, again)
			}
		}
	}
}

func TestSuggestTenNodes(t *testing.T) {
	var nodes []Node
	for i := range 10 {
		c := 16
		if i >= 6 {
			c = 4 // NUCs
		}
		nodes = append(nodes, Node{Name: fmt.Sprintf("node%02d", i), CPUs: c, MemoryMB: 16000 + 1000*i})
	}
	got := Suggest(nodes, "node00")
	// node09 has the most memory; node05 is the strongest of the rest
	// (16 CPUs, then the most memory). The 8 graders: the
	// weakest two (node07, node06: 4 CPUs, least memory) run deferred,
	// the stronger of them also rerun and image builds.
	want := map[string][]string{
		"node00": {"registry", "grader", "custom_image_registry"},
		"node01": {"grader"},
		"node02": {"grader"},
		"node03": {"grader"},
		"node04": {"grader", "fast_grader"},
		"node05": {"webserver", "django_app", "small_tasks"},
		"node06": {"tiny_deferred_grader"},
		"node07": {"tiny_deferred_grader", "tiny_rerun_grader", "image_builder"},
		"node08": {"tiny_grader"},
		"node09": {"database", "cache", "rabbitmq_broker"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Suggest:\n got %v\nwant %v", got, want)
	}
	if vs := Check(nodesWith(nodes, got), nil); vs != nil {
		t.Errorf("Check(Suggest) = %v, want none", vs)
	}
}

func TestSuggestFor(t *testing.T) {
	nodes := []Node{
		{Name: "a", CPUs: 8, MemoryMB: 64000},
		{Name: "b", CPUs: 8, MemoryMB: 32000},
		{Name: "c", CPUs: 4, MemoryMB: 8000},
	}
	// tiny services commented out, an extra service, no image builder,
	// manager unknown: registry goes on the data node.
	cons := without("tiny_grader", "tiny_fast_grader", "tiny_deferred_grader", "tiny_rerun_grader", "image_builder")
	cons["monitor"] = []string{"metrics"}
	want := map[string][]string{
		"a": {"registry", "database", "cache", "rabbitmq_broker", "custom_image_registry"},
		"b": {"webserver", "django_app", "small_tasks", "deferred_grader", "rerun_grader", "metrics"},
		"c": {"grader", "fast_grader"},
	}
	got := SuggestFor(nodes, "", cons)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("SuggestFor:\n got %v\nwant %v", got, want)
	}
	for _, v := range Check(nodesWith(nodes, got), cons) {
		if v.Severity == Error || v.Rule != RuleSize && v.Rule != RuleUnknown {
			t.Errorf("unexpected %v", v)
		}
	}
	if got := Suggest(nil, "x"); len(got) != 0 {
		t.Errorf("Suggest(nil) = %v", got)
	}
}

// nodesWith gives each node the suggested labels.
func nodesWith(nodes []Node, labels map[string][]string) []Node {
	out := slices.Clone(nodes)
	for i := range out {
		out[i].Labels = labels[out[i].Name]
	}
	return out
}
