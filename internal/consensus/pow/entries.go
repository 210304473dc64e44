package pow

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/consensus"
)

// The engine's hand-off between writes and the mempool: entries submitted
// here or heard from peers wait in the mempool (mempool.go) for a block,
// and the proposals waiting for them (proposals.go) are answered once
// they are on the best chain.

// sendPool offers to the peer the entries we hold, within one message.
func (e *Engine) sendPool(to string) {
	var groups [][]string
	size := 0
	for _, g := range e.pool.order {
		if g.dead {
			continue
		}
		if len(groups) == maxGroupsPerMsg || size+g.cost > maxEntriesBytes {
			break
		}
		groups = append(groups, g.entries)
		size += g.cost
	}
	if len(groups) > 0 {
		e.send(to, encodeEntries(groups))
	}
}

// resolve answers the proposals waiting for any of ids whose entries are
// now all on the best chain.
func (e *Engine) resolve(ids []string) {
	ready := e.props.waitingFor(ids)
	for _, pid := range ready {
		p := e.props.byID[pid]
		if p == nil {
			continue
		}
		blocks, ok := e.blocksOf(p.ids)
		if !ok {
			continue
		}
		e.props.forget(pid)
		e.results = append(e.results, consensus.Result{ID: pid, Block: blocks[0], Blocks: blocks})
	}
}

// blocksOf returns the blocks of the best chain holding ids (each block
// once, in chain order), or ok false while some id is not on it.
func (e *Engine) blocksOf(ids []string) ([]block.Block, bool) {
	var idx []uint64
	for _, id := range ids {
		at, ok, err := e.entryIndex(id)
		if err != nil || !ok {
			return nil, false
		}
		if !slices.Contains(idx, at) {
			idx = append(idx, at)
		}
	}
	slices.Sort(idx)
	out := make([]block.Block, 0, len(idx))
	for _, i := range idx {
		b, err := e.chain.Block(i)
		if err != nil {
			e.fail(err)
			return nil, false
		}
		out = append(out, b)
	}
	return out, true
}

// receiveEntries keeps a peer's entries that are new to us and passes
// them on to our other peers.
func (e *Engine) receiveEntries(from string, groups [][]string) {
	var fresh [][]string
	for _, g := range groups {
		ids, err := groupIDs(g)
		if err != nil {
			continue
		}
		// A group that reaches us after some of its entries were mined
		// keeps the others, as it does in the mempool that saw them
		// mined: a block repeating an entry of the chain is invalid.
		g, ids = e.offChain(g, ids)
		if len(ids) == 0 || !fitsBlock(g) {
			continue
		}
		added, err := e.pool.add(g, ids)
		if err != nil || !added {
			continue
		}
		fresh = append(fresh, g)
	}
	if len(fresh) > 0 {
		e.tmpl.poolChanged()
		e.broadcastGroups(fresh, from)
	}
}

// broadcastGroups sends groups to every peer but except, in messages
// within the bounds decode enforces.
func (e *Engine) broadcastGroups(groups [][]string, except string) {
	for len(groups) > 0 {
		n, size := 0, 0
		for n < len(groups) && n < maxGroupsPerMsg {
			c := dataCost(groups[n])
			if n > 0 && size+c > maxEntriesBytes {
				break
			}
			size += c
			n++
		}
		e.broadcast(encodeEntries(groups[:n]), except)
		groups = groups[n:]
	}
}

// fitsBlock reports whether group g fits in one block's data. A group
// that does not could never be mined: kept, it would wait in every
// mempool forever and its proposal would never be answered.
func fitsBlock(g []string) bool { return 1+dataCost(g) <= block.MaxDataLen }

func groupIDs(g []string) ([]string, error) {
	ids := make([]string, len(g))
	for i, en := range g {
		ids[i] = block.EntryID(en)
		if slices.Contains(ids[:i], ids[i]) {
			return nil, block.ErrDuplicateEntry
		}
	}
	return ids, nil
}

