package pow

import (
	"cmp"
	"fmt"
	"maps"
	"math/big"
	"slices"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/chain"
)

// side is a block off the best chain, with what fork choice needs.
type side struct {
	b   block.Block
	ids []string
	cum *big.Int // cumulative work up to and including b
	seq uint64   // insertion order, for eviction
}

// blockIndex is fork choice's picture of the blocks this node holds: the
// best chain's difficulties, timestamps and cumulative work (the blocks
// themselves are in the chain), and the blocks kept off it, bounded. It
// reads the chain but never writes it: setBest follows a write made
// elsewhere (applySwitch).
type blockIndex struct {
	chain *chain.Chain
	// fail records a store error met while reading the chain; the engine
	// stops on it.
	fail func(error)

	// The best chain's difficulties and timestamps by index, and its
	// cumulative work.
	diffs []uint8
	times []int64
	work  *big.Int

	side      map[string]*side
	sideSeq   uint64
	sideBytes int
	// maxBlocks and maxBytes bound the side blocks (Config.MaxSide*).
	maxBlocks, maxBytes int
}

// loadIndex reads the best chain's headers from c. A chain holding a block
// that is not a proof-of-work block is refused: it is another engine's.
func loadIndex(c *chain.Chain, maxBlocks, maxBytes int, fail func(error)) (*blockIndex, error) {
	x := &blockIndex{chain: c, fail: fail, work: new(big.Int), side: make(map[string]*side),
		maxBlocks: maxBlocks, maxBytes: maxBytes}
	n := c.Len()
	x.diffs = make([]uint8, 1, n)
	x.times = make([]int64, 1, n)
	for b, err := range c.Blocks(1) {
		if err != nil {
			return nil, fmt.Errorf("pow: load chain: %w", err)
		}
		if !b.IsPoW() {
			return nil, fmt.Errorf("pow: block %d of the stored chain is not a proof-of-work block: the data dir belongs to a vote network", b.Index)
		}
		x.diffs = append(x.diffs, b.Difficulty)
		x.times = append(x.times, b.Timestamp)
		x.work.Add(x.work, blockWork(b.Difficulty))
	}
	return x, nil
}

// blockWork is the expected number of hashes behind a block of difficulty d.
func blockWork(d uint8) *big.Int { return new(big.Int).Lsh(big.NewInt(1), uint(d)) }

// better reports whether a tip of work w1 and hash h1 beats one of w2, h2:
// more work wins; at equal work the smaller hash does, so that every node
// picks the same tip without waiting for another block.
func better(w1 *big.Int, h1 string, w2 *big.Int, h2 string) bool {
	if c := w1.Cmp(w2); c != 0 {
		return c > 0
	}
	return h1 < h2
}

// beatsBest reports whether a tip of work w and hash h beats the best chain.
func (x *blockIndex) beatsBest(w *big.Int, h string) bool {
	return better(w, h, x.work, x.chain.Tip().CurrHash)
}

// newSide makes the side block b, with entry ids, on a parent of
// cumulative work parentCum.
func (x *blockIndex) newSide(b block.Block, ids []string, parentCum *big.Int) *side {
	x.sideSeq++
	return &side{b: b, ids: ids, cum: new(big.Int).Add(parentCum, blockWork(b.Difficulty)), seq: x.sideSeq}
}

// branch walks from s down the side blocks to the best chain and returns
// them oldest first with the fork index. ok is false when the walk breaks
// (a side block's parent was evicted).
func (x *blockIndex) branch(s *side) (branch []*side, fork uint64, ok bool) {
	for cur := s; ; {
		branch = append(branch, cur)
		if cur.b.Index == 0 {
			return nil, 0, false
		}
		if p, on := x.side[cur.b.PreviousHash]; on {
			cur = p
			continue
		}
		fork = cur.b.Index - 1
		if !x.onBest(fork, cur.b.PreviousHash) {
			return nil, 0, false
		}
		slices.Reverse(branch)
		return branch, fork, true
	}
}

// onBest reports whether the best chain holds hash at index.
func (x *blockIndex) onBest(index uint64, hash string) bool {
	if index >= uint64(len(x.diffs)) {
		return false
	}
	b, err := x.chain.Block(index)
	if err != nil {
		x.fail(err)
		return false
	}
	return b.CurrHash == hash
}

// holds reports whether b is on the best chain or kept off it.
func (x *blockIndex) holds(b block.Block) bool {
	if _, ok := x.side[b.CurrHash]; ok {
		return true
	}
	return x.onBest(b.Index, b.CurrHash)
}

// bestWorkAt returns the cumulative work of the best chain up to index.
func (x *blockIndex) bestWorkAt(index uint64) *big.Int {
	w := new(big.Int).Set(x.work)
	for i := index + 1; i < uint64(len(x.diffs)); i++ {
		w.Sub(w, blockWork(x.diffs[i]))
	}
	return w
}

