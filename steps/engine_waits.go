package steps

import (
	"fmt"
	"strings"
)

// readsDocker are the steps whose checks ask a Docker engine. On hosts
// without Docker they cannot, and say "unknown"; but discovery has found
// no engine and no dockerd there, so the truth is known: the docker step
// comes first, and these have their work still to do.
var readsDocker = map[string]bool{"swarm": true, "network": true, "labels": true, "registry": true}

// waitsForDocker turns such a check's Unknown into Todo when the host it is
// about, or the manager whose engine it asks, has no Docker installed, as
// this review's discovery found (reached: the hosts it reached; facts kept
// from an earlier run may be out of date).
func waitsForDocker(env *Env, step string, checks []HostCheck, reached map[string]bool) []HostCheck {
	if !readsDocker[step] {
		return checks
	}
	noDocker := func(h string) bool {
		f := env.State.FactsOf(h)
		return reached[h] && f != nil && f.Docker == ""
	}
	mgr := env.Cluster.Manager
	for i, c := range checks {
		if c.Status != Unknown {
			continue
		}
		var on []string
		if noDocker(c.Host) {
			on = append(on, c.Host)
		}
		if mgr != c.Host && noDocker(mgr) {
			on = append(on, mgr)
		}
		if len(on) == 0 {
			continue
		}
		checks[i] = waitingForDocker(c.Host, on)
	}
	return checks
}

// waitingForDocker is the verdict on host for a step that follows the
// docker step, where the hosts on have no Docker yet.
func waitingForDocker(host string, on []string) HostCheck {
	return HostCheck{Host: host, Status: Todo,
		Reason: fmt.Sprintf("Docker is not installed on %s yet; this step follows the docker step", strings.Join(on, " and ")),
		Fix:    "aginstall apply installs Docker first"}
}

// discoveredHosts are the hosts discovery's checks say it reached.
func discoveredHosts(checks []HostCheck) map[string]bool {
	out := map[string]bool{}
	for _, c := range checks {
		if c.Status != Unknown && c.Status != Failed {
			out[c.Host] = true
		}
	}
	return out
}
