package simnet_test

import (
	"flag"
	"fmt"
	"testing"

	"naivechain/internal/simnet"
)

var schedules = flag.Int("schedules", 200, "number of random schedules TestRandomSchedules runs")

// TestRandomSchedules runs seeded random schedules of partitions, heals,
// message loss and delay, and one crash, with writers on every node. After
// the final heal every live node must hold one valid chain in which every
// acknowledged write appears exactly once and nothing else.
func TestRandomSchedules(t *testing.T) {
	for seed := uint64(1); seed <= uint64(*schedules); seed++ {
		runSchedule(t, seed)
	}
}

func runSchedule(t *testing.T, seed uint64) {
	t.Helper()
	size := []int{3, 5}[seed%2]
	net := cluster(t, seed, size, simnet.Config{MaxDelay: 1 + int(seed%4), DropRate: float64(seed%3) * 0.05, WriteTimeout: 150})
	rng := net.Rand()
	crashed := false
	for step := 0; step < 300; step++ {
		switch r := rng.IntN(100); {
		case r < 3:
			// Split the nodes in two random groups.
			var a, b []string
			for _, nd := range net.Nodes() {
				if rng.IntN(2) == 0 {
					a = append(a, nd.ID)
				} else {
					b = append(b, nd.ID)
				}
			}
			net.Partition(a, b)
		case r < 6:
			net.Heal()
		case r < 7 && !crashed:
			crashed = true
			net.Crash(net.Nodes()[rng.IntN(size)].ID)
		case r < 60:
			nd := net.Nodes()[rng.IntN(size)]
			if nd.Up() {
				net.Propose(nd.ID, fmt.Sprintf(`"s%d-%d"`, seed, step))
			}
		}
		net.Tick()
	}
	net.Heal()
	if err := net.RunUntil(net.AllDone, 2000); err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	if err := net.RunUntil(net.Converged, 3000); err != nil {
		t.Fatalf("seed %d: no convergence after heal: %v", seed, err)
	}
	if err := net.CheckChains(); err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	// The healed network accepts writes again.
	w := net.Propose(net.Nodes()[0].ID, fmt.Sprintf(`"s%d-final"`, seed))
	if !net.Nodes()[0].Up() {
		w = net.Propose(net.Nodes()[1].ID, fmt.Sprintf(`"s%d-final"`, seed))
	}
	if err := net.RunUntil(func() bool { return w.Done }, 2000); err != nil || !w.OK {
		t.Fatalf("seed %d: write after heal: %v %v", seed, err, w.Err)
	}
	if err := net.RunUntil(net.Converged, 2000); err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	if err := net.CheckChains(); err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
}
