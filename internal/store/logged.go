package store

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/naivechain/naivechain/internal/block"
)

// LoggedOptions tunes OpenLogged. The zero value is ready to use.
type LoggedOptions struct {
	BoltOptions
	// SegmentBytes and SegmentBatches: once the segment being written
	// holds this many bytes or records, it is handed to a checkpoint and
	// the other segment is written. Defaults 256 KiB and 256.
	SegmentBytes   int64
	SegmentBatches int
	// QueueBatches bounds the queue of batches that WriteAsync has applied
	// and no writer has taken yet: WriteAsync waits while it holds this
	// many. Default 4096.
	QueueBatches int
	// FlushDelay is added to every flush of the log, after its fdatasync
	// returns: the store then behaves as on a disk whose flushes take that
	// much longer. For benchmarks of the layers above; 0 otherwise.
	FlushDelay time.Duration
	// OnFlush, when set, is called after each record of the log is
	// written and flushed, with the time the write and its fdatasync took
	// and the record's size in bytes (for metrics). It is called on the
	// writer's goroutine holding the store's write lock, so it must
	// return at once.
	OnFlush func(took time.Duration, bytes int)
}

// Logged is a durable Store: a Bolt file fronted by a write-ahead log, as
// etcd keeps its raft log in a WAL and its state in a bbolt backend that
// commits in the background.
//
// Logged is an AsyncWriter. WriteAsync applies a batch in memory, where
// every read sees it at once, and queues it for the log writer, a
// goroutine that appends what is queued to the log and fdatasyncs it: one
// flush, on a file that is overwritten in place, instead of a bolt commit
// (two flushes, and the pages of every tree it touches). The batches it
// takes from the queue are merged into one record, written and flushed
// once (group commit), except where a delete of a batch covers a put of an
// earlier one in the record, or the record would exceed 1 MiB: a new
// record starts there, written once the one before it is flushed, so that
// one record at most is ever unflushed. Once a record is flushed, the
// done of each of its batches is called, in order. Write is WriteAsync and
// a wait for its done; it writes what is queued itself, with its own batch
// merged in, rather than wait for the log writer to wake.
//
// Batches are served from memory until a checkpoint has copied them into
// the bolt file, in one transaction for many records, which runs beside
// the writers.
//
// The log is two segment files, path-wal0 and path-wal1, each created by
// its first write (opening a store writes nothing). Records go to one
// from its start; once it is full, a checkpoint copies its batches into
// the bolt file and records the last record's seq there, in the same
// transaction, while records go to the other. A segment is reused once its
// checkpoint has committed. On open, records with a seq above the bolt
// file's are replayed into it.
//
// A batch that detaches blocks, or whose record would exceed 1 MiB, is
// written to the bolt file directly, after every batch applied before it
// (those still queued included), in one transaction, before WriteAsync
// returns: a reorg is atomic with whatever it carries, as with Bolt. Scan
// and Close write what is pending and queued to the bolt file the same
// way; a queued batch goes either to the log or to the bolt file, never
// both.
//
// A failed log write, checkpoint or bolt commit leaves the store refusing
// every later write. The batches applied and not yet in the log are removed from
// memory again (as a Detach would: a running Blocks iteration over them
// ends with ErrReorged), and their dones get the error. What reached the
// disk is recovered by the next open.
type Logged struct {
	bolt *Bolt
	log  *slog.Logger
	opts LoggedOptions

	// wmu is held by whoever writes to the log or the bolt file (the log
	// writer, Write, a flush) and by the start and end of checkpoints.
	// Whoever holds it and writes takes the queue: a batch is taken once.
	// The fields below it are guarded by it. Lock order: wmu, qmu, mu.
	wmu    sync.Mutex
	seq    uint64 // the last record written
	segs   [2]*segment
	cur    int        // the segment being written
	ckpt   chan error // the running checkpoint's result; nil when none
	marked bool       // the bolt file is marked storeMagicLogged (done before the first log record is written)
	files  bool       // the bolt file records that both segment files exist (done with marked)
	buf    []byte     // a record being encoded
	merge  []Batch    // the batches of a record being encoded
	wg     sync.WaitGroup

	// qmu guards the queue and the fields below it.
	qmu   sync.Mutex
	queue []queued // applied and not yet taken by a writer, oldest first
	spare []queued // an emptied queue, reused
	// undone counts the batches queued or taken whose done has not
	// returned yet.
	undone int
	work   sync.Cond // signalled when a batch is queued for the log writer, or on stop
	room   sync.Cond // broadcast when the queue is taken, or writes are refused
	stop   bool      // the log writer is to return
	// fail is set by a failed log write or checkpoint and sticks. It is
	// set holding wmu and qmu, and read holding either.
	fail   error
	writer chan struct{} // closed when the log writer has returned

	// mu guards the chain and the batches that are not yet in the bolt
	// file.
	mu      sync.RWMutex
	boltLen uint64        // blocks [0, boltLen) are read from the bolt file
	tail    []block.Block // blocks [boltLen, n): those of pending
	// pending holds the batches not yet in the bolt file, oldest first:
	// pending[:written] are in the log, the others are queued or being
	// written. None detaches.
	pending []Batch
	written int

	iters iterSet

	n      atomic.Uint64 // the chain length
	closed atomic.Bool
}

