package store

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/naivechain/naivechain/internal/block"
)

// Logged is an AsyncWriter.
var _ AsyncWriter = (*Logged)(nil)

// waitDeadline bounds every wait of these tests for a done: a store that
// never calls one fails the test instead of hanging it.
const waitDeadline = 30 * time.Second

type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// doneLog records the calls of the dones it hands out.
type doneLog struct {
	mu    sync.Mutex
	calls []int   // the numbers of the batches, in the order of the calls
	errs  []error // their errors
	tick  chan struct{}
}

func newDoneLog() *doneLog { return &doneLog{tick: make(chan struct{}, 1)} }

// fn returns the done of batch i.
func (d *doneLog) fn(i int) func(error) {
	return func(err error) {
		d.mu.Lock()
		d.calls = append(d.calls, i)
		d.errs = append(d.errs, err)
		d.mu.Unlock()
		select {
		case d.tick <- struct{}{}:
		default:
		}
	}
}

func (d *doneLog) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.calls)
}

// wait waits until n dones were called.
func (d *doneLog) wait(t fataler, n int) {
	t.Helper()
	deadline := time.After(waitDeadline)
	for d.count() < n {
		select {
		case <-d.tick:
		case <-deadline:
			t.Fatalf("%d dones called, waiting for %d", d.count(), n)
		}
	}
}

// check verifies that the dones of batches 0 to n-1 were each called
// once, in order, with nil.
func (d *doneLog) check(t fataler, n int) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.calls) != n {
		t.Fatalf("%d dones called, want %d: %v", len(d.calls), n, d.calls)
	}
	for i, c := range d.calls {
		if c != i || d.errs[i] != nil {
			t.Fatalf("done %d: batch %d, error %v (calls %v)", i, c, d.errs[i], d.calls)
		}
	}
}

// queueWhileBusy hands batches to WriteAsync while holding the log's
// lock, as a flush would, so that none is written before all are queued;
// the done of batches[i] is d.fn(i).
func queueWhileBusy(t *testing.T, l *Logged, d *doneLog, batches ...Batch) {
	t.Helper()
	l.wmu.Lock()
	defer l.wmu.Unlock()
	for i, b := range batches {
		if err := l.WriteAsync(b, d.fn(i)); err != nil {
			t.Fatal(err)
		}
	}
}

// records returns the number of log records written so far.
func records(l *Logged) uint64 {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	return l.seq
}

func put(bucket, key, value string) Put {
	p := Put{Bucket: bucket, Key: []byte(key)}
	if value != "" {
		p.Value = []byte(value)
	}
	return p
}

// stateOf describes what a store holds: its blocks and the model keys of
// the model buckets (and of bucket s).
func stateOf(t fataler, s Store) string {
	t.Helper()
	var b strings.Builder
	for blk, err := range s.Blocks(0) {
		if err != nil {
			t.Fatalf("Blocks: %v", err)
		}
		fmt.Fprintf(&b, "%d:%s ", blk.Index, blk.Data)
	}
	for _, bk := range append([]string{"s"}, modelBuckets...) {
		for _, k := range append([]string{"k", "j", "i"}, modelKeys...) {
			v, err := s.Get(bk, []byte(k))
			switch {
			case errors.Is(err, ErrNotFound):
			case err != nil:
				t.Fatalf("Get(%s, %q): %v", bk, k, err)
			default:
				fmt.Fprintf(&b, "%s/%q=%q ", bk, k, v)
			}
		}
	}
	return b.String()
}

// modelOf returns the state of a Memory store after batches.
func modelOf(t fataler, batches []Batch) string {
	t.Helper()
	m := NewMemory()
	for i, b := range batches {
		if err := m.Write(b); err != nil {
			t.Fatalf("model batch %d: %v", i, err)
		}
	}
	return stateOf(t, m)
}

