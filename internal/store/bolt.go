package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/naivechain/naivechain/internal/block"
)

// Errors of opening a Bolt store.
var (
	// ErrNotAStore reports a file that exists but is not a naivechain store.
	// OpenBolt leaves such a file untouched.
	ErrNotAStore = errors.New("not a naivechain store")
	// ErrLocked reports a store held open by another process (or by another
	// Bolt in this one).
	ErrLocked = errors.New("store is in use by another process")
)

// Values of meta/magic; the suffix is the layout version. A new file gets
// storeMagic. A store is marked storeMagicLogged before Logged writes its
// first log record, so that a build that does not read the log (which
// would miss the records not yet checkpointed) refuses the store rather
// than open it without them.
const (
	storeMagic       = "naivechain-store/1"
	storeMagicLogged = "naivechain-store/2"
)

// knownMagic reports whether this build reads a store with magic m.
func knownMagic(m []byte) bool {
	return string(m) == storeMagic || string(m) == storeMagicLogged
}

// Bucket names of the layout; the caller's buckets live under bucketKV.
var (
	bucketMeta   = []byte("meta")
	bucketBlocks = []byte("blocks")
	bucketKV     = []byte("kv")
	keyMagic     = []byte("magic")
	// keyWALSeq is the last write-ahead log record applied to the file
	// (8 bytes big-endian), absent when none ever was (Logged).
	keyWALSeq = []byte("wal_seq")
	// keyWALFiles is set, with storeMagicLogged, once both files of the
	// write-ahead log exist: from then on a missing one is lost records,
	// not a log never written.
	keyWALFiles = []byte("wal_files")
)

// Read chunks: an iteration holds a read transaction for at most this many
// blocks (or bytes), and never while it calls the caller's code.
const (
	chunkBlocks = 1024
	chunkBytes  = 8 << 20
)

// BoltOptions tunes OpenBolt. The zero value is ready to use.
type BoltOptions struct {
	// Logger receives the error of a store found damaged while open. Default slog.Default().
	Logger *slog.Logger
	// Timeout is how long to wait for another holder of the file lock to
	// let go before failing with ErrLocked. Default 1s.
	Timeout time.Duration
	// VerifyTail is how many blocks at the tip are decoded and checked on
	// open. Default 1024; negative disables the check.
	VerifyTail int
}

// appendFill is how full bolt packs the pages of the blocks bucket, whose
// keys only ever grow at the end: a split leaves the left page full
// instead of half empty, so a batch dirties (and writes and syncs) about
// half as many pages.
const appendFill = 0.95

// Bolt is a durable Store in one bbolt file. Every Write is one bolt
// transaction, fsynced before it returns.
//
// On open the last VerifyTail blocks are checked (decoding, genesis, links and
// hashes with block.CheckNext); a block that fails refuses the open and
// changes nothing. A bolt transaction is committed whole or not at all, so
// a bad block there is damage to acknowledged blocks, never a torn write:
// cutting the chain back would delete every acknowledged block above it.
// This check is the one place a store looks at the rules of the chain, so
// Bolt holds only chains that start at block.Genesis() and link.
type Bolt struct {
	db  *bolt.DB
	log *slog.Logger

	// wmu serialises writers so that n is updated in commit order.
	wmu sync.Mutex
	// n is the chain length. A Write that detaches lowers it before its
	// commit and sets it after, so a reader that loads n finds blocks
	// [0, n) in every transaction it begins afterwards.
	n      atomic.Uint64
	closed atomic.Bool

	iters iterSet

	// damage is the first corruption a read found (see Damage); once set,
	// commits are refused.
	damage atomic.Pointer[error]
}

// blocksIter is the state of one running Blocks iteration.
type blocksIter struct {
	tip    uint64
	broken atomic.Bool
}

// iterSet is the running Blocks iterations of a store, which a Detach
// marks as broken when it removes blocks they have yet to yield.
type iterSet struct {
	mu sync.Mutex
	m  map[*blocksIter]struct{}
}

// start registers an iteration up to n's value, read under the set's lock
// so that a concurrent detach either shows in it or marks it.
func (s *iterSet) start(n *atomic.Uint64) *blocksIter {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[*blocksIter]struct{})
	}
	it := &blocksIter{tip: n.Load()}
	s.m[it] = struct{}{}
	return it
}