// queued is a batch applied by WriteAsync and waiting for a writer.
type queued struct {
	batch Batch // the store's copy
	size  int   // batchLen(batch)
	// empty: the batch has nothing to write; it is not in pending, and is
	// done when the batches before it are.
	empty bool
	done  func(error)
}

// Defaults of LoggedOptions.
const (
	defaultSegmentBytes   = 256 << 10
	defaultSegmentBatches = 256
	defaultQueueBatches   = 4096
	// hardSegmentFactor: a segment that outgrows its limits this many
	// times while the checkpoint of the other still runs makes the writer
	// wait for that checkpoint, which bounds the log and the memory.
	hardSegmentFactor = 4
)

// OpenLogged opens the store at path (the bolt file, created if it does
// not exist) and its write-ahead log next to it, and replays into the bolt
// file the log's records it does not hold yet. The bolt file is opened as
// by OpenBolt, with the same refusals and the same check of its tail. It
// starts the log writer, which Close stops.
func OpenLogged(path string, opts LoggedOptions) (*Logged, error) {
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = defaultSegmentBytes
	}
	if opts.SegmentBatches <= 0 {
		opts.SegmentBatches = defaultSegmentBatches
	}
	if opts.QueueBatches <= 0 {
		opts.QueueBatches = defaultQueueBatches
	}
	b, err := OpenBolt(path, opts.BoltOptions)
	if err != nil {
		return nil, err
	}
	l := &Logged{bolt: b, log: b.log, opts: opts, writer: make(chan struct{})}
	l.work.L, l.room.L = &l.qmu, &l.qmu
	if err := l.recover(path); err != nil {
		for _, s := range l.segs {
			if s != nil {
				s.close()
			}
		}
		b.Close()
		return nil, err
	}
	go l.run()
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
	if l.marked, l.files, err = l.bolt.logged(); err != nil {
		return fmt.Errorf("store: %s: %w", path, err)
	}
	var recs []walRecord
	for i, p := range WALPaths(path) {
		seg, data, err := openSegment(p)
		if err != nil {
			return fmt.Errorf("store: write-ahead log: %w", err)
		}
		l.segs[i] = seg
		// Both files exist once the store is marked (a build before
		// wal_files created the first with the first record after the
		// mark, the second later): a missing one may have held records
		// that the bolt file does not.
		if seg.f == nil && (l.files || l.marked && i == 0) {
			return &damage{kind: ErrMissingLog, msg: fmt.Sprintf("store: %s is missing: it may hold acknowledged writes "+
				"that %s does not; restore it from where it went (the store is refused rather than opened without them)",
				p, filepath.Base(path))}
		}
		r, err := readSegment(data, applied)
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

// WriteAsync implements AsyncWriter. The batch is applied in memory and
// queued for the log writer; WriteAsync waits only while the queue holds
// LoggedOptions.QueueBatches batches. A batch that detaches blocks, or
// whose record would exceed 1 MiB, is written to the bolt file instead,
// with every batch applied before it, and its done is called before
// WriteAsync returns. An empty batch is done once every batch before it
// is: at once when none is waiting.
func (l *Logged) WriteAsync(batch Batch, done func(error)) error {
	return l.write(batch, done, true)
}

// Write implements Store: WriteAsync, then a wait for done. The caller
// writes the queue to the log itself rather than wake the log writer, so
// that a Write with nothing queued before it costs one record, as a
// synchronous write would.
func (l *Logged) Write(batch Batch) error {
	ch := make(chan error, 1)
	if err := l.write(batch, func(err error) { ch <- err }, false); err != nil {
		return err
	}
	select {
	case err := <-ch:
		return err
	default:
	}
	l.wmu.Lock()
	l.drain()
	l.wmu.Unlock()
	return <-ch
}

// write is WriteAsync; wake tells whether to wake the log writer for a
// queued batch.
func (l *Logged) write(batch Batch, done func(error), wake bool) error {
	if done == nil {
		done = func(error) {}
	}
	empty := batch.Detach == 0 && len(batch.Blocks) == 0 && len(batch.Deletes) == 0 && len(batch.Puts) == 0
	size := 0
	if !empty && batch.Detach == 0 {
		size = batchLen(batch)
	}
	if batch.Detach > 0 || walSeqLen+size > walMaxBody {
		return l.writeDirect(batch, done)
	}
	var cp Batch
	if !empty {
		cp = cloneBatch(batch)
	}
	l.qmu.Lock()
	for len(l.queue) >= l.opts.QueueBatches && !l.closed.Load() && l.fail == nil {
		l.room.Wait()
	}
	if l.closed.Load() {
		l.qmu.Unlock()
		return ErrClosed
	}
	if err := l.fail; err != nil {
		l.qmu.Unlock()
		return err
	}
	if err := l.bolt.refuseIfDamaged(); err != nil {
		l.qmu.Unlock()
		return err
	}
	if empty {
		if l.undone == 0 {
			l.qmu.Unlock()
			done(nil)
			return nil
		}
	} else {
		l.mu.Lock()
		if err := checkBatch(cp, l.n.Load()); err != nil {
			l.mu.Unlock()
			l.qmu.Unlock()
			return err
		}
		l.pending = append(l.pending, cp)
		l.tail = append(l.tail, cp.Blocks...)
		l.n.Store(l.boltLen + uint64(len(l.tail)))
		l.mu.Unlock()
	}
	l.queue = append(l.queue, queued{batch: cp, size: size, empty: empty, done: done})
	l.undone++
	if wake {
		l.work.Signal()
	}
	l.qmu.Unlock()
	return nil
}

// writeDirect writes batch to the bolt file, after every batch applied
// before it, in one transaction, then calls done.
func (l *Logged) writeDirect(batch Batch, done func(error)) error {
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
	if err := l.flush(&batch); err != nil {
		return err
	}
	done(nil)
	return nil
}

// run is the log writer: it writes what is queued until Close stops it.
// What is queued then is Close's to write.
func (l *Logged) run() {
	defer close(l.writer)
	for {
		l.qmu.Lock()
		for len(l.queue) == 0 && !l.stop {
			l.work.Wait()
		}
		stop := l.stop
		l.qmu.Unlock()
		if stop {
			return
		}
		l.wmu.Lock()
		l.drain()
		l.wmu.Unlock()
	}
}

// take empties the queue and returns what it held. The caller holds qmu.
func (l *Logged) take() []queued {
	q := l.queue
	l.queue, l.spare = l.spare[:0], nil
	l.room.Broadcast()
	return q
}

// drain takes the queue and writes its batches to the log: as few
// records as mergeable allows, each written and flushed before the next
// one is written, each followed by the dones of its batches and a
// checkpoint if its segment is full. The caller holds wmu.
func (l *Logged) drain() {
	l.qmu.Lock()
	all := l.take()
	l.qmu.Unlock()
	if len(all) == 0 {
		return
	}
	l.reap(false)
	q := all
	for len(q) > 0 && l.fail == nil {
		j, size, blocks, batches := 0, 0, 0, 0
		l.merge = l.merge[:0]
		for ; j < len(q); j++ {
			it := &q[j]
			if it.empty {
				continue
			}
			if batches > 0 && (walSeqLen+size+it.size > walMaxBody || !mergeable(l.merge, it.batch)) {
				break
			}
			l.merge = append(l.merge, it.batch)
			size += it.size
			blocks += len(it.batch.Blocks)
			batches++
		}
		if batches > 0 {
			err := l.logRecord(blocks, batches)
			clear(l.merge)
			if err != nil {
				l.abort(q, err)
				return
			}
		}
		l.finish(q[:j], nil)
		q = q[j:]
		if batches > 0 {
			l.maybeCheckpoint()
		}
	}
	if len(q) > 0 {
		l.abort(q, l.fail)
		return
	}
	clear(all)
	l.qmu.Lock()
	l.spare = all[:0]
	l.qmu.Unlock()
}

// mergeable reports whether b can join a record that holds the merge of
// acc. The merge applies all blocks, then all deletes, then all puts: the
// result is that of applying acc and b one after the other unless a
// delete of b covers a put of acc, which the merge would apply after it.
func mergeable(acc []Batch, b Batch) bool {
	for _, d := range b.Deletes {
		for i := range acc {
			for _, p := range acc[i].Puts {
				if p.Bucket == d.Bucket && bytes.Compare(p.Key, d.From) >= 0 && (d.To == nil || bytes.Compare(p.Key, d.To) < 0) {
					return false
				}
			}
		}
	}
	return true
}

// logRecord writes the record of the batches in l.merge, which hold the
// given numbers of blocks and batches, and fdatasyncs it. The caller holds
// wmu.
func (l *Logged) logRecord(blocks, batches int) error {
	if !l.marked || !l.files {
		// Both segment files exist before the mark, so that a missing
		// one is found missing on open.
		for _, s := range l.segs {
			if s.f == nil {
				if err := s.create(); err != nil {
					return fmt.Errorf("store: write-ahead log: %w", err)
				}
			}
		}
		if err := l.bolt.markLogged(); err != nil {
			return fmt.Errorf("store: marking the store as logged: %w", err)
		}
		l.marked, l.files = true, true
	}
	l.buf = appendRecord(l.buf[:0], l.seq+1, l.merge...)
	start := time.Now()
	if err := l.segs[l.cur].append(l.buf, l.seq+1, blocks, batches); err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			err = fmt.Errorf("%w: %w", ErrDiskFull, err)
		}
		return fmt.Errorf("store: write-ahead log: %w", err)
	}
	if l.opts.FlushDelay > 0 {
		time.Sleep(l.opts.FlushDelay) // a slower disk's flush (benchmarks)
	}
	if l.opts.OnFlush != nil {
		l.opts.OnFlush(time.Since(start), len(l.buf))
	}
	l.seq++
	l.mu.Lock()
	l.written += batches
	l.mu.Unlock()
	return nil
}

