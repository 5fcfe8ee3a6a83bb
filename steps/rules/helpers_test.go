package rules

import "slices"

// valid is a 3-node cluster that breaks no rule with the upstream file.
func valid() []Node {
	return []Node{
		{Name: "a", CPUs: 8, MemoryMB: 65536, Labels: []string{"registry", "database", "cache", "rabbitmq_broker", "deferred_grader", "rerun_grader", "image_builder", "custom_image_registry"}},
		{Name: "b", CPUs: 8, MemoryMB: 32768, Labels: []string{"webserver", "django_app", "small_tasks"}},
		{Name: "c", CPUs: 8, MemoryMB: 16384, Labels: []string{"grader", "fast_grader"}},
	}
}

// edit returns nodes with labels removed from and added to one node.
func edit(nodes []Node, node string, remove []string, add ...string) []Node {
	out := slices.Clone(nodes)
	for i := range out {
		if out[i].Name != node {
			continue
		}
		var ls []string
		for _, l := range out[i].Labels {
			if !slices.Contains(remove, l) {
				ls = append(ls, l)
			}
		}
		out[i].Labels = append(ls, add...)
	}
	return out
}

func cpus(nodes []Node, node string, n int) []Node {
	out := slices.Clone(nodes)
	for i := range out {
		if out[i].Name == node {
			out[i].CPUs = n
		}
	}
	return out
}

// without is the upstream placement minus some services.
func without(services ...string) map[string][]string {
	m := UpstreamConstraints()
	for _, s := range services {
		delete(m, s)
	}
	return m
}

func rm(labels ...string) []string { return labels }
