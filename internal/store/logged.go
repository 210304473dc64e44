package store

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"

	"naivechain/internal/block"
)

// LoggedOptions tunes OpenLogged. The zero value is ready to use.
type LoggedOptions struct {
	BoltOptions
	// SegmentBytes and SegmentBatches: once the segment being written
	// holds this many bytes or batches, it is handed to a checkpoint and
	// the other segment is written. Defaults 256 KiB and 256.
	SegmentBytes   int64
	SegmentBatches int
}

// Logged is a durable Store: a Bolt file fronted by a write-ahead log, as
// etcd keeps its raft log in a WAL and its state in a bbolt backend that
// commits in the background.
//
// A Write appends one record to the log and fdatasyncs it: one flush, on
// a file that is overwritten in place, instead of a bolt commit (two
// flushes, and the pages of every tree it touches). Its blocks and
// records are then served from memory until a checkpoint has copied them
// into the bolt file, in one transaction for many writes, which runs
// beside the writers.
//
// The log is two segment files, path-wal0 and path-wal1, each created by
// its first write (opening a store writes nothing). Writes go to one
// from its start; once it is full, a checkpoint copies its batches into
// the bolt file and records the last one's seq there, in the same
// transaction, while writes go to the other. A segment is reused once its
// checkpoint has committed. On open, records with a seq above the bolt
// file's are replayed into it.
//
// A batch that detaches blocks, or whose record would exceed 1 MiB, is
// written to the bolt file directly, after every batch before it, in one
// transaction: a reorg is atomic with whatever it carries, as with Bolt.
//
// A failed log write or checkpoint leaves the store refusing every later
// Write: what reached the disk is recovered by the next open.
type Logged struct {
	bolt *Bolt
	log  *slog.Logger
	opts LoggedOptions

	// wmu serialises writers, the segments and the start and end of
	// checkpoints. The fields below it are guarded by it.
	wmu  sync.Mutex
	seq  uint64 // the last record written
	segs [2]*segment
	cur  int        // the segment being written
	ckpt chan error // the running checkpoint's result; nil when none
	fail error      // set by a failed log write or checkpoint: sticks
	// marked: the bolt file is marked storeMagicLogged (done before the
	// first log record is written).
	marked bool
	buf    []byte // a record being encoded
	wg     sync.WaitGroup

	// mu guards the chain and records that are in the log and not yet in
	// the bolt file.
	mu      sync.RWMutex
	boltLen uint64        // blocks [0, boltLen) are read from the bolt file
	tail    []block.Block // blocks [boltLen, n)
	pending []Batch       // batches not yet in the bolt file, oldest first

	iters iterSet

	n      atomic.Uint64 // the chain length
	closed atomic.Bool
}

// Defaults of LoggedOptions.
const (
	defaultSegmentBytes   = 256 << 10
	defaultSegmentBatches = 256
	// hardSegmentFactor: a segment that outgrows its limits this many
	// times while the checkpoint of the other still runs makes the writer
	// wait for that checkpoint, which bounds the log and the memory.
	hardSegmentFactor = 4
)

// OpenLogged opens the store at path (the bolt file, created if it does
// not exist) and its write-ahead log next to it, and replays into the bolt
// file the log's records it does not hold yet. The bolt file is opened as
// by OpenBolt, with the same refusals and the same check of its tail.
func OpenLogged(path string, opts LoggedOptions) (*Logged, error) {
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = defaultSegmentBytes
	}
	if opts.SegmentBatches <= 0 {
		opts.SegmentBatches = defaultSegmentBatches
	}
	b, err := OpenBolt(path, opts.BoltOptions)
	if err != nil {
		return nil, err
	}
	l := &Logged{bolt: b, log: b.log, opts: opts}
	if err := l.recover(path); err != nil {
		for _, s := range l.segs {
			if s != nil {
				s.close()
			}
		}
		b.Close()
		return nil, err
	}
	return l, nil
}

