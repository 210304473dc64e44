package vote

import (
	"fmt"
	"testing"

	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/store"
)

// newLoneHeld is newLone on a heldStore, whose writes are seen at once and
// become durable only when the test releases them (hold is off at start).
func newLoneHeld(t *testing.T) (*Engine, *heldStore) {
	t.Helper()
	st := &heldStore{Memory: store.NewMemory()}
	e, _ := newFounderOn(t, st, "solo", testJoinToken)
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

// TestMoreWhenRaftHasMore: a Ready that handles a raft Ready and leaves
// raft with more to hand out says so, so that the caller applies its
// write and asks again. A leader that admits a member has more: applying
// the change makes raft send the newcomer an append.
func TestMoreWhenRaftHasMore(t *testing.T) {
	a, b, _, step := pairEngines(t, store.NewMemory)
	mores := 0
	// ready is drive with the check: every Ready is looked at.
	ready := func(e *Engine) (msgs []consensus.Message) {
		for range 1000 {
			delivered := completionsOf(e).deliver(e)
			rd := e.Ready()
			if rd.Err != nil {
				t.Fatal(rd.Err)
			}
			if len(rd.Persist) > 1 {
				t.Fatalf("one Ready handed out %d writes", len(rd.Persist))
			}
			if len(rd.Persist) == 1 && e.rn.HasReady() != rd.More {
				t.Fatalf("raft has more: %v; the Ready says More: %v", e.rn.HasReady(), rd.More)
			}
			if rd.More {
				mores++
			}
			msgs = append(msgs, rd.Messages...)
			apply(t, e, rd)
			if !rd.More && !delivered && len(completionsOf(e).done) == 0 {
				return msgs
			}
		}
		t.Fatal("the engine never came to rest")
		return nil
	}
	ready(a)
	b.Join("a")
	for i := 0; i < 200 && b.Status().Role != "follower"; i++ {
		a.Tick()
		b.Tick()
		step("a", ready(a))
		step("b", ready(b))
	}
	if b.Status().Role != "follower" {
		t.Fatal("b never became a voter")
	}
	if mores == 0 {
		t.Fatal("no Ready said More while a member was admitted")
	}
}

// TestReadReleasedOnlyOnceItsWriteIsApplied: the driver answers reads
// before it applies the Ready's Persist, so a read whose index the Ready's
// own write reaches is released only by a later Ready, once the chain
// holds that write.
func TestReadReleasedOnlyOnceItsWriteIsApplied(t *testing.T) {
	e, st := newLoneHeld(t)
	st.hold = true
	if _, err := e.Propose(`"x"`); err != nil {
		t.Fatal(err)
	}
	apply(t, e, e.Ready()) // the entry, not durable yet
	if _, err := e.ReadIndex(); err != nil {
		t.Fatal(err)
	}
	st.hold = false
	released := false
	for i := 0; i < 20 && !released; i++ {
		st.release(nil)
		completionsOf(e).deliver(e)
		rd := e.Ready()
		for _, r := range rd.Reads {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			released = true
			if tip := e.chain.Tip(); tip.Data != `"x"` {
				t.Fatalf("read released while the chain's tip is %s, before the write it must see", tip.Data)
			}
		}
		apply(t, e, rd)
	}
	if !released {
		t.Fatal("the read was never released")
	}
}