// end unregisters it.
func (s *iterSet) end(it *blocksIter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, it)
}

// detach lowers n to base, before a commit that removes the blocks from
// base on, and breaks the iterations that have yet to yield them.
func (s *iterSet) detach(n *atomic.Uint64, base uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n.Store(base)
	for it := range s.m {
		if base < it.tip {
			it.broken.Store(true)
		}
	}
}

// count returns the number of running iterations.
func (s *iterSet) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// OpenBolt opens the store at path, creating it if the file does not exist.
// A file that is not a naivechain store is refused with ErrNotAStore, and
// an empty file, or one shorter than the pages its meta page says are in
// use, with ErrCorrupt; either is left as it was: it is first checked and
// opened read-only, and only reopened for writing once meta/magic has been
// found.
func OpenBolt(path string, opts BoltOptions) (*Bolt, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Timeout <= 0 {
		opts.Timeout = time.Second
	}
	if opts.VerifyTail == 0 {
		opts.VerifyTail = 1024
	}
	_, err := os.Stat(path)
	switch {
	case err == nil:
		if err := checkSize(path); err != nil {
			return nil, err
		}
		if err := checkOurs(path, opts.Timeout); err != nil {
			return nil, err
		}
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("store: %w", err)
	}
	var db *bolt.DB
	err = onDamagedPages(func() (err error) {
		db, err = bolt.Open(path, 0o600, &bolt.Options{
			Timeout:      opts.Timeout,
			FreelistType: bolt.FreelistMapType,
			// The free-page list is written with every commit. Without it,
			// open rebuilds the list by reading every page: slower start-up,
			// and the whole file mapped into memory at once.
			NoFreelistSync: false,
		})
		return err
	})
	if err != nil {
		return nil, openError(path, err)
	}
	b := &Bolt{db: db, log: opts.Logger}
	if err := b.init(path); err != nil {
		db.Close()
		return nil, err
	}
	if err := b.verifyTail(opts.VerifyTail); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	return b, nil
}

// openError wraps an error of bolt.Open.
func openError(path string, err error) error {
	if errors.Is(err, berrors.ErrTimeout) {
		return fmt.Errorf("store: %s: %w", path, ErrLocked)
	}
	return fmt.Errorf("store: %s: %w", path, err)
}

// checkOurs opens path read-only (a shared lock, no write) and reports
// whether it is a bolt file with our magic.
func checkOurs(path string, timeout time.Duration) error {
	var db *bolt.DB
	err := onDamagedPages(func() (err error) {
		db, err = bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: timeout})
		return err
	})
	switch {
	case errors.Is(err, ErrCorrupt):
		return fmt.Errorf("store: %s: %w; %s", path, err, damageAdvice)
	case errors.Is(err, berrors.ErrTimeout):
		return fmt.Errorf("store: %s: %w", path, ErrLocked)
	case err != nil:
		return fmt.Errorf("store: %s is %w: %v", path, ErrNotAStore, err)
	}
	defer db.Close()
	err = onDamagedPages(func() error { return db.View(checkLayout(path)) })
	if errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNotAStore) {
		return fmt.Errorf("store: %s: %w; %s", path, err, damageAdvice)
	}
	return err
}

// checkLayout returns the check of checkOurs in a read transaction.
func checkLayout(path string) func(tx *bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			return fmt.Errorf("store: %s is %w: a bolt file without bucket %s", path, ErrNotAStore, bucketMeta)
		}
		switch magic := meta.Get(keyMagic); {
		case magic == nil:
			return fmt.Errorf("store: %s is %w: no %s/%s", path, ErrNotAStore, bucketMeta, keyMagic)
		case !knownMagic(magic):
			return fmt.Errorf("store: %s is %w: format %q, this build reads %q and %q", path, ErrNotAStore, magic, storeMagic, storeMagicLogged)
		case tx.Bucket(bucketBlocks) == nil:
			return fmt.Errorf("store: %s is %w: no bucket %s", path, ErrNotAStore, bucketBlocks)
		}
		return nil
	}
}

// view is db.View with a damaged page's panic turned into an ErrCorrupt
// error (see onDamagedPages).
func (b *Bolt) view(fn func(*bolt.Tx) error) error {
	return onDamagedPages(func() error { return b.db.View(fn) })
}