// WALPaths returns the files of the write-ahead log of the store at path.
func WALPaths(path string) [2]string {
	return [2]string{path + "-wal0", path + "-wal1"}
}

// recover opens the segments and replays the records the bolt file does
// not hold, in one transaction.
func (l *Logged) recover(path string) error {
	applied, err := l.bolt.walSeq()
	if err != nil {
		return fmt.Errorf("store: %s: %w", path, err)
	}
	if l.marked, err = l.bolt.logged(); err != nil {
		return fmt.Errorf("store: %s: %w", path, err)
	}
	var recs []walRecord
	for i, p := range WALPaths(path) {
		seg, data, err := openSegment(p)
		if err != nil {
			return fmt.Errorf("store: write-ahead log: %w", err)
		}
		l.segs[i] = seg
		r, err := readSegment(data)
		if err != nil {
			return fmt.Errorf("store: %s: %w", p, err)
		}
		for _, rec := range r {
			if rec.seq > applied {
				recs = append(recs, rec)
			}
		}
	}
	slices.SortFunc(recs, func(a, b walRecord) int { return cmp.Compare(a.seq, b.seq) })
	batches := make([]Batch, len(recs))
	for i, rec := range recs {
		if want := applied + 1 + uint64(i); rec.seq != want {
			return fmt.Errorf("store: %s: %w: write-ahead log record %d is missing", path, ErrCorrupt, want)
		}
		batches[i] = rec.batch
	}
	l.seq = applied
	if len(batches) > 0 {
		last := applied + uint64(len(batches))
		if err := l.bolt.writeMany(batches, last); err != nil {
			return fmt.Errorf("store: %s: replaying write-ahead log records %d to %d: %w", path, applied+1, last, err)
		}
		l.seq = last
		l.log.Info(fmt.Sprintf("replayed %d write-ahead log records into the store", len(batches)), "path", path)
	}
	l.boltLen = l.bolt.Len()
	l.n.Store(l.boltLen)
	return nil
}

// syncDir fsyncs a directory, so that the names of files created in it
// survive a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// RolledBack reports what OpenBolt reports of the bolt file.
func (l *Logged) RolledBack() (from, to uint64, ok bool) { return l.bolt.RolledBack() }

// Write implements Store: one log record, fdatasynced before it returns.
func (l *Logged) Write(batch Batch) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.closed.Load() {
		return ErrClosed
	}
	l.reap(false)
	if l.fail != nil {
		return l.fail
	}
	if err := checkBatch(batch, l.n.Load()); err != nil {
		return err
	}
	if batch.Detach == 0 && len(batch.Blocks) == 0 && len(batch.Deletes) == 0 && len(batch.Puts) == 0 {
		return nil
	}
	if batch.Detach == 0 {
		l.buf = appendRecord(l.buf[:0], l.seq+1, batch)
		if len(l.buf)-walHeaderLen <= walMaxBody {
			return l.logBatch(batch)
		}
	}
	return l.flush(&batch)
}

// logBatch writes the record in l.buf and makes batch visible.
func (l *Logged) logBatch(batch Batch) error {
	if !l.marked {
		if err := l.bolt.markLogged(); err != nil {
			return fmt.Errorf("store: marking the store as logged: %w", err)
		}
		l.marked = true
	}
	if err := l.segs[l.cur].append(l.buf, l.seq+1, len(batch.Blocks)); err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			err = fmt.Errorf("%w: %w", ErrDiskFull, err)
		}
		l.fail = fmt.Errorf("store: write-ahead log: %w", err)
		return l.fail
	}
	l.seq++
	cp := cloneBatch(batch)
	l.mu.Lock()
	l.pending = append(l.pending, cp)
	l.tail = append(l.tail, cp.Blocks...)
	l.n.Store(l.boltLen + uint64(len(l.tail)))
	l.mu.Unlock()
	l.maybeCheckpoint()
	return nil
}

