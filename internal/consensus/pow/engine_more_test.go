package pow

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/store"
)

// newTestNetWith is newTestNet with a config edit for every engine.
func newTestNetWith(t *testing.T, edit func(*Config), ids ...string) *testNet {
	t.Helper()
	n := newTestNet(t)
	n.edit = edit
	for _, id := range ids {
		n.add(id, store.NewMemory())
	}
	n.greet()
	return n
}

// mineEntries makes id mine k blocks, each with one new entry tag-i,
// delivering messages after each.
func (n *testNet) mineEntries(id, tag string, k int) {
	n.t.Helper()
	for i := 0; i < k; i++ {
		if _, err := n.engines[id].Submit([]string{fmt.Sprintf(`"%s-%d"`, tag, i)}); err != nil {
			n.t.Fatal(err)
		}
		if !n.mine(id) {
			n.t.Fatalf("%s has nothing to mine", id)
		}
		n.flush()
	}
}

// converged checks that every engine has the same valid tip, tip.
func (n *testNet) converged(tip block.Block) {
	n.t.Helper()
	for _, id := range n.order {
		if got := n.tip(id); got != tip {
			n.t.Fatalf("%s tip %d %.8s, want %d %.8s", id, got.Index, got.CurrHash, tip.Index, tip.CurrHash)
		}
		checkEngine(n.t, n.engines[id])
	}
}

func (n *testNet) resultsFor(id string, pid uint64) []consensus.Result {
	var out []consensus.Result
	for _, r := range n.results[id] {
		if r.ID == pid {
			out = append(out, r)
		}
	}
	return out
}

func TestEngineProposeAllLandsInOneBlock(t *testing.T) {
	n := newTestNet(t, "a", "b")
	group := []string{`"g1"`, `{"k": [1, 2]}`, `"g3"`}
	pid, err := n.engines["a"].ProposeAll(group)
	if err != nil {
		t.Fatal(err)
	}
	n.flush()
	n.mine("b")
	n.flush()
	tip := n.tip("a")
	rs := n.resultsFor("a", pid)
	if len(rs) != 1 || rs[0].Err != nil || rs[0].Block != tip || len(rs[0].Blocks) != 1 || rs[0].Blocks[0] != tip {
		t.Fatalf("results for %d: %+v, want tip %d alone", pid, rs, tip.Index)
	}
	got, err := block.DecodeEntries(tip.Data)
	if err != nil || !slices.Equal(got, group) {
		t.Fatalf("block entries %q, %v, want %q", got, err, group)
	}
	n.converged(tip)

	// The group again, or a part of it, is on the chain: answered at once
	// with the block that holds it, nothing queued.
	for _, again := range [][]string{group, {group[1]}, {group[2], group[0]}} {
		pid, err := n.engines["a"].ProposeAll(again)
		if err != nil {
			t.Fatal(err)
		}
		rd := n.engines["a"].Ready()
		if len(rd.Results) != 1 || rd.Results[0].ID != pid || rd.Results[0].Block != tip || len(rd.Results[0].Blocks) != 1 {
			t.Fatalf("proposal of %q on the chain: results %+v", again, rd.Results)
		}
		if len(rd.Messages) != 0 || n.engines["a"].pool.len() != 0 {
			t.Fatal("an entry on the chain was queued or gossiped")
		}
	}
	pid, err = n.engines["a"].Propose(group[0])
	if rd := n.engines["a"].Ready(); err != nil || len(rd.Results) != 1 || rd.Results[0].ID != pid {
		t.Fatalf("Propose of an entry on the chain: %v, results %+v", err, rd.Results)
	}
	// Part on the chain, part new: refused.
	if _, err := n.engines["a"].ProposeAll([]string{group[0], `"new"`}); !errors.Is(err, ErrOverlap) {
		t.Fatalf("ProposeAll overlapping the chain = %v, want ErrOverlap", err)
	}
	if n.engines["a"].pool.len() != 0 {
		t.Fatal("a refused group was queued")
	}
}

func TestEngineProposalsInvalid(t *testing.T) {
	n := newTestNet(t, "a")
	e := n.engines["a"]
	for _, data := range [][]string{nil, {}, {`"a"`, `"a"`}, {`not json`}, {`"é"`}, {`{"k":1}`}, make([]string, consensus.MaxGroup+1)} {
		if _, err := e.ProposeAll(data); err == nil {
			t.Errorf("ProposeAll(%.40q) accepted", data)
		}
		if _, err := e.Submit(data); err == nil {
			t.Errorf("Submit(%.40q) accepted", data)
		}
	}
	if e.pool.len() != 0 || len(e.props.byID) != 0 || len(e.props.waits) != 0 {
		t.Fatal("a refused proposal left state behind")
	}
}

