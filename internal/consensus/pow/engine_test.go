package pow

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/store"
)

// testNet routes the Ready messages of engines to each other in memory,
// with a manual clock, and mines synchronously at tiny difficulty.
type testNet struct {
	t       *testing.T
	now     time.Time
	engines map[string]*Engine
	order   []string
	cut     map[string]bool // node id → isolated
	results map[string][]consensus.Result
	step    time.Duration // the clock's advance per block mined (default 1s)
	edit    func(*Config) // applied to the config of engines added
	// tap, when set, sees every message delivered.
	tap func(from, to string, payload []byte)
	// held are messages of a Ready taken out of flush (mine), to deliver.
	held map[string][]consensus.Message
}

func testParams() Params {
	p := DefaultParams(time.Second)
	p.StartDifficulty = block.MinDifficulty
	return p
}

func newTestNet(t *testing.T, ids ...string) *testNet {
	t.Helper()
	n := &testNet{t: t, now: time.UnixMilli(1_700_000_000_000), engines: map[string]*Engine{}, cut: map[string]bool{}, results: map[string][]consensus.Result{}}
	for _, id := range ids {
		n.add(id, store.NewMemory())
	}
	n.greet()
	return n
}

func (n *testNet) add(id string, st store.Store) *Engine {
	n.t.Helper()
	c, err := chain.New(st)
	if err != nil {
		n.t.Fatal(err)
	}
	cfg := Config{Self: consensus.Member{ID: id}, Chain: c, Store: st, Params: testParams(),
		Now: func() time.Time { return n.now }, Mine: true}
	if n.edit != nil {
		n.edit(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		n.t.Fatal(err)
	}
	n.engines[id] = e
	n.order = append(n.order, id)
	return e
}

// greet tells every engine the peers it can reach.
func (n *testNet) greet() {
	for _, id := range n.order {
		var peers []string
		for _, o := range n.order {
			if o != id && !n.cut[id] && !n.cut[o] {
				peers = append(peers, o)
			}
		}
		n.engines[id].Greet(peers)
	}
}

// flush delivers messages until none is left, at most rounds times.
func (n *testNet) flush() {
	n.t.Helper()
	for round := 0; round < 10_000; round++ {
		moved := false
		for _, id := range n.order {
			if n.carryOut(id) {
				moved = true
			}
			msgs := n.held[id]
			delete(n.held, id)
			for _, m := range msgs {
				moved = true
				if n.cut[id] || n.cut[m.To] {
					continue
				}
				if n.tap != nil {
					n.tap(id, m.To, m.Payload)
				}
				if err := n.engines[m.To].Step(id, m.Payload); err != nil {
					n.t.Fatalf("%s → %s: %v", id, m.To, err)
				}
				n.carryOut(m.To) // as a driver does after every call
			}
		}
		if !moved {
			return
		}
	}
	n.t.Fatal("messages never settle")
}

// carryOut takes the Ready of engine id as a driver does (drive): it
// keeps the results and holds the messages for flush. It reports whether
// there were writes or more to hand out.
func (n *testNet) carryOut(id string) bool {
	n.t.Helper()
	rd := drive(n.t, n.engines[id])
	if rd.Err != nil {
		n.t.Fatalf("%s: %v", id, rd.Err)
	}
	n.results[id] = append(n.results[id], rd.Results...)
	if n.held == nil {
		n.held = map[string][]consensus.Message{}
	}
	n.held[id] = append(n.held[id], rd.Messages...)
	return len(rd.Persist) > 0 || rd.More
}

// drive carries out e's Ready as a driver does: each Persist applied in
// order with chain.WriteAsync, then told Durable (the tests' stores make
// a write durable at once), and Ready asked again while it has More, or
// until it fails. It returns those Readys merged: every message, result
// and write, More when one of them had More, and the error.
func drive(t testing.TB, e *Engine) consensus.Ready {
	t.Helper()
	var all consensus.Ready
	for range 1_000 {
		rd := e.Ready()
		all.Messages = append(all.Messages, rd.Messages...)
		all.Results = append(all.Results, rd.Results...)
		all.Persist = append(all.Persist, rd.Persist...)
		all.Err = rd.Err
		for _, p := range rd.Persist {
			var durable []error
			if err := e.chain.WriteAsync(p.Batch, func(err error) { durable = append(durable, err) }); err != nil {
				t.Fatalf("persist %d: %v", p.Token, err)
			}
			for _, err := range durable {
				e.Durable(p.Token, err)
			}
		}
		if rd.Err != nil || !rd.More && len(rd.Persist) == 0 {
			return all
		}
		all.More = all.More || rd.More
	}
	t.Fatal("the engine keeps handing out work")
	return all
}

// mine makes engine id find its current block, if it has one to mine.
func (n *testNet) mine(id string) bool {
	e := n.engines[id]
	gen, h, d, ok := e.Mining()
	if !ok {
		return false
	}
	w := Work{Gen: gen, Header: h, Difficulty: d}
	nonce, found := Search(&w, 0, 1<<24)
	if !found {
		n.t.Fatal("no nonce in 2^24 tries at difficulty", d)
	}
	if n.step == 0 {
		n.step = time.Second
	}
	n.now = n.now.Add(n.step)
	e.Mined(gen, nonce)
	n.carryOut(id) // as a driver does after every call
	return true
}

func (n *testNet) tip(id string) block.Block { return n.engines[id].chain.Tip() }

func TestEngineMinesAndPropagates(t *testing.T) {
	n := newTestNet(t, "a", "b", "c")
	pid, err := n.engines["a"].Propose(`"hello"`)
	if err != nil {
		t.Fatal(err)
	}
	n.flush()
	for _, id := range []string{"b", "c"} {
		if got := n.engines[id].pool.len(); got != 1 {
			t.Fatalf("%s mempool holds %d entries, want 1", id, got)
		}
	}
	if !n.mine("b") {
		t.Fatal("b has nothing to mine")
	}
	n.flush()
	for _, id := range n.order {
		tip := n.tip(id)
		if tip.Index != 1 || tip.Data != `["\"hello\""]` {
			t.Fatalf("%s tip = %+v", id, tip)
		}
		if n.engines[id].pool.len() != 0 {
			t.Fatalf("%s mempool not emptied", id)
		}
	}
	if rs := n.results["a"]; len(rs) != 1 || rs[0].ID != pid || rs[0].Block.Index != 1 {
		t.Fatalf("a's results = %+v, want proposal %d in block 1", rs, pid)
	}
	st, err := n.engines["c"].Entry(block.EntryID(`"hello"`))
	if err != nil || st.State != "confirmed" || st.Index != 1 || st.Confirmations != 1 {
		t.Fatalf("entry state = %+v, %v", st, err)
	}
}

func TestEnginePartitionHealsToMostWork(t *testing.T) {
	n := newTestNet(t, "a", "b", "c")
	n.cut["c"] = true
	n.greet()
	// a and b mine two blocks; c alone mines one, with other entries.
	for i := 0; i < 2; i++ {
		if _, err := n.engines["a"].Propose(fmt.Sprintf(`"ab-%d"`, i)); err != nil {
			t.Fatal(err)
		}
		n.flush()
		n.mine("a")
		n.flush()
	}
	if _, err := n.engines["c"].Propose(`"c-0"`); err != nil {
		t.Fatal(err)
	}
	n.mine("c")
	n.flush()
	if n.tip("c").Index != 1 || n.tip("b").Index != 2 {
		t.Fatalf("tips before heal: b %d, c %d", n.tip("b").Index, n.tip("c").Index)
	}
	n.cut["c"] = false
	n.greet()
	n.flush()
	for _, id := range n.order {
		if n.tip(id).CurrHash != n.tip("a").CurrHash {
			t.Fatalf("%s did not converge: %+v vs %+v", id, n.tip(id), n.tip("a"))
		}
	}
	// c's orphaned entry went back to c's mempool and was gossiped.
	for _, id := range n.order {
		if !n.engines[id].pool.has(block.EntryID(`"c-0"`)) {
			t.Fatalf("%s lost the orphaned entry", id)
		}
	}
	n.mine("b")
	n.flush()
	for _, id := range n.order {
		st, _ := n.engines[id].Entry(block.EntryID(`"c-0"`))
		if st.State != "confirmed" || st.Index != 3 {
			t.Fatalf("%s: orphaned entry state %+v", id, st)
		}
	}
}

func TestEngineRefusesInsufficientWork(t *testing.T) {
	n := newTestNet(t, "a", "b")
	tip := n.tip("a")
	b := block.NewPoW(tip, []string{`"x"`}, n.now.UnixMilli(), block.MinDifficulty)
	// Find a nonce whose hash does NOT meet the difficulty.
	for nonce := uint64(0); ; nonce++ {
		s, err := block.Seal(b, nonce)
		if err != nil {
			t.Fatal(err)
		}
		h, _ := block.Header(s, block.EntriesRoot([]string{`"x"`}))
		if sum := sha(h); block.LeadingZeros(&sum) < block.MinDifficulty {
			b = s
			break
		}
	}
	err := n.engines["a"].Step("b", encode(kindBlocks, blocksMsg{Blocks: []block.Block{b}}))
	if !errors.Is(err, consensus.ErrInvalidBlock) || !errors.Is(err, block.ErrInsufficient) {
		t.Fatalf("err = %v, want invalid block (insufficient work)", err)
	}
	n.carryOut("a")
	if n.tip("a").Index != 0 {
		t.Fatal("the chain moved")
	}
}

func sha(h [block.HeaderLen]byte) [32]byte { return sha256.Sum256(h[:]) }

// TestEngineSyncsAfterAnEmptyAnswer: a getblocks the peer had nothing for
// is answered by a status; the next status announcing a better tip must
// start a sync at once, not after the request's retry timeout.
func TestEngineSyncsAfterAnEmptyAnswer(t *testing.T) {
	n := newTestNet(t, "a", "b")
	n.engines["b"].Join("a") // a has nothing past genesis: it answers with a status
	n.flush()
	// a mines a block b does not hear of.
	n.cut["b"] = true
	if _, err := n.engines["a"].Propose(`"x"`); err != nil {
		t.Fatal(err)
	}
	n.mine("a")
	n.flush()
	n.cut["b"] = false
	n.greet() // a's status tells b of the block; no tick passes
	n.flush()
	if got, want := n.tip("b"), n.tip("a"); got.CurrHash != want.CurrHash {
		t.Fatalf("b's tip is block %d, a's block %d: b did not sync on a's status", got.Index, want.Index)
	}
}

// TestKeptEntriesSurviveARestart: the entries of a detached block that
// the new branch lacks are on disk until mined again, so a node that
// crashes right after the reorg still has them when it starts.
func TestKeptEntriesSurviveARestart(t *testing.T) {
	n := newTestNet(t, "a", "b")
	n.cut["b"] = true
	n.greet()
	for i := 0; i < 2; i++ {
		if _, err := n.engines["a"].Propose(fmt.Sprintf(`"a-%d"`, i)); err != nil {
			t.Fatal(err)
		}
		n.mine("a")
	}
	if _, err := n.engines["b"].Propose(`"b-0"`); err != nil {
		t.Fatal(err)
	}
	n.mine("b")
	n.flush()
	n.cut["b"] = false
	n.greet()
	n.cut["a"] = true // b reorgs, then hears nothing more: its gossip is lost
	n.engines["b"].Greet([]string{"a"})
	n.cut["a"] = false
	if err := n.engines["b"].Step("a", n.engines["a"].statusPayload()); err != nil {
		t.Fatal(err)
	}
	n.flush()
	id := block.EntryID(`"b-0"`)
	if n.tip("b").CurrHash != n.tip("a").CurrHash || !n.engines["b"].pool.has(id) {
		t.Fatalf("b did not reorg onto a's branch with b-0 pending")
	}
	// Restart b over the same store: b-0 is pending again.
	st := n.engines["b"].st
	c, err := chain.New(st)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := New(Config{Self: consensus.Member{ID: "b"}, Chain: c, Store: st, Params: testParams(),
		Now: func() time.Time { return n.now }, Mine: true})
	if err != nil {
		t.Fatal(err)
	}
	n.engines["b"] = b2
	if !b2.pool.has(id) {
		t.Fatal("b-0 lost with the restart")
	}
	n.greet()
	n.mine("b")
	n.flush()
	for _, e := range n.engines {
		st, _ := e.Entry(id)
		if st.State != "confirmed" {
			t.Fatalf("%s: b-0 is %s", e.cfg.Self.ID, st.State)
		}
	}
	if err := st.Scan(keptBucket, nil, func(k, v []byte) error { return fmt.Errorf("kept record %x left", k) }); err != nil {
		t.Fatal(err)
	}
}

// TestSideBlocksBoundedByBytes: blocks kept off the best chain are
// evicted oldest first once they pass the byte bound, not only the count.
func TestSideBlocksBoundedByBytes(t *testing.T) {
	n := newTestNet(t, "a")
	e := n.engines["a"]
	e.idx.maxBytes = 10_000
	for i := range 20 {
		e.idx.sideSeq++
		data := strings.Repeat("x", 1000)
		e.idx.addSide(&side{b: block.Block{Index: 1, CurrHash: fmt.Sprintf("h%02d", i), Data: data}, seq: e.idx.sideSeq})
		e.idx.evictSide()
		if e.idx.sideBytes > e.idx.maxBytes {
			t.Fatalf("after %d blocks: %d bytes kept, bound %d", i+1, e.idx.sideBytes, e.idx.maxBytes)
		}
	}
	if _, ok := e.idx.side["h19"]; !ok {
		t.Fatal("the newest side block was evicted")
	}
	if _, ok := e.idx.side["h00"]; ok {
		t.Fatal("the oldest side block was kept")
	}
	total := 0
	for _, s := range e.idx.side {
		total += sideSize(s)
	}
	if total != e.idx.sideBytes {
		t.Fatalf("byte count %d, blocks hold %d", e.idx.sideBytes, total)
	}
}

// stepDriven steps payload from peer into e and carries out the Ready
// that follows, as a driver does after every call: the chain then shows
// what the message switched to.
func stepDriven(t testing.TB, e *Engine, from string, payload []byte) error {
	t.Helper()
	err := e.Step(from, payload)
	if rd := drive(t, e); rd.Err != nil {
		t.Fatal(rd.Err)
	}
	return err
}
