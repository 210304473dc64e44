package vote

import (
	"fmt"
	"testing"

	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/store"
)

// newLoneHeld is newLone on a heldStore, whose writes are seen at once and
// become durable only when the test releases them (hold is off at start).
func newLoneHeld(t *testing.T) (*Engine, *heldStore) {
	t.Helper()
	st := &heldStore{Memory: store.NewMemory()}
	c, err := chain.New(st)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Config{Self: consensus.Member{ID: "solo", Host: "127.0.0.1", Port: "15001"}, Bootstrap: true, Chain: c, Store: st, JoinToken: testJoinToken, Session: 1})
	if err != nil {
		t.Fatal(err)
	}
	drive(e)
	e.Tick()
	drive(e)
	if st := e.Status(); st.Role != "leader" {
		t.Fatalf("lone node status %+v, want leader", st)
	}
	return e, st
}

// apply carries out the Persist of rd as a driver does, without Durable:
// the test tells the engine itself.
func apply(t *testing.T, e *Engine, rd consensus.Ready) {
	t.Helper()
	c := completionsOf(e)
	for _, p := range rd.Persist {
		if err := e.chain.WriteAsync(p.Batch, c.completer(p.Token)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReadyNeverBlocksOnWritesInFlight: at the bound of writes in flight,
// Ready hands out no more writes (it used to wait for the oldest) and
// carries on once Durable reports them.
func TestReadyNeverBlocksOnWritesInFlight(t *testing.T) {
	e, st := newLoneHeld(t)
	st.hold = true
	var ids []uint64
	persists := 0
	for i := 0; i < 2*maxInflightWrites; i++ {
		id, err := e.Propose(fmt.Sprintf(`"w%d"`, i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		rd := e.Ready()
		if len(rd.Persist) > 1 {
			t.Fatalf("one Ready handed out %d writes", len(rd.Persist))
		}
		if len(rd.Results) != 0 {
			t.Fatalf("results before any write is durable: %+v", rd.Results)
		}
		persists += len(rd.Persist)
		apply(t, e, rd)
	}
	if persists != maxInflightWrites {
		t.Fatalf("%d writes handed out with none durable, want the bound %d", persists, maxInflightWrites)
	}
	got := map[uint64]bool{}
	for i := 0; i < 100 && len(got) < len(ids); i++ {
		st.release(nil)
		for _, r := range drive(e).Results {
			if r.Err != nil {
				t.Fatalf("result %d: %v", r.ID, r.Err)
			}
			got[r.ID] = true
		}
	}
	if len(got) != len(ids) {
		t.Fatalf("%d of %d writes answered once the store caught up", len(got), len(ids))
	}
}

// TestDurableTakenInWriteOrder: a write reported durable before an earlier
// one waits for it; then both are taken up, in order.
func TestDurableTakenInWriteOrder(t *testing.T) {
	e, st := newLoneHeld(t)
	st.hold = true
	var tokens []uint64
	for _, d := range []string{`"x"`, `"y"`} {
		if _, err := e.Propose(d); err != nil {
			t.Fatal(err)
		}
		rd := e.Ready()
		if len(rd.Persist) != 1 {
			t.Fatalf("Ready handed out %d writes for a proposal, want 1", len(rd.Persist))
		}
		apply(t, e, rd)
		tokens = append(tokens, rd.Persist[0].Token)
	}
	e.Durable(tokens[1], nil)
	e.Durable(tokens[1]+100, nil) // never handed out: ignored
	if rd := e.Ready(); len(rd.Persist) != 0 || len(rd.Messages) != 0 || len(e.dur.held) != 2 {
		t.Fatalf("a later write taken up before an earlier one: %d held, %+v", len(e.dur.held), rd)
	}
	e.Durable(tokens[0], nil)
	st.hold = false
	var results []consensus.Result
	for i := 0; i < 10 && len(results) < 2; i++ {
		st.release(nil)
		results = append(results, drive(e).Results...)
	}
	if len(results) != 2 || results[0].Block.Data != `"x"` || results[1].Block.Data != `"y"` {
		t.Fatalf("results %+v, want x then y", results)
	}
}

// TestMoreWhenRaftHasMore: a Ready that leaves raft with more to hand out
// says so, so that the caller applies its write and asks again; one that
// does not is at rest.
func TestMoreWhenRaftHasMore(t *testing.T) {
	e, st := newLoneHeld(t)
	for i := 0; i < 50; i++ {
		if _, err := e.Propose(fmt.Sprintf(`"m%d"`, i)); err != nil {
			t.Fatal(err)
		}
		if i%7 == 0 {
			e.Tick()
		}
		for j := 0; j < 20; j++ {
			completionsOf(e).deliver(e)
			rd := e.Ready()
			if len(rd.Persist) > 1 {
				t.Fatalf("one Ready handed out %d writes", len(rd.Persist))
			}
			if has := e.rn.HasReady(); has && !rd.More && !e.dur.full() {
				t.Fatal("raft has more and the Ready did not say so")
			}
			apply(t, e, rd)
			if !rd.More && len(st.held) == 0 && len(completionsOf(e).done) == 0 {
				break
			}
		}
	}
}