func TestEngineAbandon(t *testing.T) {
	n := newTestNet(t, "a", "b")
	a := n.engines["a"]
	kept, err := a.Propose(`"kept"`)
	if err != nil {
		t.Fatal(err)
	}
	gone, err := a.ProposeAll([]string{`"gone"`, `"kept-too"`})
	if err != nil {
		t.Fatal(err)
	}
	if !a.Abandon(gone) {
		t.Fatal("Abandon says a gossiped entry cannot be committed")
	}
	n.flush()
	n.mine("b")
	n.flush()
	if rs := n.resultsFor("a", gone); len(rs) != 0 {
		t.Fatalf("abandoned proposal resolved: %+v", rs)
	}
	if rs := n.resultsFor("a", kept); len(rs) != 1 {
		t.Fatalf("kept proposal: %+v", rs)
	}
	// The abandoned entries were still mined: abandoning is local.
	if st, _ := a.Entry(block.EntryID(`"gone"`)); st.State != "confirmed" {
		t.Fatalf("abandoned entry: %+v", st)
	}
	if len(a.props.byID) != 0 || len(a.props.waits) != 0 {
		t.Fatalf("proposals left: %v %v", a.props.byID, a.props.waits)
	}
	if a.Abandon(12345) != true {
		t.Fatal("Abandon of an unknown id")
	}
}

func TestEngineEntryStates(t *testing.T) {
	n := newTestNet(t, "a", "b")
	ids, err := n.engines["a"].Submit([]string{`"s1"`, `"s2"`})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, []string{block.EntryID(`"s1"`), block.EntryID(`"s2"`)}) {
		t.Fatalf("ids %q", ids)
	}
	n.flush()
	if len(n.results["a"]) != 0 {
		t.Fatal("Submit resolves a proposal")
	}
	for _, id := range n.order {
		for _, x := range ids {
			if st, err := n.engines[id].Entry(x); err != nil || st != (consensus.EntryState{State: "pending"}) {
				t.Fatalf("%s: Entry = %+v, %v, want pending", id, st, err)
			}
		}
		if st, err := n.engines[id].Entry(block.EntryID(`"never"`)); err != nil || st != (consensus.EntryState{State: "unknown"}) {
			t.Fatalf("%s: Entry of an unknown entry = %+v, %v", id, st, err)
		}
	}
	// Submitting it again changes nothing.
	if again, err := n.engines["b"].Submit([]string{`"s1"`, `"s2"`}); err != nil || !slices.Equal(again, ids) {
		t.Fatalf("Submit again = %q, %v", again, err)
	}
	n.mine("a")
	n.flush()
	for conf := uint64(1); conf <= 3; conf++ {
		for _, id := range n.order {
			for _, x := range ids {
				st, err := n.engines[id].Entry(x)
				if err != nil || st != (consensus.EntryState{State: "confirmed", Index: 1, Confirmations: conf}) {
					t.Fatalf("%s: Entry = %+v, %v, want confirmed in block 1 with %d confirmations", id, st, err, conf)
				}
			}
		}
		n.mineEntries("b", fmt.Sprintf("more%d", conf), 1)
	}
}

func TestEngineEntryMalformedID(t *testing.T) {
	n := newTestNet(t, "a")
	for _, id := range []string{"", "ab", strings.Repeat("a", 63), strings.Repeat("a", 65), strings.Repeat("z", 64), strings.Repeat("a", 62) + " a", block.EntryID(`"x"`)[:63] + "g"} {
		if st, err := n.engines["a"].Entry(id); err == nil {
			t.Errorf("Entry(%q) = %+v, no error", id, st)
		}
	}
}