// update is db.Update as view is db.View.
func (b *Bolt) update(fn func(*bolt.Tx) error) error {
	return onDamagedPages(func() error { return b.db.Update(fn) })
}

// Damage implements Damaged.
func (b *Bolt) Damage() error {
	if p := b.damage.Load(); p != nil {
		return *p
	}
	return nil
}

// noteDamage records err, if it is the first ErrCorrupt the store has
// met, as its damage, and logs it once for the operator. It returns err.
func (b *Bolt) noteDamage(err error) error {
	if !errors.Is(err, ErrCorrupt) {
		return err
	}
	if b.damage.CompareAndSwap(nil, &err) {
		b.log.Error(fmt.Sprintf("the store is damaged and refuses writes from now on: %v; stop the node, %s", err, damageAdvice), "path", b.db.Path())
	}
	return err
}

// refuseIfDamaged returns the error of a write to a damaged store.
func (b *Bolt) refuseIfDamaged() error {
	if err := b.Damage(); err != nil {
		return fmt.Errorf("store: refusing writes to a damaged store: %w", err)
	}
	return nil
}

// init creates the layout in a new file, or checks it in an existing one,
// and loads the chain length. Reopening a store writes nothing.
func (b *Bolt) init(path string) error {
	var fresh bool
	err := b.view(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			// Only a new file gets here: checkOurs refused any other.
			// Still, never lay our buckets over someone else's.
			if k, _ := tx.Cursor().First(); k != nil {
				return fmt.Errorf("store: %s is %w: a bolt file without bucket %s", path, ErrNotAStore, bucketMeta)
			}
			fresh = true
			return nil
		}
		if m := meta.Get(keyMagic); !knownMagic(m) {
			return fmt.Errorf("store: %s is %w: format %q, this build reads %q and %q", path, ErrNotAStore, m, storeMagic, storeMagicLogged)
		}
		blocks := tx.Bucket(bucketBlocks)
		if blocks == nil || tx.Bucket(bucketKV) == nil {
			return fmt.Errorf("store: %s: %w: missing bucket %s or %s", path, ErrCorrupt, bucketBlocks, bucketKV)
		}
		if k, _ := blocks.Cursor().Last(); k != nil {
			if len(k) != 8 {
				return fmt.Errorf("store: %s: %w: block key %x", path, ErrCorrupt, k)
			}
			b.n.Store(keyIndex(k) + 1)
		}
		return nil
	})
	if err != nil || !fresh {
		return err
	}
	return b.update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		if err := meta.Put(keyMagic, []byte(storeMagic)); err != nil {
			return err
		}
		if _, err := tx.CreateBucket(bucketBlocks); err != nil {
			return err
		}
		_, err = tx.CreateBucket(bucketKV)
		return err
	})
}

// keyIndex is the inverse of blockKey.
func keyIndex(k []byte) uint64 {
	var i uint64
	for _, c := range k {
		i = i<<8 | uint64(c)
	}
	return i
}

// verifyTail checks the last tail blocks and refuses the store, as it is,
// at the first bad one.
func (b *Bolt) verifyTail(tail int) error {
	n := b.n.Load()
	if tail < 0 || n == 0 {
		return nil
	}
	start := n - min(n, uint64(tail))
	bad, reason := n, error(nil)
	err := b.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketBlocks).Cursor()
		var prev block.Block
		first := start
		if start > 0 {
			first = start - 1 // the anchor the first checked block links to
		}
		i := first
		for k, v := c.Seek(blockKey(first)); i < n; k, v = c.Next() {
			if k == nil || len(k) != 8 || keyIndex(k) != i {
				bad, reason = i, fmt.Errorf("%w: block %d is missing", ErrCorrupt, i)
				return nil
			}
			blk, err := decodeBlock(i, v)
			if err == nil && i > first && i > 0 {
				// Block 0 is not judged here: whether it is this
				// network's genesis is the chain's question (chain.New
				// refuses a store of another network).
				err = block.CheckNext(prev, blk)
			}
			if err != nil {
				bad, reason = i, err
				return nil
			}
			prev = blk
			i++
		}
		return nil
	})
	if err != nil || reason == nil {
		return err
	}
	if !errors.Is(reason, ErrCorrupt) {
		reason = fmt.Errorf("%w: %w", ErrCorrupt, reason)
	}
	return fmt.Errorf("block %d of %d does not check (%w); the store is left as it is: %s", bad, n, reason, damageAdvice)
}

