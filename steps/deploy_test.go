package steps

import (
	"context"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/swarm"
)

func TestDeployChanges(t *testing.T) {
	svc := func(name, image string) swarm.Service {
		s := convService(name, name, 1, false)
		s.Spec.TaskTemplate.ContainerSpec.Image = image
		return s
	}
	before := []swarm.Service{svc("django", "d@sha256:1"), svc("nginx", "n@sha256:1")}
	after := []swarm.Service{svc("django", "d@sha256:2"), svc("nginx", "n@sha256:1"), svc("website", "w@sha256:1")}
	got := strings.Join(deployChanges(before, after), "\n")
	want := "new services (1): website\nchanged services (1): django\nunchanged services (1): nginx"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestDeployMarkerRoundTrip(t *testing.T) {
	env, f, _ := siteTestEnv(t, "")
	st := deployState{Stack: "ag-stack", Commit: "0123456789abcdef", Fingerprint: "f00d"}
	f.files["node1:/srv/ag/"+deployMarker] = deployMarkerText(st)
	got, raw, err := deployDeployed(context.Background(), env.On("deploy", "node1"), env.Cluster)
	if err != nil || got != st || string(raw) != string(deployMarkerText(st)) {
		t.Fatalf("got %+v %v", got, err)
	}
	delete(f.files, "node1:/srv/ag/"+deployMarker)
	if got, _, err := deployDeployed(context.Background(), env.On("deploy", "node1"), env.Cluster); err != nil || got != (deployState{}) {
		t.Fatalf("a missing marker means never deployed, got %+v %v", got, err)
	}
}