func TestEngineMempoolFullIsBusy(t *testing.T) {
	n := newTestNetWith(t, func(c *Config) { c.MempoolEntries = 3 }, "a", "b")
	a := n.engines["a"]
	if _, err := a.Submit([]string{`"1"`, `"2"`}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Submit([]string{`"3"`, `"4"`}); !errors.Is(err, consensus.ErrBusy) {
		t.Fatalf("Submit over the bound = %v, want ErrBusy", err)
	}
	if _, err := a.Propose(`"5"`); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Propose(`"6"`); !errors.Is(err, consensus.ErrBusy) {
		t.Fatalf("Propose over the bound = %v, want ErrBusy", err)
	}
	if len(a.props.byID) != 1 {
		t.Fatalf("%d proposals kept, want 1", len(a.props.byID))
	}
	// A peer's entries over the bound are dropped quietly.
	n.flush()
	if err := a.Step("b", groupsPayload([]string{`"7"`})); err != nil {
		t.Fatal(err)
	}
	if a.pool.len() != 3 || a.pool.has(block.EntryID(`"7"`)) {
		t.Fatal("the mempool went over its bound")
	}
	// Mining makes room.
	n.mine("b")
	n.flush()
	if _, err := a.Submit([]string{`"3"`, `"4"`}); err != nil {
		t.Fatal(err)
	}
}

// TestEngineGroupTooBigForABlock: a group whose entries cannot fit one
// block is refused: it could never be mined.
func TestEngineGroupTooBigForABlock(t *testing.T) {
	n := newTestNet(t, "a")
	a := n.engines["a"]
	half := bigEntry("h", block.MaxDataLen/2)
	big := []string{half, bigEntry("i", block.MaxDataLen/2)}
	if _, err := a.Submit(big); !errors.Is(err, block.ErrDataTooLong) {
		t.Fatalf("Submit of a group over a block = %v, want ErrDataTooLong", err)
	}
	if _, err := a.ProposeAll(big); !errors.Is(err, block.ErrDataTooLong) {
		t.Fatalf("ProposeAll of a group over a block = %v, want ErrDataTooLong", err)
	}
	if err := a.Step("peer", groupsPayload(big)); err != nil {
		t.Fatal(err)
	}
	if a.pool.len() != 0 || len(a.props.byID) != 0 {
		t.Fatal("a group over a block was kept")
	}
	// A group that fills a block exactly is taken, and goes into the
	// next block (TestMempoolTakeExactlyMaxDataLen).
	fits := []string{half, bigEntry("i", block.MaxDataLen-3-block.MaxDataLen/2)}
	if _, err := a.ProposeAll(fits); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.pool.take(); !slices.Equal(got, fits) || len(block.EncodeEntries(got)) != block.MaxDataLen {
		t.Fatal("the group filling a block is not taken")
	}
}

// TestEngineGossipOfPartlyMinedGroup: a group that reaches a node after
// some of its entries are on its chain (gossip is not ordered) must not
// put those entries in the node's blocks again.
func TestEngineGossipOfPartlyMinedGroup(t *testing.T) {
	n := newTestNet(t, "a")
	a := n.engines["a"]
	n.mineEntries("a", "m", 1) // "m-0" in block 1
	if err := a.Step("peer", groupsPayload([]string{`"m-0"`, `"late"`}, []string{`"m-0"`})); err != nil {
		t.Fatal(err)
	}
	if a.pool.has(block.EntryID(`"m-0"`)) || !a.pool.has(block.EntryID(`"late"`)) || a.pool.len() != 1 {
		t.Fatalf("mempool after a partly mined group: %d entries", a.pool.len())
	}
	if !n.mine("a") {
		t.Fatal("nothing to mine")
	}
	n.flush()
	if tip := n.tip("a"); tip.Index != 2 || tip.Data != `["\"late\""]` {
		t.Fatalf("tip %d %s, want block 2 with the entry not yet mined", tip.Index, tip.Data)
	}
	checkEngine(t, a)
}

// badBlockNet is a lone engine with 10 blocks mined 250ms apart: block 11
// retargets to 8+2 (the window took a quarter of its 9s).
func badBlockNet(t *testing.T) (*testNet, *Engine) {
	n := newTestNet(t, "a")
	n.step = 250 * time.Millisecond
	n.mineEntries("a", "b", 10)
	e := n.engines["a"]
	if d := e.idx.diffs[10]; d != block.MinDifficulty {
		t.Fatalf("block 10 difficulty %d", d)
	}
	return n, e
}

// medianOf10 is the median time block 11 must beat: the upper middle of
// blocks 1 to 10 (genesis does not count).
func medianOf10(e *Engine) int64 { return MedianTime(e.idx.times[1:11]) }

func TestEngineRefusesBadBlocks(t *testing.T) {
	n, e := badBlockNet(t)
	tip := e.chain.Tip()
	ts := n.now.UnixMilli()
	mtp := medianOf10(e)
	if want := e.idx.times[6]; mtp != want {
		t.Fatalf("median %d, want block 6's time %d", mtp, want)
	}
	want := block.MinDifficulty + 2
	tests := []struct {
		name string
		b    block.Block
	}{
		{"difficulty of the parent at a retarget", mineBlock(t, tip, []string{`"x"`}, ts, block.MinDifficulty)},
		{"difficulty one under the retarget", mineBlock(t, tip, []string{`"x"`}, ts, uint8(want-1))},
		{"difficulty one over the retarget", mineBlock(t, tip, []string{`"x"`}, ts, uint8(want+1))},
		{"timestamp at the median", mineBlock(t, tip, []string{`"x"`}, mtp, uint8(want))},
		{"timestamp under the median", mineBlock(t, tip, []string{`"x"`}, mtp-1, uint8(want))},
		{"timestamp far back", mineBlock(t, tip, []string{`"x"`}, 0, uint8(want))},
		{"an entry of block 3", mineBlock(t, tip, []string{`"x"`, `"b-2"`}, ts, uint8(want))},
		{"an entry of the tip", mineBlock(t, tip, []string{`"b-9"`}, ts, uint8(want))},
		{"an entry of block 1", mineBlock(t, tip, []string{`"b-0"`}, ts, uint8(want))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := stepDriven(t, e, "peer", blocksPayload(tc.b))
			if !errors.Is(err, consensus.ErrInvalidBlock) {
				t.Fatalf("Step = %v, want ErrInvalidBlock", err)
			}
			if e.chain.Tip() != tip || len(e.idx.side) != 0 {
				t.Fatalf("chain moved to %d, %d side blocks", e.chain.Tip().Index, len(e.idx.side))
			}
			if rd := drive(t, e); rd.Err != nil {
				t.Fatal(rd.Err)
			}
			checkEngine(t, e)
		})
	}
	// A valid block right above the median, then one repeating its entry.
	ok := mineBlock(t, tip, []string{`"x"`}, mtp+1, uint8(want))
	if err := stepDriven(t, e, "peer", blocksPayload(ok)); err != nil {
		t.Fatalf("valid block refused: %v", err)
	}
	if e.chain.Tip() != ok {
		t.Fatal("valid block not taken")
	}
	if err := stepDriven(t, e, "peer", blocksPayload(mineBlock(t, ok, []string{`"x"`}, ts, uint8(want)))); !errors.Is(err, consensus.ErrInvalidBlock) {
		t.Fatalf("block repeating its parent's entry: %v", err)
	}
	// Block 12 does not retarget: the parent's difficulty or nothing.
	for _, d := range []uint8{block.MinDifficulty, uint8(want - 1), uint8(want + 1)} {
		if err := stepDriven(t, e, "peer", blocksPayload(mineBlock(t, ok, []string{`"z"`}, ts, d))); !errors.Is(err, consensus.ErrInvalidBlock) {
			t.Fatalf("block 12 at difficulty %d: %v", d, err)
		}
	}
	if e.chain.Tip() != ok {
		t.Fatal("chain moved")
	}
	checkEngine(t, e)
}

