package chain

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/store"
)

func TestLocatorIndexes(t *testing.T) {
	tests := []struct {
		tip  uint64
		want []uint64 // nil: only the shape is checked
	}{
		{0, []uint64{0}},
		{1, []uint64{1, 0}},
		{9, []uint64{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}},
		{10, []uint64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0}},
		{11, []uint64{11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 0}},
		{20, []uint64{20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 9, 5, 0}},
		{1000, []uint64{1000, 999, 998, 997, 996, 995, 994, 993, 992, 991, 989, 985, 977, 961, 929, 865, 737, 481, 0}},
		{1 << 40, nil},
		{math.MaxUint64, nil},
	}
	for _, tt := range tests {
		got := LocatorIndexes(tt.tip)
		if tt.want != nil && !slices.Equal(got, tt.want) {
			t.Errorf("LocatorIndexes(%d)\n got %v\nwant %v", tt.tip, got, tt.want)
		}
		if len(got) > MaxLocatorEntries || got[0] != tt.tip || got[len(got)-1] != 0 {
			t.Errorf("LocatorIndexes(%d) = %v: want at most %d entries from the tip down to genesis", tt.tip, got, MaxLocatorEntries)
		}
		for i := 1; i < len(got); i++ {
			if got[i] >= got[i-1] {
				t.Errorf("LocatorIndexes(%d): %d follows %d", tt.tip, got[i], got[i-1])
			}
		}
	}
	if n := len(LocatorIndexes(math.MaxUint64)); n != MaxLocatorEntries {
		t.Errorf("the longest chain's locator has %d entries, want the cap %d", n, MaxLocatorEntries)
	}
}

func TestLocator(t *testing.T) {
	c, _ := newChain(t, 300)
	loc, err := c.Locator()
	if err != nil {
		t.Fatal(err)
	}
	idxs := LocatorIndexes(300)
	if len(loc) != len(idxs) {
		t.Fatalf("%d entries, want %d", len(loc), len(idxs))
	}
	for i, e := range loc {
		b, err := c.Block(idxs[i])
		if err != nil {
			t.Fatal(err)
		}
		if e != (LocatorEntry{Index: b.Index, Hash: b.CurrHash}) {
			t.Errorf("entry %d = %+v, want block %d (%s)", i, e, b.Index, b.CurrHash)
		}
	}
}

func TestFindFork(t *testing.T) {
	ours, _ := newChain(t, 30)
	locOf := func(blocks []block.Block) []LocatorEntry {
		var loc []LocatorEntry
		for _, i := range LocatorIndexes(blocks[len(blocks)-1].Index) {
			loc = append(loc, LocatorEntry{Index: i, Hash: blocks[i].CurrHash})
		}
		return loc
	}
	mine := allBlocks(t, ours)
	forkedAt := func(fork uint64, n int) []LocatorEntry {
		return locOf(append(slices.Clone(mine[:fork+1]), branch(mine[fork], "b", n)...))
	}
	tests := []struct {
		name string
		loc  []LocatorEntry
		want uint64
		err  error
	}{
		{"same chain", locOf(mine), 30, nil},
		{"peer behind on our chain", locOf(mine[:13]), 12, nil},
		// The peer's locator names 80..71, 69, 65, 57, 41, 9, 0: the
		// nearest below our tip is the answer, not our tip itself.
		{"peer far ahead on our chain", locOf(append(slices.Clone(mine), branch(mine[30], "b", 50)...)), 9, nil},
		{"peer a little ahead on our chain", locOf(append(slices.Clone(mine), branch(mine[30], "b", 5)...)), 30, nil},
		{"fork near the peer's tip is exact", forkedAt(25, 7), 25, nil},
		// The peer's locator names 39..30, 28, 24, 16, 0.
		{"fork deeper than the peer's dense part", forkedAt(27, 12), 24, nil},
		{"only genesis shared", forkedAt(0, 3), 0, nil},
		{"entries above our tip only", []LocatorEntry{{Index: 99, Hash: "x"}, {Index: 0, Hash: block.GenesisHash}}, 0, nil},
		{"another network", []LocatorEntry{{Index: 3, Hash: "x"}, {Index: 0, Hash: "y"}}, 0, ErrNoCommonBlock},
		{"empty", nil, 0, ErrBadLocator},
		{"too long", make([]LocatorEntry, MaxLocatorEntries+1), 0, ErrBadLocator},
		{"increasing", []LocatorEntry{{Index: 1}, {Index: 2}}, 0, ErrBadLocator},
		{"repeated index", []LocatorEntry{{Index: 2, Hash: mine[2].CurrHash}, {Index: 2, Hash: mine[2].CurrHash}}, 0, ErrBadLocator},
	}
	for _, tt := range tests {
		got, err := ours.FindFork(tt.loc)
		if !errors.Is(err, tt.err) || err == nil && got != tt.want {
			t.Errorf("%s: FindFork = %d, %v; want %d, %v", tt.name, got, err, tt.want, tt.err)
		}
	}
}

// TestFindForkStoreError checks that a failing store is not mistaken for a
// peer's fault.
func TestFindForkStoreError(t *testing.T) {
	c, st := newChain(t, 5)
	loc, err := c.Locator()
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	_, err = c.FindFork(loc)
	if !errors.Is(err, store.ErrClosed) || errors.Is(err, ErrNoCommonBlock) || errors.Is(err, ErrBadLocator) {
		t.Errorf("FindFork on a closed store: %v, want a store error only", err)
	}
	if _, err := c.Locator(); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Locator on a closed store: %v", err)
	}
}