// TestLoggedWriteAsyncVisibleAtOnceAndMerged: a batch is read before its
// done is called, and the batches queued while the log is busy go into
// one record, after which their dones are called once each, in order.
func TestLoggedWriteAsyncVisibleAtOnceAndMerged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chain.db")
	l := mustOpenLogged(t, path, LoggedOptions{})
	c := chain(11)
	if err := l.Append(c[0]); err != nil {
		t.Fatal(err)
	}
	before := records(l)
	d := newDoneLog()
	var batches []Batch
	l.wmu.Lock() // the log is busy: nothing queued is written
	for i := 1; i <= 10; i++ {
		b := Batch{Blocks: c[i : i+1], Puts: []Put{put("s", "k", fmt.Sprint(i)), put("s", fmt.Sprint("i", i), "x")}}
		batches = append(batches, b)
		if err := l.WriteAsync(b, d.fn(i-1)); err != nil {
			l.wmu.Unlock()
			t.Fatal(err)
		}
		if n := l.Len(); n != uint64(i+1) {
			l.wmu.Unlock()
			t.Fatalf("Len = %d after %d writes", n, i)
		}
		if blk, err := l.Block(uint64(i)); err != nil || blk != c[i] {
			l.wmu.Unlock()
			t.Fatalf("Block(%d) = %v, %v", i, blk, err)
		}
		if v, err := l.Get("s", []byte("k")); err != nil || string(v) != fmt.Sprint(i) {
			l.wmu.Unlock()
			t.Fatalf("Get = %q, %v after write %d", v, err, i)
		}
	}
	if n := d.count(); n != 0 {
		l.wmu.Unlock()
		t.Fatalf("%d dones called before anything was written", n)
	}
	l.wmu.Unlock()
	d.wait(t, 10)
	d.check(t, 10)
	if n := records(l) - before; n != 1 {
		t.Fatalf("10 queued batches took %d records, want 1", n)
	}
	l.wmu.Lock()
	seg := *l.segs[l.cur]
	l.wmu.Unlock()
	if seg.records != 2 || seg.batches != 11 || seg.blocks != 11 {
		t.Fatalf("segment: %d records, %d batches, %d blocks; want 2, 11, 11", seg.records, seg.batches, seg.blocks)
	}
	want := modelOf(t, append([]Batch{{Blocks: c[:1]}}, batches...))
	if got := stateOf(t, l); got != want {
		t.Fatalf("store:\n%s\nmodel:\n%s", got, want)
	}
	// The merged record replays as the batches did.
	r := mustOpenLogged(t, crashCopy(t, l, path), LoggedOptions{})
	if got := stateOf(t, r); got != want {
		t.Fatalf("crash copy:\n%s\nmodel:\n%s", got, want)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	d.check(t, 10) // and never again
}

// TestLoggedWriteAsyncEmptyBatch: an empty batch is done at once when no
// batch waits, and after the batches before it otherwise.
func TestLoggedWriteAsyncEmptyBatch(t *testing.T) {
	l := mustOpenLogged(t, filepath.Join(t.TempDir(), "chain.db"), LoggedOptions{})
	d := newDoneLog()
	if err := l.WriteAsync(Batch{}, d.fn(0)); err != nil {
		t.Fatal(err)
	}
	if n := d.count(); n != 1 {
		t.Fatalf("%d dones called after an empty batch with none before it", n)
	}
	before := records(l)
	l.wmu.Lock()
	err1 := l.WriteAsync(Batch{Blocks: chain(1)}, d.fn(1))
	err2 := l.WriteAsync(Batch{}, d.fn(2))
	n := d.count()
	l.wmu.Unlock()
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if n != 1 {
		t.Fatalf("the empty batch was done before the batch before it")
	}
	d.wait(t, 3)
	d.check(t, 3)
	if n := records(l) - before; n != 1 {
		t.Fatalf("%d records, want 1", n)
	}
	// An empty batch alone in the queue costs no record.
	l.wmu.Lock()
	l.qmu.Lock()
	l.undone++ // as if a batch before it were not done yet
	l.qmu.Unlock()
	err := l.WriteAsync(Batch{}, d.fn(3))
	l.qmu.Lock()
	l.undone--
	l.qmu.Unlock()
	l.wmu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	d.wait(t, 4)
	d.check(t, 4)
	if n := records(l) - before; n != 1 {
		t.Fatalf("%d records, want 1", n)
	}
}

