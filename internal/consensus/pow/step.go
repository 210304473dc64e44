package pow

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/consensus"
)

// Step implements consensus.Engine: it decodes the payload (codec.go)
// and hands the message to its handler.
func (e *Engine) Step(from string, payload []byte) error {
	if e.err != nil {
		return nil // failed: the node serves reads only
	}
	d, err := decode(payload)
	if err != nil {
		return err
	}
	if e.writing() || len(e.hand.deferred) > 0 {
		// A switch earlier in this Ready is not applied yet: what the
		// message reads of the chain (the index, locators, the blocks
		// to detach) waits for it, after the messages waiting already,
		// in the order they came. Its verdict is lost: only a peer's
		// malformed message is punished then.
		e.hand.deferred = append(e.hand.deferred, func() { _ = e.step(from, d) })
		return nil
	}
	return e.step(from, d)
}

// step hands a decoded message to its handler.
func (e *Engine) step(from string, d decoded) error {
	if e.err != nil {
		return nil
	}
	switch {
	case d.status != nil:
		e.receiveStatus(from, d.status, d.work)
	case d.getBlocks != nil:
		return e.serveBlocks(from, d.getBlocks.Locator)
	case d.blocks != nil:
		return e.receiveBlocks(from, d.blocks)
	case d.entries != nil:
		e.receiveEntries(from, d.entries.Groups)
	}
	return nil
}

// receiveStatus records the tip a peer claims and asks it for blocks when
// that tip beats ours.
func (e *Engine) receiveStatus(from string, m *statusMsg, work *big.Int) {
	e.sync.claim(from, work, m.Height, m.Hash, e.idx.beatsBest(work, m.Hash))
	e.maybeSync(from)
}

// maybeSync asks peer id for blocks when its tip beats ours and we do not
// hold that tip already.
func (e *Engine) maybeSync(id string) {
	p, ok := e.sync.idle(id)
	if !ok || !e.idx.beatsBest(p.work, p.hash) {
		return
	}
	if s, ok := e.idx.side[p.hash]; ok {
		// We hold that tip off the best chain but did not switch to it:
		// it beats us only by the peer's word. Ask from there.
		e.requestBlocks(id, e.idx.sideLocator(s))
		return
	}
	e.requestBlocks(id, e.idx.bestLocator())
}

func (e *Engine) requestBlocks(id string, loc []chain.LocatorEntry) {
	if len(loc) == 0 {
		return
	}
	e.sync.ask(id, e.ticks)
	e.send(id, encodeGetBlocks(loc))
}

// serveBlocks answers a getblocks: the best chain's blocks after the fork
// point the locator gives, within a message's bounds.
func (e *Engine) serveBlocks(to string, loc []chain.LocatorEntry) error {
	fork, err := e.chain.FindFork(loc)
	switch {
	case errors.Is(err, chain.ErrNoCommonBlock):
		return nil // another genesis: nothing to give
	case errors.Is(err, chain.ErrBadLocator):
		return fmt.Errorf("%w: %v", consensus.ErrMalformed, err)
	case err != nil:
		e.fail(err)
		return nil
	}
	var out []block.Block
	size := 0
	more := false
	for b, err := range e.chain.Blocks(fork + 1) {
		if err != nil {
			break // a reorg under us: the peer asks again
		}
		if len(out) == e.cfg.BlocksPerReply || size+len(b.Data) > maxBlocksBytes && len(out) > 0 {
			more = true
			break
		}
		out = append(out, b)
		size += len(b.Data) + 256
	}
	if len(out) > 0 {
		e.send(to, encodeBlocks(out, more))
	} else {
		e.send(to, e.statusPayload())
	}
	return nil
}

// receiveBlocks takes in blocks from a peer: it validates them onto the
// branch their first block names, keeps them, switches to them if they
// now make the best chain, and asks for more when the peer has more.
func (e *Engine) receiveBlocks(from string, m *blocksMsg) error {
	blocks := m.Blocks
	// Skip what we hold already.
	for len(blocks) > 0 && e.idx.holds(blocks[0]) {
		blocks = blocks[1:]
	}
	if len(blocks) == 0 {
		if m.More {
			e.requestBlocks(from, e.idx.locatorAt(m.Blocks[len(m.Blocks)-1]))
		}
		return nil
	}
	if blocks[0].Index == 0 {
		return fmt.Errorf("%w: a second genesis block", consensus.ErrInvalidBlock)
	}
	v, ok := e.idx.viewOf(blocks[0].PreviousHash, blocks[0].Index-1)
	if !ok {
		// An orphan: ask this peer for the branch from our best chain.
		if e.err == nil {
			e.requestBlocks(from, e.idx.bestLocator())
		}
		return nil
	}
	added, bad := e.checkBlocks(from, v, blocks)
	if e.err != nil {
		return nil // our store failed, not the peer
	}
	if len(added) == 0 {
		return bad
	}
	last := e.takeBlocks(from, added)
	switch {
	case bad == nil && m.More:
		// The locator reads the chain, which shows the switch only once
		// the caller applied its write (Ready.Persist).
		e.afterWrite(func() { e.requestBlocks(from, e.idx.locatorAt(last.b)) })
	case !m.More:
		e.sync.finished(from)
	}
	return bad
}

// checkBlocks validates blocks one after another on v and returns those
// accepted before the first bad one, and why that one is bad (nil when it
// is only stamped in the future: clocks differ). Each block is checked
// against v, which grows with the blocks accepted, not against the chain:
// nothing is stored until all are checked.
func (e *Engine) checkBlocks(from string, v *view, blocks []block.Block) (added []*side, bad error) {
	for _, b := range blocks {
		ids, err := e.check(v, b)
		if e.err != nil {
			return nil, nil
		}
		if err != nil {
			if !errors.Is(err, errFuture) {
				bad = err
			}
			break
		}
		s := e.idx.newSide(b, ids, v.cum)
		v.extend(s)
		added = append(added, s)
		// At debug: the node sums up new blocks at info.
		e.log.Debug("received a block", "index", b.Index, "hash", b.CurrHash, "from", from, "entries", len(ids))
	}
	return added, bad
}

// takeBlocks keeps the blocks added from a peer and switches to them
// when they make the best chain. It returns the last of them.
func (e *Engine) takeBlocks(from string, added []*side) *side {
	e.sync.answered(from)
	for _, s := range added {
		e.idx.addSide(s)
	}
	last := added[len(added)-1]
	if e.idx.beatsBest(last.cum, last.b.CurrHash) {
		e.switchTo(last, from)
	}
	e.idx.evictSide()
	return last
}

// check validates b as the next block of v (rules.go) against this
// node's clock and entry index.
func (e *Engine) check(v *view, b block.Block) ([]string, error) {
	return checkBlock(e.p, e.cfg.Now(), v, b, e.entryIndex)
}
