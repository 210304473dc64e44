package store

import (
	"errors"
	"fmt"
	"iter"
	"sync"

	"naivechain/internal/block"
)

// Errors a caller must tell apart.
var (
	ErrNotFound = errors.New("store: block not found")
	ErrGap      = errors.New("store: block does not extend the tip")
	ErrClosed   = errors.New("store: closed")
)

// Store holds a sequence of blocks indexed from 0 with no gaps.
//
// Append is atomic: either every block of the call is stored or none is.
// Implementations are safe for concurrent use: one writer, many readers.
type Store interface {
	// Append adds blocks after the current tip. blocks[0].Index must equal Len().
	Append(blocks ...block.Block) error
	// Len returns the number of stored blocks (tip index + 1), 0 when empty.
	Len() uint64
	// Block returns the block at index, or ErrNotFound.
	Block(index uint64) (block.Block, error)
	// Blocks yields the blocks from index from up to the tip seen when the
	// iteration started, oldest first, without copying the chain.
	Blocks(from uint64) iter.Seq2[block.Block, error]
	// Close releases the store. Later calls fail with ErrClosed.
	Close() error
}

// Memory is a Store in memory.
type Memory struct {
	mu     sync.RWMutex
	blocks []block.Block
	closed bool
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory { return &Memory{} }

// Append implements Store.
func (m *Memory) Append(blocks ...block.Block) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	for i, b := range blocks {
		if b.Index != uint64(len(m.blocks)+i) {
			return fmt.Errorf("%w: index %d, want %d", ErrGap, b.Index, len(m.blocks)+i)
		}
	}
	m.blocks = append(m.blocks, blocks...)
	return nil
}

// Len implements Store.
func (m *Memory) Len() uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return uint64(len(m.blocks))
}

// Block implements Store.
func (m *Memory) Block(index uint64) (block.Block, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return block.Block{}, ErrClosed
	}
	if index >= uint64(len(m.blocks)) {
		return block.Block{}, fmt.Errorf("%w: %d", ErrNotFound, index)
	}
	return m.blocks[index], nil
}

// Blocks implements Store. The slice header is captured once: appended
// blocks never move in place, so the view stays consistent.
func (m *Memory) Blocks(from uint64) iter.Seq2[block.Block, error] {
	return func(yield func(block.Block, error) bool) {
		m.mu.RLock()
		view, closed := m.blocks, m.closed
		m.mu.RUnlock()
		if closed {
			yield(block.Block{}, ErrClosed)
			return
		}
		for i := from; i < uint64(len(view)); i++ {
			if !yield(view[i], nil) {
				return
			}
		}
	}
}

// Close implements Store.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}
