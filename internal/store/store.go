package store

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sync"

	"github.com/naivechain/naivechain/internal/block"
)

// Errors a caller must tell apart.
var (
	ErrNotFound      = errors.New("store: not found")
	ErrGap           = errors.New("store: block does not extend the tip")
	ErrClosed        = errors.New("store: closed")
	ErrBadBucket     = errors.New("store: invalid bucket name")
	ErrDetachGenesis = errors.New("store: cannot detach the genesis block")
	// ErrTooLarge reports a block field or a key over the limits below,
	// which every implementation shares so that a batch Memory accepts is
	// one the durable store can hold.
	ErrTooLarge = errors.New("store: too large")
	// ErrReorged is yielded by an iteration over Blocks when a Detach
	// removed blocks it had not yet yielded and the implementation holds no
	// snapshot (Bolt). The caller starts a new iteration.
	ErrReorged = errors.New("store: blocks detached during iteration")
)

// Limits on what a batch may carry. Data is bounded by block.MaxDataLen.
const (
	// MaxHashLen bounds the previous_hash and curr_hash of a stored block.
	MaxHashLen = 256
	// MaxKeyLen bounds a key in a bucket (bolt's own limit).
	MaxKeyLen = 32768
)

// Put sets Value under Key in Bucket. A nil Value deletes the key.
type Put struct {
	Bucket     string
	Key, Value []byte
}

// DeleteRange deletes the keys of Bucket in [From, To); a nil To means up
// to the last key.
type DeleteRange struct {
	Bucket   string
	From, To []byte
}

// Batch is one atomic, durable update of a store. Its parts are applied in
// this order: Detach, Blocks, Deletes, Puts.
type Batch struct {
	// Detach removes this many blocks from the tip first (a reorg).
	// Genesis is never detached.
	Detach uint64
	// Blocks are appended after the tip; Blocks[0].Index must equal the
	// length of the chain after Detach.
	Blocks []block.Block
	// Deletes and Puts update records owned by the layers above the store
	// (the consensus engine's log and state), in buckets they name.
	Deletes []DeleteRange
	Puts    []Put
}

// Store holds a sequence of blocks indexed from 0 with no gaps, and small
// records in named buckets, and updates both atomically.
//
// Write is atomic and durable: when it returns nil, every part of the batch
// survives a crash of the process or the machine; when it returns an error,
// the caller must assume nothing of the batch is durable (and must not
// acknowledge it to anyone). Implementations are safe for concurrent use:
// one writer, many readers.
type Store interface {
	// Write applies b atomically and durably.
	Write(b Batch) error
	// Append is Write(Batch{Blocks: blocks}).
	Append(blocks ...block.Block) error
	// Len returns the number of stored blocks (tip index + 1), 0 when empty.
	Len() uint64
	// Block returns the block at index, or ErrNotFound.
	Block(index uint64) (block.Block, error)
	// Blocks yields the blocks from index from up to the tip seen when the
	// iteration started, oldest first, without loading the chain whole.
	// Appends during the iteration are not seen; a Detach during the
	// iteration is either not seen (Memory) or ends it with an error
	// wrapping ErrReorged (Bolt).
	Blocks(from uint64) iter.Seq2[block.Block, error]
	// Get returns a copy of the value of key in bucket, or ErrNotFound.
	Get(bucket string, key []byte) ([]byte, error)
	// Scan calls fn with every key of bucket at or after from, in byte
	// order, until fn returns an error (which Scan returns). k and v are
	// valid only during the call.
	Scan(bucket string, from []byte, fn func(k, v []byte) error) error
	// Close releases the store. Later calls fail with ErrClosed.
	Close() error
}

// AsyncWriter is implemented by a store whose writes can be seen before
// they are durable (Logged), so that a writer need not wait for the disk's
// flush to go on.
//
// WriteAsync checks b as Write does and applies it so that every read sees
// it at once. It then calls done exactly once, from any goroutine, when the
// batch is durable (nil) or when it can no longer become durable (the
// error; the store then refuses every later write). When WriteAsync
// returns an error, nothing of b is applied and done is never called.
// Batches become durable in the order of the WriteAsync and Write calls
// that applied them: a crash keeps a prefix of them. done must neither
// block nor call the store. Writers are one at a time, as for Write.
type AsyncWriter interface {
	WriteAsync(b Batch, done func(error)) error
}

// WriteAsync writes b through st's WriteAsync when st is an AsyncWriter.
// Otherwise it writes b with Write and, when that succeeds, calls done(nil)
// before returning.
func WriteAsync(st Store, b Batch, done func(error)) error {
	if aw, ok := st.(AsyncWriter); ok {
		return aw.WriteAsync(b, done)
	}
	if err := st.Write(b); err != nil {
		return err
	}
	done(nil)
	return nil
}

// ValidBucket reports whether name can name a bucket: 1 to 64 bytes of
// [a-z0-9_-].
func ValidBucket(name string) error {
	if len(name) == 0 || len(name) > 64 {
		return fmt.Errorf("%w: %q", ErrBadBucket, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("%w: %q", ErrBadBucket, name)
		}
	}
	return nil
}