// finish calls the dones of q, in order, with err. The caller holds wmu
// (or is WriteAsync, for an empty batch with none before it), so that
// dones are called one at a time, in the order of the batches.
func (l *Logged) finish(q []queued, err error) {
	if len(q) == 0 {
		return
	}
	for i := range q {
		q[i].done(err)
	}
	l.qmu.Lock()
	l.undone -= len(q)
	l.qmu.Unlock()
}

// abort makes the store refuse every later write, with err or the failure
// that stuck before it (ErrClosed does not stick), and returns that
// error. q, the batches taken and not written, and the queue are every
// batch applied and not in the log: they are removed from memory and
// their dones get the error. The caller holds wmu.
func (l *Logged) abort(q []queued, err error) error {
	l.qmu.Lock()
	if l.fail != nil {
		err = l.fail
	} else if !errors.Is(err, ErrClosed) {
		l.fail = err
	}
	rest := l.take()
	l.qmu.Unlock()
	l.mu.Lock()
	drop := l.pending[l.written:]
	blocks := 0
	for _, b := range drop {
		blocks += len(b.Blocks)
	}
	clear(drop)
	l.pending = l.pending[:l.written]
	l.tail = l.tail[:len(l.tail)-blocks]
	l.iters.detach(&l.n, l.boltLen+uint64(len(l.tail)))
	l.mu.Unlock()
	l.finish(q, err)
	l.finish(rest, err)
	return err
}