// TestEngineMedianOfLast11: block 13's timestamp must beat the median of
// blocks 2 to 12, the 11 before it, not of fewer or of all.
func TestEngineMedianOfLast11(t *testing.T) {
	n := newTestNet(t, "a")
	n.mineEntries("a", "b", 12) // 1s apart, from t1
	e := n.engines["a"]
	tip := e.chain.Tip()
	t1 := e.idx.times[1]
	for i := uint64(1); i <= 12; i++ {
		if e.idx.times[i] != t1+int64(i-1)*1000 {
			t.Fatalf("block %d at %d", i, e.idx.times[i])
		}
	}
	t7 := t1 + 6000 // the 6th of t2..t12; the median of 10 (t3..t12) is t8, of all 12 t7, of t1..t11 t6
	if err := stepDriven(t, e, "peer", blocksPayload(mineBlock(t, tip, []string{`"x"`}, t7, block.MinDifficulty))); !errors.Is(err, consensus.ErrInvalidBlock) {
		t.Fatalf("block 13 at the median: %v", err)
	}
	if e.chain.Tip() != tip {
		t.Fatal("chain moved")
	}
	b13 := mineBlock(t, tip, []string{`"x"`}, t7+1, block.MinDifficulty)
	if err := stepDriven(t, e, "peer", blocksPayload(b13)); err != nil || e.chain.Tip() != b13 {
		t.Fatalf("block 13 right above the median: %v", err)
	}
	checkEngine(t, e)
}

