package steps

import (
	"strings"
	"testing"

	"aginstall/steps/edit"
)

// A worker's own output must not decide the manager's /etc/exports: a
// hostile reach= or addr= line is dropped with a warning, and a stored fact
// from an older state that was never checked is ignored where it is used.
func TestHostileFactsDropped(t *testing.T) {
	out := "hostname=node2\nreach=10.0.0.12 *\naddr=10.0.0.12/24 *(rw)\nhostname2=x\nos_name=Ubuntu\x1b]52;c;AAAA\x07\nsudo=root; id\nkernel=6.1 $(id)\n"
	f, _, _ := parseFacts(out)
	if f.ReachableAt != "" || len(f.Addresses) != 0 || f.Sudo != "" || f.Kernel != "" || strings.Contains(f.OSName, "\x1b") {
		t.Fatalf("hostile facts kept: %+v", f)
	}
	if len(f.Dropped) != 5 {
		t.Fatalf("dropped %q, want the 5 malformed lines", f.Dropped)
	}
	c := testCluster()
	findings := Preflight(c, map[string]*Facts{"m": goodFacts("m"), "w": f})
	warned := 0
	for _, fd := range findings {
		if fd.Code == "fact" && fd.Host == "w" && fd.Severity == Warning {
			warned++
			if strings.ContainsAny(fd.Message, "\x1b\x07") {
				t.Errorf("warning carries raw host text: %q", fd.Message)
			}
		}
	}
	if warned != 5 {
		t.Errorf("%d fact warnings, want 5: %+v", warned, findings)
	}

	// Facts stored before this check existed: the export and the swarm
	// address fall back to the cluster file's address.
	env := testEnv(t, &fakeHosts{files: map[string]string{}})
	env.State.SetFacts("node2", &Facts{ReachableAt: "10.0.0.12 *"})
	env.State.SetFacts("node1", &Facts{ReachableAt: "10.0.0.11 -o rw"})
	exports := string(edit.Exports(nil, "/srv/ag", nfsClientAddrs(env)))
	if exports != "/srv/ag 10.0.0.12(rw,sync,no_root_squash,no_subtree_check)\n" {
		t.Errorf("exports: %q", exports)
	}
	if a := nfsManagerAddr(env); a != "10.0.0.11" {
		t.Errorf("fstab server %q", a)
	}
	if a := swarmHostAddr(env, "node2"); a != "10.0.0.12" {
		t.Errorf("swarm address %q", a)
	}
	if a := strictIP("::ffff:10.0.0.1"); a != "10.0.0.1" {
		t.Errorf("canonical %q", a)
	}
}