// TestLoggedWriteAsyncDeleteNotMergedOverPut: a batch whose delete covers
// a put of a batch queued before it starts a new record (merged, the
// delete would apply before the put); the reopened store holds what the
// batches give one after the other.
func TestLoggedWriteAsyncDeleteNotMergedOverPut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chain.db")
	l := mustOpenLogged(t, path, LoggedOptions{})
	c := chain(5)
	batches := []Batch{
		{Blocks: c[:1]},
		{Blocks: c[1:2], Puts: []Put{put("s", "k", "1"), put("s", "j", "1")}},
		// Deletes k (and j): must not merge with the batch before.
		{Blocks: c[2:3], Deletes: []DeleteRange{{Bucket: "s", From: []byte("j")}}},
		// Puts after a delete: merge with it.
		{Blocks: c[3:4], Puts: []Put{put("s", "i", "3")}},
		// Deletes a range of another bucket, and one below every put: merge.
		{Blocks: c[4:5], Deletes: []DeleteRange{{Bucket: "t", From: []byte("a")}, {Bucket: "s", From: []byte("a"), To: []byte("i")}}, Puts: []Put{put("s", "k", "4")}},
	}
	if err := l.Write(batches[0]); err != nil {
		t.Fatal(err)
	}
	before := records(l)
	d := newDoneLog()
	queueWhileBusy(t, l, d, batches[1:]...)
	d.wait(t, 4)
	d.check(t, 4)
	if n := records(l) - before; n != 2 {
		t.Fatalf("%d records, want 2", n)
	}
	want := modelOf(t, batches)
	if !strings.Contains(want, `s/"k"="4"`) || strings.Contains(want, `s/"j"`) {
		t.Fatalf("model: %s", want)
	}
	if got := stateOf(t, l); got != want {
		t.Fatalf("store:\n%s\nmodel:\n%s", got, want)
	}
	r := mustOpenLogged(t, crashCopy(t, l, path), LoggedOptions{})
	if got := stateOf(t, r); got != want {
		t.Fatalf("crash copy:\n%s\nmodel:\n%s", got, want)
	}
}

// TestLoggedWriteAsyncLargeRecordsSplit: queued batches that would make a
// record over the limit take several records, each within it.
func TestLoggedWriteAsyncLargeRecordsSplit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chain.db")
	l := mustOpenLogged(t, path, LoggedOptions{})
	big := strings.Repeat("v", 400<<10)
	var batches []Batch
	for i := range 5 {
		batches = append(batches, Batch{Puts: []Put{put("s", fmt.Sprint("i", i), big), put("s", "k", fmt.Sprint(i))}})
	}
	before := records(l)
	d := newDoneLog()
	queueWhileBusy(t, l, d, batches...)
	d.wait(t, 5)
	d.check(t, 5)
	if n := records(l) - before; n != 3 {
		t.Fatalf("%d records, want 3 (two batches of 400 KiB each, then one)", n)
	}
	r := mustOpenLogged(t, crashCopy(t, l, path), LoggedOptions{})
	for i := range 5 {
		if v, err := r.Get("s", []byte(fmt.Sprint("i", i))); err != nil || string(v) != big {
			t.Fatalf("crash copy: value %d: %d bytes, %v", i, len(v), err)
		}
	}
	if got, want := stateOf(t, r), modelOf(t, batches); got != want {
		t.Fatalf("crash copy:\n%s\nmodel:\n%s", got, want)
	}
}

