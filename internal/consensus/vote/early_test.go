package vote

import (
	"errors"
	"testing"

	"go.etcd.io/raft/v3/raftpb"

	"naivechain/internal/chain"
	"naivechain/internal/consensus"
	"naivechain/internal/store"
)

// TestLeaderSendsAppendsBeforeItsWrite: with SendEarly, a leader hands its
// appends to the network before its own store write, so they go out even
// when that write fails; a follower never sends early (its answers
// acknowledge what it wrote).
func TestLeaderSendsAppendsBeforeItsWrite(t *testing.T) {
	var early []consensus.Message
	var earlyFromB int
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
	b := newEngine("b", false, store.NewMemory(), func(ms []consensus.Message) { earlyFromB += len(ms) })
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
	if earlyFromB != 0 {
		t.Fatalf("the follower sent %d messages early", earlyFromB)
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
		if m.To != "b" || m.Payload[0] != kindRaft {
			continue
		}
		r := reader{buf: m.Payload[1:]}
		r.uvarint() // network id
		var rm raftpb.Message
		if r.err == nil && rm.Unmarshal(r.buf) == nil && rm.Type == raftpb.MsgApp && len(rm.Entries) > 0 {
			return // the append left before the write failed
		}
	}
	t.Fatalf("no append with the entry was sent early: %d messages", len(early))
}