func TestEngineRefusesRepeatWithinBranch(t *testing.T) {
	n, e := badBlockNet(t)
	tip := e.chain.Tip()
	ts := n.now.UnixMilli()
	d := uint8(block.MinDifficulty + 2)
	// A side branch from block 9 that repeats, in its second block, the
	// entry of its first: the first is kept, the second refused.
	b10 := mineBlock(t, mustBlock(t, e, 9), []string{`"y"`}, ts, block.MinDifficulty)
	b11 := mineBlock(t, b10, []string{`"y"`}, ts+1, d)
	err := stepDriven(t, e, "peer", blocksPayload(b10, b11))
	if !errors.Is(err, consensus.ErrInvalidBlock) {
		t.Fatalf("Step = %v, want ErrInvalidBlock", err)
	}
	// b10 has the work of our block 10: the tip is either, by hash.
	if got := e.chain.Tip(); got != tip && got != b10 || e.idx.holds(b11) {
		t.Fatalf("tip %d %.8s, b11 held %v", got.Index, got.CurrHash, e.idx.holds(b11))
	}
	checkEngine(t, e)
	// An entry of our block 10, above the fork, may be on the branch.
	b11 = mineBlock(t, b10, []string{`"b-9"`}, ts+1, d) // b-9 is in our block 10, not on the branch
	if err := stepDriven(t, e, "peer", blocksPayload(b11)); err != nil {
		t.Fatalf("a side branch taking an entry of the block it replaces: %v", err)
	}
	if e.chain.Tip() != b11 {
		t.Fatalf("tip %d, want the longer branch", e.chain.Tip().Index)
	}
	checkEngine(t, e)
	if e.pool.len() != 0 {
		t.Fatalf("%d entries pending, want none: every entry of the old block 10 is on the new branch", e.pool.len())
	}
}

