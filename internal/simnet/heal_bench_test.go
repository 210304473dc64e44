package simnet_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/naivechain/naivechain/internal/simnet"
)

// BenchmarkConvergeAfterHeal measures how long a node cut off from the
// majority takes to hold the majority's chain again once the partition
// heals. Each iteration forms a new cluster, cuts one follower off, has
// the majority commit gap writes (four proposals per tick, spread over the
// majority's nodes, as BenchmarkRound does), then heals the partition and
// ticks until Converged. Only that last phase is timed, so ns/op is the
// wall time from the heal to convergence: the CPU of every engine and
// in-memory store, in one goroutine. It reports the simulated ticks it
// took (ticks-to-converge) and the blocks the lone node gained per second
// of that wall time (blocks/s).
//
// Every write is proposed alone and becomes its own raft entry; the leader
// snapshots every 10,000 applied entries and keeps 1,000 behind, so the
// 1,000-write gap is caught up from the raft log and the 10,000-write gap
// through a snapshot and block fetches.
//
// The setup (forming the cluster and committing the gap) costs far more than
// the timed phase, which makes the default -benchtime run many slow
// iterations: give a count, -benchtime 1x or 3x.
func BenchmarkConvergeAfterHeal(b *testing.B) {
	for _, nodes := range []int{3, 5} {
		for _, gap := range []int{1_000, 10_000} {
			b.Run(fmt.Sprintf("nodes=%d/gap=%d", nodes, gap), func(b *testing.B) {
				benchConvergeAfterHeal(b, nodes, gap)
			})
		}
	}
}

func benchConvergeAfterHeal(b *testing.B, nodes, gap int) {
	var ticks, blocks int
	seed := uint64(0)
	for b.Loop() {
		b.StopTimer()
		seed++
		net, lone := partitionedWithGap(b, seed, nodes, gap)
		from := net.Now()
		before := lone.Chain.Len()
		b.StartTimer()
		net.Heal()
		err := net.RunUntil(net.Converged, 20_000)
		b.StopTimer()
		if err != nil {
			b.Fatalf("seed %d: %s never caught up (%d of %d blocks): %v", seed, lone.ID, lone.Chain.Len(), net.Nodes()[0].Chain.Len(), err)
		}
		if err := net.CheckChains(); err != nil {
			b.Fatalf("seed %d: %v", seed, err)
		}
		if got, want := lone.Chain.Len(), uint64(1+gap); got != want {
			b.Fatalf("seed %d: %s holds %d blocks after the heal, want %d", seed, lone.ID, got, want)
		}
		ticks += net.Now() - from
		blocks += int(lone.Chain.Len() - before)
		b.StartTimer()
	}
	b.ReportMetric(float64(ticks)/float64(b.N), "ticks-to-converge")
	b.ReportMetric(float64(blocks)/b.Elapsed().Seconds(), "blocks/s")
}

// partitionedWithGap forms a cluster of n nodes, cuts one follower off and
// has the others commit gap writes. It returns once every write is
// acknowledged and the majority's nodes hold the same chain, so that what
// follows measures the lone node alone.
func partitionedWithGap(b *testing.B, seed uint64, n, gap int) (*simnet.Network, *simnet.Node) {
	b.Helper()
	net := benchCluster(b, seed, n, simnet.Config{MaxDelay: 3})
	all := net.Nodes()
	leader := all[0].Engine.Status().Leader
	lone := all[len(all)-1]
	if lone.ID == leader {
		lone = all[len(all)-2]
	}
	var majority []string
	for _, nd := range all {
		if nd != lone {
			majority = append(majority, nd.ID)
		}
	}
	net.Partition(majority, []string{lone.ID})
	for i := range gap {
		net.Propose(majority[i%len(majority)], fmt.Sprintf(`"heal-%d-%d"`, seed, i))
		if i%4 == 3 {
			net.Tick()
		}
	}
	sameTip := func() bool {
		tip := net.Node(majority[0]).Chain.Tip()
		return !slices.ContainsFunc(majority[1:], func(id string) bool { return net.Node(id).Chain.Tip() != tip })
	}
	if err := net.RunUntil(func() bool { return net.AllDone() && sameTip() }, 5000); err != nil {
		b.Fatalf("seed %d: the majority did not commit the gap: %v", seed, err)
	}
	for _, w := range net.Writes() {
		if !w.OK {
			b.Fatalf("seed %d: write %s on %s failed: %v", seed, w.Data, w.Node, w.Err)
		}
	}
	if got := lone.Chain.Len(); got != 1 {
		b.Fatalf("seed %d: %s, cut off, holds %d blocks", seed, lone.ID, got)
	}
	return net, lone
}
