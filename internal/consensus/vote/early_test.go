package vote

import (
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/store"
)

// raftMessage decodes the raft message a payload carries, if it carries one.
func raftMessage(m consensus.Message) (raftpb.Message, bool) {
	if len(m.Payload) == 0 || m.Payload[0] != kindRaft {
		return raftpb.Message{}, false
	}
	r := reader{buf: m.Payload[1:]}
	r.uvarint() // network id
	var rm raftpb.Message
	if r.err != nil || rm.Unmarshal(r.buf) != nil {
		return raftpb.Message{}, false
	}
	return rm, true
}

// heldStore is an in-memory store whose writes are seen at once and
// become durable only when the test releases them, as store.Logged's do
// when their flush returns.
type heldStore struct {
	*store.Memory
	hold    bool
	held    []func(error)
	batches []store.Batch // of the held writes
}

// WriteAsync implements store.AsyncWriter.
func (h *heldStore) WriteAsync(b store.Batch, done func(error)) error {
	if err := h.Memory.Write(b); err != nil {
		return err
	}
	if !h.hold {
		done(nil)
		return nil
	}
	h.held = append(h.held, done)
	h.batches = append(h.batches, b)
	return nil
}

// release completes the held writes, in order, with err.
func (h *heldStore) release(err error) {
	held := h.held
	h.held, h.batches = nil, nil
	for _, d := range held {
		d(err)
	}
}

// answers returns the raft messages of types that vouch for the sender's
// durable state (answers to appends and votes) among msgs.
func answers(msgs []consensus.Message) (out []raftpb.Message) {
	for _, m := range msgs {
		if rm, ok := raftMessage(m); ok && (rm.Type == raftpb.MsgAppResp || rm.Type == raftpb.MsgVoteResp || rm.Type == raftpb.MsgPreVoteResp) {
			out = append(out, rm)
		}
	}
	return out
}

// newHeldPair starts a network of a and b on heldStores, releasing at
// once, and waits until b is a voter; step delivers messages.
func newHeldPair(t *testing.T) (a, b *Engine, stores map[string]*heldStore, step func(string, []consensus.Message)) {
	return startPair(t, func() *heldStore { return &heldStore{Memory: store.NewMemory()} })
}

// TestResultWaitsForTheApplyToBeDurable: a write's result comes only once
// the batch that applies its block is durable on the answering node, so a
// store that fails before that (a full disk) never takes back a block the
// node acknowledged: the write is answered with the failure instead.
func TestResultWaitsForTheApplyToBeDurable(t *testing.T) {
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprintf("fail=%v", fail), func(t *testing.T) {
			a, b, stores, step := newHeldPair(t)
			stores["b"].hold = true
			id, err := b.Propose(`"from b"`)
			if err != nil {
				t.Fatal(err)
			}
			// Rounds until b holds a batch applying the block: its log
			// writes are released one round at a time, the apply is not.
			applying := func() bool {
				for _, bt := range stores["b"].batches {
					for _, blk := range bt.Blocks {
						if blk.Data == `"from b"` {
							return true
						}
					}
				}
				return false
			}
			var early []consensus.Result
			for i := 0; i < 10 && !applying(); i++ {
				stores["b"].release(nil)
				rd := drive(b)
				early = append(early, rd.Results...)
				step("b", rd.Messages)
				step("a", drive(a).Messages)
			}
			if !applying() {
				t.Fatal("b never applied the block")
			}
			rd := drive(b)
			early = append(early, rd.Results...)
			if len(early) != 0 {
				t.Fatalf("results before the apply is durable: %+v", early)
			}
			if tip := b.chain.Tip(); tip.Data != `"from b"` {
				t.Fatalf("the applied block is not seen at once: tip %+v", tip)
			}
			var err2 error
			if fail {
				err2 = store.ErrDiskFull
			}
			stores["b"].release(err2)
			rd = drive(b)
			if fail {
				if len(rd.Results) != 0 || rd.Err == nil {
					t.Fatalf("after a failed apply: results %+v, err %v; want none and the failure", rd.Results, rd.Err)
				}
				return
			}
			if len(rd.Results) != 1 || rd.Results[0].ID != id || rd.Results[0].Block.Data != `"from b"` {
				t.Fatalf("the follower's results once durable: %+v", rd.Results)
			}
		})
	}
}