// viewOf is the branch ending at the block parentHash, which a new block
// extends: on the best chain or kept off it. ok is false for a parent this
// node does not hold (or whose branch broke).
func (x *blockIndex) viewOf(parentHash string, parentIndex uint64) (*view, bool) {
	if x.onBest(parentIndex, parentHash) {
		b, err := x.chain.Block(parentIndex)
		if err != nil {
			x.fail(err)
			return nil, false
		}
		return x.bestView(parentIndex, b), true
	}
	s, ok := x.side[parentHash]
	if !ok {
		return nil, false
	}
	branch, fork, ok := x.branch(s)
	if !ok {
		return nil, false
	}
	v := x.bestView(fork, s.b)
	v.above, v.cum = branch, new(big.Int).Set(s.cum)
	for _, sb := range branch {
		for _, id := range sb.ids {
			v.seen[id] = struct{}{}
		}
	}
	return v, true
}

// bestView is the view of the best chain up to fork, whose block is parent.
func (x *blockIndex) bestView(fork uint64, parent block.Block) *view {
	return &view{fork: fork, diffs: x.diffs, times: x.times, parent: parent,
		cum: x.bestWorkAt(fork), seen: map[string]struct{}{}}
}

// bestLocator is the best chain's locator.
func (x *blockIndex) bestLocator() []chain.LocatorEntry {
	loc, err := x.chain.Locator()
	if err != nil {
		x.fail(err)
		return nil
	}
	return loc
}

// sideLocator is the locator of a branch that ends at s: side blocks
// above the fork, best-chain blocks below it.
func (x *blockIndex) sideLocator(s *side) []chain.LocatorEntry {
	branch, fork, ok := x.branch(s)
	if !ok {
		return x.bestLocator()
	}
	var loc []chain.LocatorEntry
	for _, idx := range chain.LocatorIndexes(s.b.Index) {
		if idx > fork {
			loc = append(loc, chain.LocatorEntry{Index: idx, Hash: branch[idx-fork-1].b.CurrHash})
			continue
		}
		b, err := x.chain.Block(idx)
		if err != nil {
			x.fail(err)
			return nil
		}
		loc = append(loc, chain.LocatorEntry{Index: idx, Hash: b.CurrHash})
	}
	return loc
}

// locatorAt is the locator of the branch ending at b, which we hold, so
// that the peer goes on with the blocks after b. A block of the best chain
// below the tip gets a locator of its own: the tip's would make a peer
// whose reply held only blocks we have (a fork deeper than a reply below
// the locator entry it matched) send the same reply again, forever.
func (x *blockIndex) locatorAt(b block.Block) []chain.LocatorEntry {
	if s, ok := x.side[b.CurrHash]; ok {
		return x.sideLocator(s)
	}
	if b.Index < x.chain.Tip().Index && x.onBest(b.Index, b.CurrHash) {
		var loc []chain.LocatorEntry
		for _, idx := range chain.LocatorIndexes(b.Index) {
			lb, err := x.chain.Block(idx)
			if err != nil {
				x.fail(err)
				return nil
			}
			loc = append(loc, chain.LocatorEntry{Index: idx, Hash: lb.CurrHash})
		}
		return loc
	}
	return x.bestLocator()
}

// setBest makes the index follow a write that put branch above fork on
// the best chain, with cumulative work cum, and detached the blocks in
// detached (oldest first, with their entry ids): the branch leaves the
// side blocks and the detached blocks join them, as a branch this node
// may switch back to.
func (x *blockIndex) setBest(fork uint64, branch []*side, cum *big.Int, detached []block.Block, detachedIDs [][]string) {
	w := x.bestWorkAt(fork)
	x.diffs, x.times = x.diffs[:fork+1], x.times[:fork+1]
	for _, sb := range branch {
		x.diffs = append(x.diffs, sb.b.Difficulty)
		x.times = append(x.times, sb.b.Timestamp)
		x.dropSide(sb.b.CurrHash)
	}
	x.work.Set(cum)
	for i, b := range detached {
		s := x.newSide(b, detachedIDs[i], w)
		x.addSide(s)
		w = s.cum
	}
}

// addSide keeps s off the best chain; dropSide forgets the side block
// with that hash. Together they keep the count of bytes held.
func (x *blockIndex) addSide(s *side) {
	if old, ok := x.side[s.b.CurrHash]; ok {
		x.sideBytes -= sideSize(old)
	}
	x.side[s.b.CurrHash] = s
	x.sideBytes += sideSize(s)
}

func (x *blockIndex) dropSide(hash string) {
	if s, ok := x.side[hash]; ok {
		x.sideBytes -= sideSize(s)
		delete(x.side, hash)
	}
}

// evictSide drops the oldest side blocks beyond the bound.
func (x *blockIndex) evictSide() {
	if len(x.side) <= x.maxBlocks && x.sideBytes <= x.maxBytes {
		return
	}
	all := slices.Collect(maps.Values(x.side))
	slices.SortFunc(all, func(a, b *side) int { return cmp.Compare(a.seq, b.seq) })
	for _, s := range all {
		if len(x.side) <= x.maxBlocks && x.sideBytes <= x.maxBytes {
			return
		}
		x.dropSide(s.b.CurrHash)
	}
}

// sideSize approximates the memory a side block holds: its data and its
// entry ids.
func sideSize(s *side) int { return len(s.b.Data) + 64*len(s.ids) + 256 }