// setFail makes err the store's failure unless one stuck already. The
// caller holds wmu.
func (l *Logged) setFail(err error) {
	l.qmu.Lock()
	if l.fail == nil {
		l.fail = err
	}
	l.room.Broadcast()
	l.qmu.Unlock()
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
// full and the previous checkpoint is done, and moves records to the other
// segment. The caller holds wmu.
func (l *Logged) maybeCheckpoint() {
	seg := l.segs[l.cur]
	full := func(f int) bool {
		return seg.off >= int64(f)*l.opts.SegmentBytes || seg.records >= f*l.opts.SegmentBatches
	}
	if !full(1) {
		return
	}
	if !l.reap(full(hardSegmentFactor)) || l.fail != nil {
		return
	}
	// No checkpoint runs: the first pending batches are this segment's,
	// and the ones after them are not written yet.
	l.mu.RLock()
	batches := l.pending[:seg.batches:seg.batches]
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
		// Cleared, then cut off: the cost is that of the batches copied,
		// not of the (maybe many) queued behind them, and their memory is
		// released now.
		l.mu.Lock()
		clear(l.pending[:len(batches)])
		l.pending = l.pending[len(batches):]
		clear(l.tail[:blocks])
		l.tail = l.tail[blocks:]
		l.boltLen += uint64(blocks)
		l.written -= len(batches)
		l.mu.Unlock()
	}
	done <- err
}