// TestAnswersWaitForTheWrite: a Ready's store write is seen at once and
// durable later. A follower's answer to an append, and the leader's own
// acknowledgement of its entries, count only once the batch is durable; a
// write's result comes once its entry is committed and durable in the
// answering node's log; appends leave at once, whatever becomes of the
// write.
func TestAnswersWaitForTheWrite(t *testing.T) {
	a, b, stores, step := newHeldPair(t)
	// b's writes are held: it takes the leader's append, shows the
	// entries in its log at once, and does not answer.
	stores["b"].hold = true
	id, err := a.Propose(`"x"`)
	if err != nil {
		t.Fatal(err)
	}
	rd := drive(a)
	step("a", rd.Messages)
	rdb := drive(b)
	if got := answers(rdb.Messages); len(got) != 0 {
		t.Fatalf("the follower answered %v before its write was durable", got[0].Type)
	}
	if len(stores["b"].held) == 0 {
		t.Fatal("the follower issued no write for the append")
	}
	stores["b"].release(nil)
	rdb = drive(b)
	if got := answers(rdb.Messages); len(got) != 1 || got[0].Type != raftpb.MsgAppResp || got[0].Reject {
		t.Fatalf("once durable, the follower sent %v, want one accepting answer to the append", got)
	}
	// The answer commits the entry; the leader applies it and reports its
	// result in the same Ready (its store completes at once).
	step("b", rdb.Messages)
	rd = drive(a)
	if len(rd.Results) != 1 || rd.Results[0].ID != id || rd.Results[0].Block.Data != `"x"` {
		t.Fatalf("leader results after the commit: %+v", rd.Results)
	}
	// The leader's writes are held now: of two voters, the commit needs
	// the leader's own acknowledgement, which waits for its write.
	stores["a"].hold = true
	id, err = a.Propose(`"y"`)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		rd = drive(a)
		if len(rd.Results) != 0 {
			t.Fatalf("a result left before the leader's write was durable: %+v", rd.Results)
		}
		step("a", rd.Messages)
		step("b", drive(b).Messages)
		stores["b"].release(nil)
	}
	if tip := a.chain.Tip(); tip.Data == `"y"` {
		// Of two voters, the leader's own acknowledgement is needed for
		// the commit, and it leaves only with the leader's durable write.
		t.Fatal("the leader applied an entry its own log does not hold durably")
	}
	stores["a"].release(nil)
	var results []consensus.Result
	for range 3 {
		rd = drive(a)
		results = append(results, rd.Results...)
		step("a", rd.Messages)
		step("b", drive(b).Messages)
		stores["a"].release(nil)
	}
	if len(results) != 1 || results[0].ID != id || results[0].Block.Data != `"y"` {
		t.Fatalf("results once the leader's writes were durable: %+v", results)
	}
	// A write that fails after it was seen: the acknowledgement it held is
	// dropped, the write is not answered, and the engine reports the
	// failure.
	if _, err := a.Propose(`"z"`); err != nil {
		t.Fatal(err)
	}
	rd = drive(a)
	appended := false
	for _, m := range rd.Messages {
		if rm, ok := raftMessage(m); ok && m.To == "b" && rm.Type == raftpb.MsgApp && len(rm.Entries) > 0 {
			appended = true
		}
	}
	if !appended {
		t.Fatal("the leader did not send its append before its write was durable")
	}
	stores["a"].release(errors.New("disk gone"))
	if rd = drive(a); rd.Err == nil || len(rd.Results) != 0 {
		t.Fatalf("after a failed write: err %v, results %+v", rd.Err, rd.Results)
	}
}

// TestSendsDespiteAFailedWrite: the messages that vouch for nothing leave
// in the Ready whose write fails: a leader's append, a follower's
// forwarded proposal.
func TestSendsDespiteAFailedWrite(t *testing.T) {
	p := newPair(t)
	a, b, stores := p.a, p.b, p.stores
	stores["b"].FailWrites(errors.New("follower disk gone"))
	if _, err := b.Propose(`"y"`); err != nil {
		t.Fatal(err)
	}
	rd := drive(b)
	if rd.Err == nil {
		t.Fatal("the follower's failed write was not reported")
	}
	forwarded := false
	for _, m := range rd.Messages {
		if rm, ok := raftMessage(m); ok && m.To == "a" && rm.Type == raftpb.MsgProp && len(rm.Entries) > 0 {
			forwarded = true
		}
	}
	if !forwarded {
		t.Fatalf("the follower's proposal was not sent with its failed write: %d messages", len(rd.Messages))
	}
	stores["a"].FailWrites(errors.New("disk gone"))
	if _, err := a.Propose(`"x"`); err != nil {
		t.Fatal(err)
	}
	rd = drive(a)
	if rd.Err == nil {
		t.Fatal("the failed write was not reported")
	}
	for _, m := range rd.Messages {
		if rm, ok := raftMessage(m); ok && m.To == "b" && rm.Type == raftpb.MsgApp && len(rm.Entries) > 0 {
			return
		}
	}
	t.Fatalf("no append with the entry was sent with the failed write: %d messages", len(rd.Messages))
}