func mustBlock(t *testing.T, e *Engine, i uint64) block.Block {
	t.Helper()
	b, err := e.chain.Block(i)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEngineFutureBlockDroppedQuietly(t *testing.T) {
	n, e := badBlockNet(t)
	tip := e.chain.Tip()
	d := uint8(block.MinDifficulty + 2)
	limit := n.now.Add(e.p.MaxFutureDrift).UnixMilli()
	far := mineBlock(t, tip, []string{`"f"`}, limit+1, d)
	if err := stepDriven(t, e, "peer", blocksPayload(far)); err != nil {
		t.Fatalf("Step of a block from the future = %v, want no error", err)
	}
	if e.chain.Tip() != tip || len(e.idx.side) != 0 {
		t.Fatal("a block from the future was taken")
	}
	// Behind valid blocks of the same message: they are kept.
	b11 := mineBlock(t, tip, []string{`"g"`}, n.now.UnixMilli(), d)
	if err := stepDriven(t, e, "peer", blocksPayload(b11, mineBlock(t, b11, []string{`"f"`}, limit+1, d))); err != nil {
		t.Fatalf("Step = %v, want no error", err)
	}
	if e.chain.Tip() != b11 {
		t.Fatal("the valid block before the one from the future was not taken")
	}
	// At the limit itself, and once the clock has caught up, it is valid.
	if err := stepDriven(t, e, "peer", blocksPayload(mineBlock(t, b11, []string{`"f"`}, limit, d))); err != nil || e.chain.Tip().Index != 12 {
		t.Fatalf("block at the drift limit: %v, tip %d", err, e.chain.Tip().Index)
	}
	checkEngine(t, e)
}

func TestEngineCatchUpOverManyRounds(t *testing.T) {
	n := newTestNet(t, "a", "b", "c")
	n.cut["c"] = true
	n.greet()
	n.mineEntries("a", "e", maxBlocksPerMsg+20)
	n.cut["c"] = false
	rounds := 0
	n.tap = func(from, to string, p []byte) {
		if from == "c" && p[0] == kindGetBlocks {
			rounds++
		}
	}
	n.greet()
	n.flush()
	n.converged(n.tip("a"))
	if n.tip("c").Index != maxBlocksPerMsg+20 {
		t.Fatalf("tip %d", n.tip("c").Index)
	}
	if rounds < 2 {
		t.Fatalf("%d getblocks: more than a message of blocks came in one", rounds)
	}
}

// TestEngineDeepForkSync: a node whose own branch forked deeper than a
// reply's worth of blocks below the blocks its locator names still
// reaches the peers' branch.
func TestEngineDeepForkSync(t *testing.T) {
	n := newTestNetWith(t, func(c *Config) { c.BlocksPerReply = 20 }, "a", "b", "c")
	// c's locator from a tip T names T-39 and then T-71: with a fork at
	// T-40 the peers' first reply (20 blocks above T-71) is all blocks c
	// holds.
	n.mineEntries("a", "common", 80)
	n.cut["c"] = true
	n.greet()
	n.mineEntries("c", "c", 40)
	n.mineEntries("a", "a", 45)
	n.cut["c"] = false
	n.greet()
	n.flush()
	n.converged(n.tip("a"))
	if n.tip("c").Index != 80+45 {
		t.Fatalf("tip %d", n.tip("c").Index)
	}
	// c's own entries are pending again, everywhere.
	for _, id := range n.order {
		if n.engines[id].pool.len() != 40 {
			t.Fatalf("%s: %d pending, want c's 40", id, n.engines[id].pool.len())
		}
	}
}

// TestEngineSyncLongSideBranch: the peers' branch is behind ours for
// several replies before it has more work.
func TestEngineSyncLongSideBranch(t *testing.T) {
	n := newTestNetWith(t, func(c *Config) { c.BlocksPerReply = 7 }, "a", "b")
	n.mineEntries("a", "common", 5)
	n.cut["b"] = true
	n.greet()
	n.mineEntries("b", "b", 30)
	n.mineEntries("a", "a", 31)
	n.cut["b"] = false
	n.greet()
	n.flush()
	n.converged(n.tip("a"))
	if n.engines["b"].Stats().Reorgs != 1 {
		t.Fatalf("b reorganised %d times", n.engines["b"].Stats().Reorgs)
	}
}

func TestEngineEqualWorkForksConverge(t *testing.T) {
	for k := 1; k <= 3; k++ {
		t.Run(fmt.Sprint(k, " blocks"), func(t *testing.T) {
			n := newTestNet(t, "a", "b", "c")
			n.cut["a"], n.cut["b"] = true, true
			n.greet()
			n.mineEntries("a", "a", k)
			n.mineEntries("b", "b", k)
			ta, tb := n.tip("a"), n.tip("b")
			if ta == tb || ta.Index != tb.Index {
				t.Fatal("the branches are not a fork of equal length")
			}
			want := ta
			if tb.CurrHash < ta.CurrHash {
				want = tb
			}
			n.cut["a"], n.cut["b"] = false, false
			n.greet()
			n.flush()
			n.converged(want)
			lost := "a"
			if want == ta {
				lost = "b"
			}
			for _, id := range n.order {
				if n.engines[id].pool.len() != k {
					t.Fatalf("%s: %d pending, want %s's %d", id, n.engines[id].pool.len(), lost, k)
				}
			}
		})
	}
}

func TestEngineRestart(t *testing.T) {
	n := newTestNet(t, "a")
	st := store.NewMemory()
	n.add("b", st)
	n.greet()
	n.step = 250 * time.Millisecond
	n.mineEntries("a", "e", 12)
	n.step = 0
	n.mineEntries("a", "f", 10) // block 21 retargets again
	b := n.engines["b"]
	before := b.Stats()
	if before.Height != 22 || before.Difficulty == block.MinDifficulty {
		t.Fatalf("stats %+v: want a retargeted chain of 22 blocks", before)
	}
	c, err := chain.New(st)
	if err != nil {
		t.Fatal(err)
	}
	again, err := New(Config{Self: consensus.Member{ID: "b"}, Chain: c, Store: st, Params: testParams(), Now: func() time.Time { return n.now }, Mine: true})
	if err != nil {
		t.Fatal(err)
	}
	if after := again.Stats(); after != before {
		t.Fatalf("stats after restart %+v, before %+v", after, before)
	}
	if !slices.Equal(again.idx.diffs, b.idx.diffs) || !slices.Equal(again.idx.times, b.idx.times) || again.idx.work.Cmp(b.idx.work) != 0 {
		t.Fatal("restart did not reload the difficulties, times and work")
	}
	n.engines["b"] = again
	checkEngine(t, again)
	// The restarted node validates and mines on.
	n.greet()
	n.mineEntries("a", "g", 2)
	n.mineEntries("b", "h", 1)
	n.converged(n.tip("a"))
}

func TestEngineNewRefuses(t *testing.T) {
	st := store.NewMemory()
	c, err := chain.New(st)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Extend(`"classic"`); err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return time.UnixMilli(0) }
	_, err = New(Config{Chain: c, Store: st, Params: testParams(), Now: now})
	if err == nil || !strings.Contains(err.Error(), "block 1") || !strings.Contains(err.Error(), "not a proof-of-work block") {
		t.Fatalf("New over a classic chain = %v", err)
	}
	fresh := store.NewMemory()
	c, err = chain.New(fresh)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Chain: c, Store: fresh, Params: testParams()}); err == nil {
		t.Fatal("New without a clock")
	}
	if _, err := New(Config{Chain: c, Store: fresh, Params: Params{}, Now: now}); err == nil {
		t.Fatal("New with zero Params")
	}
}

