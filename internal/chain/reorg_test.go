package chain

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/store"
)

func TestPlanReorg(t *testing.T) {
	c, _ := newChain(t, 8)
	before := allBlocks(t, c)
	attach := branch(before[5], "b", 4)
	r, err := c.PlanReorg(5, attach)
	if err != nil {
		t.Fatal(err)
	}
	if r.Fork != 5 || r.OldTip != before[8] || !slices.Equal(r.Detach, before[6:]) || !slices.Equal(r.Attach, attach) {
		t.Fatalf("plan %+v", r)
	}
	if !slices.Equal(allBlocks(t, c), before) {
		t.Fatal("planning wrote to the chain")
	}

	// At the tip: nothing to detach, a plain extension.
	r, err = c.PlanReorg(8, branch(before[8], "b", 2))
	if err != nil || len(r.Detach) != 0 || len(r.Attach) != 2 {
		t.Fatalf("plan at the tip: %+v, %v", r, err)
	}
	if _, err := c.PlanReorg(9, nil); !errors.Is(err, ErrForkAboveTip) {
		t.Fatalf("fork above the tip: %v", err)
	}
}

func TestPlanReorgRejectsBadBranch(t *testing.T) {
	c, _ := newChain(t, 6)
	fork, _ := c.Block(3)
	good := branch(fork, "b", 3)
	tampered := func(i int, f func(*block.Block)) []block.Block {
		bs := slices.Clone(good)
		f(&bs[i])
		return bs
	}
	long := block.Next(fork, strings.Repeat("x", block.MaxDataLen+1))
	tests := []struct {
		name   string
		attach []block.Block
		rule   error
		index  uint64
	}{
		{"skips an index", []block.Block{good[0], good[2]}, block.ErrBadIndex, 6},
		{"starts above the fork", good[1:], block.ErrBadIndex, 5},
		{"links elsewhere", tampered(0, func(b *block.Block) { b.PreviousHash = "x" }), block.ErrBrokenLink, 4},
		{"data edited", tampered(2, func(b *block.Block) { b.Data = `"forged"` }), block.ErrBadHash, 6},
		{"data too long", []block.Block{long}, block.ErrDataTooLong, 4},
	}
	for _, tt := range tests {
		_, err := c.PlanReorg(3, tt.attach)
		var re *block.RuleError
		if !errors.As(err, &re) || !errors.Is(err, tt.rule) || re.Index != tt.index {
			t.Errorf("%s: %v, want a RuleError %v at block %d", tt.name, err, tt.rule, tt.index)
		}
	}
	if c.Len() != 7 {
		t.Fatalf("a refused plan changed the chain: len %d", c.Len())
	}
}

func TestApplyReorg(t *testing.T) {
	c, st := newChain(t, 8)
	fork, _ := c.Block(5)
	attach := branch(fork, "b", 4)
	r, err := c.PlanReorg(5, attach)
	if err != nil {
		t.Fatal(err)
	}
	extra := store.Batch{Puts: []store.Put{{Bucket: "orphans", Key: []byte("6"), Value: []byte(r.Detach[0].CurrHash)}}}
	if err := c.ApplyReorg(r, extra); err != nil {
		t.Fatal(err)
	}
	got := allBlocks(t, c)
	if len(got) != 10 || !slices.Equal(got[6:], attach) || c.Tip() != attach[3] || !c.Healthy() {
		t.Fatalf("after the reorg: %d blocks, tip %+v", len(got), c.Tip())
	}
	if v, err := st.Get("orphans", []byte("6")); err != nil || string(v) != r.Detach[0].CurrHash {
		t.Fatalf("the extra put: %q, %v", v, err)
	}
	// The same plan again: the tip moved, so it is stale.
	if err := c.ApplyReorg(r, store.Batch{}); !errors.Is(err, ErrStalePlan) {
		t.Fatalf("a plan applied twice: %v", err)
	}
}

