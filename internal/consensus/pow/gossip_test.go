package pow

import (
	"testing"

	"naivechain/internal/block"
)

// A peer that reorganised gossips the entries of the blocks it dropped as
// one group, some of which may be on our chain already: only the others
// wait in the mempool, and they are mined.
func TestGossipedGroupLeavesOutEntriesOnTheChain(t *testing.T) {
	n := newTestNet(t, "a", "b")
	if _, err := n.engines["a"].Propose(`"x"`); err != nil {
		t.Fatal(err)
	}
	n.flush()
	n.mine("a")
	n.flush()
	a := n.engines["a"]
	if err := a.Step("b", encode(kindEntries, entriesMsg{Groups: [][]string{{`"x"`, `"y"`}}})); err != nil {
		t.Fatal(err)
	}
	if a.pool.len() != 1 || a.pool.has(block.EntryID(`"x"`)) || !a.pool.has(block.EntryID(`"y"`)) {
		t.Fatalf("mempool holds %d entries, x %v, y %v: want y alone", a.pool.len(), a.pool.has(block.EntryID(`"x"`)), a.pool.has(block.EntryID(`"y"`)))
	}
	if !n.mine("a") {
		t.Fatal("a has nothing to mine")
	}
	n.flush()
	if st, err := a.Entry(block.EntryID(`"y"`)); err != nil || st.State != "confirmed" || st.Index != 2 {
		t.Fatalf("y: %+v, %v; want confirmed in block 2", st, err)
	}
}