// TestLoggedWriteAsyncCrash: a writer queues batches back to back while
// checkpoints run; a copy of the files taken at any moment opens to
// exactly the batches whose done was called (with nil), in order, and a
// torn record after them (one being written) is dropped.
func TestLoggedWriteAsyncCrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chain.db")
	l := mustOpenLogged(t, path, LoggedOptions{SegmentBatches: 4})
	const writes = 600
	c := chain(writes + 1)
	if err := l.Append(c[0]); err != nil {
		t.Fatal(err)
	}
	d := newDoneLog()
	wrote := make(chan error, 1)
	go func() {
		for i := 1; i <= writes; i++ {
			b := Batch{Blocks: c[i : i+1], Puts: []Put{put("s", "k", fmt.Sprintf("%06d", i))}}
			if err := l.WriteAsync(b, d.fn(i-1)); err != nil {
				wrote <- err
				return
			}
		}
		wrote <- nil
	}()
	for copies := 0; copies < 8; copies++ {
		var durable, cur int
		var off int64
		var seq uint64
		var cp string
		func() {
			l.wmu.Lock()
			defer l.wmu.Unlock()
			durable, cur, off, seq = d.count(), l.cur, l.segs[l.cur].off, l.seq
			cp = crashCopyLocked(t, l, path)
		}()
		if copies%2 == 1 {
			// A record being written when the machine stopped: its
			// first sectors.
			rec := appendRecord(nil, seq+1, Batch{Puts: []Put{put("s", "k", strings.Repeat("torn", 400))}})
			tornWrite(t, WALPaths(cp)[cur], rec, off)
		}
		r, err := OpenLogged(cp, LoggedOptions{})
		if err != nil {
			t.Fatalf("copy %d: %v", copies, err)
		}
		if n := r.Len(); n != uint64(durable+1) {
			r.Close()
			t.Fatalf("copy %d: Len %d, %d batches were done", copies, n, durable)
		}
		if got := collectT(t, r); !slices.Equal(got, c[:durable+1]) {
			r.Close()
			t.Fatalf("copy %d: blocks differ", copies)
		}
		v, err := r.Get("s", []byte("k"))
		if durable > 0 && (err != nil || string(v) != fmt.Sprintf("%06d", durable)) {
			r.Close()
			t.Fatalf("copy %d: k = %q, %v; want batch %d's", copies, v, err, durable)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitDeadline):
		t.Fatal("the writer is stuck")
	}
	d.wait(t, writes)
	d.check(t, writes)
	if records(l) >= writes+1 {
		t.Logf("no batch was merged (%d records)", records(l))
	}
}

// TestLoggedWriteAsyncDetachTakesQueue: a batch that detaches, and a Scan,
// write the batches queued before them to the bolt file with what is
// pending, call their dones first, and leave nothing of them in the log:
// reopened, and from a crash copy, the store holds every batch once.
func TestLoggedWriteAsyncDetachTakesQueue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chain.db")
	l := mustOpenLogged(t, path, LoggedOptions{})
	c := chain(4)
	alt := extend(c[1], 3, "alt")
	var applied []Batch
	d := newDoneLog()
	n := 0
	async := func(b Batch, wake bool) {
		t.Helper()
		if err := l.write(b, d.fn(n), wake); err != nil {
			t.Fatal(err)
		}
		applied = append(applied, b)
		n++
	}
	// Write leaves the log writer asleep: it writes its batch itself.
	b := Batch{Blocks: c[:2], Puts: []Put{put("s", "k", "0")}}
	if err := l.Write(b); err != nil {
		t.Fatal(err)
	}
	d.fn(n)(nil)
	applied = append(applied, b)
	n++
	seq := records(l)
	// Queued, and the log writer is not woken: they wait for the next
	// writer, here the detach.
	async(Batch{Blocks: c[2:3], Puts: []Put{put("s", "k", "1")}}, false)
	async(Batch{Blocks: c[3:4], Puts: []Put{put("s", "j", "2")}}, false)
	async(Batch{Detach: 2, Blocks: alt, Deletes: []DeleteRange{{Bucket: "s", From: []byte("j"), To: []byte("k")}}}, true)
	d.check(t, 4) // the detach's done, after those of the batches before it
	if got := records(l); got != seq {
		t.Fatalf("the detach wrote %d log records", got-seq)
	}
	want := modelOf(t, applied)
	if got := stateOf(t, l); got != want {
		t.Fatalf("store:\n%s\nmodel:\n%s", got, want)
	}
	// A Scan likewise takes the queue.
	async(Batch{Blocks: extend(alt[2], 1, "x"), Puts: []Put{put("s", "i", "3")}}, false)
	var keys []string
	if err := l.Scan("s", nil, func(k, v []byte) error { keys = append(keys, string(k)+"="+string(v)); return nil }); err != nil {
		t.Fatal(err)
	}
	d.check(t, 5)
	if got := records(l); got != seq {
		t.Fatalf("the Scan wrote %d log records", got-seq)
	}
	if !slices.Equal(keys, []string{"i=3", "k=1"}) {
		t.Fatalf("Scan: %q", keys)
	}
	// Later batches go to the log, after the bolt file's seq.
	tip, _ := l.Block(l.Len() - 1)
	async(Batch{Blocks: extend(tip, 2, "y"), Puts: []Put{put("s", "k", "4")}}, true)
	d.wait(t, 6)
	d.check(t, 6)
	want = modelOf(t, applied)
	r := mustOpenLogged(t, crashCopy(t, l, path), LoggedOptions{})
	if got := stateOf(t, r); got != want {
		t.Fatalf("crash copy:\n%s\nmodel:\n%s", got, want)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpenLogged(t, path, LoggedOptions{})
	if got := stateOf(t, l); got != want {
		t.Fatalf("reopened:\n%s\nmodel:\n%s", got, want)
	}
}

