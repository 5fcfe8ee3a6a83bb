package steps

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/swarm"

	"aginstall/remote"
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

// The deploy check reads the marker in the same command as the fingerprint;
// when that command cannot say, the marker is read on its own.
func TestDeployReadCarriesMarker(t *testing.T) {
	c := &Cluster{Stack: "ag-stack"}
	head := "unsafe=\n0123abcd\nf00d  -\n" + deployMarkerSection + "\n"
	st := deployState{Stack: "ag-stack", Commit: "0123abcd", Fingerprint: "f00d"}
	cur, m, err := parseDeployRead(c, head+string(deployMarkerText(st)))
	if err != nil || cur != st || m == nil || m.state != st || string(m.raw) != string(deployMarkerText(st)) {
		t.Fatalf("%+v %+v %v", cur, m, err)
	}
	if _, m, err := parseDeployRead(c, head+deployMarkerSection+"-none\n"); err != nil || m == nil || m.raw != nil || m.state != (deployState{}) {
		t.Fatalf("no marker: %+v %v", m, err)
	}
	for _, out := range []string{head + deployMarkerSection + "-unreadable\n", "unsafe=\n0123abcd\nf00d  -\n"} {
		if cur, m, err := parseDeployRead(c, out); err != nil || m != nil || cur != st {
			t.Fatalf("%q: %+v %+v %v", out, cur, m, err)
		}
	}
}

// TestSitePlanOnBareHosts: a plan made before Docker, the swarm or the
// checkout exist still lists every mutating action of registry (with its
// proxy: the test cluster publishes in host mode), deploy, migrate and
// admin, and changes nothing.
func TestSitePlanOnBareHosts(t *testing.T) {
	env, f, _ := siteTestEnv(t, "")
	f.files = map[string][]byte{}
	env.Runner.DryRun = true
	for _, s := range []Step{registryStep{}, deployStep{}, migrateStep{}, adminStep{}} {
		if err := s.Apply(context.Background(), env); err != nil && !errors.Is(err, ErrDryRun) {
			t.Fatalf("%s: %v", s.ID(), err)
		}
	}
	var got []string
	firewall := map[string]int{} // host → planned firewall actions (hosts run in parallel)
	for _, r := range env.Runner.Mutations() {
		if !r.DryRun {
			t.Fatalf("ran during a dry run: %+v", r)
		}
		if strings.Contains(r.Purpose, "registry firewall") || strings.Contains(r.Purpose, "close the registry ports") {
			firewall[r.Host]++
			continue
		}
		got = append(got, r.Step+": "+r.Purpose)
		// docker-compose v1 gives up after 60 s of a silent engine; a push
		// on a slow server is silent longer (the VM tier's CI failure).
		if strings.HasPrefix(r.Purpose, "build the images") || strings.HasPrefix(r.Purpose, "push the images") {
			if !strings.Contains(r.Command, "COMPOSE_HTTP_TIMEOUT=") {
				t.Errorf("%s: compose runs with its 60 s default: %s", r.Purpose, r.Command)
			}
		}
	}
	for _, h := range env.Cluster.HostNames() {
		if firewall[h] != 3 {
			t.Errorf("%s: %d firewall actions planned, want 3 (script, unit, run): %v", h, firewall[h], firewall)
		}
	}
	want := []string{
		"registry: create the registry service", "registry: create the registry proxy", "deploy: build the images",
		"deploy: push the images to the swarm's registry (127.0.0.1:5000)", "deploy: deploy the stack",
		"deploy: remember what was deployed", "migrate: apply the migrations", "admin: create the superuser and course",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("planned:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(f.files) != 0 {
		t.Fatalf("a plan wrote files: %v", f.files)
	}
}

func TestDeployUpstreamPlanned(t *testing.T) {
	env, _, _ := siteTestEnv(t, "")
	if deployUpstreamPlanned(env) {
		t.Fatal("nothing planned yet")
	}
	env.Runner.DryRun = true
	env.On("settings", "node1").Run(context.Background(), "edit", remote.Command{Line: "true"})
	if !deployUpstreamPlanned(env) {
		t.Fatal("a planned settings change must make deploy plan a rebuild")
	}
}
