package vote

import (
	"errors"
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