// TestLoggedWriteAsyncFailure: a failed log write fails the dones of the
// batches it held and of every batch queued after them, in order, with its
// error; those batches are no longer read, and every later write is
// refused. What was durable survives.
func TestLoggedWriteAsyncFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chain.db")
	l := mustOpenLogged(t, path, LoggedOptions{})
	c := chain(5)
	if err := l.Write(Batch{Blocks: c[:2], Puts: []Put{put("s", "k", "durable")}}); err != nil {
		t.Fatal(err)
	}
	d := newDoneLog()
	l.wmu.Lock()
	l.segs[l.cur].f.Close() // every later write to it fails
	for i := range 3 {
		if err := l.WriteAsync(Batch{Blocks: c[2+i : 3+i], Puts: []Put{put("s", "k", fmt.Sprint(i))}}, d.fn(i)); err != nil {
			l.wmu.Unlock()
			t.Fatal(err)
		}
	}
	n := l.Len()
	l.wmu.Unlock()
	if n != 5 {
		t.Fatalf("Len = %d before the write", n)
	}
	d.wait(t, 3)
	d.mu.Lock()
	calls, errs := slices.Clone(d.calls), slices.Clone(d.errs)
	d.mu.Unlock()
	if !slices.Equal(calls, []int{0, 1, 2}) {
		t.Fatalf("dones called for %v", calls)
	}
	for i, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "write-ahead log") || err != errs[0] {
			t.Fatalf("done %d: %v, want the log's error", i, err)
		}
	}
	if n := l.Len(); n != 2 {
		t.Fatalf("Len = %d after the failed write", n)
	}
	if v, err := l.Get("s", []byte("k")); err != nil || string(v) != "durable" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	if err := l.WriteAsync(Batch{Blocks: c[2:3]}, d.fn(3)); err != errs[0] {
		t.Fatalf("WriteAsync after the failure: %v", err)
	}
	if err := l.Write(Batch{Puts: []Put{put("s", "k", "x")}}); err != errs[0] {
		t.Fatalf("Write after the failure: %v", err)
	}
	if err := l.WriteAsync(Batch{}, d.fn(3)); err != errs[0] {
		t.Fatalf("an empty WriteAsync after the failure: %v", err)
	}
	if n := d.count(); n != 3 {
		t.Fatalf("%d dones called; a refused batch's done was called", n)
	}
	l.Close()
	r := mustOpenLogged(t, path, LoggedOptions{})
	if got := collectT(t, r); !slices.Equal(got, c[:2]) {
		t.Fatalf("after reopen: %v", got)
	}
	if v, err := r.Get("s", []byte("k")); err != nil || string(v) != "durable" {
		t.Fatalf("after reopen: Get = %q, %v", v, err)
	}
}

