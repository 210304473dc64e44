package chain

import (
	"errors"
	"fmt"
	"iter"
	"sync"

	"naivechain/internal/block"
	"naivechain/internal/store"
)

// ErrWrongGenesis reports a store whose block 0 is not this network's genesis.
var ErrWrongGenesis = errors.New("chain: store holds a different genesis block")

// Chain is the validated chain of one node over a store. It is safe for
// concurrent use: one writer (the consensus engine), many readers.
type Chain struct {
	st store.Store

	mu  sync.RWMutex
	tip block.Block

	// healthMu guards the incremental health check: blocks up to checked
	// were re-read from the store and found valid.
	healthMu    sync.Mutex
	checked     block.Block
	checkedOnce bool
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
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.tip
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
	c.mu.Lock()
	defer c.mu.Unlock()
	blocks := make([]block.Block, len(data))
	prev := c.tip
	for i, d := range data {
		if len(d) > block.MaxDataLen {
			return nil, &block.RuleError{Index: prev.Index + 1, Err: block.ErrDataTooLong}
		}
		blocks[i] = block.Next(prev, d)
		prev = blocks[i]
	}
	if err := c.st.Append(blocks...); err != nil {
		return nil, fmt.Errorf("chain: append: %w", err)
	}
	c.tip = prev
	return blocks, nil
}

// Append validates blocks as successors of the tip and stores them
// atomically. Nothing is stored when any block is invalid.
func (c *Chain) Append(blocks ...block.Block) error {
	if len(blocks) == 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	prev := c.tip
	for _, b := range blocks {
		if err := block.CheckNext(prev, b); err != nil {
			return err
		}
		prev = b
	}
	if err := c.st.Append(blocks...); err != nil {
		return fmt.Errorf("chain: append: %w", err)
	}
	c.tip = prev
	return nil
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
