package chain

import (
	"errors"
	"fmt"
	"iter"
	"sync"
	"sync/atomic"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/store"
)

// ErrWrongGenesis reports a store whose block 0 is not this network's genesis.
var ErrWrongGenesis = errors.New("chain: store holds a different genesis block")

// Chain is the validated chain of one node over a store. It is safe for
// concurrent use: one writer (the consensus engine), many readers.
type Chain struct {
	st store.Store

	mu  sync.RWMutex
	tip block.Block
	// retip is set when an asynchronous write failed: the store took back
	// what it had not made durable, and the tip is read from it again.
	retip atomic.Bool

	// healthMu guards the incremental health check: blocks up to checked
	// were re-read from the store and found valid.
	healthMu    sync.Mutex
	checked     block.Block
	checkedOnce bool

	// subMu guards the subscribers and their channels' closing. subs is
	// copied on every change, so a writer may use the slice it took
	// after releasing subMu.
	subMu sync.Mutex
	subs  []*Subscription
}

// New opens a chain over st, writing the genesis block into an empty store.
func New(st store.Store) (*Chain, error) {
	if st.Len() == 0 {
		if err := st.Append(block.Genesis()); err != nil {
			return nil, fmt.Errorf("chain: write genesis: %w", err)
		}
	}
	g, err := st.Block(0)
	if err != nil {
		return nil, fmt.Errorf("chain: read genesis: %w", err)
	}
	if block.CheckGenesis(g) != nil {
		return nil, ErrWrongGenesis
	}
	tip, err := st.Block(st.Len() - 1)
	if err != nil {
		return nil, fmt.Errorf("chain: read tip: %w", err)
	}
	return &Chain{st: st, tip: tip}, nil
}

// Tip returns the last block.
func (c *Chain) Tip() block.Block {
	if c.retip.Load() {
		c.reloadTip()
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.tip
}

// reloadTip reads the tip from the store again, after a failed
// asynchronous write (see WriteAsync).
func (c *Chain) reloadTip() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.retip.Swap(false) {
		return
	}
	if n := c.st.Len(); n > 0 {
		if tip, err := c.st.Block(n - 1); err == nil {
			c.tip = tip
		}
	}
}

// Len returns the number of blocks, genesis included.
func (c *Chain) Len() uint64 { return c.Tip().Index + 1 }

// Block returns the block at index.
func (c *Chain) Block(index uint64) (block.Block, error) { return c.st.Block(index) }

// Blocks streams blocks from index from to the tip, oldest first.
func (c *Chain) Blocks(from uint64) iter.Seq2[block.Block, error] { return c.st.Blocks(from) }

// Extend builds one block per data string on top of the tip and stores them
// in a single atomic append. It returns the new blocks.
func (c *Chain) Extend(data ...string) ([]block.Block, error) {
	if len(data) == 0 {
		return nil, nil
	}
	blocks := make([]block.Block, len(data))
	prev := c.Tip()
	for i, d := range data {
		blocks[i] = block.Next(prev, d)
		prev = blocks[i]
	}
	if err := c.Write(store.Batch{Blocks: blocks}); err != nil {
		return nil, err
	}
	return blocks, nil
}

// Append validates blocks as successors of the tip and stores them
// atomically. Nothing is stored when any block is invalid.
func (c *Chain) Append(blocks ...block.Block) error {
	return c.Write(store.Batch{Blocks: blocks})
}

// Write validates the blocks of b as successors of the tip left after
// b.Detach, then writes the whole batch atomically and durably. Nothing is
// written when any block is invalid. After the write it publishes the
// detached blocks and the new ones to the subscribers.
func (c *Chain) Write(b store.Batch) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.write(b, nil)
}

// WriteAsync is Write through store.WriteAsync: the batch is checked and
// applied at once (the tip moves and subscribers hear of it before
// WriteAsync returns), and done reports later whether it became durable.
// When WriteAsync returns an error, nothing was applied and done is never
// called. When done gets an error, the store has taken back the writes it
// had not made durable, and the chain's tip follows it. done must neither
// block nor call the chain or its store.
func (c *Chain) WriteAsync(b store.Batch, done func(error)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writeWith(b, nil, func(b store.Batch) error {
		return store.WriteAsync(c.st, b, func(err error) {
			if err != nil {
				c.retip.Store(true)
			}
			done(err)
		})
	})
}

// write is Write with c.mu held. detached, when not nil, holds the blocks
// b.Detach removes, oldest first, known to the caller; otherwise they are
// read from the store, and only when someone listens for them.
func (c *Chain) write(b store.Batch, detached []block.Block) error {
	return c.writeWith(b, detached, c.st.Write)
}

// writeWith is write storing the batch with put.
func (c *Chain) writeWith(b store.Batch, detached []block.Block, put func(store.Batch) error) error {
	// No subscription begins while c.mu is held, so these are the
	// subscribers of the whole write.
	subs := c.subscribers()
	prev := c.tip
	if b.Detach > 0 {
		if b.Detach > c.tip.Index {
			return fmt.Errorf("chain: detach %d blocks: %w", b.Detach, store.ErrDetachGenesis)
		}
		var err error
		if prev, err = c.st.Block(c.tip.Index - b.Detach); err != nil {
			return fmt.Errorf("chain: detach: %w", err)
		}
		if detached == nil && len(subs) > 0 {
			if detached, err = c.readAbove(prev.Index); err != nil {
				return fmt.Errorf("chain: detach: %w", err)
			}
		}
	}
	for _, blk := range b.Blocks {
		if len(blk.Data) > block.MaxDataLen {
			return &block.RuleError{Index: blk.Index, Err: block.ErrDataTooLong}
		}
		if err := block.CheckNext(prev, blk); err != nil {
			return err
		}
		prev = blk
	}
	if err := put(b); err != nil {
		return fmt.Errorf("chain: write: %w", err)
	}
	if b.Detach > 0 {
		c.healthMu.Lock()
		if c.checkedOnce && c.checked.Index > c.tip.Index-b.Detach {
			c.checked, c.checkedOnce = block.Block{}, false
		}
		c.healthMu.Unlock()
	}
	c.tip = prev
	c.publish(subs, detached, b.Blocks)
	return nil
}

// readAbove returns the blocks above index up to the tip, oldest first.
// The caller holds c.mu, so no write moves the tip meanwhile.
func (c *Chain) readAbove(index uint64) ([]block.Block, error) {
	out := make([]block.Block, 0, c.tip.Index-index)
	for b, err := range c.st.Blocks(index + 1) {
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	if uint64(len(out)) != c.tip.Index-index || len(out) > 0 && out[len(out)-1] != c.tip {
		return nil, fmt.Errorf("read %d blocks above %d, want up to the tip at %d", len(out), index, c.tip.Index)
	}
	return out, nil
}

// Healthy re-reads the stored chain and reports whether it is valid. Blocks
// already checked are not read again, so repeated calls cost only the blocks
// added since the last one.
func (c *Chain) Healthy() bool {
	c.healthMu.Lock()
	defer c.healthMu.Unlock()
	from := uint64(0)
	prev := c.checked
	if c.checkedOnce {
		from = c.checked.Index + 1
	}
	for b, err := range c.st.Blocks(from) {
		if err != nil {
			return false
		}
		if b.Index == 0 {
			if block.CheckGenesis(b) != nil {
				return false
			}
		} else if block.CheckNext(prev, b) != nil {
			return false
		}
		prev = b
		c.checked, c.checkedOnce = b, true
	}
	return c.checkedOnce
}