// Write implements Store. The batch is one bolt transaction, fsynced when it
// commits.
func (b *Bolt) Write(batch Batch) error {
	b.wmu.Lock()
	defer b.wmu.Unlock()
	return b.commit([]Batch{batch}, 0)
}

// writeMany is commit for a caller that does not hold wmu.
func (b *Bolt) writeMany(batches []Batch, walSeq uint64) error {
	b.wmu.Lock()
	defer b.wmu.Unlock()
	return b.commit(batches, walSeq)
}

// commit applies batches in order in one bolt transaction, fsynced when it
// commits. A walSeq above zero is recorded in the same transaction as the
// last write-ahead log record the batches include (Logged). The caller
// holds wmu.
func (b *Bolt) commit(batches []Batch, walSeq uint64) error {
	if b.closed.Load() {
		return ErrClosed
	}
	if err := b.refuseIfDamaged(); err != nil {
		return err
	}
	n := b.n.Load()
	type prepared struct {
		base    uint64
		encoded [][]byte
	}
	preps := make([]prepared, 0, len(batches))
	end, detach, empty := n, false, walSeq == 0
	for _, batch := range batches {
		if err := checkBatch(batch, end); err != nil {
			return err
		}
		if batch.Detach > 0 || len(batch.Blocks) > 0 || len(batch.Deletes) > 0 || len(batch.Puts) > 0 {
			empty = false
		}
		p := prepared{base: end - batch.Detach, encoded: make([][]byte, len(batch.Blocks))}
		for i, blk := range batch.Blocks {
			p.encoded[i] = encodeBlock(blk)
		}
		if batch.Detach > 0 {
			detach = true
		}
		end = p.base + uint64(len(batch.Blocks))
		preps = append(preps, p)
	}
	if empty {
		return nil // nothing to make durable: no transaction, no fsync
	}
	if detach {
		low := n
		for i, p := range preps {
			if batches[i].Detach > 0 {
				low = min(low, p.base)
			}
		}
		b.iters.detach(&b.n, low)
	}
	err := b.update(func(tx *bolt.Tx) error {
		blocks := tx.Bucket(bucketBlocks)
		blocks.FillPercent = appendFill
		kv := tx.Bucket(bucketKV)
		top := n
		for bi, batch := range batches {
			p := preps[bi]
			for i := p.base; i < top; i++ {
				if err := blocks.Delete(blockKey(i)); err != nil {
					return err
				}
			}
			for i, v := range p.encoded {
				if err := blocks.Put(blockKey(p.base+uint64(i)), v); err != nil {
					return err
				}
			}
			top = p.base + uint64(len(p.encoded))
			if err := applyRecords(kv, batch); err != nil {
				return err
			}
		}
		if walSeq > 0 {
			return tx.Bucket(bucketMeta).Put(keyWALSeq, binary.BigEndian.AppendUint64(nil, walSeq))
		}
		return nil
	})
	if err != nil {
		// A failed commit may still have reached the file (a write that
		// went through and an fsync that did not): read the length back
		// rather than trust either value.
		b.reloadLen(n)
		if errors.Is(err, berrors.ErrDatabaseNotOpen) {
			return ErrClosed
		}
		if errors.Is(err, syscall.ENOSPC) {
			return fmt.Errorf("store: write: %w: %w", ErrDiskFull, err)
		}
		return b.noteDamage(fmt.Errorf("store: write: %w", err))
	}
	b.n.Store(end)
	return nil
}

// applyRecords applies the Deletes and Puts of batch to the caller buckets.
func applyRecords(kv *bolt.Bucket, batch Batch) error {
	for _, d := range batch.Deletes {
		if err := deleteRange(kv.Bucket([]byte(d.Bucket)), d.From, d.To); err != nil {
			return err
		}
	}
	for _, p := range batch.Puts {
		if p.Value == nil {
			if bk := kv.Bucket([]byte(p.Bucket)); bk != nil {
				if err := bk.Delete(p.Key); err != nil {
					return err
				}
			}
			continue
		}
		bk, err := kv.CreateBucketIfNotExists([]byte(p.Bucket))
		if err != nil {
			return err
		}
		if err := bk.Put(p.Key, p.Value); err != nil {
			return err
		}
	}
	return nil
}

