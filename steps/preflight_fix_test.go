package steps

import "testing"

// TestFixForFixesTheFinding: each offered fix, applied, leaves preflight
// without that error, and is not offered again.
func TestFixForFixesTheFinding(t *testing.T) {
	c := &Cluster{Manager: "m", Hosts: []HostSpec{{Name: "m"}}, Docker: DockerSpec{Install: "skip"},
		NFS: NFSSpec{Mode: "export"}, Swarm: SwarmSpec{PublishMode: "ingress"}}
	facts := map[string]*Facts{"m": {Hostname: "m", OSID: "debian", OSVersion: "12", IPVS: false, NFSKernel: false, SourceFreeMB: 1 << 20}}
	codes := map[string]string{}
	for _, f := range Preflight(c, facts) {
		if fx, ok := FixFor(c, f); ok {
			codes[f.Code] = fx.Key + ": " + fx.Value
			fx.Set(c)
			if _, again := FixFor(c, f); again {
				t.Errorf("%s: the fix is offered again once the file says it", f.Code)
			}
		}
	}
	want := map[string]string{"ipvs": "swarm.publish_mode: host", "nfs": "nfs.mode: skip", "docker": "docker.install: official"}
	for code, fix := range want {
		if codes[code] != fix {
			t.Errorf("%s: fix %q, want %q", code, codes[code], fix)
		}
	}
	for _, f := range Preflight(c, facts) {
		if f.Severity == Blocker {
			t.Errorf("after the fixes, still an error: %s %s", f.Code, f.Message)
		}
	}
}
