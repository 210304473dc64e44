package simnet_test

import (
	"errors"
	"flag"
	"fmt"
	"testing"

	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/consensus/vote"
	"github.com/naivechain/naivechain/internal/simnet"
	"github.com/naivechain/naivechain/internal/store"
)

var schedules = flag.Int("schedules", 1000, "number of random schedules TestRandomSchedules runs")

var long = flag.Bool("long", false, "run 20,000 random schedules (unless -schedules is given)")

// TestRandomSchedules runs seeded random schedules of partitions, heals,
// message loss and delay, crashes and restarts, with writers and consistent
// readers on every node (a released read must hold every write acknowledged
// before it started);
// half of them take a snapshot every few entries, so that restarted nodes
// catch up through snapshots, a third remove members that stay silent,
// which must come back as new members, and a fifth start as two networks
// that merge at the first heal. After every node is restarted and the network
// healed, every node must hold one valid chain in which every acknowledged
// write appears exactly once and nothing else, and accept writes again.
func TestRandomSchedules(t *testing.T) {
	if *long && *schedules == 1000 {
		*schedules = 20000
	}
	var total scheduleStats
	for seed := uint64(1); seed <= uint64(*schedules); seed++ {
		st := runSchedule(t, seed)
		total.acked += st.acked
		total.failed += st.failed
		total.crashes += st.crashes
		total.merges += st.merges
		total.reads += st.reads
		total.readsFailed += st.readsFailed
	}
	t.Logf("%d schedules: %d writes acknowledged, %d refused, %d crashes, %d started as two networks; %d consistent reads checked, %d failed",
		*schedules, total.acked, total.failed, total.crashes, total.merges, total.reads, total.readsFailed)
	if total.acked == 0 || total.crashes == 0 || total.reads == 0 {
		t.Fatal("the schedules exercised nothing")
	}
}

func removing(self consensus.Member, bootstrap bool, c *chain.Chain, st store.Store, session uint64) (consensus.Engine, error) {
	return vote.New(vote.Config{Self: self, Bootstrap: bootstrap, Chain: c, Store: st, JoinToken: testJoinToken, Session: session,
		RemoveAfterTicks: 60, SnapshotEntries: 20, KeepEntries: 5})
}

type scheduleStats struct{ acked, failed, crashes, merges, reads, readsFailed int }

