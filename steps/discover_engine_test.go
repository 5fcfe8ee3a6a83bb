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

// limits.conf comes whole with discovery for the same review's limits
// check; a value that is not strict base64 is dropped, so the check reads
// the file itself.
func TestDiscoveryCarriesLimitsConf(t *testing.T) {
	f, _, _ := parseFacts("limits_conf=KiBzb2Z0IG5vZmlsZSAxMDAwMDAwCg==\n")
	if !f.limitsConf.read || string(f.limitsConf.data) != "* soft nofile 1000000\n" {
		t.Fatalf("%+v", f)
	}
	if f, _, _ = parseFacts("limits_conf_missing=1\n"); !f.limitsConf.missing || f.limitsConf.data != nil {
		t.Fatalf("missing: %+v", f)
	}
	if f, _, _ = parseFacts("limits_conf=KiBzb2Z0\x1b[2J\n"); f.limitsConf.known() || len(f.Dropped) != 1 {
		t.Fatalf("hostile: %+v", f)
	}
	if f, _, _ = parseFacts("nofile=* soft nofile 1\n"); f.limitsConf.known() {
		t.Fatalf("unreadable: %+v", f)
	}
}