// TestLoggedWriteAsyncCloseWithQueued: Close calls the dones of what is
// queued, with nil, writes it, stops the log writer (TestMain checks that
// no goroutine is left), and refuses later writes.
func TestLoggedWriteAsyncCloseWithQueued(t *testing.T) {
	for _, wake := range []bool{false, true} {
		t.Run(fmt.Sprint("wake=", wake), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "chain.db")
			l, err := OpenLogged(path, LoggedOptions{})
			if err != nil {
				t.Fatal(err)
			}
			c := chain(20)
			d := newDoneLog()
			l.wmu.Lock()
			for i := range c {
				if err := l.write(Batch{Blocks: c[i : i+1], Puts: []Put{put("s", "k", fmt.Sprint(i))}}, d.fn(i), wake); err != nil {
					l.wmu.Unlock()
					t.Fatal(err)
				}
			}
			l.wmu.Unlock()
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			d.check(t, len(c))
			if err := l.WriteAsync(Batch{Blocks: extend(c[19], 1, "x")}, d.fn(20)); !errors.Is(err, ErrClosed) {
				t.Fatalf("WriteAsync after Close: %v", err)
			}
			if err := l.Write(Batch{}); !errors.Is(err, ErrClosed) {
				t.Fatalf("Write after Close: %v", err)
			}
			r := mustOpenLogged(t, path, LoggedOptions{})
			if got := collectT(t, r); !slices.Equal(got, c) {
				t.Fatalf("after reopen: %d blocks", len(got))
			}
			if v, err := r.Get("s", []byte("k")); err != nil || string(v) != "19" {
				t.Fatalf("after reopen: Get = %q, %v", v, err)
			}
		})
	}
}

// TestLoggedWriteAsyncQueueBound: WriteAsync waits while the queue holds
// QueueBatches batches, until a writer takes them.
func TestLoggedWriteAsyncQueueBound(t *testing.T) {
	l := mustOpenLogged(t, filepath.Join(t.TempDir(), "chain.db"), LoggedOptions{QueueBatches: 4})
	c := chain(12)
	d := newDoneLog()
	longest := 0
	wrote := make(chan error, 1)
	l.wmu.Lock()
	go func() {
		for i := range c {
			if err := l.WriteAsync(Batch{Blocks: c[i : i+1]}, d.fn(i)); err != nil {
				wrote <- err
				return
			}
			l.qmu.Lock()
			longest = max(longest, len(l.queue))
			l.qmu.Unlock()
		}
		wrote <- nil
	}()
	// Wait until the queue is full: the writer then waits for room.
	deadline := time.Now().Add(waitDeadline)
	for {
		l.qmu.Lock()
		n := len(l.queue)
		l.qmu.Unlock()
		if n >= 4 {
			break
		}
		if time.Now().After(deadline) {
			l.wmu.Unlock()
			t.Fatalf("the queue holds %d batches", n)
		}
		runtime.Gosched()
	}
	l.wmu.Unlock()
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitDeadline):
		t.Fatal("the writer is stuck")
	}
	d.wait(t, len(c))
	d.check(t, len(c))
	if longest > 4 {
		t.Fatalf("the queue held %d batches, bound 4", longest)
	}
}