// logged reports whether the store is marked storeMagicLogged, and
// whether it records that both files of its log exist.
func (b *Bolt) logged() (marked, files bool, err error) {
	err = b.view(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		marked = string(meta.Get(keyMagic)) == storeMagicLogged
		files = meta.Get(keyWALFiles) != nil
		return nil
	})
	return marked, files, b.readError(err)
}

// markLogged sets meta/magic to storeMagicLogged and records that both
// files of the log exist, durably.
func (b *Bolt) markLogged() error {
	b.wmu.Lock()
	defer b.wmu.Unlock()
	if b.closed.Load() {
		return ErrClosed
	}
	return b.update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if err := meta.Put(keyMagic, []byte(storeMagicLogged)); err != nil {
			return err
		}
		return meta.Put(keyWALFiles, []byte{2})
	})
}

// walSeq returns the last write-ahead log record the file includes, 0 if
// none.
func (b *Bolt) walSeq() (uint64, error) {
	var seq uint64
	err := b.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketMeta).Get(keyWALSeq)
		switch {
		case v == nil:
		case len(v) != 8:
			return fmt.Errorf("%w: %s/%s of %d bytes", ErrCorrupt, bucketMeta, keyWALSeq, len(v))
		default:
			seq = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	return seq, b.readError(err)
}

// reloadLen sets n from the file after a failed write; fallback is used if
// even that fails.
func (b *Bolt) reloadLen(fallback uint64) {
	n := fallback
	_ = b.view(func(tx *bolt.Tx) error {
		n = 0
		if k, _ := tx.Bucket(bucketBlocks).Cursor().Last(); k != nil {
			n = keyIndex(k) + 1
		}
		return nil
	})
	b.n.Store(n)
}

// deleteRange deletes the keys of bk in [from, to); a nil to means the end.
func deleteRange(bk *bolt.Bucket, from, to []byte) error {
	if bk == nil {
		return nil
	}
	c := bk.Cursor()
	// Seek again after each delete: a bolt cursor skips a key when Next
	// follows Delete.
	for k, _ := c.Seek(from); k != nil && (to == nil || bytes.Compare(k, to) < 0); k, _ = c.Seek(from) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// Append implements Store.
func (b *Bolt) Append(blocks ...block.Block) error { return b.Write(Batch{Blocks: blocks}) }

// Len implements Store. It reads a cached value and needs no transaction.
func (b *Bolt) Len() uint64 { return b.n.Load() }

// Block implements Store.
func (b *Bolt) Block(index uint64) (block.Block, error) {
	if b.closed.Load() {
		return block.Block{}, ErrClosed
	}
	var blk block.Block
	err := b.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketBlocks).Get(blockKey(index))
		if v == nil {
			return fmt.Errorf("%w: block %d", ErrNotFound, index)
		}
		var err error
		if blk, err = decodeBlock(index, v); err != nil {
			return err
		}
		return checkStored(blk)
	})
	return blk, b.readError(err)
}

// readError maps the error of a read transaction, and records an
// ErrCorrupt one as the store's damage.
func (b *Bolt) readError(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return b.noteDamage(err)
}

// Blocks implements Store. It reads chunks of up to 1024 blocks, each in its
// own read transaction, and calls yield outside of any transaction, so that
// a slow consumer neither holds a transaction open nor keeps the chain in
// memory. Blocks appended meanwhile are not yielded; if a Detach removes
// blocks the iteration has yet to yield, it yields an error wrapping
// ErrReorged and stops.
func (b *Bolt) Blocks(from uint64) iter.Seq2[block.Block, error] {
	return func(yield func(block.Block, error) bool) {
		if b.closed.Load() {
			yield(block.Block{}, ErrClosed)
			return
		}
		it := b.iters.start(&b.n)
		defer b.iters.end(it)
		yieldChunks(yield, it, from, func(chunk []block.Block, next uint64) ([]block.Block, error) {
			return b.readChunk(chunk, next, it.tip)
		}, b.readError)
	}
}

