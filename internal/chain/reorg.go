package chain

import (
	"errors"
	"fmt"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/store"
)

// Errors of a reorg that a caller must tell apart from a failing store and
// from a bad block (a *block.RuleError).
var (
	// ErrStalePlan reports a plan made against a tip that has changed
	// since; nothing was written and the caller plans again.
	ErrStalePlan = errors.New("chain: reorg plan is stale: the tip changed")
	// ErrForkAboveTip reports a fork point we do not have.
	ErrForkAboveTip = errors.New("chain: fork point above the tip")
	// ErrBadExtra reports an extra batch for ApplyReorg that carries
	// blocks or a detach of its own: the plan alone moves the chain.
	ErrBadExtra = errors.New("chain: extra batch of a reorg must carry only puts and deletes")
)

// Reorg is a plan to replace the blocks above Fork with Attach. It is made
// by PlanReorg without writing anything and carried out, whole or not at
// all, by ApplyReorg, so that a caller can inspect what it would undo (and
// record it) before committing to it.
type Reorg struct {
	// Fork is the index of the last block both branches share.
	Fork uint64
	// OldTip is the tip the plan was made against; ApplyReorg refuses to
	// run once the tip is another.
	OldTip block.Block
	// Detach holds the blocks above Fork that leave the chain, oldest
	// first.
	Detach []block.Block
	// Attach holds the blocks that replace them, oldest first; they are
	// valid successors of block Fork. An empty Attach truncates the chain
	// to Fork.
	Attach []block.Block
}

// PlanReorg plans replacing the blocks above fork with attach. It reads the
// blocks to detach and checks that attach links onto block fork and onward.
// An invalid attach fails with an error wrapping the *block.RuleError of
// its first bad block: the branch's source is at fault, not this node.
// Choosing whether the branch is better is not the chain's business; the
// caller has decided that already.
func (c *Chain) PlanReorg(fork uint64, attach []block.Block) (*Reorg, error) {
	// One view of the chain: no write lands between reading the tip and
	// reading the blocks under it.
	c.mu.RLock()
	defer c.mu.RUnlock()
	tip := c.tip
	if fork > tip.Index {
		return nil, fmt.Errorf("%w: fork %d, tip %d", ErrForkAboveTip, fork, tip.Index)
	}
	base := tip
	if fork < tip.Index {
		var err error
		if base, err = c.st.Block(fork); err != nil {
			return nil, fmt.Errorf("chain: plan reorg: %w", err)
		}
	}
	prev := base
	for _, b := range attach {
		if err := block.CheckNext(prev, b); err != nil {
			return nil, fmt.Errorf("chain: plan reorg onto %d: %w", fork, err)
		}
		prev = b
	}
	detach, err := c.readAbove(fork)
	if err != nil {
		return nil, fmt.Errorf("chain: plan reorg: %w", err)
	}
	return &Reorg{Fork: fork, OldTip: tip, Detach: detach, Attach: attach}, nil
}

// ApplyReorg carries out r in one atomic, durable store batch: it detaches
// the blocks above r.Fork, appends r.Attach, and applies extra's Puts and
// Deletes in the same transaction (the caller's record of what was
// orphaned survives exactly when the reorg does). It fails with
// ErrStalePlan, writing nothing, when the tip is no longer r.OldTip.
// Subscribers see r.Detach disconnected, highest first, then r.Attach
// connected.
func (c *Chain) ApplyReorg(r *Reorg, extra store.Batch) error {
	if extra.Detach != 0 || len(extra.Blocks) != 0 {
		return ErrBadExtra
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tip != r.OldTip || r.Fork > c.tip.Index {
		return fmt.Errorf("%w: planned against %d (%.8s), tip is %d (%.8s)",
			ErrStalePlan, r.OldTip.Index, r.OldTip.CurrHash, c.tip.Index, c.tip.CurrHash)
	}
	b := store.Batch{
		Detach:  c.tip.Index - r.Fork,
		Blocks:  r.Attach,
		Deletes: extra.Deletes,
		Puts:    extra.Puts,
	}
	// The tip is unchanged, and a hash names its whole chain, so r.Detach
	// is what leaves, unless the caller edited the plan.
	var detached []block.Block
	if n := uint64(len(r.Detach)); n == b.Detach && (n == 0 || r.Detach[0].Index == r.Fork+1 && r.Detach[n-1] == c.tip) {
		detached = r.Detach
	}
	return c.write(b, detached)
}