// TestLoggedAsyncMatchesMemory drives a Logged store through WriteAsync,
// Write, detaches, Scans, crash copies and reopens, with batches left
// queued for a while so that they merge, and the Memory model with the
// same batches: the store, its crash copies (which must hold exactly the
// batches whose done was called) and the reopened store must match it.
func TestLoggedAsyncMatchesMemory(t *testing.T) {
	dir := t.TempDir()
	runs := 0
	rapid.Check(t, func(rt *rapid.T) {
		runs++
		path := filepath.Join(dir, fmt.Sprintf("chain-%d.db", runs))
		opts := LoggedOptions{
			BoltOptions:    BoltOptions{Logger: slog.New(slog.DiscardHandler)},
			SegmentBatches: rapid.IntRange(1, 6).Draw(rt, "segment"),
		}
		ls, err := OpenLogged(path, opts)
		if err != nil {
			rt.Fatal(err)
		}
		defer func() { ls.Close() }()
		mem := NewMemory()
		d := newDoneLog()
		var applied []Batch
		apply := func(what string, b Batch, async, wake bool) {
			errMem := mem.Write(b)
			var errLog error
			switch {
			case !async:
				errLog = ls.Write(b)
				if errLog == nil {
					d.fn(len(applied))(nil) // Write returned: done
				}
			default:
				errLog = ls.write(b, d.fn(len(applied)), wake)
			}
			if fmt.Sprint(errMem) != fmt.Sprint(errLog) {
				rt.Fatalf("%s: Memory: %v, Logged: %v", what, errMem, errLog)
			}
			if errMem == nil {
				applied = append(applied, b)
			}
		}
		apply("genesis", Batch{Blocks: []block.Block{block.Genesis()}}, false, false)
		steps := rapid.IntRange(1, 20).Draw(rt, "steps")
		for step := range steps {
			what := fmt.Sprintf("step %d", step)
			switch rapid.IntRange(0, 19).Draw(rt, "event") {
			case 0: // a clean stop: every done is called
				if err := ls.Close(); err != nil {
					rt.Fatal(err)
				}
				d.check(rt, len(applied))
				if ls, err = OpenLogged(path, opts); err != nil {
					rt.Fatal(err)
				}
			case 1: // a crash: the copy holds exactly the batches done
				var durable int
				var cp string
				func() {
					ls.wmu.Lock()
					defer ls.wmu.Unlock()
					durable = d.count()
					cp = crashCopyLocked(t, ls, path)
				}()
				c, err := OpenLogged(cp, opts)
				if err != nil {
					rt.Fatalf("%s: opening a crash copy: %v", what, err)
				}
				got := stateOf(rt, c)
				if err := c.Close(); err != nil {
					rt.Fatal(err)
				}
				if want := modelOf(rt, applied[:durable]); got != want {
					rt.Fatalf("%s: crash copy with %d of %d batches done:\n%s\nmodel:\n%s", what, durable, len(applied), got, want)
				}
			case 3: // the log writes what is queued
				ls.wmu.Lock()
				ls.drain()
				ls.wmu.Unlock()
			}
			batch := drawBatch(rt, mem, step)
			switch rapid.IntRange(0, 4).Draw(rt, "how") {
			case 0:
				apply(what, batch, false, false)
			case 1:
				apply(what, batch, true, true)
			default: // queued, until the next writer
				apply(what, batch, true, false)
			}
			if got, want := stateOf(rt, ls), stateOf(rt, mem); got != want {
				rt.Fatalf("%s: store:\n%s\nmodel:\n%s", what, got, want)
			}
			if rapid.IntRange(0, 9).Draw(rt, "scan") == 0 {
				for _, bk := range modelBuckets {
					if a, b := scanOf(rt, mem, bk, ""), scanOf(rt, ls, bk, ""); !slices.Equal(a, b) {
						rt.Fatalf("%s: Scan(%s) differs:\nmodel %q\nstore %q", what, bk, a, b)
					}
				}
			}
		}
		if err := ls.Close(); err != nil {
			rt.Fatal(err)
		}
		d.check(rt, len(applied))
		if ls, err = OpenLogged(path, opts); err != nil {
			rt.Fatal(err)
		}
		if got, want := stateOf(rt, ls), stateOf(rt, mem); got != want {
			rt.Fatalf("reopened:\n%s\nmodel:\n%s", got, want)
		}
	})
}

// TestMergedRecordBound: the encoding of merged batches is never longer
// than the sum of their encodings, and decodes to their parts in order.
func TestMergedRecordBound(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		mem := NewMemory()
		if err := mem.Append(block.Genesis()); err != nil {
			rt.Fatal(err)
		}
		var bs []Batch
		sum := 0
		for i := range rapid.IntRange(1, 6).Draw(rt, "batches") {
			b := drawBatch(rt, mem, i)
			if b.Detach > 0 && len(bs) > 0 || mem.Write(b) != nil {
				continue // only the first batch of a merge may detach
			}
			bs = append(bs, b)
			sum += batchLen(b)
		}
		if len(bs) == 0 {
			return
		}
		enc := appendBatches(nil, bs)
		if len(enc) > sum {
			rt.Fatalf("merged: %d bytes, sum %d", len(enc), sum)
		}
		m, err := decodeBatch(enc)
		if err != nil {
			rt.Fatal(err)
		}
		var want Batch
		for i, b := range bs {
			if i == 0 {
				want.Detach = b.Detach
			}
			want.Blocks = append(want.Blocks, b.Blocks...)
			want.Deletes = append(want.Deletes, b.Deletes...)
			want.Puts = append(want.Puts, b.Puts...)
		}
		if fmt.Sprint(m) != fmt.Sprint(want) {
			rt.Fatalf("merged decodes to %v, want %v", m, want)
		}
	})
}
