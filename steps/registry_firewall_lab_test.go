//go:build lab

package steps

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"aginstall/internal/labtest"
)

// outsider is the lab's root host: on the lab's network, not in the cluster.
const outsider = "10.213.0.1"

// labCatalogFromOutside asks for the registry's catalog from the root host's
// lab address; it returns curl's output and exit code (0: an answer; 7: the
// connection was refused; 28: no answer in time).
func labCatalogFromOutside(t *testing.T, addr string) (string, int) {
	t.Helper()
	out, err := exec.Command("curl", "--interface", outsider, "-sS", "-m", "5", "http://"+addr+":5000/v2/_catalog").CombinedOutput()
	code := 0
	if xe, ok := err.(*exec.ExitError); ok {
		code = xe.ExitCode()
	} else if err != nil {
		t.Fatalf("curl: %v", err)
	}
	return strings.TrimSpace(string(out)), code
}

const curlRefused = 7

// labCatalogFromNode asks from inside a node (its own netns and address),
// retrying for up to a minute while a registry task starts.
func labCatalogFromNode(t *testing.T, lab *labtest.Lab, node, addr string) (string, error) {
	t.Helper()
	py := `import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())`
	var out string
	var err error
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(2 * time.Second) {
		out, err = lab.Exec(t, node, "python3", "-c", py, "http://"+addr+":5000/v2/_catalog")
		if err == nil && strings.Contains(out, "repositories") || time.Now().After(deadline) {
			return strings.TrimSpace(out), err
		}
	}
}

func labFirstUserRule(t *testing.T, lab *labtest.Lab, node string) string {
	t.Helper()
	out, err := lab.Exec(t, node, "iptables", "-w", "-S", "DOCKER-USER")
	if err != nil {
		t.Logf("iptables -S DOCKER-USER on %s: %v %s", node, err, out)
		return ""
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 {
		return ""
	}
	return lines[1]
}

// labRegistryFirewall: after the registry step, the catalog on 5000 is
// refused from an address outside the cluster, on the registry's node and
// on a node of the proxy, and answers from the nodes. A flushed chain is
// reported as an open registry and closed again by apply; the rules survive
// a dockerd restart and a reboot.
func labRegistryFirewall(t *testing.T, env *Env, en *Engine, lab *labtest.Lab) {
	ctx := labCtx(t)
	for _, c := range (registryStep{}).Check(ctx, env) {
		if c.Status != Done {
			t.Errorf("registry check after apply: %+v", c)
		}
	}
	// From the nodes: node2 reaches the registry on node1, node1 the proxy on node2.
	if out, err := labCatalogFromNode(t, lab, "node2", "10.213.0.11"); err != nil || !strings.Contains(out, "repositories") {
		t.Errorf("node2 → node1:5000: %v %s", err, out)
	}
	if out, err := labCatalogFromNode(t, lab, "node1", "10.213.0.12"); err != nil || !strings.Contains(out, "repositories") {
		t.Errorf("node1 → node2:5000 (the proxy): %v %s", err, out)
	}
	// From outside: refused, by the rule (a reset), not by a missing listener.
	for _, addr := range []string{"10.213.0.11", "10.213.0.12"} {
		if out, code := labCatalogFromOutside(t, addr); code != curlRefused {
			t.Errorf("%s → %s:5000 answered or failed otherwise: %s", outsider, addr, out)
		}
	}

	// Someone flushes the chain on node2: the outsider gets the catalog
	// (so the refusal above was the rule's), review says drifted, apply closes it.
	if out, err := lab.Exec(t, "node2", "iptables", "-w", "-F", registryFirewallChain); err != nil {
		t.Fatalf("flush: %v %s", err, out)
	}
	var open string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(2 * time.Second) {
		if out, code := labCatalogFromOutside(t, "10.213.0.12"); code == 0 {
			open = out
			break
		}
	}
	if !strings.Contains(open, "repositories") {
		t.Errorf("with the chain flushed, %s still cannot read node2's catalog: the refusal was not the rule's", outsider)
	}
	for _, c := range (registryStep{}).Check(ctx, env) {
		want := Done
		if c.Host == "node2" {
			want = Drifted
		}
		if c.Status != want || (want == Drifted && !strings.Contains(c.Reason, "open to every address")) {
			t.Errorf("check with node2's chain flushed: %+v, want %s", c, want)
		}
	}
	if err := en.ApplyStep(ctx, registryStep{}); err != nil {
		t.Fatal(err)
	}
	if out, code := labCatalogFromOutside(t, "10.213.0.12"); code != curlRefused {
		t.Errorf("after apply, %s → node2:5000: %s", outsider, out)
	}

	// dockerd restarts: Docker re-inserts its jump to DOCKER-USER, never
	// flushes it; our jump stays first.
	if out, err := lab.Exec(t, "node3", "systemctl", "restart", "docker"); err != nil {
		t.Fatalf("restart docker: %v %s", err, out)
	}
	if got := labFirstUserRule(t, lab, "node3"); got != registryFirewallJump {
		t.Errorf("after a dockerd restart, DOCKER-USER starts with %q", got)
	}
	// A reboot loses every rule; the unit puts them back before dockerd.
	start := time.Now()
	lab.StopHost(t, "node3")
	lab.StartHost(t, "node3")
	var first string
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		if first = labFirstUserRule(t, lab, "node3"); first == registryFirewallJump {
			break
		}
	}
	if first != registryFirewallJump {
		t.Errorf("after a reboot, DOCKER-USER starts with %q", first)
	}
	t.Logf("node3 rebooted with its rules in %s", time.Since(start).Round(time.Millisecond))
	wait, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for _, c := range (registryStep{}).Check(wait, env) {
		if c.Host == "node3" && c.Status != Done {
			t.Errorf("node3 after the reboot: %+v", c)
		}
	}
	if out, code := labCatalogFromOutside(t, "10.213.0.13"); code != curlRefused {
		t.Errorf("after the reboot, %s → node3:5000: %s", outsider, out)
	}
}