// TestEngineReorgKeepsEntriesOnce: entries mined on both sides of a
// partition end up once on the chain, the others pending, and the entry
// index agrees with the chain; and so again after a reorg back.
func TestEngineReorgKeepsEntriesOnce(t *testing.T) {
	n := newTestNet(t, "a", "b", "c")
	submit := func(id string, g ...string) {
		t.Helper()
		if _, err := n.engines[id].Submit(g); err != nil {
			t.Fatal(err)
		}
		n.flush()
	}
	submit("a", `"both"`, `"both-2"`)
	submit("b", `"shared"`)
	n.cut["c"] = true
	n.greet()
	// a and b: [both, both-2, shared, a1] [a2] [a3] [a4]
	submit("a", `"a1"`)
	n.mine("a")
	n.flush()
	for i, id := range []string{"a", "b", "a"} {
		submit(id, fmt.Sprintf(`"a%d"`, i+2))
		n.mine(id)
		n.flush()
	}
	// c: [both, both-2, shared, c1] [a2] [c3]
	for _, en := range []string{`"c1"`, `"a2"`, `"c3"`} {
		submit("c", en)
		n.mine("c")
	}
	if n.tip("a").Index != 4 || n.tip("c").Index != 3 {
		t.Fatalf("tips a %d c %d", n.tip("a").Index, n.tip("c").Index)
	}
	c3 := n.tip("c")
	n.cut["c"] = false
	n.greet()
	n.flush()
	n.converged(n.tip("a"))
	for _, id := range n.order {
		e := n.engines[id]
		for _, en := range []string{`"c1"`, `"c3"`} {
			if st, _ := e.Entry(block.EntryID(en)); st.State != "pending" {
				t.Fatalf("%s: %s is %+v, want pending", id, en, st)
			}
		}
		if e.pool.len() != 2 {
			t.Fatalf("%s: %d pending, want c1 and c3", id, e.pool.len())
		}
	}
	n.mine("b") // [c1, c3] as block 5
	n.flush()
	n.converged(n.tip("a"))
	for _, id := range n.order {
		if n.engines[id].pool.len() != 0 {
			t.Fatalf("%s: entries left", id)
		}
	}

	// c's old branch, extended past a's, takes over: c1 and c3 move down
	// to blocks 1 and 3, a2 stays in 2, a1, a3, a4 wait again.
	if _, ok := n.engines["c"].idx.side[c3.CurrHash]; !ok {
		t.Fatal("c forgot its old branch")
	}
	prev := c3
	var ext []block.Block
	for i := 0; i < 3; i++ {
		n.now = n.now.Add(time.Second)
		prev = mineBlock(t, prev, []string{fmt.Sprintf(`"x%d"`, i)}, n.now.UnixMilli(), block.MinDifficulty)
		ext = append(ext, prev)
	}
	if err := n.engines["c"].Step("b", blocksPayload(ext...)); err != nil {
		t.Fatal(err)
	}
	n.flush()
	n.converged(prev)
	for _, id := range n.order {
		e := n.engines[id]
		for en, want := range map[string]uint64{`"both"`: 1, `"shared"`: 1, `"c1"`: 1, `"a2"`: 2, `"c3"`: 3, `"x2"`: 6} {
			if st, _ := e.Entry(block.EntryID(en)); st.State != "confirmed" || st.Index != want {
				t.Fatalf("%s: %s is %+v, want in block %d", id, en, st, want)
			}
		}
		for _, en := range []string{`"a1"`, `"a3"`, `"a4"`} {
			if st, _ := e.Entry(block.EntryID(en)); st.State != "pending" {
				t.Fatalf("%s: %s is %+v, want pending", id, en, st)
			}
		}
	}
	n.mine("a")
	n.flush()
	n.converged(n.tip("c"))
	if n.tip("c").Index != 7 {
		t.Fatalf("tip %d", n.tip("c").Index)
	}
}