func TestApplyReorgTruncates(t *testing.T) {
	c, _ := newChain(t, 5)
	r, err := c.PlanReorg(2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyReorg(r, store.Batch{}); err != nil || c.Len() != 3 {
		t.Fatalf("truncation: %v, len %d", err, c.Len())
	}
}

func TestApplyReorgRefuses(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, c *Chain, f *store.Faulty) (*Reorg, store.Batch)
		err   error
	}{
		{
			name: "the tip moved since the plan",
			setup: func(t *testing.T, c *Chain, _ *store.Faulty) (*Reorg, store.Batch) {
				fork, _ := c.Block(2)
				r, err := c.PlanReorg(2, branch(fork, "b", 5))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.Extend(`"later"`); err != nil {
					t.Fatal(err)
				}
				return r, store.Batch{Puts: []store.Put{{Bucket: "orphans", Key: []byte("k"), Value: []byte("v")}}}
			},
			err: ErrStalePlan,
		},
		{
			name: "extra carries blocks",
			setup: func(t *testing.T, c *Chain, _ *store.Faulty) (*Reorg, store.Batch) {
				r, _ := c.PlanReorg(2, nil)
				return r, store.Batch{Blocks: []block.Block{c.Tip()}}
			},
			err: ErrBadExtra,
		},
		{
			name: "extra detaches",
			setup: func(t *testing.T, c *Chain, _ *store.Faulty) (*Reorg, store.Batch) {
				r, _ := c.PlanReorg(2, nil)
				return r, store.Batch{Detach: 1}
			},
			err: ErrBadExtra,
		},
		{
			name: "the disk is full",
			setup: func(t *testing.T, c *Chain, f *store.Faulty) (*Reorg, store.Batch) {
				fork, _ := c.Block(2)
				r, _ := c.PlanReorg(2, branch(fork, "b", 5))
				f.Fill()
				return r, store.Batch{}
			},
			err: store.ErrDiskFull,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := store.NewMemory()
			f := store.NewFaulty(mem)
			c, err := New(f)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Extend(dataRun("a", 1, 5)...); err != nil {
				t.Fatal(err)
			}
			r, extra := tt.setup(t, c, f)
			before := allBlocks(t, c)
			sub := c.Subscribe(16)
			defer sub.Close()
			if err := c.ApplyReorg(r, extra); !errors.Is(err, tt.err) {
				t.Fatalf("ApplyReorg: %v, want %v", err, tt.err)
			}
			if !slices.Equal(allBlocks(t, c), before) || c.Tip() != before[len(before)-1] {
				t.Fatal("a refused reorg changed the chain")
			}
			if _, err := mem.Get("orphans", []byte("k")); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("a refused reorg wrote its extra: %v", err)
			}
			select {
			case ev := <-sub.C():
				t.Fatalf("a refused reorg published %v %d", ev.Kind, ev.Block.Index)
			default:
			}
		})
	}
}

// TestReorgProperty checks, for random chains and forks, that a reorg
// found through a locator lands exactly on the other branch, detaching
// exactly our blocks above the fork and publishing exactly that.
func TestReorgProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		shared := rapid.IntRange(0, 40).Draw(t, "shared")     // blocks after genesis both hold
		oursAbove := rapid.IntRange(0, 30).Draw(t, "ours")    // our blocks above the fork
		theirsAbove := rapid.IntRange(0, 30).Draw(t, "their") // their blocks above the fork

		ours, _ := newChain(t, shared)
		other, _ := newChain(t, shared)
		if _, err := ours.Extend(dataRun("ours", shared+1, oursAbove)...); err != nil {
			t.Fatal(err)
		}
		if _, err := other.Extend(dataRun("theirs", shared+1, theirsAbove)...); err != nil {
			t.Fatal(err)
		}
		// The branches' data differ, so they part right above the
		// shared blocks (or one extends the other).
		trueFork := uint64(shared)
		loc, err := other.Locator()
		if err != nil {
			t.Fatal(err)
		}
		fork, err := ours.FindFork(loc)
		if err != nil {
			t.Fatal(err)
		}
		// The locator names only some blocks: the answer is the nearest
		// of them at or below the true fork, and is the true fork when
		// that lies within the dense run at the locator's top.
		var want uint64
		for _, i := range LocatorIndexes(other.Tip().Index) {
			if i <= trueFork {
				want = i
				break
			}
		}
		if fork != want {
			t.Fatalf("FindFork = %d, want %d (true fork %d)", fork, want, trueFork)
		}
		if other.Tip().Index-trueFork < denseLocatorEntries && fork != trueFork {
			t.Fatalf("FindFork = %d, want the true fork %d", fork, trueFork)
		}

		before, theirs := allBlocks(t, ours), allBlocks(t, other)
		sub := ours.Subscribe(len(before) + len(theirs))
		defer sub.Close()
		r, err := ours.PlanReorg(fork, theirs[fork+1:])
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(r.Detach, before[fork+1:]) {
			t.Fatalf("detach %d blocks, want our %d above %d", len(r.Detach), len(before[fork+1:]), fork)
		}
		if err := ours.ApplyReorg(r, store.Batch{}); err != nil {
			t.Fatal(err)
		}
		if got := allBlocks(t, ours); !slices.Equal(got, theirs) || ours.Tip() != theirs[len(theirs)-1] {
			t.Fatalf("after the reorg we hold %d blocks, they %d", len(got), len(theirs))
		}
		var want2 []Event
		for i := len(before) - 1; i > int(fork); i-- {
			want2 = append(want2, Event{BlockDisconnected, before[i]})
		}
		for _, b := range theirs[fork+1:] {
			want2 = append(want2, Event{BlockConnected, b})
		}
		if got := drain(sub); !slices.Equal(got, want2) {
			t.Fatalf("events %v, want %v", kinds(got), kinds(want2))
		}
	})
}
