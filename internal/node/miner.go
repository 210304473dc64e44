package node

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/driver"
)

// minerChunk is how many nonces a miner tries between looks at whether
// its header is still the one to mine: a few milliseconds of hashing, so a
// better tip stops the search at once.
const minerChunk = 1 << 14

// miner runs the nonce search of a pow node on its own goroutines. The
// node's loop publishes the header to mine (set) and takes solutions from
// found; the engine never waits on a search.
type miner struct {
	workers int
	cur     atomic.Pointer[block.Work] // nil: nothing to mine
	wake    []chan struct{}
	found   chan solution
	hashes  atomic.Uint64
}

type solution struct{ gen, nonce uint64 }

// newMiner returns a miner with n workers; n <= 0 means one per core but
// one (at least one), which leaves a core to the API and the peers.
func newMiner(n int) *miner {
	if n <= 0 {
		n = max(1, runtime.NumCPU()-1)
	}
	m := &miner{workers: n, found: make(chan solution, n), wake: make([]chan struct{}, n)}
	for i := range m.wake {
		m.wake[i] = make(chan struct{}, 1)
	}
	return m
}

// start runs the workers until ctx ends; wg tracks them.
func (m *miner) start(ctx context.Context, wg *sync.WaitGroup) {
	for i := range m.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.work(ctx, i)
		}()
	}
}

// set publishes the header to mine (nil: stop mining).
func (m *miner) set(w *block.Work) {
	old := m.cur.Swap(w)
	if old == w || old != nil && w != nil && old.Gen == w.Gen {
		return
	}
	for _, c := range m.wake {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// work is one worker: it searches its own slice of the nonce space of the
// current header, chunk by chunk, until a solution or a new header.
func (m *miner) work(ctx context.Context, i int) {
	var gen, next uint64
	solved := false
	for ctx.Err() == nil {
		w := m.cur.Load()
		if w == nil || solved && w.Gen == gen {
			select {
			case <-ctx.Done():
				return
			case <-m.wake[i]:
			}
			continue
		}
		if w.Gen != gen || next == 0 {
			gen, next, solved = w.Gen, uint64(i)<<56|1, false
		}
		nonce, ok := block.Search(w, next, minerChunk)
		next += minerChunk
		m.hashes.Add(minerChunk)
		if ok {
			solved = true
			select {
			case m.found <- solution{gen: gen, nonce: nonce}:
			case <-ctx.Done():
				return
			}
		}
	}
}

// updateMining hands the miner the engine's current work, which the
// driver took after its Ready.
func (n *Node) updateMining(d *driver.Driver) {
	if n.miner == nil {
		return
	}
	w, ok := d.Mining()
	if !ok {
		n.miner.set(nil)
		return
	}
	if cur := n.miner.cur.Load(); cur != nil && cur.Gen == w.Gen {
		return
	}
	n.miner.set(&w)
}
