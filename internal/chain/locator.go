package chain

import (
	"errors"
	"fmt"
)

// MaxLocatorEntries bounds a block locator, ours and the ones we accept.
const MaxLocatorEntries = 64

// denseLocatorEntries is how many blocks at the tip a locator names one by
// one before its step starts doubling: a fork near the tip, the common case,
// is then found exactly.
const denseLocatorEntries = 10

// Errors of FindFork that a caller must tell apart from a failing store.
var (
	// ErrNoCommonBlock reports a locator none of whose blocks we hold, not
	// even genesis: the peer is on another network.
	ErrNoCommonBlock = errors.New("chain: no block of the locator is ours")
	// ErrBadLocator reports a locator that breaks the rules of its shape
	// (empty, too long, indexes not strictly decreasing).
	ErrBadLocator = errors.New("chain: malformed block locator")
)

// LocatorEntry names one block of a chain by its index and hash.
type LocatorEntry struct {
	Index uint64
	Hash  string
}

// LocatorIndexes returns the indexes a block locator names for a chain whose
// tip is at index tip, newest first: the tip and the 9 blocks below it, then
// blocks further back with a step that doubles each time, and genesis last.
// It returns at most MaxLocatorEntries indexes, so a peer on the same chain
// finds any fork point to within a factor of two of its depth with a
// message of bounded size.
func LocatorIndexes(tip uint64) []uint64 {
	out := make([]uint64, 0, min(tip+1, MaxLocatorEntries))
	idx, step := tip, uint64(1)
	for {
		if idx == 0 || len(out) == MaxLocatorEntries-1 {
			// Genesis always ends the locator, even when the cap cuts
			// the doubling short.
			return append(out, 0)
		}
		out = append(out, idx)
		if len(out) >= denseLocatorEntries {
			step *= 2
		}
		if step >= idx {
			idx = 0
		} else {
			idx -= step
		}
	}
}

// Locator returns the block locator of the chain (see LocatorIndexes),
// newest first, read from one consistent view of the chain.
func (c *Chain) Locator() ([]LocatorEntry, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	idxs := LocatorIndexes(c.tip.Index)
	loc := make([]LocatorEntry, len(idxs))
	for i, idx := range idxs {
		if idx == c.tip.Index {
			loc[i] = LocatorEntry{Index: idx, Hash: c.tip.CurrHash}
			continue
		}
		b, err := c.st.Block(idx)
		if err != nil {
			return nil, fmt.Errorf("chain: locator: %w", err)
		}
		loc[i] = LocatorEntry{Index: idx, Hash: b.CurrHash}
	}
	return loc, nil
}

// FindFork returns the highest index of loc whose block is ours, hash for
// hash: the last block our chain shares with the chain loc describes.
// Entries above our tip are skipped. Since a locator thins out with depth,
// the result is the true fork point when it lies among loc's indexes (for
// a locator of ours, within 9 blocks of its tip) and the nearest one below
// otherwise.
//
// It fails with an error wrapping ErrBadLocator for a malformed locator and
// ErrNoCommonBlock when no entry matches; any other error is the store's.
func (c *Chain) FindFork(loc []LocatorEntry) (uint64, error) {
	if err := checkLocator(loc); err != nil {
		return 0, err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, e := range loc {
		if e.Index > c.tip.Index {
			continue
		}
		b, err := c.st.Block(e.Index)
		if err != nil {
			return 0, fmt.Errorf("chain: find fork: %w", err)
		}
		if b.CurrHash == e.Hash {
			return e.Index, nil
		}
	}
	return 0, ErrNoCommonBlock
}

// checkLocator checks the shape of a locator received from elsewhere.
func checkLocator(loc []LocatorEntry) error {
	switch {
	case len(loc) == 0:
		return fmt.Errorf("%w: empty", ErrBadLocator)
	case len(loc) > MaxLocatorEntries:
		return fmt.Errorf("%w: %d entries, limit %d", ErrBadLocator, len(loc), MaxLocatorEntries)
	}
	for i := 1; i < len(loc); i++ {
		if loc[i].Index >= loc[i-1].Index {
			return fmt.Errorf("%w: index %d follows %d", ErrBadLocator, loc[i].Index, loc[i-1].Index)
		}
	}
	return nil
}
