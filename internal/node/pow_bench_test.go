package node

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/consensus/pow"
)

// propagationDeadline bounds the wait for one block to reach every node.
const propagationDeadline = 30 * time.Second

// BenchmarkPoWPropagation measures how long a block takes to cross a
// 5-node pow network on loopback: each iteration submits one entry to
// node 1, the only miner, and times from the moment node 1 connects the
// block holding it (its chain's event) until the last of the 4 others has
// connected the same block, with every node's chain on disk (fsynced) or
// in memory. The other nodes joined node 1 and learnt each other by gossip, so a
// block reaches each of them from node 1 or from whichever peer relays it
// first. The target interval is 1ms, so the difficulty stays at its
// minimum (8 bits) and mining takes no measurable time.
//
// Reported: p50, p99 and max of that time over the blocks, in ms.
func BenchmarkPoWPropagation(b *testing.B) {
	b.Run("disk", func(b *testing.B) { benchPoWPropagation(b, true) })
	b.Run("memory", func(b *testing.B) { benchPoWPropagation(b, false) })
}

func benchPoWPropagation(b *testing.B, disk bool) {
	const nodes = 5
	ns := powBenchNetwork(b, nodes, disk)

	// One event log per node: when each block hash was connected there.
	type seen struct {
		mu   sync.Mutex
		at   []map[string]time.Time
		wake chan struct{}
	}
	s := &seen{wake: make(chan struct{}, 1)}
	var wg sync.WaitGroup
	subs := make([]*chain.Subscription, nodes)
	for i, n := range ns {
		s.at = append(s.at, map[string]time.Time{})
		subs[i] = n.Chain().Subscribe(4096)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ev := range subs[i].C() {
				now := time.Now()
				if ev.Kind != chain.BlockConnected {
					continue
				}
				s.mu.Lock()
				s.at[i][ev.Block.CurrHash] = now
				s.mu.Unlock()
				select {
				case s.wake <- struct{}{}:
				default:
				}
			}
		}()
	}
	defer func() {
		for _, sub := range subs {
			sub.Close()
		}
		wg.Wait()
	}()

	// block submits one entry to node 1 and returns the time from its
	// block's connection on node 1 to its connection on the last node.
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	block := func(i int) time.Duration {
		ctx, cancel := context.WithTimeout(context.Background(), propagationDeadline)
		defer cancel()
		entry := strconv.Quote(fmt.Sprintf("propagation-%s-%d", run, i))
		ids, err := ns[0].Submit(ctx, []string{entry})
		if err != nil {
			b.Fatalf("submit %s: %v", entry, err)
		}
		hash := ""
		for {
			if hash == "" {
				st, err := ns[0].Entry(ctx, ids[0])
				if err != nil {
					b.Fatalf("entry %s: %v", ids[0], err)
				}
				if st.State == "confirmed" {
					blk, err := ns[0].Chain().Block(st.Index)
					if err != nil {
						b.Fatal(err)
					}
					hash = blk.CurrHash
				}
			}
			if hash != "" {
				s.mu.Lock()
				first, ok := s.at[0][hash]
				last := first
				for _, m := range s.at[1:] {
					t, in := m[hash]
					ok = ok && in
					if t.After(last) {
						last = t
					}
				}
				s.mu.Unlock()
				if ok {
					return last.Sub(first)
				}
			}
			select {
			case <-s.wake:
			case <-ctx.Done():
				b.Fatalf("block %d (%s) did not reach all %d nodes within %v", i, hash, nodes, propagationDeadline)
			}
		}
	}

	block(-1) // every node greeted and settled
	times := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		times = append(times, block(i))
	}
	b.StopTimer()
	slices.Sort(times)
	pct := func(p float64) float64 {
		k := int(math.Ceil(p*float64(len(times)))) - 1
		return float64(times[max(k, 0)]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(pct(1), "max-ms")
}

// powBenchNetwork starts n pow nodes on loopback with their stores in
// temp dirs (disk) or in memory, node 1 mining and the others relaying,
// and waits until every node is connected to every other. The benchmark's
// cleanup stops them.
func powBenchNetwork(b *testing.B, n int, disk bool) []*Node {
	b.Helper()
	params := pow.DefaultParams(time.Millisecond)
	params.StartDifficulty = 8
	var nodes []*Node
	var stops []func()
	b.Cleanup(func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	})
	for i := range n {
		cfg := Config{Host: "127.0.0.1", Advertise: "127.0.0.1", HTTPPort: 0,
			Engine: pow.Factory(params), Mine: i == 0, Miners: 1}
		if disk {
			cfg.DataDir = b.TempDir()
		}
		if i > 0 {
			cfg.PeerHost, cfg.PeerPort, cfg.PeerID = "127.0.0.1", nodes[0].Port(), nodes[0].ID()
		}
		nd, err := newNode(cfg)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- nd.Run(ctx) }()
		stops = append(stops, func() {
			cancel()
			if err := <-done; err != nil {
				b.Errorf("node %d: %v", i+1, err)
			}
		})
		nodes = append(nodes, nd)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		least := n
		for _, nd := range nodes {
			least = min(least, len(nd.Peers()))
		}
		if least == n-1 {
			return nodes
		}
		if time.Now().After(deadline) {
			b.Fatalf("pow network did not connect: a node has %d of %d peers", least, n-1)
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
}
