package steps

import (
	"strings"
	"testing"
)

func TestSetHostLabels(t *testing.T) {
	good := string(readGood(t))
	out, err := SetHostLabels([]byte(good), "node2", []string{"registry", "cache"})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(good, "    labels: [registry, grader]\n", "    labels: [registry, cache]\n", 1)
	if string(out) != want {
		t.Fatalf("got:\n%s", out)
	}
	c, err := ParseCluster("x.yaml", out)
	if err != nil || strings.Join(c.Hosts[1].Labels, ",") != "registry,cache" {
		t.Fatalf("reparsed %v (%v)", c, err)
	}

	block := strings.Replace(good, "    labels: [registry, grader]\n", "    labels:   # the graders\n      - registry\n      - grader\n", 1)
	out, err = SetHostLabels([]byte(block), "node2", []string{"cache"})
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != strings.Replace(good, "    labels: [registry, grader]\n", "    labels: [cache]\n", 1) {
		t.Fatalf("block list replaced wrongly:\n%s", out)
	}

	none := strings.Replace(good, "    labels: [registry, grader]\n", "", 1)
	out, err = SetHostLabels([]byte(none), "node2", []string{"cache"})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := ParseCluster("x.yaml", out); err != nil || strings.Join(c.Hosts[1].Labels, ",") != "cache" {
		t.Fatalf("added labels: %v (%v)\n%s", c, err, out)
	}
	if _, err := SetHostLabels([]byte(good), "node2", []string{"bad label"}); err == nil {
		t.Fatal("accepted a bad label")
	}
}
