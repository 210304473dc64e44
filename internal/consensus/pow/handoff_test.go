package pow

import (
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/store"
)

// TestHandOffAnswersOnlyDurable: a mined block is handed out as a
// Persist; the chain shows it once the caller applied it, and the write's
// proposal is answered only once the write is durable.
func TestHandOffAnswersOnlyDurable(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	e := newEngine(t, func() time.Time { return now }, nil)
	pid, err := e.Propose(`"x"`)
	if err != nil {
		t.Fatal(err)
	}
	gen, nonce := solve(t, e)
	genesis := e.chain.Tip()
	e.Mined(gen, nonce)
	rd := e.Ready()
	if len(rd.Persist) != 1 || len(rd.Results) != 0 || e.chain.Tip() != genesis {
		t.Fatalf("Ready after mining: %d writes, %d results, tip %d: want the write handed out, not made", len(rd.Persist), len(rd.Results), e.chain.Tip().Index)
	}
	p := rd.Persist[0]
	if err := e.chain.Write(p.Batch); err != nil {
		t.Fatal(err)
	}
	if rd := e.Ready(); len(rd.Results) != 0 || len(rd.Persist) != 0 {
		t.Fatalf("before Durable: %d results, %d writes", len(rd.Results), len(rd.Persist))
	}
	e.Durable(p.Token, nil)
	rd = e.Ready()
	if len(rd.Results) != 1 || rd.Results[0].ID != pid || rd.Results[0].Block != e.chain.Tip() {
		t.Fatalf("after Durable: results %+v", rd.Results)
	}
	checkEngine(t, e)
	// A write that failed to reach the disk stops the engine.
	e.Durable(p.Token, errors.New("disk full"))
	if rd := e.Ready(); rd.Err == nil {
		t.Fatal("a failed write did not stop the engine")
	}
	if st := e.Status(); st.Role != "failed" {
		t.Fatalf("role %q", st.Role)
	}
}

// TestHandOffStaleKeptCleanUp: a kept record of an entry the best chain
// holds (stale) is not put back in the mempool, and New does not delete
// it itself: the deletion is the first write handed out.
func TestHandOffStaleKeptCleanUp(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	e := newEngine(t, func() time.Time { return now }, nil)
	mineNext(t, e, `"a"`)
	id := block.EntryID(`"a"`)
	if err := e.st.Write(store.Batch{Puts: []store.Put{keptPut(id, `"a"`)}}); err != nil {
		t.Fatal(err)
	}
	cfg := e.cfg
	cfg.Chain, cfg.Store = e.chain, e.st
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := hex.DecodeString(id)
	if r.pool.has(id) {
		t.Fatal("an entry of the best chain is pending again")
	}
	if _, err := r.st.Get(keptBucket, key); err != nil {
		t.Fatalf("New wrote the store itself: %v", err)
	}
	rd := drive(t, r)
	if rd.Err != nil || len(rd.Persist) != 1 || len(rd.Persist[0].Batch.Puts) != 1 {
		t.Fatalf("first Ready: %+v, want the clean-up handed out", rd)
	}
	if _, err := r.st.Get(keptBucket, key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("stale kept record after the clean-up: %v", err)
	}
	checkEngine(t, r)
}
