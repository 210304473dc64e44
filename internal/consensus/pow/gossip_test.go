package pow

import (
	"testing"

	"github.com/naivechain/naivechain/internal/block"
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

// A node that does not mine offers its entries again at every greet, so
// that an entry whose first gossip was lost still reaches a miner.
func TestRelayOffersItsEntriesAgain(t *testing.T) {
	n := newTestNet(t, "a", "r")
	r := n.engines["r"]
	r.cfg.Mine = false
	n.cut["r"] = true // r's gossip of x is lost, its peers stay the same
	if _, err := r.Propose(`"x"`); err != nil {
		t.Fatal(err)
	}
	n.flush()
	n.cut["r"] = false
	if n.mine("a") {
		t.Fatal("a mines without having heard of x")
	}
	n.greet()
	n.flush()
	if !n.mine("a") {
		t.Fatal("x never reached the miner")
	}
	n.flush()
	if st, err := r.Entry(block.EntryID(`"x"`)); err != nil || st.State != "confirmed" {
		t.Fatalf("x on r: %+v, %v; want confirmed", st, err)
	}
}
