package pow

import (
	"fmt"
	"testing"
	"time"

	"github.com/naivechain/naivechain/internal/block"
)

// mineNext makes e mine one block carrying entry, carries out its write,
// and returns the block.
func mineNext(t *testing.T, e *Engine, entry string) block.Block {
	t.Helper()
	if _, err := e.Submit([]string{entry}); err != nil {
		t.Fatal(err)
	}
	e.Mined(solve(t, e))
	drive(t, e)
	return e.chain.Tip()
}

// solve finds a nonce for the header e hands out and returns it with the
// header's generation, for Mined.
func solve(t *testing.T, e *Engine) (gen, nonce uint64) {
	t.Helper()
	gen, h, d, ok := e.Mining()
	if !ok {
		t.Fatal("nothing to mine")
	}
	w := Work{Gen: gen, Header: h, Difficulty: d}
	nonce, found := Search(&w, 0, 1<<24)
	if !found {
		t.Fatal("no nonce")
	}
	return gen, nonce
}

// TestHandOffTwoSwitchesBeforeReady: a node takes in many messages before
// it handles one Ready (node's loop drains up to maxDrain), so a peer's
// two blocks, each a switch, may both be stepped before the caller
// applies the first write. The second write must still apply on top of
// the first, and the chain must end valid with its entry index.
func TestHandOffTwoSwitchesBeforeReady(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	clock := func() time.Time { return now }
	m := newEngine(t, clock, nil)
	a := mineNext(t, m, `"a"`)
	now = now.Add(time.Second)
	b := mineNext(t, m, `"b"`)

	e := newEngine(t, clock, func(c *Config) { c.Mine = false })
	for _, blk := range []block.Block{a, b} {
		if err := e.Step("m", encodeBlocks([]block.Block{blk}, false)); err != nil {
			t.Fatalf("step block %d: %v", blk.Index, err)
		}
	}
	if rd := drive(t, e); rd.Err != nil {
		t.Fatal(rd.Err)
	}
	if tip := e.chain.Tip(); tip.CurrHash != b.CurrHash {
		t.Fatalf("tip %d, want %d", tip.Index, b.Index)
	}
	checkEngine(t, e)
}

// TestHandOffRepeatAcrossUnappliedSwitch: a block repeating an entry of
// the block just switched to, whose write the caller has not applied
// yet, is refused as it is once that write is applied.
func TestHandOffRepeatAcrossUnappliedSwitch(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	clock := func() time.Time { return now }
	m := newEngine(t, clock, nil)
	a := mineNext(t, m, `"a"`)
	now = now.Add(time.Second)
	// b repeats a's entry: mined by hand on a.
	b := mineBlock(t, a, []string{`"a"`}, a.Timestamp+1000, a.Difficulty)

	e := newEngine(t, clock, func(c *Config) { c.Mine = false })
	if err := e.Step("m", encodeBlocks([]block.Block{a}, false)); err != nil {
		t.Fatal(err)
	}
	if err := e.Step("m", encodeBlocks([]block.Block{b}, false)); err != nil {
		t.Fatalf("the message waits for the write, its verdict is lost: %v", err)
	}
	if rd := drive(t, e); rd.Err != nil {
		t.Fatal(rd.Err)
	}
	if tip := e.chain.Tip(); tip.CurrHash != a.CurrHash {
		t.Fatalf("tip %d: a block repeating an entry of the block below it was taken", tip.Index)
	}
	checkEngine(t, e)
}

// TestHandOffEntriesOfUnappliedSwitch: a peer's offer of the entries of
// the block just switched to, stepped before the caller applied that
// block's write, does not put them back in the mempool, where a miner
// would put them in every block it makes, each refused as a repeat.
func TestHandOffEntriesOfUnappliedSwitch(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	clock := func() time.Time { return now }
	m := newEngine(t, clock, nil)
	a := mineNext(t, m, `"a"`)

	e := newEngine(t, clock, nil)
	if err := e.Step("m", encodeBlocks([]block.Block{a}, false)); err != nil {
		t.Fatal(err)
	}
	if err := e.Step("m", encodeEntries([][]string{{`"a"`}})); err != nil {
		t.Fatal(err)
	}
	pid, err := e.Propose(`"a"`)
	if err != nil {
		t.Fatal(err)
	}
	answered := false
	rd := drive(t, e)
	if rd.Err != nil {
		t.Fatal(rd.Err)
	}
	for _, r := range rd.Results {
		answered = answered || r.ID == pid
	}
	if id := block.EntryID(`"a"`); e.pool.has(id) {
		t.Fatal("an entry of the best chain is pending again")
	}
	if !answered {
		t.Fatal("a proposal of an entry on the best chain was not answered")
	}
	checkEngine(t, e)
}

// TestHandOffHoldsOnlyAwaitedIDs: while writes are not durable (a slow
// disk), the entries of the blocks switched to that no proposal waits for
// are not held until it catches up; a proposal's are, and are answered.
func TestHandOffHoldsOnlyAwaitedIDs(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	clock := func() time.Time { return now }
	m := newEngine(t, clock, nil)
	var blocks []block.Block
	for i := range 5 {
		now = now.Add(time.Second)
		blocks = append(blocks, mineNext(t, m, fmt.Sprintf(`"e%d"`, i)))
	}
	e := newEngine(t, clock, func(c *Config) { c.Mine = false })
	pid, err := e.Propose(`"e4"`)
	if err != nil {
		t.Fatal(err)
	}
	var tokens []uint64
	for _, b := range blocks {
		if err := e.Step("m", encodeBlocks([]block.Block{b}, false)); err != nil {
			t.Fatal(err)
		}
		rd := e.Ready()
		for _, p := range rd.Persist {
			if err := e.chain.Write(p.Batch); err != nil {
				t.Fatal(err)
			}
			tokens = append(tokens, p.Token)
		}
	}
	if len(e.hand.pending) != 1 {
		t.Fatalf("%d entry ids held for durability, want the one a proposal waits for", len(e.hand.pending))
	}
	for _, tok := range tokens {
		e.Durable(tok, nil)
	}
	if rd := e.Ready(); len(rd.Results) != 1 || rd.Results[0].ID != pid {
		t.Fatalf("results %+v", rd.Results)
	}
}
