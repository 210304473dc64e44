package simnet_test

import (
	"fmt"
	"testing"
	"testing/cryptotest"

	"github.com/naivechain/naivechain/internal/simnet"
)

// twoNetworks starts two separate networks in one simnet, cut off from each
// other: a of sizeA nodes (a1 founds it) and b of sizeB nodes (b1).
func twoNetworks(t testing.TB, seed uint64, sizeA, sizeB int, cfg simnet.Config) (*simnet.Network, []string, []string) {
	t.Helper()
	if tt, ok := t.(*testing.T); ok {
		// raft's election timeouts come from crypto/rand: seed them (a
		// benchmark cannot, which only moves elections by a few ticks).
		cryptotest.SetGlobalRandom(tt, seed)
	}
	cfg.Seed, cfg.Merges = seed, true
	if cfg.NewEngine == nil {
		cfg.NewEngine = removing
	}
	if cfg.GreetEvery == 0 {
		cfg.GreetEvery = 10
	}
	net := simnet.New(cfg)
	var a, b []string
	for i := 1; i <= sizeA; i++ {
		a = append(a, fmt.Sprintf("a%d", i))
	}
	for i := 1; i <= sizeB; i++ {
		b = append(b, fmt.Sprintf("b%d", i))
	}
	net.Partition(a, b)
	for _, group := range [][]string{a, b} {
		for i, id := range group {
			if _, err := net.AddNode(id, i == 0); err != nil {
				t.Fatal(err)
			}
			if i > 0 {
				net.Join(id, group[i-1])
			}
		}
	}
	if err := net.RunUntil(func() bool {
		return votersOf(net, a) == len(a) && votersOf(net, b) == len(b)
	}, 2000); err != nil {
		t.Fatalf("the two networks did not form: %v", err)
	}
	// Both operators consent to the merge: each network records the
	// other's join token (here both networks have the same one).
	type merger interface {
		AllowMerge(token, peer string) error
		Consented(token, peer string) bool
	}
	// Each operator connects a node of its network to the other's
	// founder: the consent goes through that peer.
	other := map[string]string{a[0]: b[0], b[0]: a[0]}
	consented := func() bool {
		for id, peer := range other {
			if !net.Node(id).Engine.(merger).Consented(testJoinToken, peer) {
				return false
			}
		}
		return true
	}
	for try := 0; try < 10 && !consented(); try++ {
		for id, peer := range other {
			_ = net.Node(id).Engine.(merger).AllowMerge(testJoinToken, peer)
		}
		_ = net.RunUntil(consented, 100)
	}
	if !consented() {
		t.Fatal("the two networks did not record their consent to merge")
	}
	return net, a, b
}

// votersOf counts the voters the given nodes agree on, -1 if they differ.
func votersOf(net *simnet.Network, ids []string) int {
	count := -1
	for _, id := range ids {
		v := 0
		for _, m := range net.Node(id).Engine.Members() {
			if m.Voter {
				v++
			}
		}
		if count != -1 && v != count {
			return -1
		}
		count = v
	}
	return count
}

// TestTwoNetworksMerge grows two networks apart, with writers on both,
// then lets them meet: the longer chain wins, every node ends on it as a
// member of one network, and every acknowledged write of either side is in
// the final chain exactly once.
func TestTwoNetworksMerge(t *testing.T) {
	for _, tc := range []struct {
		name         string
		sizeA, sizeB int
		writesA      int
		writesB      int
	}{
		{"two lone nodes", 1, 1, 30, 20},
		{"lone node and three", 1, 3, 25, 40},
		{"three and two", 3, 2, 60, 35},
		{"equal lengths", 2, 2, 30, 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 5; seed++ {
				net, a, b := twoNetworks(t, seed, tc.sizeA, tc.sizeB, simnet.Config{MaxDelay: 2, WriteTimeout: 200})
				for i := 0; i < max(tc.writesA, tc.writesB); i++ {
					if i < tc.writesA {
						net.Propose(a[i%len(a)], fmt.Sprintf(`"a-%d"`, i))
					}
					if i < tc.writesB {
						net.Propose(b[i%len(b)], fmt.Sprintf(`"b-%d"`, i))
					}
					net.Tick()
				}
				if err := net.RunUntil(net.AllDone, 2000); err != nil {
					t.Fatal(err)
				}
				requireAllOK(t, net)
				net.Heal()
				all := append(append([]string{}, a...), b...)
				if err := net.RunUntil(func() bool {
					return net.Converged() && votersOf(net, all) == len(all) && chainLen(net) == tc.writesA+tc.writesB+1
				}, 5000); err != nil {
					t.Fatalf("seed %d: no single network after the merge (voters %d, tips %v): %v", seed, votersOf(net, all), tips(net), err)
				}
				if err := net.CheckChains(); err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
				// The merged network takes writes on a node of either side.
				for _, id := range []string{a[0], b[0]} {
					w := net.Propose(id, fmt.Sprintf(`"after-%s"`, id))
					if err := net.RunUntil(func() bool { return w.Done }, 1000); err != nil || !w.OK {
						t.Fatalf("seed %d: write on %s after the merge: %v %v", seed, id, err, w.Err)
					}
				}
				settle(t, net)
			}
		})
	}
}

func chainLen(net *simnet.Network) int {
	return int(net.Nodes()[0].Chain.Len())
}

func tips(net *simnet.Network) []string {
	var out []string
	for _, nd := range net.Nodes() {
		out = append(out, fmt.Sprintf("%s:%d/%s", nd.ID, nd.Chain.Tip().Index, nd.Engine.Status().Role))
	}
	return out
}

// BenchmarkMerge measures how long two networks that grew apart take to
// become one once they can reach each other: network A (sizeA nodes)
// commits 1,000 writes, B (sizeB nodes) 500, cut off from each other; then
// the cut heals. Only the heal-to-settled phase is timed (one chain, every
// node a member, every re-proposed write applied): B's leader asks A to
// host it, B commits its move, each B node fetches A's branch, reorgs,
// joins A as a new incarnation and catches up, and B's 500 writes are
// re-proposed. It reports the simulated ticks and the wall time (the CPU
// of every engine and in-memory store, in one goroutine).
func BenchmarkMerge(b *testing.B) {
	for _, sizes := range [][2]int{{1, 1}, {3, 2}} {
		b.Run(fmt.Sprintf("nodes=%d+%d", sizes[0], sizes[1]), func(b *testing.B) {
			ticks := 0
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				net, a, bb := twoNetworks(b, uint64(i+1), sizes[0], sizes[1], simnet.Config{MaxDelay: 2, WriteTimeout: 400})
				for j := 0; j < 1000; j++ {
					net.Propose(a[j%len(a)], fmt.Sprintf(`"a-%d"`, j))
					if j < 500 {
						net.Propose(bb[j%len(bb)], fmt.Sprintf(`"b-%d"`, j))
					}
					if j%4 == 3 {
						net.Tick()
					}
				}
				if err := net.RunUntil(net.AllDone, 5000); err != nil {
					b.Fatal(err)
				}
				net.Heal()
				start := net.Now()
				b.StartTimer()
				if err := net.RunUntil(func() bool { return net.Settled() && chainLen(net) == 1501 }, 20000); err != nil {
					b.Fatalf("no single network: %v (tips %v)", err, tips(net))
				}
				b.StopTimer()
				ticks += net.Now() - start
				if err := net.CheckChains(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(ticks)/float64(b.N), "ticks-to-settle")
		})
	}
}
