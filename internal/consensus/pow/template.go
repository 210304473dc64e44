package pow

import (
	"fmt"
	"time"

	"github.com/naivechain/naivechain/internal/block"
)

// templateTicks is how old a mining header may grow before it is rebuilt
// (fresh timestamp, new entries) even if nothing else changed.
const templateTicks = 10

// miningTemplate is the block handed to miners: its header without the
// nonce, the entries it carries, and the generation that names it.
type miningTemplate struct {
	gen uint64
	blk block.Block
	hdr [block.HeaderLen]byte
	ids []string
	ok  bool
	// tick is when the template was built; poolDirty says the mempool
	// changed since.
	tick      int
	poolDirty bool
}

// poolChanged records that the mempool changed: the next Tick rebuilds.
func (t *miningTemplate) poolChanged() { t.poolDirty = true }

// invalidate makes the next Mining rebuild the template.
func (t *miningTemplate) invalidate() { t.ok = false }

// age drops a template that is older than templateTicks at tick now or
// misses entries the mempool has gained.
func (t *miningTemplate) age(now int) {
	if t.ok && (t.poolDirty || now-t.tick >= templateTicks) {
		t.ok = false
	}
}

// build makes the next header to mine on tip, which v views, from entries
// with ids, at time now and tick.
func (t *miningTemplate) build(p Params, now time.Time, tip block.Block, v *view, entries, ids []string, tick int) error {
	h := tip.Index + 1
	ts := max(now.UnixMilli(), medianTimeBelow(v, h)+1)
	b := block.NewPoW(tip, entries, ts, nextDifficulty(p, v, h))
	hdr, err := block.Header(b, block.EntriesRoot(entries))
	if err != nil {
		return fmt.Errorf("pow: header of the block to mine: %w", err)
	}
	t.blk, t.hdr, t.ids = b, hdr, ids
	t.gen++
	t.ok, t.tick, t.poolDirty = true, tick, false
	return nil
}

// seal completes the template with nonce, found for generation gen. ok is
// false for another generation or a nonce that does not meet the
// difficulty. The template is used up either way on its own generation.
func (t *miningTemplate) seal(gen, nonce uint64) (block.Block, bool) {
	if gen != t.gen || !t.ok {
		return block.Block{}, false
	}
	b, err := block.Seal(t.blk, nonce)
	if err != nil {
		return block.Block{}, false
	}
	t.ok = false
	return b, true
}

// Mining implements consensus.Miner.
func (e *Engine) Mining() (uint64, [block.HeaderLen]byte, uint8, bool) {
	var none [block.HeaderLen]byte
	if !e.cfg.Mine || e.err != nil || e.pool.len() == 0 {
		return 0, none, 0, false
	}
	if !e.tmpl.ok {
		entries, ids := e.pool.take()
		if len(entries) == 0 {
			return 0, none, 0, false
		}
		tip := e.chain.Tip()
		v := e.idx.bestView(tip.Index, tip)
		if err := e.tmpl.build(e.p, e.cfg.Now(), tip, v, entries, ids, e.ticks); err != nil {
			e.fail(err)
			return 0, none, 0, false
		}
	}
	return e.tmpl.gen, e.tmpl.hdr, e.tmpl.blk.Difficulty, true
}

// Mined implements consensus.Miner: a nonce for the current header makes
// a block that extends the tip.
func (e *Engine) Mined(gen, nonce uint64) {
	if e.err != nil {
		return
	}
	b, ok := e.tmpl.seal(gen, nonce)
	if !ok {
		return
	}
	v, ok := e.idx.viewOf(b.PreviousHash, b.Index-1)
	if !ok || v.fork != e.chain.Tip().Index {
		return // the tip moved on
	}
	ids, err := e.check(v, b)
	if err != nil {
		e.log.Warn("mined block refused", "index", b.Index, "err", err)
		return
	}
	e.mined++
	s := e.idx.newSide(b, ids, e.idx.work)
	e.idx.addSide(s)
	e.log.Info("mined a block", "index", b.Index, "hash", b.CurrHash, "entries", len(ids), "difficulty", b.Difficulty)
	e.switchTo(s, "")
}
