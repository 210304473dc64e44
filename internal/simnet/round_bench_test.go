package simnet_test

import (
	"fmt"
	"runtime"
	"strconv"
	"testing"

	"github.com/naivechain/naivechain/internal/simnet"
)

// benchCluster starts n vote nodes as cluster does (n1 bootstraps, the
// others join through the previous node) for a benchmark. cluster itself
// takes a *testing.T to seed crypto/rand through testing/cryptotest, which
// a benchmark cannot: raft's election timeouts are random here, which only
// moves the formation by a few ticks.
func benchCluster(b *testing.B, seed uint64, n int, cfg simnet.Config) *simnet.Network {
	b.Helper()
	cfg.Seed = seed
	if cfg.NewEngine == nil {
		cfg.NewEngine = voteFactory
	}
	net := simnet.New(cfg)
	if _, err := net.AddNode("n1", true); err != nil {
		b.Fatal(err)
	}
	for i := 2; i <= n; i++ {
		id := fmt.Sprintf("n%d", i)
		if _, err := net.AddNode(id, false); err != nil {
			b.Fatal(err)
		}
		net.Join(id, fmt.Sprintf("n%d", i-1))
	}
	if err := net.RunUntil(func() bool { return voters(net) == n }, 2000); err != nil {
		b.Fatalf("cluster of %d never formed (%d voters): %v", n, voters(net), err)
	}
	return net
}

// BenchmarkRound measures full rounds of the vote engine in a simulated
// 3-node network: each iteration proposes a batch of 100 writes spread over
// the nodes, four per tick as writeConcurrently does, then ticks until every
// write of the batch is committed by a majority and answered. It reports
// simulated ticks per batch, writes per tick, and the allocations and CPU
// time of one write (the whole cluster's work for it: three engines, the
// in-memory stores and the simulated network).
func BenchmarkRound(b *testing.B) {
	const (
		nodes = 3
		batch = 100
	)
	net := benchCluster(b, 1, nodes, simnet.Config{MaxDelay: 3})
	ids := make([]string, 0, nodes)
	for _, nd := range net.Nodes() {
		ids = append(ids, nd.ID)
	}
	ws := make([]*simnet.Write, batch)
	allDone := func() bool {
		for _, w := range ws {
			if !w.Done {
				return false
			}
		}
		return true
	}
	data := make([]byte, 0, 64)
	seq := 0
	startTick := net.Now()
	var before, after runtime.MemStats
	b.ReportAllocs()
	b.ResetTimer()
	runtime.ReadMemStats(&before)
	for b.Loop() {
		for i := range ws {
			// 40 bytes, unique: a JSON string as a client posts it.
			data = append(data[:0], `"bench-write-`...)
			data = strconv.AppendInt(data, int64(1_000_000_000+seq), 10)
			data = append(data, `-padding-pad"`...)
			seq++
			ws[i] = net.Propose(ids[i%len(ids)], string(data))
			if i%4 == 3 {
				net.Tick()
			}
		}
		if err := net.RunUntil(allDone, 5000); err != nil {
			b.Fatal(err)
		}
		for _, w := range ws {
			if !w.OK {
				b.Fatalf("write %s on %s failed: %v", w.Data, w.Node, w.Err)
			}
		}
	}
	runtime.ReadMemStats(&after)
	b.StopTimer()
	writes := float64(batch) * float64(b.N)
	ticks := float64(net.Now() - startTick)
	b.ReportMetric(writes/ticks, "writes/tick")
	b.ReportMetric(ticks/float64(b.N), "ticks/batch")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/writes, "allocs/write")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/writes, "ns/write")
	b.ReportMetric(writes/b.Elapsed().Seconds(), "writes/s")
	// Every write committed exactly once, on every node.
	if err := net.RunUntil(net.Converged, 2000); err != nil {
		b.Fatal(err)
	}
	if got, want := net.Nodes()[0].Chain.Len(), uint64(1+batch*b.N); got != want {
		b.Fatalf("chain has %d blocks, want %d", got, want)
	}
}
