package steps

import (
	"reflect"
	"testing"
)

// A sudo user's ss names no process for root's docker-proxy: the names
// Docker gives let the stack's own listeners pass and keep others' blocking.
func TestNameListeners(t *testing.T) {
	c := &Cluster{Stack: "ag-stack"}
	ls := []string{"0.0.0.0:80", "[::]:443", "0.0.0.0:8080 ", "*:443 apache2"}
	if got := unnamedPorts(ls); !reflect.DeepEqual(got, []uint16{80, 443, 8080}) {
		t.Fatalf("unnamed ports %v", got)
	}
	own := containerOwner(c, map[string]string{"com.docker.stack.namespace": "ag-stack", "com.docker.swarm.service.name": "ag-stack_nginx"}, []string{"/ag-stack_nginx.1.x"})
	other := containerOwner(c, map[string]string{}, []string{"/web"})
	named := nameFrom(ls, map[uint16]string{80: own, 443: other})
	want := []string{"0.0.0.0:80 " + own, "[::]:443 " + other, "0.0.0.0:8080 ", "*:443 apache2"}
	if !reflect.DeepEqual(named, want) {
		t.Fatalf("named %q", named)
	}
	got, _ := foreignListeners(named)
	if len(got) != 3 || got[0] != "[::]:443 (docker-proxy of container web)" || got[2] != "*:443 (apache2)" {
		t.Fatalf("foreign %q", got)
	}
	if taken, _ := foreignListeners([]string{"0.0.0.0:80 " + own, "[::]:80 dockerd"}); taken != nil {
		t.Fatal("the stack's own listeners must pass")
	}
	if containerOwner(&Cluster{Stack: "other"}, map[string]string{"com.docker.stack.namespace": "ag-stack", "com.docker.swarm.service.name": "ag-stack_nginx"}, nil) != "docker-proxy of service ag-stack_nginx" {
		t.Fatal("another stack's service is not ours")
	}
}
