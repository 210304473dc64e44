package pow

import (
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/consensus"
)

// The contextual rules of a block: what it must satisfy given the branch
// below it (difficulty, timestamps, entries not seen before). They are
// functions of a view and the Params, and hold no state of their own.

// view is a branch being validated: the best chain up to fork, then the
// side blocks in above, then the blocks of a message accepted so far.
type view struct {
	fork uint64
	// diffs and times are the best chain's, read up to fork only.
	diffs  []uint8
	times  []int64
	above  []*side // blocks above fork, oldest first
	seen   map[string]struct{}
	parent block.Block
	cum    *big.Int
}

// header returns the difficulty and timestamp of the block at index on v.
func (v *view) header(index uint64) (diff uint8, ts int64) {
	if index > v.fork {
		s := v.above[index-v.fork-1]
		return s.b.Difficulty, s.b.Timestamp
	}
	return v.diffs[index], v.times[index]
}

// extend puts s, just checked, on top of v.
func (v *view) extend(s *side) {
	v.above = append(v.above, s)
	for _, id := range s.ids {
		v.seen[id] = struct{}{}
	}
	v.parent, v.cum = s.b, s.cum
}

// entryLookup finds the index of the best-chain block holding entry id.
type entryLookup func(id string) (index uint64, ok bool, err error)

// errFuture marks a block stamped too far past our clock: not a fault of
// the peer (clocks differ), so it is dropped without a penalty.
var errFuture = errors.New("pow: block timestamp too far in the future")

// nextDifficulty is the difficulty the block at height h on v must have.
func nextDifficulty(p Params, v *view, h uint64) uint8 {
	parentDiff, _ := v.header(h - 1)
	var first, last int64
	if p.Retargets(h) {
		_, first = v.header(h - p.RetargetBlocks)
		_, last = v.header(h - 1)
	}
	return p.NextDifficulty(h, parentDiff, first, last)
}

// medianTimeBelow is the median timestamp of the MedianSpan blocks below
// h on v (genesis, which has none, excluded).
func medianTimeBelow(v *view, h uint64) int64 {
	var ts []int64
	for i := h - 1; i >= 1 && len(ts) < MedianSpan; i-- {
		_, t := v.header(i)
		ts = append(ts, t)
	}
	return MedianTime(ts)
}

// checkBlock validates b as the next block of v at time now, and returns
// its entry ids. onChain finds entries on the best chain: one there at or
// below the fork cannot be repeated. A rule broken wraps
// consensus.ErrInvalidBlock; errFuture and onChain's errors do not.
func checkBlock(p Params, now time.Time, v *view, b block.Block, onChain entryLookup) ([]string, error) {
	invalid := func(err error) ([]string, error) {
		return nil, fmt.Errorf("%w: %w", consensus.ErrInvalidBlock, err)
	}
	entries, err := block.CheckNextEntries(v.parent, b)
	if err != nil {
		return invalid(err)
	}
	if !b.IsPoW() {
		return invalid(&block.RuleError{Index: b.Index, Err: errors.New("not a proof-of-work block")})
	}
	h := b.Index
	if want := nextDifficulty(p, v, h); b.Difficulty != want {
		return invalid(&block.RuleError{Index: h, Err: fmt.Errorf("difficulty %d, the retarget rule gives %d", b.Difficulty, want)})
	}
	if mtp := medianTimeBelow(v, h); b.Timestamp <= mtp {
		return invalid(&block.RuleError{Index: h, Err: fmt.Errorf("timestamp %d not above the median %d of the last %d blocks", b.Timestamp, mtp, MedianSpan)})
	}
	if limit := now.Add(p.MaxFutureDrift).UnixMilli(); b.Timestamp > limit {
		return nil, fmt.Errorf("%w: block %d at %d, limit %d", errFuture, h, b.Timestamp, limit)
	}
	ids := make([]string, len(entries))
	for i, en := range entries {
		ids[i] = block.EntryID(en)
		if _, dup := v.seen[ids[i]]; dup {
			return invalid(&block.RuleError{Index: h, Err: fmt.Errorf("entry %s is already on this branch", ids[i])})
		}
		at, ok, err := onChain(ids[i])
		if err != nil {
			return nil, err
		}
		if ok && at <= v.fork {
			return invalid(&block.RuleError{Index: h, Err: fmt.Errorf("entry %s is already in block %d", ids[i], at)})
		}
	}
	return ids, nil
}