// cloneBatch copies the caller's byte slices, which the store keeps.
func cloneBatch(b Batch) Batch {
	c := Batch{Detach: b.Detach, Blocks: slices.Clone(b.Blocks)}
	if len(b.Deletes) > 0 {
		c.Deletes = make([]DeleteRange, len(b.Deletes))
		for i, d := range b.Deletes {
			c.Deletes[i] = DeleteRange{Bucket: d.Bucket, From: bytes.Clone(d.From), To: bytes.Clone(d.To)}
		}
	}
	if len(b.Puts) > 0 {
		c.Puts = make([]Put, len(b.Puts))
		for i, p := range b.Puts {
			c.Puts[i] = Put{Bucket: p.Bucket, Key: bytes.Clone(p.Key), Value: bytes.Clone(p.Value)}
		}
	}
	return c
}

// maybeCheckpoint hands the current segment to a checkpoint once it is
// full and the previous checkpoint is done, and moves writes to the other
// segment.
func (l *Logged) maybeCheckpoint() {
	seg := l.segs[l.cur]
	full := func(f int) bool {
		return seg.off >= int64(f)*l.opts.SegmentBytes || seg.batches >= f*l.opts.SegmentBatches
	}
	if !full(1) {
		return
	}
	if !l.reap(full(hardSegmentFactor)) || l.fail != nil {
		return
	}
	// No checkpoint runs: every pending batch is in this segment.
	l.mu.RLock()
	batches := l.pending
	l.mu.RUnlock()
	done := make(chan error, 1)
	l.ckpt = done
	l.cur = 1 - l.cur
	l.segs[l.cur].reset() // its records are all in the bolt file
	l.wg.Add(1)
	go l.checkpoint(batches, seg.blocks, seg.last, done)
}

// checkpoint copies batches (the first of the pending ones, with blocks
// blocks, up to record seq) into the bolt file in one transaction and
// drops them from memory.
func (l *Logged) checkpoint(batches []Batch, blocks int, seq uint64, done chan<- error) {
	defer l.wg.Done()
	err := l.bolt.writeMany(batches, seq)
	if err == nil {
		l.mu.Lock()
		l.pending = slices.Clone(l.pending[len(batches):])
		l.tail = slices.Clone(l.tail[blocks:])
		l.boltLen += uint64(blocks)
		l.mu.Unlock()
	}
	done <- err
}

// reap collects the result of a checkpoint that is done, or, with wait,
// of the running one. It reports whether no checkpoint runs now.
func (l *Logged) reap(wait bool) bool {
	if l.ckpt == nil {
		return true
	}
	var err error
	if wait {
		err = <-l.ckpt
	} else {
		select {
		case err = <-l.ckpt:
		default:
			return false
		}
	}
	l.ckpt = nil
	if err != nil && l.fail == nil {
		l.fail = fmt.Errorf("store: checkpoint of the write-ahead log: %w", err)
	}
	return true
}