// offChain returns the entries of g (with ids) that are not on the best
// chain, g itself when none is.
func (e *Engine) offChain(g, ids []string) ([]string, []string) {
	var keep, keepIDs []string
	for i, id := range ids {
		if _, ok, _ := e.entryIndex(id); !ok {
			keep, keepIDs = append(keep, g[i]), append(keepIDs, id)
		}
	}
	if len(keep) == len(g) {
		return g, ids
	}
	return keep, keepIDs
}

func (e *Engine) allOnChain(ids []string) bool {
	for _, id := range ids {
		if _, ok, _ := e.entryIndex(id); !ok {
			return false
		}
	}
	return true
}

// Propose implements consensus.Engine.
func (e *Engine) Propose(data string) (uint64, error) { return e.ProposeAll([]string{data}) }

// ProposeAll implements consensus.Engine: the entries go into the mempool
// as one group, which an honest miner puts in one block, and the proposal
// is resolved once they are all on the best chain. Entries are known by
// their content: an entry already on the chain resolves at once.
func (e *Engine) ProposeAll(data []string) (uint64, error) {
	ids, err := e.submit(data)
	if err != nil {
		return 0, err
	}
	pid := e.props.add(ids)
	if e.allOnChain(ids) {
		e.settle(ids)
	}
	return pid, nil
}

// Submit implements consensus.Entries.
func (e *Engine) Submit(data []string) ([]string, error) { return e.submit(data) }

func (e *Engine) submit(data []string) ([]string, error) {
	if e.err != nil {
		return nil, fmt.Errorf("pow: storage failed: %w", e.err)
	}
	if len(data) == 0 || len(data) > consensus.MaxGroup {
		return nil, fmt.Errorf("pow: a group holds 1 to %d entries, not %d", consensus.MaxGroup, len(data))
	}
	for _, d := range data {
		if err := block.CheckEntry(d); err != nil {
			return nil, err
		}
	}
	if !fitsBlock(data) {
		return nil, fmt.Errorf("pow: the group takes %d bytes of a block's data, limit %d: %w", 1+dataCost(data), block.MaxDataLen, block.ErrDataTooLong)
	}
	ids, err := groupIDs(data)
	if err != nil {
		return nil, err
	}
	onChain := 0
	for _, id := range ids {
		if _, ok, err := e.entryIndex(id); err != nil {
			return nil, err
		} else if ok {
			onChain++
		}
	}
	switch {
	case onChain == len(ids):
		return ids, nil
	case onChain > 0:
		return nil, fmt.Errorf("%w: %d of the %d entries are on the chain already", ErrOverlap, onChain, len(ids))
	}
	added, err := e.pool.add(slices.Clone(data), ids)
	if errors.Is(err, ErrMempoolFull) {
		return nil, fmt.Errorf("%w (%v)", consensus.ErrBusy, err)
	}
	if err != nil {
		return nil, err
	}
	if added {
		e.tmpl.poolChanged()
		e.broadcast(encodeEntries([][]string{data}), "")
	}
	return ids, nil
}

// Entry implements consensus.Entries.
func (e *Engine) Entry(id string) (consensus.EntryState, error) {
	if len(id) != 64 {
		return consensus.EntryState{}, fmt.Errorf("pow: an entry id is 64 hex digits")
	}
	if _, err := hex.DecodeString(id); err != nil {
		return consensus.EntryState{}, fmt.Errorf("pow: an entry id is 64 hex digits")
	}
	at, ok, err := e.entryIndex(id)
	if err != nil {
		return consensus.EntryState{}, err
	}
	if ok {
		return consensus.EntryState{State: "confirmed", Index: at, Confirmations: e.chain.Tip().Index - at + 1}, nil
	}
	if e.pool.has(id) {
		return consensus.EntryState{State: "pending"}, nil
	}
	return consensus.EntryState{State: "unknown"}, nil
}

// Abandon implements consensus.Engine: the entry stays in the mempools it
// reached and may still be mined.
func (e *Engine) Abandon(id uint64) bool {
	e.props.forget(id)
	return true
}
