package pow

import (
	"errors"
	"math/big"
	"slices"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/store"
)

// errBranchBroken refuses a switch to a branch that no longer reaches the
// best chain (a side block below it was evicted).
var errBranchBroken = errors.New("pow: the branch does not reach the best chain")

// orphans are a detached block's entries that the new branch lacks, with
// their ids: they return to the mempool.
type orphans struct{ entries, ids []string }

// switchPlan is what making a branch the best chain changes: planSwitch
// computes it, changing nothing, and applySwitch carries it out.
type switchPlan struct {
	fork   uint64
	oldTip block.Block
	branch []*side  // attached, oldest first
	cum    *big.Int // the new best chain's cumulative work
	detach []block.Block
	// detachIDs are the entry ids of each detached block, and returned
	// those the new branch lacks, with the entries.
	detachIDs [][]string
	returned  []orphans
	// attachedIDs are the entries now on the best chain: they leave the
	// mempool and the kept set, and answer proposals.
	attachedIDs []string
	// batch is the store write: the blocks (and the detach), the entry
	// index and the kept entries, in one transaction so that they never
	// disagree.
	batch store.Batch
	// announce is what peers hear of the switch.
	announce []byte
}

// planSwitch plans making the branch ending at s the best chain, from the
// index, the kept set and the chain's blocks above the fork. It fails with
// errBranchBroken, or the store's error.
func planSwitch(x *blockIndex, kept map[string]struct{}, s *side) (*switchPlan, error) {
	branch, fork, ok := x.branch(s)
	if !ok {
		return nil, errBranchBroken
	}
	p := &switchPlan{fork: fork, oldTip: x.chain.Tip(), branch: branch, cum: s.cum}
	attach := make([]block.Block, len(branch))
	inNew := make(map[string]struct{})
	var puts []store.Put
	for i, sb := range branch {
		attach[i] = sb.b
		for _, id := range sb.ids {
			puts = append(puts, indexPut(id, sb.b.Index))
			inNew[id] = struct{}{}
			p.attachedIDs = append(p.attachedIDs, id)
			if _, ok := kept[id]; ok {
				puts = append(puts, keptPut(id, ""))
			}
		}
	}
	dels, keep, err := p.planDetach(x.chain, inNew)
	if err != nil {
		return nil, err
	}
	// Deletes first: an entry that moves to another block is put again.
	p.batch = store.Batch{Detach: p.oldTip.Index - fork, Blocks: attach, Puts: slices.Concat(dels, puts, keep)}
	p.announce = announcement(attach, s)
	return p, nil
}

// planDetach reads the blocks above the fork, which leave the best chain,
// and returns the entry index deletes and the kept puts they need: every
// entry leaves the index, and those the new branch lacks (not in inNew)
// are kept until a block holds them again.
func (p *switchPlan) planDetach(c *chain.Chain, inNew map[string]struct{}) (dels, keep []store.Put, err error) {
	for i := p.fork + 1; i <= p.oldTip.Index; i++ {
		b, err := c.Block(i)
		if err != nil {
			return nil, nil, err
		}
		entries, _ := block.DecodeEntries(b.Data) // valid: it is on our chain
		ids := make([]string, len(entries))
		var o orphans
		for j, en := range entries {
			ids[j] = block.EntryID(en)
			dels = append(dels, indexPut(ids[j], 0))
			if _, ok := inNew[ids[j]]; !ok {
				o.entries, o.ids = append(o.entries, en), append(o.ids, ids[j])
				keep = append(keep, keptPut(ids[j], en))
			}
		}
		p.detach = append(p.detach, b)
		p.detachIDs = append(p.detachIDs, ids)
		p.returned = append(p.returned, o)
	}
	return dels, keep, nil
}

// announcement is what peers hear of a new best chain ending at s: short
// branches travel whole (a block just mined or heard); a long sync is
// announced by status and fetched by whoever lacks it.
func announcement(attach []block.Block, s *side) []byte {
	if len(attach) <= 16 {
		return encodeBlocks(attach, false)
	}
	return encodeStatus(s.b.Index, s.b.CurrHash, s.cum)
}

// switchTo makes the branch ending at s the best chain. A branch that no
// longer reaches the best chain is left alone.
func (e *Engine) switchTo(s *side, source string) {
	p, err := planSwitch(e.idx, e.kept, s)
	switch {
	case errors.Is(err, errBranchBroken):
		return
	case err != nil:
		e.fail(err)
		return
	}
	e.applySwitch(p, source)
}

// applySwitch carries out p: the store write, then memory, which follows
// the store: the index, the mempool and kept set, the template, the
// proposals answered, and the peers told.
func (e *Engine) applySwitch(p *switchPlan, source string) {
	e.writeSwitch(p)
	if len(p.detach) > 0 {
		e.reorgs++
		e.log.Info("reorganised onto a branch with more work", "fork", p.fork, "detached", len(p.detach), "attached", len(p.branch), "from", source)
	}
	e.idx.setBest(p.fork, p.branch, p.cum, p.detach, p.detachIDs)
	e.settleEntries(p)
	e.tmpl.invalidate()
	e.settle(p.attachedIDs)
	e.broadcast(p.announce, source)
}

// settleEntries moves the entries p attaches out of the mempool and the
// kept set, and those it detaches without a new home back in: over the
// mempool's bounds if need be, as they are few and may be acknowledged.
// Peers that never heard of those (they were mined behind a partition)
// get them now.
func (e *Engine) settleEntries(p *switchPlan) {
	e.pool.remove(p.attachedIDs)
	for _, id := range p.attachedIDs {
		delete(e.kept, id)
	}
	var back [][]string
	for _, o := range p.returned {
		if len(o.ids) == 0 {
			continue
		}
		for _, id := range o.ids {
			e.kept[id] = struct{}{}
		}
		e.pool.readd(o.entries, o.ids)
		back = append(back, o.entries)
	}
	if len(back) > 0 {
		e.tmpl.poolChanged()
		e.broadcastGroups(back, "")
	}
}
