package steps

import (
	"fmt"
	"sort"
	"sync"
)

// The documented steps, in the guide's order. Each step file registers itself
// with its position, so adding a step touches only its own file.
const (
	OrderDiscover = 10
	OrderDocker   = 20
	OrderLimits   = 30
	OrderSwarm    = 40
	OrderNetwork  = 50
	OrderSource   = 60
	OrderNFS      = 70
	OrderLabels   = 80
	OrderSettings = 90
	OrderRegistry = 100
	OrderDeploy   = 110
	OrderMigrate  = 120
	OrderAdmin    = 130
)

var (
	registryMu sync.Mutex
	registered = map[int]Step{}
)

// register adds a step at its place in the order; two steps at one place is a bug.
func register(order int, s Step) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if old, dup := registered[order]; dup {
		panic(fmt.Sprintf("steps %s and %s both registered at %d", old.ID(), s.ID(), order))
	}
	registered[order] = s
}

// All returns every step in order.
func All() []Step {
	registryMu.Lock()
	defer registryMu.Unlock()
	orders := make([]int, 0, len(registered))
	for o := range registered {
		orders = append(orders, o)
	}
	sort.Ints(orders)
	out := make([]Step, len(orders))
	for i, o := range orders {
		out[i] = registered[o]
	}
	return out
}

// ByID finds a step.
func ByID(id string) (Step, bool) {
	for _, s := range All() {
		if s.ID() == id {
			return s, true
		}
	}
	return nil, false
}

// AllHosts is Hosts for steps that act on every host.
func AllHosts(c *Cluster) []string { return c.HostNames() }

// ManagerOnly is Hosts for steps that act through the manager.
func ManagerOnly(c *Cluster) []string { return []string{c.Manager} }