// TestOneAppendInFlight: while a follower has not answered an append, the
// leader sends it no other; the entries proposed meanwhile travel together
// in the one append sent when the answer arrives. The leader does not write
// them either until then (windowsFull): one store write for all of them.
// A lost answer holds them only until the next tick.
func TestOneAppendInFlight(t *testing.T) {
	for _, answer := range []string{"answered", "lost"} {
		t.Run(answer, func(t *testing.T) { testOneAppendInFlight(t, answer == "lost") })
	}
}

// pair is a leader, a, and its follower, b, on faulty in-memory stores,
// with step delivering the messages one sends to the other.
type pair struct {
	a, b   *Engine
	stores map[string]*store.Faulty
	step   func(from string, msgs []consensus.Message)
}

// newPair starts a network of a and b and waits until b is a voter.
func newPair(t *testing.T) pair {
	t.Helper()
	a, b, stores, step := startPair(t, func() *store.Faulty { return store.NewFaulty(store.NewMemory()) })
	return pair{a: a, b: b, stores: stores, step: step}
}

// startPair starts a network of a (its founder) and b on the stores open
// makes, and waits until b is a voter; step delivers the messages one
// sends to the other.
func startPair[S store.Store](t *testing.T, open func() S) (a, b *Engine, stores map[string]S, step func(string, []consensus.Message)) {
	t.Helper()
	a, b, stores, step = pairEngines(t, open)
	drive(a)
	b.Join("a")
	for i := 0; i < 200 && !(len(a.Members()) == 2 && a.Members()[1].Voter && b.Status().Role == "follower"); i++ {
		a.Tick()
		b.Tick()
		step("a", drive(a).Messages)
		step("b", drive(b).Messages)
	}
	if b.Status().Role != "follower" {
		t.Fatal("b never became a voter")
	}
	return a, b, stores, step
}

// pairEngines makes engines a (a founder) and b (to join it) on the stores
// open makes, without driving either; step delivers the messages one sends
// to the other.
func pairEngines[S store.Store](t *testing.T, open func() S) (a, b *Engine, stores map[string]S, step func(string, []consensus.Message)) {
	t.Helper()
	engines := map[string]*Engine{}
	stores = map[string]S{}
	for _, id := range []string{"a", "b"} {
		st := open()
		c, err := chain.New(st)
		if err != nil {
			t.Fatal(err)
		}
		e, err := New(Config{Self: consensus.Member{ID: id, Host: "127.0.0.1", Port: "1"}, Bootstrap: id == "a", Chain: c, Store: st, JoinToken: testJoinToken, Session: 1})
		if err != nil {
			t.Fatal(err)
		}
		stores[id], engines[id] = st, e
	}
	step = func(from string, msgs []consensus.Message) {
		for _, m := range msgs {
			if err := engines[m.To].Step(from, m.Payload); err != nil {
				t.Fatalf("%s -> %s: %v", from, m.To, err)
			}
		}
	}
	return engines["a"], engines["b"], stores, step
}

func testOneAppendInFlight(t *testing.T, lost bool) {
	p := newPair(t)
	a, b, stores, step := p.a, p.b, p.stores, p.step
	// One write round trip puts b in raft's replicate state, where only
	// the window limits the appends (a probed follower gets one anyway).
	if _, err := a.Propose(`"warm-up"`); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		step("a", drive(a).Messages)
		step("b", drive(b).Messages)
	}
	// appends returns the appends with entries among msgs, and how many
	// entries they carry.
	appends := func(msgs []consensus.Message) (held []consensus.Message, entries int) {
		for _, m := range msgs {
			if rm, ok := raftMessage(m); ok && rm.Type == raftpb.MsgApp && len(rm.Entries) > 0 {
				held = append(held, m)
				entries += len(rm.Entries)
			}
		}
		return held, entries
	}
	if _, err := a.Propose(`"first"`); err != nil {
		t.Fatal(err)
	}
	inFlight, _ := appends(drive(a).Messages)
	if len(inFlight) != 1 {
		t.Fatalf("%d appends for the first proposal, want 1", len(inFlight))
	}
	writes := stores["a"].Writes()
	for i := range 4 {
		if _, err := a.Propose(fmt.Sprintf(`"more %d"`, i)); err != nil {
			t.Fatal(err)
		}
		if held, _ := appends(drive(a).Messages); len(held) != 0 {
			t.Fatalf("proposal %d: %d more appends while one is unanswered", i, len(held))
		}
	}
	if w := stores["a"].Writes() - writes; w != 0 {
		t.Fatalf("the leader wrote %d times while every window was full", w)
	}
	if lost {
		// The answer is lost: a tick (a heartbeat round) brings the Ready
		// that writes the held entries; raft resends them once the
		// follower answers the heartbeat.
		a.Tick()
		drive(a)
		if w := stores["a"].Writes() - writes; w != 1 {
			t.Fatalf("after a tick the leader wrote %d times, want 1", w)
		}
		return
	}
	step("a", inFlight)
	step("b", drive(b).Messages) // b's answer
	next, entries := appends(drive(a).Messages)
	if len(next) != 1 || entries != 4 {
		t.Fatalf("after the answer: %d appends with %d entries, want one with the 4 held", len(next), entries)
	}
	if w := stores["a"].Writes() - writes; w != 1 {
		t.Fatalf("the leader wrote the held entries in %d writes, want 1", w)
	}
}