// checkBatch validates a batch against a chain of length n.
func checkBatch(b Batch, n uint64) error {
	if b.Detach > 0 && b.Detach >= n {
		return ErrDetachGenesis
	}
	base := n - b.Detach
	for i, blk := range b.Blocks {
		if blk.Index != base+uint64(i) {
			return fmt.Errorf("%w: index %d, want %d", ErrGap, blk.Index, base+uint64(i))
		}
		if len(blk.Data) > block.MaxDataLen || len(blk.PreviousHash) > MaxHashLen || len(blk.CurrHash) > MaxHashLen {
			return fmt.Errorf("%w: block %d: data %d bytes (limit %d), hashes %d and %d bytes (limit %d)",
				ErrTooLarge, blk.Index, len(blk.Data), block.MaxDataLen, len(blk.PreviousHash), len(blk.CurrHash), MaxHashLen)
		}
	}
	for _, d := range b.Deletes {
		if err := ValidBucket(d.Bucket); err != nil {
			return err
		}
	}
	for _, p := range b.Puts {
		if err := ValidBucket(p.Bucket); err != nil {
			return err
		}
		if len(p.Key) == 0 {
			return fmt.Errorf("store: empty key in bucket %s", p.Bucket)
		}
		if len(p.Key) > MaxKeyLen {
			return fmt.Errorf("%w: key of %d bytes in bucket %s, limit %d", ErrTooLarge, len(p.Key), p.Bucket, MaxKeyLen)
		}
	}
	return nil
}

// Memory is a Store in memory. Nothing survives the process.
type Memory struct {
	mu      sync.RWMutex
	blocks  []block.Block
	buckets map[string]*memBucket
	closed  bool
}

// memBucket keeps its keys sorted, so that range deletes and scans cost
// the keys they touch, not the whole bucket.
type memBucket struct {
	keys []string
	vals map[string][]byte
}

func (b *memBucket) put(k string, v []byte) {
	if _, ok := b.vals[k]; !ok {
		i, _ := slices.BinarySearch(b.keys, k)
		b.keys = slices.Insert(b.keys, i, k)
	}
	b.vals[k] = v
}

func (b *memBucket) del(from string, to *string) {
	lo, _ := slices.BinarySearch(b.keys, from)
	hi := len(b.keys)
	if to != nil {
		hi, _ = slices.BinarySearch(b.keys, *to)
	}
	if lo >= hi {
		return
	}
	for _, k := range b.keys[lo:hi] {
		delete(b.vals, k)
	}
	b.keys = slices.Delete(b.keys, lo, hi)
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory { return &Memory{buckets: make(map[string]*memBucket)} }

func (m *Memory) bucket(name string) *memBucket {
	bk := m.buckets[name]
	if bk == nil {
		bk = &memBucket{vals: make(map[string][]byte)}
		m.buckets[name] = bk
	}
	return bk
}

// Write implements Store.
func (m *Memory) Write(b Batch) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if err := checkBatch(b, uint64(len(m.blocks))); err != nil {
		return err
	}
	if b.Detach > 0 {
		// Copy so that iterators holding the old slice keep a consistent view.
		m.blocks = slices.Clone(m.blocks[:uint64(len(m.blocks))-b.Detach])
	}
	m.blocks = append(m.blocks, b.Blocks...)
	for _, d := range b.Deletes {
		var to *string
		if d.To != nil {
			t := string(d.To)
			to = &t
		}
		m.bucket(d.Bucket).del(string(d.From), to)
	}
	for _, p := range b.Puts {
		bk := m.bucket(p.Bucket)
		if p.Value == nil {
			k := string(p.Key)
			bk.del(k, &[]string{k + "\x00"}[0])
		} else {
			bk.put(string(p.Key), bytes.Clone(p.Value))
		}
	}
	return nil
}

// Append implements Store.
func (m *Memory) Append(blocks ...block.Block) error { return m.Write(Batch{Blocks: blocks}) }

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
		return block.Block{}, fmt.Errorf("%w: block %d", ErrNotFound, index)
	}
	return m.blocks[index], nil
}

// Blocks implements Store. The slice header is captured once: appended
// blocks never move in place and a detach copies, so the view stays
// consistent.
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

// Get implements Store.
func (m *Memory) Get(bucket string, key []byte) ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, ErrClosed
	}
	var v []byte
	ok := false
	if bk := m.buckets[bucket]; bk != nil {
		v, ok = bk.vals[string(key)]
	}
	if !ok {
		return nil, fmt.Errorf("%w: %s/%x", ErrNotFound, bucket, key)
	}
	return bytes.Clone(v), nil
}

// Scan implements Store.
func (m *Memory) Scan(bucket string, from []byte, fn func(k, v []byte) error) error {
	m.mu.RLock()
	if m.closed {
		m.mu.RUnlock()
		return ErrClosed
	}
	var keys []string
	var vals [][]byte
	if bk := m.buckets[bucket]; bk != nil {
		lo, _ := slices.BinarySearch(bk.keys, string(from))
		keys = slices.Clone(bk.keys[lo:])
		vals = make([][]byte, len(keys))
		for i, k := range keys {
			vals[i] = bk.vals[k]
		}
	}
	m.mu.RUnlock()
	for i, k := range keys {
		if err := fn([]byte(k), vals[i]); err != nil {
			return err
		}
	}
	return nil
}

// Close implements Store.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}
