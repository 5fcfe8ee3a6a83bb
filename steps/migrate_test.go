package steps

import (
	"strings"
	"testing"

	"github.com/moby/moby/api/types/swarm"
)

func TestSiteHostOfNode(t *testing.T) {
	c := &Cluster{Hosts: []HostSpec{{Name: "web", Address: "10.0.0.11"}, {Name: "db", Address: "db.example.edu"}, {Name: "node3", Address: "10.0.0.13"}}}
	st := &State{Facts: map[string]*Facts{"db": {Hostname: "dbhost", Addresses: []string{"10.0.0.12"}}}}
	node := func(host, addr string) swarm.Node {
		n := swarm.Node{}
		n.Description.Hostname, n.Status.Addr = host, addr
		return n
	}
	for _, tc := range []struct{ host, addr, want string }{
		{"node3", "", "node3"},           // by name
		{"whatever", "10.0.0.11", "web"}, // by address
		{"dbhost", "", "db"},             // by discovered hostname
		{"x", "10.0.0.12", "db"},         // by discovered address
		{"stranger", "10.9.9.9", ""},     // not in the cluster file
	} {
		if got := siteHostOfNode(c, st, node(tc.host, tc.addr)); got != tc.want {
			t.Errorf("%s/%s: got %q, want %q", tc.host, tc.addr, got, tc.want)
		}
	}
}

func TestSiteLinesSplitsStreams(t *testing.T) {
	env, _, events := siteTestEnv(t, "")
	w := &siteLines{h: env.On("migrate", "node2"), stream: "stdout"}
	w.Write([]byte("Operations to perform:\n  Apply all"))
	w.Write([]byte(" migrations: core\r\nRunning"))
	w.flush()
	var got []string
	for _, e := range *events {
		if o, ok := e.(HostOutput); ok {
			got = append(got, o.Text)
		}
	}
	if strings.Join(got, "|") != "Operations to perform:|  Apply all migrations: core|Running" {
		t.Fatalf("lines %q", got)
	}
	if siteTail("a\n\nb\nc\n", 2) != "b\n  c" {
		t.Fatalf("tail %q", siteTail("a\n\nb\nc\n", 2))
	}
}
