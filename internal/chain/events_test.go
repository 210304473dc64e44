package chain

import (
	"errors"
	"fmt"
	"iter"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/store"
)

// drain returns the events buffered in sub without waiting.
func drain(sub *Subscription) []Event {
	var out []Event
	for {
		select {
		case ev, ok := <-sub.C():
			if !ok {
				return out
			}
			out = append(out, ev)
		default:
			return out
		}
	}
}

// kinds renders events compactly for failure messages.
func kinds(evs []Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = fmt.Sprintf("%v %d %.6s", ev.Kind, ev.Block.Index, ev.Block.CurrHash)
	}
	return out
}

func TestEventsAcrossReorg(t *testing.T) {
	c, _ := newChain(t, 0)
	sub := c.Subscribe(64)
	defer sub.Close()
	if sub.Tip() != block.Genesis() {
		t.Fatalf("subscription tip %+v, want genesis", sub.Tip())
	}

	old, err := c.Extend(dataRun("a", 1, 5)...)
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.PlanReorg(2, branch(old[1], "b", 4))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyReorg(r, store.Batch{}); err != nil {
		t.Fatal(err)
	}
	// A rollback through Write: the detached blocks come from the store.
	if err := c.Write(store.Batch{Detach: 2}); err != nil {
		t.Fatal(err)
	}

	var want []Event
	for _, b := range old {
		want = append(want, Event{BlockConnected, b})
	}
	for i := 4; i >= 2; i-- {
		want = append(want, Event{BlockDisconnected, old[i]})
	}
	for _, b := range r.Attach {
		want = append(want, Event{BlockConnected, b})
	}
	want = append(want, Event{BlockDisconnected, r.Attach[3]}, Event{BlockDisconnected, r.Attach[2]})
	if got := drain(sub); !slices.Equal(got, want) {
		t.Fatalf("events\n got %v\nwant %v", kinds(got), kinds(want))
	}
	if sub.Err() != nil {
		t.Fatalf("an open subscription reports %v", sub.Err())
	}
}

func TestNoEventsOnFailedWrite(t *testing.T) {
	f := store.NewFaulty(store.NewMemory())
	c, err := New(f)
	if err != nil {
		t.Fatal(err)
	}
	sub := c.Subscribe(8)
	defer sub.Close()
	bad := block.Next(c.Tip(), `"x"`)
	bad.Data = `"y"`
	if err := c.Append(bad); !errors.Is(err, block.ErrBadHash) {
		t.Fatalf("append of a bad block: %v", err)
	}
	f.Fill()
	if _, err := c.Extend(`"x"`); !errors.Is(err, store.ErrDiskFull) {
		t.Fatalf("extend on a full disk: %v", err)
	}
	if evs := drain(sub); len(evs) != 0 {
		t.Fatalf("failed writes published %v", kinds(evs))
	}
}

func TestLaggedSubscriberIsDropped(t *testing.T) {
	c, _ := newChain(t, 0)
	slow := c.Subscribe(2)
	fast := c.Subscribe(16)
	defer fast.Close()

	if _, err := c.Extend(dataRun("a", 1, 3)...); err != nil {
		t.Fatal(err)
	}
	got := drain(slow)
	if len(got) != 2 || got[0].Block.Index != 1 || got[1].Block.Index != 2 {
		t.Fatalf("the slow subscriber got %v, want blocks 1 and 2 then the end", kinds(got))
	}
	if _, ok := <-slow.C(); ok {
		t.Fatal("the slow subscriber's channel is still open")
	}
	if !errors.Is(slow.Err(), ErrLagged) {
		t.Fatalf("Err = %v, want ErrLagged", slow.Err())
	}
	// Later writes skip it and still reach the others.
	if _, err := c.Extend(`"more"`); err != nil {
		t.Fatal(err)
	}
	if n := len(drain(fast)); n != 4 {
		t.Fatalf("the fast subscriber got %d events, want 4", n)
	}
	slow.Close()
	if !errors.Is(slow.Err(), ErrLagged) {
		t.Fatalf("Close after lagging changed Err to %v", slow.Err())
	}
}

func TestCloseIsIdempotent(t *testing.T) {
	c, _ := newChain(t, 0)
	sub := c.Subscribe(0) // raised to 1
	sub.Close()
	sub.Close()
	if _, ok := <-sub.C(); ok || !errors.Is(sub.Err(), ErrUnsubscribed) {
		t.Fatalf("after Close: open %v, Err %v", ok, sub.Err())
	}
	if _, err := c.Extend(`"x"`); err != nil {
		t.Fatal(err)
	}
	if n := len(c.subscribers()); n != 0 {
		t.Fatalf("%d subscribers left", n)
	}
}

// countingStore counts block reads of the wrapped store.
type countingStore struct {
	store.Store
	mu    sync.Mutex
	reads int
}

func (s *countingStore) Blocks(from uint64) iter.Seq2[block.Block, error] {
	s.mu.Lock()
	s.reads++
	s.mu.Unlock()
	return s.Store.Blocks(from)
}

func TestDetachReadsOnlyForSubscribers(t *testing.T) {
	st := &countingStore{Store: store.NewMemory()}
	c, err := New(st)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Extend(dataRun("a", 1, 4)...); err != nil {
		t.Fatal(err)
	}
	if err := c.Write(store.Batch{Detach: 2}); err != nil || st.reads != 0 {
		t.Fatalf("detach without subscribers: %v, %d reads", err, st.reads)
	}
	sub := c.Subscribe(4)
	defer sub.Close()
	if err := c.Write(store.Batch{Detach: 1}); err != nil || st.reads != 1 {
		t.Fatalf("detach with a subscriber: %v, %d reads", err, st.reads)
	}
	if evs := drain(sub); len(evs) != 1 || evs[0].Kind != BlockDisconnected || evs[0].Block.Index != 2 {
		t.Fatalf("events %v", kinds(evs))
	}
}

// TestSubscribeWhileWriting races subscribers against a writer: each sees
// exactly the blocks written after its subscription's tip, in order and
// without gaps, until it leaves or lags.
func TestSubscribeWhileWriting(t *testing.T) {
	c, _ := newChain(t, 0)
	const writes, readers = 200, 8
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for i := range writes {
			if i%10 == 9 {
				if err := c.Write(store.Batch{Detach: 1}); err != nil {
					t.Error(err)
					return
				}
			}
			if _, err := c.Extend(fmt.Sprintf("%d", i)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				sub := c.Subscribe(8)
				tip := sub.Tip()
				for range r + 1 {
					var ev Event
					var ok bool
					select {
					case ev, ok = <-sub.C():
					case <-done:
					case <-time.After(10 * time.Second):
						t.Error("no event within 10s while the writer runs")
					}
					if !ok {
						break
					}
					switch {
					case ev.Kind == BlockConnected && block.CheckNext(tip, ev.Block) == nil:
						tip = ev.Block
					case ev.Kind == BlockDisconnected && ev.Block == tip:
						if tip, _ = c.Block(tip.Index - 1); tip.Index != ev.Block.Index-1 {
							// The writer detaches one block at a
							// time, so the one below stays stored.
							t.Errorf("block below %d not found", ev.Block.Index)
						}
					default:
						t.Errorf("event %v %d does not follow tip %d", ev.Kind, ev.Block.Index, tip.Index)
					}
				}
				sub.Close()
			}
		}()
	}
	wg.Wait()
	if n := len(c.subscribers()); n != 0 {
		t.Fatalf("%d subscribers left", n)
	}
}
