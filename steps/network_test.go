package steps

import (
	"errors"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/network"
)

func TestNetworkVerdict(t *testing.T) {
	nw := func(driver string, attachable bool) *network.Summary {
		return &network.Summary{Network: network.Network{Name: NetworkName, Driver: driver, Attachable: attachable, Scope: "swarm"}}
	}
	tests := []struct {
		n    *network.Summary
		want Status
		fix  string
	}{
		{nil, Todo, ""},
		{nw("overlay", true), Done, ""},
		{nw("overlay", false), Done, ""}, // the guide's own command: fine for the stack
		{nw("bridge", false), Drifted, "docker network rm ag-swarm-network"},
	}
	for _, tt := range tests {
		st, reason, fix := networkVerdict(tt.n)
		if st != tt.want || !strings.Contains(fix, tt.fix) || reason == "" {
			t.Errorf("%+v: got %s %q %q", tt.n, st, reason, fix)
		}
	}
}

func TestNetworkPlanWithoutDocker(t *testing.T) {
	env := swarmTestEnv(t, "")
	if err := (networkStep{}).Apply(t.Context(), env); err != nil && !errors.Is(err, ErrDryRun) {
		t.Fatal(err)
	}
	m := env.Runner.Mutations()
	if len(m) != 1 || m[0].Command != "NetworkCreate(ag-swarm-network, Driver=overlay, Attachable=true)" || !m[0].DryRun {
		t.Errorf("planned %+v", m)
	}
}
