package store

import (
	"errors"
	"fmt"
	"iter"
	"sync"
	"syscall"

	"github.com/naivechain/naivechain/internal/block"
)

// Errors of a failing disk. Bolt returns ErrDiskFull too; Faulty returns
// both on demand.
var (
	// ErrSyncFailed reports a write whose fsync failed. The batch may or may
	// not be on disk, and may be lost on a crash: the caller must treat it as
	// not durable.
	ErrSyncFailed = errors.New("store: fsync failed")
	// ErrDiskFull reports a write refused for lack of space; it wraps
	// syscall.ENOSPC. Nothing of the batch is applied.
	ErrDiskFull = fmt.Errorf("store: disk full: %w", syscall.ENOSPC)
)

// Faulty wraps a Store and makes its writes fail on demand, for tests of
// the layers above: a node must not acknowledge a write that is not on its
// disk.
// Reads always go to the wrapped store. It is safe for concurrent use.
type Faulty struct {
	s Store

	mu     sync.Mutex
	mode   faultMode
	err    error
	writes int
}

type faultMode int

const (
	faultNone faultMode = iota
	faultWrites
	faultSync
	faultFull
)

// NewFaulty returns a Faulty over s that passes everything through until
// told otherwise.
func NewFaulty(s Store) *Faulty { return &Faulty{s: s} }

// FailWrites makes every Write fail with err, applying nothing.
func (f *Faulty) FailWrites(err error) { f.set(faultWrites, err) }

// FailSync makes every Write apply its batch to the wrapped store and then
// return an error wrapping ErrSyncFailed: the worst case of a failed fsync,
// where the data is visible but was never promised to survive.
func (f *Faulty) FailSync() { f.set(faultSync, nil) }

// Fill makes every Write fail with an error wrapping ErrDiskFull (and so
// syscall.ENOSPC), applying nothing.
func (f *Faulty) Fill() { f.set(faultFull, nil) }

// Heal makes writes pass through again.
func (f *Faulty) Heal() { f.set(faultNone, nil) }

func (f *Faulty) set(m faultMode, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mode, f.err = m, err
}

// Writes returns how many writes (Write and Append calls) were made,
// failed ones included.
func (f *Faulty) Writes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writes
}

// Write implements Store, failing as told.
func (f *Faulty) Write(b Batch) error {
	f.mu.Lock()
	f.writes++
	n, mode, ferr := f.writes, f.mode, f.err
	f.mu.Unlock()
	switch mode {
	case faultWrites:
		return ferr
	case faultFull:
		return fmt.Errorf("faulty store: write %d: %w", n, ErrDiskFull)
	case faultSync:
		if err := f.s.Write(b); err != nil {
			return err
		}
		return fmt.Errorf("faulty store: write %d: %w", n, ErrSyncFailed)
	}
	return f.s.Write(b)
}

// Append implements Store.
func (f *Faulty) Append(blocks ...block.Block) error { return f.Write(Batch{Blocks: blocks}) }

// Len implements Store.
func (f *Faulty) Len() uint64 { return f.s.Len() }

// Block implements Store.
func (f *Faulty) Block(index uint64) (block.Block, error) { return f.s.Block(index) }

// Blocks implements Store.
func (f *Faulty) Blocks(from uint64) iter.Seq2[block.Block, error] { return f.s.Blocks(from) }

// Get implements Store.
func (f *Faulty) Get(bucket string, key []byte) ([]byte, error) { return f.s.Get(bucket, key) }

// Scan implements Store.
func (f *Faulty) Scan(bucket string, from []byte, fn func(k, v []byte) error) error {
	return f.s.Scan(bucket, from, fn)
}

// Close implements Store.
func (f *Faulty) Close() error { return f.s.Close() }

// Damage implements Damaged for the wrapped store.
func (f *Faulty) Damage() error { return Damage(f.s) }
