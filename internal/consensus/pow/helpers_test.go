package pow

import (
	"math/big"
	"testing"
	"time"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/store"
)

// mineBlock builds and mines, at difficulty diff, the block on prev that
// carries entries, stamped ts. It does not check any chain rule.
func mineBlock(t testing.TB, prev block.Block, entries []string, ts int64, diff uint8) block.Block {
	t.Helper()
	b := block.NewPoW(prev, entries, ts, diff)
	h, err := block.Header(b, block.EntriesRoot(entries))
	if err != nil {
		t.Fatal(err)
	}
	w := Work{Header: h, Difficulty: diff}
	nonce, found := Search(&w, 0, 1<<24)
	if !found {
		t.Fatalf("no nonce in 2^24 tries at difficulty %d", diff)
	}
	s, err := block.Seal(b, nonce)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// chainBlocks reads the whole chain of e, genesis first.
func chainBlocks(t testing.TB, e *Engine) []block.Block {
	t.Helper()
	var out []block.Block
	for b, err := range e.chain.Blocks(0) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// checkEngine checks that e's chain is valid and that what e keeps in
// memory about it (difficulties, timestamps, work) and its entry index
// agree with the stored blocks.
func checkEngine(t testing.TB, e *Engine) {
	t.Helper()
	blocks := chainBlocks(t, e)
	if err := block.CheckChain(blocks); err != nil {
		t.Fatalf("chain invalid: %v", err)
	}
	if len(e.idx.diffs) != len(blocks) || len(e.idx.times) != len(blocks) {
		t.Fatalf("engine holds %d difficulties and %d times for %d blocks", len(e.idx.diffs), len(e.idx.times), len(blocks))
	}
	work := new(big.Int)
	seen := map[string]uint64{}
	for _, b := range blocks[1:] {
		if e.idx.diffs[b.Index] != b.Difficulty || e.idx.times[b.Index] != b.Timestamp {
			t.Fatalf("block %d: engine holds difficulty %d time %d, block has %d %d", b.Index, e.idx.diffs[b.Index], e.idx.times[b.Index], b.Difficulty, b.Timestamp)
		}
		work.Add(work, blockWork(b.Difficulty))
		entries, err := block.DecodeEntries(b.Data)
		if err != nil {
			t.Fatalf("block %d: %v", b.Index, err)
		}
		for _, en := range entries {
			id := block.EntryID(en)
			if at, dup := seen[id]; dup {
				t.Fatalf("entry %s in blocks %d and %d", en, at, b.Index)
			}
			seen[id] = b.Index
			st, err := e.Entry(id)
			if err != nil || st.State != "confirmed" || st.Index != b.Index || st.Confirmations != e.chain.Tip().Index-b.Index+1 {
				t.Fatalf("entry %s of block %d: Entry = %+v, %v", en, b.Index, st, err)
			}
			if e.pool.has(id) {
				t.Fatalf("entry %s of block %d is pending too", en, b.Index)
			}
		}
	}
	if work.Cmp(e.idx.work) != 0 {
		t.Fatalf("engine work %x, the chain's is %x", e.idx.work, work)
	}
	// The index holds nothing else.
	n := 0
	if err := e.st.Scan(entriesBucket, nil, func(k, v []byte) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != len(seen) {
		t.Fatalf("entry index holds %d ids, the chain %d entries", n, len(seen))
	}
}

// newEngine returns a lone engine over a fresh memory store.
func newEngine(t testing.TB, now func() time.Time, edit func(*Config)) *Engine {
	t.Helper()
	st := store.NewMemory()
	c, err := chain.New(st)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Self: consensus.Member{ID: "x"}, Chain: c, Store: st, Params: testParams(), Now: now, Mine: true}
	if edit != nil {
		edit(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}