// flush writes every pending batch, then extra if not nil, to the bolt
// file in one transaction, after the running checkpoint, and empties the
// log. The caller holds wmu.
func (l *Logged) flush(extra *Batch) error {
	l.reap(true)
	if l.fail != nil {
		return l.fail
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	batches := l.pending
	if extra != nil {
		batches = append(slices.Clip(batches), *extra)
	}
	if len(batches) == 0 {
		return nil
	}
	if extra != nil && extra.Detach > 0 {
		l.iters.detach(&l.n, l.n.Load()-extra.Detach)
	}
	if err := l.bolt.writeMany(batches, l.seq); err != nil {
		l.n.Store(l.boltLen + uint64(len(l.tail)))
		if errors.Is(err, ErrClosed) {
			return err
		}
		l.fail = err
		return err
	}
	l.pending, l.tail = nil, nil
	l.boltLen = l.bolt.Len()
	l.n.Store(l.boltLen)
	for _, s := range l.segs {
		s.reset()
	}
	return nil
}

// Append implements Store.
func (l *Logged) Append(blocks ...block.Block) error { return l.Write(Batch{Blocks: blocks}) }

// Len implements Store.
func (l *Logged) Len() uint64 { return l.n.Load() }

// Block implements Store.
func (l *Logged) Block(index uint64) (block.Block, error) {
	if l.closed.Load() {
		return block.Block{}, ErrClosed
	}
	l.mu.RLock()
	if index >= l.boltLen {
		defer l.mu.RUnlock()
		if j := index - l.boltLen; j < uint64(len(l.tail)) {
			return l.tail[j], nil
		}
		return block.Block{}, fmt.Errorf("%w: block %d", ErrNotFound, index)
	}
	l.mu.RUnlock()
	return l.bolt.Block(index)
}

// Blocks implements Store, with Bolt's chunks and its answer to a Detach.
func (l *Logged) Blocks(from uint64) iter.Seq2[block.Block, error] {
	return func(yield func(block.Block, error) bool) {
		if l.closed.Load() {
			yield(block.Block{}, ErrClosed)
			return
		}
		it := l.iters.start(&l.n)
		defer l.iters.end(it)
		yieldChunks(yield, it, from, func(chunk []block.Block, next uint64) ([]block.Block, error) {
			l.mu.RLock()
			bl := l.boltLen
			if next < bl {
				l.mu.RUnlock()
				return l.bolt.readChunk(chunk, next, min(it.tip, bl))
			}
			defer l.mu.RUnlock()
			j := next - bl
			end := min(it.tip-bl, j+chunkBlocks, uint64(len(l.tail)))
			if j >= end {
				// Only a Detach shortens the tail, and it marked it.
				return chunk, fmt.Errorf("%w: block %d is missing", ErrCorrupt, next)
			}
			return append(chunk, l.tail[j:end]...), nil
		}, l.bolt.readError)
	}
}

// Get implements Store: the newest pending batch that sets or deletes the
// key answers, else the bolt file.
func (l *Logged) Get(bucket string, key []byte) ([]byte, error) {
	if l.closed.Load() {
		return nil, ErrClosed
	}
	l.mu.RLock()
	for i := len(l.pending) - 1; i >= 0; i-- {
		b := &l.pending[i]
		for j := len(b.Puts) - 1; j >= 0; j-- {
			if p := &b.Puts[j]; p.Bucket == bucket && bytes.Equal(p.Key, key) {
				v := p.Value
				l.mu.RUnlock()
				if v == nil {
					return nil, fmt.Errorf("%w: %s/%x", ErrNotFound, bucket, key)
				}
				return append([]byte{}, v...), nil
			}
		}
		for _, d := range b.Deletes {
			if d.Bucket == bucket && bytes.Compare(key, d.From) >= 0 && (d.To == nil || bytes.Compare(key, d.To) < 0) {
				l.mu.RUnlock()
				return nil, fmt.Errorf("%w: %s/%x", ErrNotFound, bucket, key)
			}
		}
	}
	l.mu.RUnlock()
	return l.bolt.Get(bucket, key)
}

// Scan implements Store. It first writes the pending batches to the bolt
// file, then scans it as Bolt does. Scans are rare (a start, a merge).
func (l *Logged) Scan(bucket string, from []byte, fn func(k, v []byte) error) error {
	if l.closed.Load() {
		return ErrClosed
	}
	l.wmu.Lock()
	err := l.flush(nil)
	l.wmu.Unlock()
	if err != nil {
		return err
	}
	return l.bolt.Scan(bucket, from, fn)
}

// Close implements Store. It waits for the running checkpoint and writes
// what is pending to the bolt file, so that a clean stop leaves nothing to
// replay.
func (l *Logged) Close() error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.closed.Swap(true) {
		return nil
	}
	var errs []error
	if err := l.flush(nil); err != nil {
		errs = append(errs, err)
	}
	l.reap(true)
	l.wg.Wait()
	for _, s := range l.segs {
		errs = append(errs, s.close())
	}
	errs = append(errs, l.bolt.Close())
	return errors.Join(errs...)
}