func TestEngineTemplateRefresh(t *testing.T) {
	n := newTestNet(t, "a", "b")
	a := n.engines["a"]
	if _, err := a.Submit([]string{`"t1"`}); err != nil {
		t.Fatal(err)
	}
	gen1, h1, d1, ok := a.Mining()
	if !ok {
		t.Fatal("nothing to mine")
	}
	w1 := Work{Gen: gen1, Header: h1, Difficulty: d1}
	nonce1, _ := Search(&w1, 0, 1<<24)
	for i := 1; i < templateTicks; i++ {
		n.now = n.now.Add(100 * time.Millisecond)
		a.Tick()
		if gen, h, _, _ := a.Mining(); gen != gen1 || h != h1 {
			t.Fatalf("tick %d: template rebuilt early", i)
		}
	}
	a.Tick()
	gen2, h2, d2, ok := a.Mining()
	if !ok || gen2 == gen1 || h2 == h1 {
		t.Fatalf("after %d ticks: generation %d (was %d), header changed %v", templateTicks, gen2, gen1, h2 != h1)
	}
	// A fresh timestamp.
	if got := int64(binary.BigEndian.Uint64(h2[72:])); got != n.now.UnixMilli() {
		t.Fatalf("rebuilt header stamped %d, clock %d", got, n.now.UnixMilli())
	}
	// The old generation's solution is stale.
	a.Mined(gen1, nonce1)
	n.carryOut("a")
	if n.tip("a").Index != 0 {
		t.Fatal("a stale solution made a block")
	}
	// New entries rebuild at the next tick.
	if _, err := a.Submit([]string{`"t2"`}); err != nil {
		t.Fatal(err)
	}
	if gen, _, _, _ := a.Mining(); gen != gen2 {
		t.Fatal("template rebuilt before a tick")
	}
	a.Tick()
	gen3, h3, d3, _ := a.Mining()
	if gen3 == gen2 {
		t.Fatal("new entries did not rebuild the template")
	}
	w2 := Work{Gen: gen2, Header: h2, Difficulty: d2}
	nonce2, _ := Search(&w2, 0, 1<<24)
	a.Mined(gen2, nonce2)
	n.carryOut("a")
	if n.tip("a").Index != 0 {
		t.Fatal("a stale solution made a block")
	}
	// A solution for the template of a tip that moved on is stale too.
	n.flush()
	n.mineEntries("b", "b", 1)
	w3 := Work{Gen: gen3, Header: h3, Difficulty: d3}
	nonce3, _ := Search(&w3, 0, 1<<24)
	a.Mined(gen3, nonce3)
	n.carryOut("a")
	if n.tip("a") != n.tip("b") {
		t.Fatal("a solution on an old tip made a block")
	}
	// The current one is not.
	if _, err := a.Submit([]string{`"t4"`}); err != nil {
		t.Fatal(err)
	}
	gen4, h4, d4, ok := a.Mining()
	if !ok || gen4 == gen3 {
		t.Fatal("no new template on the new tip")
	}
	w4 := Work{Gen: gen4, Header: h4, Difficulty: d4}
	nonce4, _ := Search(&w4, 0, 1<<24)
	a.Mined(gen4, nonce4)
	n.carryOut("a")
	a.Mined(gen4, nonce4) // twice: once only
	n.carryOut("a")
	n.flush()
	if n.tip("a").Index != 2 {
		t.Fatalf("tip %d, want 2", n.tip("a").Index)
	}
	n.converged(n.tip("a"))
	if st := a.Stats(); st.Mined != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestEngineNotMining: without Mine, or with nothing pending, there is no
// work.
func TestEngineNotMining(t *testing.T) {
	n := newTestNetWith(t, func(c *Config) { c.Mine = false }, "a")
	a := n.engines["a"]
	if _, _, _, ok := a.Mining(); ok {
		t.Fatal("work with nothing pending")
	}
	if _, err := a.Submit([]string{`"x"`}); err != nil {
		t.Fatal(err)
	}
	if _, _, _, ok := a.Mining(); ok {
		t.Fatal("a relay handed out work")
	}
	if a.Status().Role != "relay" {
		t.Fatalf("status %+v", a.Status())
	}
}