// yieldChunks runs the iteration it from block from: read appends a chunk
// of blocks from next on, and yield gets them outside of read. A Detach
// marks an iteration before it commits, so a chunk that saw its effect
// sees the mark: the iteration then ends with ErrReorged. Every block
// after the first must link to the one before it: a block whose hash
// holds can still be a damaged copy of another (a bit flipped in a key).
func yieldChunks(yield func(block.Block, error) bool, it *blocksIter, from uint64,
	read func(chunk []block.Block, next uint64) ([]block.Block, error), readErr func(error) error) {
	chunk := make([]block.Block, 0, min(chunkBlocks, it.tip-min(from, it.tip)))
	var prev block.Block
	for next := from; next < it.tip; {
		var err error
		chunk, err = read(chunk[:0], next)
		if it.broken.Load() {
			yield(block.Block{}, fmt.Errorf("%w: from block %d", ErrReorged, next))
			return
		}
		if err == nil {
			for i, blk := range chunk {
				if next+uint64(i) > from {
					if err = checkLink(prev, blk); err != nil {
						break
					}
				}
				prev = blk
			}
		}
		if err != nil {
			yield(block.Block{}, readErr(err))
			return
		}
		for _, blk := range chunk {
			if !yield(blk, nil) {
				return
			}
		}
		next += uint64(len(chunk))
	}
}

// readChunk appends to chunk the blocks from next on, below tip, up to
// chunkBlocks blocks or chunkBytes bytes (at least one), read in one
// transaction.
func (b *Bolt) readChunk(chunk []block.Block, next, tip uint64) ([]block.Block, error) {
	err := b.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketBlocks).Cursor()
		size, first := 0, len(chunk)
		k, v := c.Seek(blockKey(next))
		for i := next; i < tip && len(chunk)-first < chunkBlocks && (size < chunkBytes || len(chunk) == first); i++ {
			if k == nil || keyIndex(k) != i {
				// Not a Detach: that would have marked the iteration broken.
				return fmt.Errorf("%w: block %d is missing", ErrCorrupt, i)
			}
			blk, err := decodeBlock(i, v)
			if err != nil {
				return err
			}
			if err := checkStored(blk); err != nil {
				return err
			}
			chunk = append(chunk, blk)
			size += len(v)
			k, v = c.Next()
		}
		return nil
	})
	return chunk, err
}

// Get implements Store.
func (b *Bolt) Get(bucket string, key []byte) ([]byte, error) {
	if b.closed.Load() {
		return nil, ErrClosed
	}
	var val []byte
	err := b.view(func(tx *bolt.Tx) error {
		if bk := tx.Bucket(bucketKV).Bucket([]byte(bucket)); bk != nil && len(key) > 0 {
			// A cursor tells an empty value from a missing key.
			if k, v := bk.Cursor().Seek(key); bytes.Equal(k, key) {
				val = append([]byte{}, v...)
				return nil
			}
		}
		return fmt.Errorf("%w: %s/%x", ErrNotFound, bucket, key)
	})
	return val, b.readError(err)
}

// Scan implements Store. It copies chunks of records out of a read
// transaction and calls fn outside of it, so fn may write to the store. It
// is not a snapshot: a write between two chunks shows in the later one.
func (b *Bolt) Scan(bucket string, from []byte, fn func(k, v []byte) error) error {
	if b.closed.Load() {
		return ErrClosed
	}
	type record struct{ k, v []byte }
	var chunk []record
	seek := bytes.Clone(from)
	for {
		chunk = chunk[:0]
		err := b.view(func(tx *bolt.Tx) error {
			bk := tx.Bucket(bucketKV).Bucket([]byte(bucket))
			if bk == nil {
				return nil
			}
			c := bk.Cursor()
			k, v := c.Seek(seek)
			for size := 0; k != nil && len(chunk) < chunkBlocks && size < chunkBytes; k, v = c.Next() {
				chunk = append(chunk, record{bytes.Clone(k), append([]byte{}, v...)})
				size += len(k) + len(v)
			}
			return nil
		})
		if err != nil {
			return b.readError(err)
		}
		if len(chunk) == 0 {
			return nil
		}
		for _, r := range chunk {
			if err := fn(r.k, r.v); err != nil {
				return err
			}
		}
		seek = append(chunk[len(chunk)-1].k, 0) // the least key after the last one
	}
}

// Close implements Store. It waits for running read transactions; a Blocks
// iteration that outlives it yields ErrClosed at its next chunk.
func (b *Bolt) Close() error {
	b.wmu.Lock()
	defer b.wmu.Unlock()
	if b.closed.Swap(true) {
		return nil
	}
	return b.db.Close()
}