// TestOneForwardInFlight: a follower with a forward unanswered keeps its
// next proposals queued until an append from the leader comes, then
// forwards them together in one message; a tick sends them too, so a lost
// forward costs one tick at most.
func TestOneForwardInFlight(t *testing.T) {
	p := newPair(t)
	a, b, step := p.a, p.b, p.step
	// forwards returns b's forwarded proposals among msgs.
	forwards := func(msgs []consensus.Message) (out []consensus.Message) {
		for _, m := range msgs {
			if rm, ok := raftMessage(m); ok && rm.Type == raftpb.MsgProp {
				out = append(out, m)
			}
		}
		return out
	}
	if _, err := b.Propose(`"first"`); err != nil {
		t.Fatal(err)
	}
	first := forwards(drive(b).Messages)
	if len(first) != 1 {
		t.Fatalf("%d forwards for the first proposal, want 1", len(first))
	}
	for i := range 3 {
		if _, err := b.Propose(fmt.Sprintf(`"more %d"`, i)); err != nil {
			t.Fatal(err)
		}
		if held := forwards(drive(b).Messages); len(held) != 0 {
			t.Fatalf("proposal %d forwarded while the first forward is unanswered", i)
		}
	}
	step("b", first)
	step("a", drive(a).Messages) // the append carrying the first
	next := forwards(drive(b).Messages)
	if len(next) != 1 {
		t.Fatalf("after the append: %d forwards, want the 3 held in one", len(next))
	}
	if rm, _ := raftMessage(next[0]); len(rm.Entries) != 1 {
		t.Fatalf("the forward carries %d entries, want one batch", len(rm.Entries))
	} else if bt, err := decodeBatch(rm.Entries[0].Data); err != nil || len(bt.Items) != 3 {
		t.Fatalf("the forwarded batch: %d items, %v; want 3", len(bt.Items), err)
	}
	// Lost: nothing comes back; the next tick forwards what waits.
	if _, err := b.Propose(`"after a loss"`); err != nil {
		t.Fatal(err)
	}
	if held := forwards(drive(b).Messages); len(held) != 0 {
		t.Fatal("forwarded while the previous forward is unanswered")
	}
	b.Tick()
	if got := forwards(drive(b).Messages); len(got) != 1 {
		t.Fatalf("after a tick: %d forwards, want 1", len(got))
	}
}

// TestForwardedProposalIsTheSenders: a follower that forwards to its leader
// a proposal it got from a third member (its leader changed meanwhile)
// sends it as raft keeps it, with the proposer's raft id. The leader takes
// it as the link's own proposal, commits it, and does not refuse the
// sender as a forger.
func TestForwardedProposalIsTheSenders(t *testing.T) {
	a, b, _, step := newHeldPair(t)
	// A proposal as b would forward it for a third member: From is not
	// b's raft id (here a's own, the only other member).
	prop := raftpb.Message{Type: raftpb.MsgProp, From: a.id, To: a.id,
		Entries: []raftpb.Entry{{Data: encodeBatch(batch{Session: 77, Low: 1, Items: []item{{Seq: 1, Data: `"forwarded"`}}})}}}
	buf, err := prop.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	payload := binary.AppendUvarint([]byte{kindRaft}, a.mem.cluster)
	if err := a.Step("b", append(payload, buf...)); err != nil {
		t.Fatalf("the leader refused b's forwarded proposal: %v", err)
	}
	for i := 0; i < 20 && a.chain.Tip().Data != `"forwarded"`; i++ {
		step("a", drive(a).Messages)
		step("b", drive(b).Messages)
	}
	if tip := a.chain.Tip(); tip.Data != `"forwarded"` {
		t.Fatalf("the forwarded proposal was not committed: tip %+v", tip)
	}
}
