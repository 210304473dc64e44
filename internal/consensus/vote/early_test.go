package vote

import (
	"errors"
	"fmt"
	"testing"

	"go.etcd.io/raft/v3/raftpb"

	"naivechain/internal/chain"
	"naivechain/internal/consensus"
	"naivechain/internal/store"
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

// TestSendsBeforeItsWrite: with SendEarly, a leader hands its appends to
// the network before its own store write, so they go out even when that
// write fails, and so does a follower's forwarded proposal; answers to
// appends and votes never leave early (they acknowledge what was written).
func TestSendsBeforeItsWrite(t *testing.T) {
	var early, earlyFromB []consensus.Message
	newEngine := func(id string, bootstrap bool, st store.Store, send func([]consensus.Message)) *Engine {
		c, err := chain.New(st)
		if err != nil {
			t.Fatal(err)
		}
		e, err := New(Config{Self: consensus.Member{ID: id, Host: "127.0.0.1", Port: "1"}, Bootstrap: bootstrap,
			Chain: c, Store: st, Session: 1, SendEarly: send})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	fa := store.NewFaulty(store.NewMemory())
	a := newEngine("a", true, fa, func(ms []consensus.Message) { early = append(early, ms...) })
	fb := store.NewFaulty(store.NewMemory())
	b := newEngine("b", false, fb, func(ms []consensus.Message) { earlyFromB = append(earlyFromB, ms...) })
	engines := map[string]*Engine{"a": a, "b": b}
	a.Ready()
	b.Join("a")
	// deliver carries out both engines' Readys, the early messages too.
	deliver := func() {
		for _, from := range []string{"a", "b"} {
			rd := engines[from].Ready()
			msgs := rd.Messages
			if from == "a" {
				msgs, early = append(early, msgs...), nil
			} else {
				for _, m := range earlyFromB {
					if rm, ok := raftMessage(m); ok && vouches(rm.Type) {
						t.Fatalf("the follower sent %v before its write", rm.Type)
					}
				}
				msgs, earlyFromB = append(earlyFromB, msgs...), nil
			}
			for _, m := range msgs {
				if err := engines[m.To].Step(from, m.Payload); err != nil {
					t.Fatalf("%s -> %s: %v", from, m.To, err)
				}
			}
		}
	}
	for i := 0; i < 200 && !(len(a.Members()) == 2 && a.Members()[1].Voter && b.Status().Role == "follower"); i++ {
		a.Tick()
		b.Tick()
		deliver()
	}
	if st := b.Status(); st.Role != "follower" {
		t.Fatalf("b never became a voter: %+v", st)
	}
	// A follower whose disk fails still forwards its write to the leader:
	// the proposal does not depend on its own state.
	earlyFromB = nil
	fb.FailWrites(errors.New("follower disk gone"))
	if _, err := b.Propose(`"y"`); err != nil {
		t.Fatal(err)
	}
	if rd := b.Ready(); rd.Err == nil {
		t.Fatal("the follower's failed write was not reported")
	}
	forwarded := false
	for _, m := range earlyFromB {
		if rm, ok := raftMessage(m); ok && m.To == "a" && rm.Type == raftpb.MsgProp && len(rm.Entries) > 0 {
			forwarded = true
		}
	}
	if !forwarded {
		t.Fatalf("the follower's proposal was not sent before its failed write: %d messages", len(earlyFromB))
	}
	early = nil
	fa.FailWrites(errors.New("disk gone"))
	if _, err := a.Propose(`"x"`); err != nil {
		t.Fatal(err)
	}
	rd := a.Ready()
	if rd.Err == nil {
		t.Fatal("the failed write was not reported")
	}
	for _, m := range early {
		if rm, ok := raftMessage(m); ok && m.To == "b" && rm.Type == raftpb.MsgApp && len(rm.Entries) > 0 {
			return // the append left before the write failed
		}
	}
	t.Fatalf("no append with the entry was sent early: %d messages", len(early))
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
	engines := map[string]*Engine{}
	stores := map[string]*store.Faulty{}
	for _, id := range []string{"a", "b"} {
		st := store.NewFaulty(store.NewMemory())
		stores[id] = st
		c, err := chain.New(st)
		if err != nil {
			t.Fatal(err)
		}
		e, err := New(Config{Self: consensus.Member{ID: id, Host: "127.0.0.1", Port: "1"}, Bootstrap: id == "a", Chain: c, Store: st, Session: 1})
		if err != nil {
			t.Fatal(err)
		}
		engines[id] = e
	}
	a, b := engines["a"], engines["b"]
	a.Ready()
	b.Join("a")
	step := func(from string, msgs []consensus.Message) {
		for _, m := range msgs {
			if err := engines[m.To].Step(from, m.Payload); err != nil {
				t.Fatalf("%s -> %s: %v", from, m.To, err)
			}
		}
	}
	for i := 0; i < 200 && !(len(a.Members()) == 2 && a.Members()[1].Voter && b.Status().Role == "follower"); i++ {
		a.Tick()
		b.Tick()
		step("a", a.Ready().Messages)
		step("b", b.Ready().Messages)
	}
	if b.Status().Role != "follower" {
		t.Fatal("b never became a voter")
	}
	return pair{a: a, b: b, stores: stores, step: step}
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
		step("a", a.Ready().Messages)
		step("b", b.Ready().Messages)
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
	inFlight, _ := appends(a.Ready().Messages)
	if len(inFlight) != 1 {
		t.Fatalf("%d appends for the first proposal, want 1", len(inFlight))
	}
	writes := stores["a"].Writes()
	for i := range 4 {
		if _, err := a.Propose(fmt.Sprintf(`"more %d"`, i)); err != nil {
			t.Fatal(err)
		}
		if held, _ := appends(a.Ready().Messages); len(held) != 0 {
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
		a.Ready()
		if w := stores["a"].Writes() - writes; w != 1 {
			t.Fatalf("after a tick the leader wrote %d times, want 1", w)
		}
		return
	}
	step("a", inFlight)
	step("b", b.Ready().Messages) // b's answer
	next, entries := appends(a.Ready().Messages)
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
	first := forwards(b.Ready().Messages)
	if len(first) != 1 {
		t.Fatalf("%d forwards for the first proposal, want 1", len(first))
	}
	for i := range 3 {
		if _, err := b.Propose(fmt.Sprintf(`"more %d"`, i)); err != nil {
			t.Fatal(err)
		}
		if held := forwards(b.Ready().Messages); len(held) != 0 {
			t.Fatalf("proposal %d forwarded while the first forward is unanswered", i)
		}
	}
	step("b", first)
	step("a", a.Ready().Messages) // the append carrying the first
	next := forwards(b.Ready().Messages)
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
	if held := forwards(b.Ready().Messages); len(held) != 0 {
		t.Fatal("forwarded while the previous forward is unanswered")
	}
	b.Tick()
	if got := forwards(b.Ready().Messages); len(got) != 1 {
		t.Fatalf("after a tick: %d forwards, want 1", len(got))
	}
}