// reap collects the result of a checkpoint that is done, or, with wait,
// of the running one. It reports whether no checkpoint runs now. The
// caller holds wmu.
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
	if err != nil {
		l.setFail(fmt.Errorf("store: checkpoint of the write-ahead log: %w", err))
	}
	return true
}

// flush writes every pending batch (the queued ones too: it takes the
// queue), then extra if not nil, to the bolt file in one transaction,
// after the running checkpoint, empties the log, and calls the dones of
// the queued batches. The caller holds wmu.
func (l *Logged) flush(extra *Batch) error {
	l.reap(true)
	if l.fail != nil {
		return l.abort(nil, l.fail)
	}
	l.qmu.Lock()
	q := l.take()
	l.mu.Lock()
	l.qmu.Unlock()
	batches := l.pending
	if extra != nil {
		batches = append(slices.Clip(batches), *extra)
	}
	if len(batches) == 0 {
		l.mu.Unlock()
		l.finish(q, nil)
		return nil
	}
	if extra != nil && extra.Detach > 0 {
		l.iters.detach(&l.n, l.n.Load()-extra.Detach)
	}
	if err := l.bolt.writeMany(batches, l.seq); err != nil {
		l.mu.Unlock()
		return l.abort(q, err)
	}
	l.pending, l.tail, l.written = nil, nil, 0
	l.boltLen = l.bolt.Len()
	l.n.Store(l.boltLen)
	for _, s := range l.segs {
		s.reset()
	}
	l.mu.Unlock()
	l.finish(q, nil)
	return nil
}

// Damage implements Damaged: what the bolt file's reads found. A
// damaged store refuses writes, those to the log too.
func (l *Logged) Damage() error { return l.bolt.Damage() }

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

// Scan implements Store. It first writes the pending batches, the queued
// ones included (calling their dones), to the bolt file, then scans it as
// Bolt does. Scans are rare (a start, a merge).
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

// Close implements Store. It refuses later writes, stops the log writer,
// waits for the running checkpoint and writes what is pending and queued
// to the bolt file (calling the queued batches' dones), so that a clean
// stop leaves nothing to replay.
func (l *Logged) Close() error {
	l.qmu.Lock()
	if l.closed.Swap(true) {
		l.qmu.Unlock()
		return nil
	}
	l.stop = true
	l.work.Signal()
	l.room.Broadcast()
	l.qmu.Unlock()
	<-l.writer
	l.wmu.Lock()
	defer l.wmu.Unlock()
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
