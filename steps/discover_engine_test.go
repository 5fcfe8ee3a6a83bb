package steps

import (
	"context"
	"testing"
)

// A socket open to the user whose engine does not answer (Docker stopped,
// a stale socket) reads as the script's own "none" did: no access, and the
// installed daemon's version.
func TestDiscoverEngineSilent(t *testing.T) {
	fake := &fakeStepHosts{probes: map[string]string{"dockerd --version": "Docker version 24.0.5, build 24.0.5-0ubuntu1\n"}}
	env := &Env{Cluster: &Cluster{}, Runner: &Runner{Dial: fake}}
	h := env.On("discover", "node1")
	f := &Facts{DockerAccess: "direct", Sudo: "password"}
	discoverEngine(context.Background(), env, h, f, true)
	if f.DockerAccess != "none" || f.Docker != "24.0.5" || f.Swarm != "" {
		t.Fatalf("%+v", f)
	}
	// Hostile version text is left out, not shown.
	fake.probes["dockerd --version"] = "Docker version 1.0\x1b[2J, build x\n"
	f = &Facts{DockerAccess: "direct"}
	discoverEngine(context.Background(), env, h, f, true)
	if f.DockerAccess != "none" || f.Docker != "" {
		t.Fatalf("%+v", f)
	}
	// The script's answer through sudo -n stands as it is.
	f = &Facts{DockerAccess: "sudo", Docker: "20.10.24"}
	discoverEngine(context.Background(), env, h, f, true)
	if f.DockerAccess != "sudo" || f.Docker != "20.10.24" {
		t.Fatalf("%+v", f)
	}
}