func runSchedule(t *testing.T, seed uint64) (st scheduleStats) {
	t.Helper()
	size := []int{3, 5}[seed%2]
	factory := []simnet.EngineFactory{voteFactory, smallSnapshots}[(seed/2)%2]
	if seed%3 == 0 {
		// A third of the schedules remove members silent for 60 ticks,
		// which then come back as new members once they can talk again.
		factory = removing
	}
	// Two schedules in three have disks whose writes become durable up to
	// one or two ticks after they are seen: a crash loses those.
	cfg := simnet.Config{MaxDelay: 1 + int(seed%4), DropRate: float64(seed%3) * 0.05, WriteTimeout: 150, NewEngine: factory,
		DiskLag: int(seed/3) % 3}
	var net *simnet.Network
	if seed%5 == 4 {
		// A fifth start as two networks, cut off from each other until
		// the first heal, that then merge.
		st.merges++
		cfg.GreetEvery = 10
		net, _, _ = twoNetworks(t, seed, size/2, size-size/2, cfg)
	} else {
		net = cluster(t, seed, size, cfg)
	}
	rng := net.Rand()
	for step := 0; step < 300; step++ {
		switch r := rng.IntN(100); {
		case r < 3:
			randomSplit(net)
		case r < 6:
			net.Heal()
		case r < 8:
			if nd := net.Nodes()[rng.IntN(size)]; nd.Up() {
				net.Crash(nd.ID)
				st.crashes++
			} else if err := net.Restart(nd.ID); err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
		case r < 60:
			nd := net.Nodes()[rng.IntN(size)]
			if nd.Up() {
				net.Propose(nd.ID, fmt.Sprintf(`"s%d-%d"`, seed, step))
			}
		case r < 64:
			if nd := net.Nodes()[rng.IntN(size)]; nd.Up() {
				net.Read(nd.ID)
			}
		}
		net.Tick()
	}
	net.Heal()
	for _, nd := range net.Nodes() {
		if !nd.Up() {
			if err := net.Restart(nd.ID); err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
		}
	}
	if err := net.RunUntil(net.AllDone, 2000); err != nil {
		for _, w := range net.Writes() {
			if !w.Done {
				t.Logf("stuck %+v", w)
			}
		}
		for _, nd := range net.Nodes() {
			t.Logf("%s up=%v %+v members=%+v", nd.ID, nd.Up(), nd.Engine.Status(), nd.Engine.Members())
		}
		t.Fatalf("seed %d: %v", seed, err)
	}
	if err := net.RunUntil(net.Settled, 3000); err != nil {
		for _, nd := range net.Nodes() {
			t.Logf("%s up=%v %+v tip=%d members=%+v", nd.ID, nd.Up(), nd.Engine.Status(), nd.Chain.Tip().Index, nd.Engine.Members())
		}
		t.Fatalf("seed %d: no convergence after heal: %v", seed, err)
	}
	if err := net.CheckChains(); err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	// The healed network accepts writes again. A member the leader
	// removed for its silence before the heal learns so only now, and
	// refuses the write while it enters the network anew: the client asks
	// again, as a client of a real node would.
	w := net.Propose(net.Nodes()[0].ID, fmt.Sprintf(`"s%d-final"`, seed))
	err := net.RunUntil(func() bool { return w.Done }, 2000)
	if err == nil && !w.OK && errors.Is(w.Err, consensus.ErrNotMember) {
		first := net.Nodes()[0]
		err = net.RunUntil(func() bool { r := first.Engine.Status().Role; return r == "leader" || r == "follower" }, 2000)
		if err == nil {
			w = net.Propose(first.ID, fmt.Sprintf(`"s%d-final-again"`, seed))
			err = net.RunUntil(func() bool { return w.Done }, 2000)
		}
	}
	if err != nil || !w.OK {
		for _, nd := range net.Nodes() {
			t.Logf("%s up=%v %+v tip=%d members=%+v", nd.ID, nd.Up(), nd.Engine.Status(), nd.Chain.Tip().Index, nd.Engine.Members())
		}
		t.Fatalf("seed %d: write after heal: %v %v", seed, err, w.Err)
	}
	if err := net.RunUntil(net.Settled, 2000); err != nil {
		for _, nd := range net.Nodes() {
			t.Logf("%s up=%v %+v tip=%d members=%+v", nd.ID, nd.Up(), nd.Engine.Status(), nd.Chain.Tip().Index, nd.Engine.Members())
		}
		t.Fatalf("seed %d: %v", seed, err)
	}
	if err := net.CheckChains(); err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	for _, w := range net.Writes() {
		if w.OK {
			st.acked++
		} else {
			st.failed++
		}
	}
	for _, r := range net.Reads() {
		// Two networks that have not merged yet are two systems: a read
		// of one owes nothing to the writes of the other.
		if len(r.Missing) > 0 && seed%5 != 4 {
			t.Fatalf("seed %d: a consistent read on %s released without %d writes acknowledged before it: %v", seed, r.Node, len(r.Missing), r.Missing)
		}
		if r.OK {
			st.reads++
		} else {
			st.readsFailed++
		}
	}
	return st
}

// randomSplit splits the nodes in two random groups.
func randomSplit(net *simnet.Network) {
	rng := net.Rand()
	var a, b []string
	for _, nd := range net.Nodes() {
		if rng.IntN(2) == 0 {
			a = append(a, nd.ID)
		} else {
			b = append(b, nd.ID)
		}
	}
	net.Partition(a, b)
}
