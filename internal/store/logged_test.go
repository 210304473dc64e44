package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/naivechain/naivechain/internal/block"

	bolt "go.etcd.io/bbolt"
)

func mustOpenLogged(t testing.TB, path string, opts LoggedOptions) *Logged {
	t.Helper()
	l, err := OpenLogged(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// crashCopy copies the files of the store at path, as they are on disk
// now, to a new directory, as a kill -9 of the process would leave them,
// and returns the copy's path. It waits for a running checkpoint first, so
// that no file is read halfway through a write.
func crashCopy(t testing.TB, l *Logged, path string) string {
	t.Helper()
	l.wmu.Lock()
	defer l.wmu.Unlock()
	return crashCopyLocked(t, l, path)
}

// crashCopyLocked is crashCopy for a caller that holds l.wmu: no log
// record is being written, and every batch whose done was called is in
// the files.
func crashCopyLocked(t testing.TB, l *Logged, path string) string {
	t.Helper()
	l.reap(true)
	dst := filepath.Join(t.TempDir(), "chain.db")
	wal := WALPaths(path)
	for i, src := range append([]string{path}, wal[:]...) {
		data, err := os.ReadFile(src)
		if errors.Is(err, os.ErrNotExist) {
			continue // a segment not written yet
		}
		if err != nil {
			t.Fatal(err)
		}
		to := dst
		if i > 0 {
			to = WALPaths(dst)[i-1]
		}
		if err := os.WriteFile(to, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// getAll reads every model key of every model bucket with Get.
func getAll(rt *rapid.T, s Store) []string {
	var out []string
	for _, bk := range modelBuckets {
		for _, k := range modelKeys {
			v, err := s.Get(bk, []byte(k))
			switch {
			case errors.Is(err, ErrNotFound):
			case err != nil:
				rt.Fatalf("Get(%s, %q): %v", bk, k, err)
			default:
				out = append(out, fmt.Sprintf("%s/%q=%q", bk, k, v))
			}
		}
	}
	return out
}

// sameAsModel checks blocks, every key by Get, and (when scan) every
// bucket by Scan, which writes the pending batches to the bolt file.
func sameAsModel(rt *rapid.T, what string, mem *Memory, s Store, scan bool) {
	if mem.Len() != s.Len() {
		rt.Fatalf("%s: Len %d, model %d", what, s.Len(), mem.Len())
	}
	if a, b := blocksOf(rt, mem), blocksOf(rt, s); !slices.Equal(a, b) {
		rt.Fatalf("%s: blocks differ:\nmodel %v\nstore %v", what, a, b)
	}
	for i := range mem.Len() {
		want, _ := mem.Block(i)
		if got, err := s.Block(i); err != nil || got != want {
			rt.Fatalf("%s: Block(%d) = %v, %v; model %v", what, i, got, err, want)
		}
	}
	if a, b := getAll(rt, mem), getAll(rt, s); !slices.Equal(a, b) {
		rt.Fatalf("%s: Get differs:\nmodel %q\nstore %q", what, a, b)
	}
	if !scan {
		return
	}
	for _, bk := range modelBuckets {
		if a, b := scanOf(rt, mem, bk, ""), scanOf(rt, s, bk, ""); !slices.Equal(a, b) {
			rt.Fatalf("%s: Scan(%s) differs:\nmodel %q\nstore %q", what, bk, a, b)
		}
	}
}

// TestLoggedMatchesMemory drives a Logged store with small segments (so
// that checkpoints run all the time) and the Memory model with the same
// batches, and now and then copies the files as a crash would leave them:
// the copy must open to exactly the model, every acknowledged write in it.
func TestLoggedMatchesMemory(t *testing.T) {
	dir := t.TempDir()
	runs := 0
	rapid.Check(t, func(rt *rapid.T) {
		runs++
		path := filepath.Join(dir, fmt.Sprintf("chain-%d.db", runs))
		opts := LoggedOptions{SegmentBatches: rapid.IntRange(1, 6).Draw(rt, "segment")}
		ls, err := OpenLogged(path, opts)
		if err != nil {
			rt.Fatal(err)
		}
		defer func() { ls.Close() }()
		mem := NewMemory()
		for _, s := range []Store{mem, ls} {
			if err := s.Append(block.Genesis()); err != nil {
				rt.Fatal(err)
			}
		}
		steps := rapid.IntRange(1, 30).Draw(rt, "steps")
		for step := range steps {
			switch rapid.IntRange(0, 19).Draw(rt, "event") {
			case 0:
				if err := ls.Close(); err != nil {
					rt.Fatal(err)
				}
				if ls, err = OpenLogged(path, opts); err != nil {
					rt.Fatal(err)
				}
			case 1:
				cp := crashCopy(t, ls, path)
				c, err := OpenLogged(cp, opts)
				if err != nil {
					rt.Fatalf("step %d: opening a crash copy: %v", step, err)
				}
				sameAsModel(rt, fmt.Sprintf("step %d: crash copy", step), mem, c, true)
				if err := c.Close(); err != nil {
					rt.Fatal(err)
				}
			}
			batch := drawBatch(rt, mem, step)
			errMem, errLog := mem.Write(batch), ls.Write(batch)
			if fmt.Sprint(errMem) != fmt.Sprint(errLog) {
				rt.Fatalf("step %d: Memory: %v, Logged: %v", step, errMem, errLog)
			}
			sameAsModel(rt, fmt.Sprintf("step %d", step), mem, ls, rapid.IntRange(0, 9).Draw(rt, "scan") == 0)
		}
	})
}

// tornWrite writes to the segment file at path what a crash leaves of
// rec written at off: its bytes up to the last sector boundary inside it
// (a disk writes a 512-byte sector whole or not at all), and zeros in the
// sectors that follow, as the file held before.
func tornWrite(t testing.TB, path string, rec []byte, off int64) {
	t.Helper()
	cut := (off+int64(len(rec)))/walSector*walSector - off
	if cut <= walHeaderLen || cut >= int64(len(rec)) {
		t.Fatalf("a record of %d bytes at %d has no sector boundary inside it past its header", len(rec), off)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(append(rec[:cut:cut], make([]byte, int64(len(rec))-cut)...), off); err != nil {
		t.Fatal(err)
	}
}

// TestLoggedDropsTornTail: a last record that reached the disk only in
// part (its first sectors, or its header alone and zeros after it) was
// never acknowledged (its fdatasync did not return); the store opens
// without it and with everything before it.
func TestLoggedDropsTornTail(t *testing.T) {
	for _, damage := range []string{"sectors"} {
		t.Run(damage, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "chain.db")
			l := mustOpenLogged(t, path, LoggedOptions{})
			c := chain(11)
			if err := l.Append(c[:10]...); err != nil {
				t.Fatal(err)
			}
			off := l.segs[l.cur].off
			cp := crashCopy(t, l, path)
			seg := WALPaths(cp)[l.cur]
			// The record that was being written: blocks and a put that
			// span several sectors.
			rec := appendRecord(nil, l.seq+1, Batch{Blocks: c[10:], Puts: []Put{{Bucket: "s", Key: []byte("k"), Value: bytes.Repeat([]byte("v"), 2000)}}})
			switch damage {
			case "sectors":
				tornWrite(t, seg, rec, off)
			}
			r := mustOpenLogged(t, cp, LoggedOptions{})
			if n := r.Len(); n != 10 {
				t.Fatalf("Len = %d, want 10", n)
			}
			if _, err := r.Get("s", []byte("k")); !errors.Is(err, ErrNotFound) {
				t.Fatalf("the torn record's put is there: %v", err)
			}
			// The store goes on from there.
			if err := r.Append(c[10]); err != nil {
				t.Fatal(err)
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			r = mustOpenLogged(t, cp, LoggedOptions{})
			if got := collectT(t, r); !slices.Equal(got, c) {
				t.Fatalf("blocks after reopen: %v", got)
			}
		})
	}
}

// appendEach appends the blocks one record each and returns the offset of
// each record in the segment being written.
func appendEach(t *testing.T, l *Logged, blocks []block.Block) []int64 {
	t.Helper()
	var offs []int64
	for _, b := range blocks {
		offs = append(offs, l.segs[l.cur].off)
		if err := l.Append(b); err != nil {
			t.Fatal(err)
		}
	}
	return offs
}

// TestLoggedRefusesDamagedLog: damage to records that were written whole
// (and so may have been acknowledged) is refused with ErrCorrupt, never
// opened without the records it hides: a bit flipped in the first record
// of the segment being written, in a middle one, in the last one, in a
// record's length; a record zeroed; a record whose checksum matches and
// which follows a hole.
func TestLoggedRefusesDamagedLog(t *testing.T) {
	for _, damage := range []string{"first record", "middle record", "last record", "length", "zeroed record"} {
		t.Run(damage, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "chain.db")
			l := mustOpenLogged(t, path, LoggedOptions{})
			offs := appendEach(t, l, chain(6))
			end := l.segs[l.cur].off
			cp := crashCopy(t, l, path)
			seg := WALPaths(cp)[l.cur]
			data, err := os.ReadFile(seg)
			if err != nil {
				t.Fatal(err)
			}
			switch damage {
			case "first record":
				data[offs[0]+walHeaderLen+12] ^= 0x01
			case "middle record":
				data[offs[3]+walHeaderLen+12] ^= 0x10
			case "last record":
				data[end-1] ^= 0x04
			case "length":
				data[offs[2]+2] ^= 0x01
			case "zeroed record":
				clear(data[offs[2]:offs[3]])
			}
			if err := os.WriteFile(seg, data, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := OpenLogged(cp, LoggedOptions{}); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("OpenLogged = %v, want ErrCorrupt", err)
			} else {
				t.Log(err)
			}
		})
	}
}

func collectT(t *testing.T, s Store) []block.Block { return collect(t, s, 0) }

// TestLoggedRefusesDamagedRecord: a record whose checksum fails while the
// next record follows it was acknowledged and damaged since: the store is
// refused with ErrCorrupt, not opened without it and its followers.
func TestLoggedRefusesDamagedRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chain.db")
	l := mustOpenLogged(t, path, LoggedOptions{})
	c := chain(4)
	if err := l.Append(c[:2]...); err != nil {
		t.Fatal(err)
	}
	first := l.segs[l.cur].off
	if err := l.Append(c[2]); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(c[3]); err != nil {
		t.Fatal(err)
	}
	cp := crashCopy(t, l, path)
	seg := WALPaths(cp)[l.cur]
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	data[first+walHeaderLen+10] ^= 0x01 // inside the second record's body
	if err := os.WriteFile(seg, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenLogged(cp, LoggedOptions{}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "fails its checksum") {
		t.Fatalf("OpenLogged = %v, want ErrCorrupt naming the damaged record", err)
	}
}

// TestLoggedRefusesMissingRecord: a log whose records do not follow the
// bolt file's last one (a record lost) is refused, not replayed with a
// hole.
func TestLoggedRefusesMissingRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chain.db")
	l := mustOpenLogged(t, path, LoggedOptions{})
	c := chain(3)
	if err := l.Append(c[:2]...); err != nil {
		t.Fatal(err)
	}
	seq := l.seq
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// A segment as the store writes it: grown in whole steps.
	segmentOf := func(rec []byte) []byte { return append(rec, make([]byte, walGrow-len(rec))...) }
	rec := appendRecord(nil, seq+2, Batch{Blocks: c[2:]})
	if err := os.WriteFile(WALPaths(path)[1], segmentOf(rec), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenLogged(path, LoggedOptions{}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), fmt.Sprint("record ", seq+1, " is missing")) {
		t.Fatalf("OpenLogged = %v, want ErrCorrupt naming record %d", err, seq+1)
	}
	// The record that follows is replayed.
	rec = appendRecord(nil, seq+1, Batch{Blocks: c[2:]})
	if err := os.WriteFile(WALPaths(path)[1], segmentOf(rec), 0o600); err != nil {
		t.Fatal(err)
	}
	r := mustOpenLogged(t, path, LoggedOptions{})
	if got := collectT(t, r); !slices.Equal(got, c) {
		t.Fatalf("blocks = %v", got)
	}
}

// TestLoggedLargeBatchGoesToBolt: a batch over the record limit is
// committed to the bolt file directly, after the batches logged before it.
func TestLoggedLargeBatchGoesToBolt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chain.db")
	l := mustOpenLogged(t, path, LoggedOptions{})
	c := chain(2)
	big := block.Next(c[1], strings.Repeat("x", block.MaxDataLen))
	if err := l.Append(c...); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(big); err != nil {
		t.Fatal(err)
	}
	if l.segs[l.cur].batches != 0 || len(l.pending) != 0 {
		t.Fatalf("after the large batch: %d batches in the log, %d pending", l.segs[l.cur].batches, len(l.pending))
	}
	r := mustOpenLogged(t, crashCopy(t, l, path), LoggedOptions{})
	if got := collectT(t, r); !slices.Equal(got, append(c, big)) {
		t.Fatalf("crash copy holds %d blocks", len(got))
	}
}

// TestLoggedFailedLogWriteSticks: once a log write fails, the store
// refuses every write (what reached the disk is the next open's to
// recover), and the writes before it survive.
func TestLoggedFailedLogWriteSticks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chain.db")
	l := mustOpenLogged(t, path, LoggedOptions{})
	c := chain(3)
	if err := l.Append(c[:2]...); err != nil {
		t.Fatal(err)
	}
	l.segs[l.cur].f.Close() // every later write to it fails
	if err := l.Append(c[2]); err == nil {
		t.Fatal("a write to a closed log succeeded")
	}
	err := l.Write(Batch{Puts: []Put{{Bucket: "s", Key: []byte("k"), Value: []byte("v")}}})
	if err == nil || !strings.Contains(err.Error(), "write-ahead log") {
		t.Fatalf("the next write: %v, want the log's error", err)
	}
	if n := l.Len(); n != 2 {
		t.Fatalf("Len = %d after the failed write", n)
	}
	l.Close()
	r := mustOpenLogged(t, path, LoggedOptions{})
	if got := collectT(t, r); !slices.Equal(got, c[:2]) {
		t.Fatalf("after reopen: %v", got)
	}
}

func FuzzWALBatch(f *testing.F) {
	c := chain(3)
	seeds := []Batch{
		{},
		{Blocks: c},
		{Detach: 2, Blocks: c[1:2], Deletes: []DeleteRange{{Bucket: "log", From: []byte("a")}, {Bucket: "log", From: nil, To: []byte{}}}},
		{Puts: []Put{{Bucket: "s", Key: []byte("k"), Value: []byte{}}, {Bucket: "s", Key: []byte("d")}}},
	}
	for _, b := range seeds {
		f.Add(appendBatch(nil, b))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		b, err := decodeBatch(v)
		if err != nil {
			if !errors.Is(err, errWALRecord) {
				t.Fatalf("error %v does not wrap errWALRecord", err)
			}
			return
		}
		if again := appendBatch(nil, b); !bytes.Equal(again, v) {
			t.Fatalf("decoded batch encodes to %x, not %x", again, v)
		}
		if n := batchLen(b); n != len(v) {
			t.Fatalf("batchLen = %d, encoding has %d bytes", n, len(v))
		}
	})
}

func FuzzWALSegment(f *testing.F) {
	c := chain(3)
	var seg []byte
	seg = appendRecord(seg, 7, Batch{Blocks: c})
	seg = appendRecord(seg, 8, Batch{Puts: []Put{{Bucket: "s", Key: []byte("k"), Value: []byte("v")}}})
	f.Add(seg)
	f.Add(seg[:len(seg)-3])
	f.Add(append(seg, make([]byte, 64)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := readSegment(data, 0)
		if err != nil {
			if !errors.Is(err, errWALRecord) {
				t.Fatalf("error %v does not wrap errWALRecord", err)
			}
			return
		}
		// The records read are a run of seqs, and re-encoding them gives
		// the segment's first bytes.
		var again []byte
		for i, r := range recs {
			if i > 0 && r.seq != recs[i-1].seq+1 {
				t.Fatalf("seqs %d then %d", recs[i-1].seq, r.seq)
			}
			again = appendRecord(again, r.seq, r.batch)
		}
		if !bytes.HasPrefix(data, again) {
			t.Fatal("the records read do not re-encode to the segment's start")
		}
	})
}

// TestLoggedReadsDuringCheckpoints reads while a writer writes and
// checkpoints run every few batches: every block below Len is there and
// links, and a key's value never goes back.
func TestLoggedReadsDuringCheckpoints(t *testing.T) {
	l := mustOpenLogged(t, filepath.Join(t.TempDir(), "chain.db"), LoggedOptions{SegmentBatches: 3})
	if err := l.Append(block.Genesis()); err != nil {
		t.Fatal(err)
	}
	const writes = 300
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(done)
		tip := block.Genesis()
		for i := 1; i <= writes; i++ {
			tip = block.Next(tip, fmt.Sprint(i))
			if err := l.Write(Batch{Blocks: []block.Block{tip}, Puts: []Put{{Bucket: "s", Key: []byte("k"), Value: []byte(fmt.Sprintf("%06d", i))}}}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for r := range 2 {
		wg.Go(func() {
			last := ""
			for {
				select {
				case <-done:
					return
				default:
				}
				if v, err := l.Get("s", []byte("k")); err == nil {
					if string(v) < last {
						t.Errorf("reader %d: k went back from %s to %s", r, last, v)
						return
					}
					last = string(v)
				} else if !errors.Is(err, ErrNotFound) {
					t.Error(err)
					return
				}
				n := l.Len()
				prev, err := l.Block(n - 1)
				if err != nil {
					t.Errorf("reader %d: Block(%d) below Len %d: %v", r, n-1, n, err)
					return
				}
				if n > 1 {
					before, err := l.Block(n - 2)
					if err != nil || block.CheckNext(before, prev) != nil {
						t.Errorf("reader %d: blocks %d and %d do not link: %v", r, n-2, n-1, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if n := l.Len(); n != writes+1 {
		t.Fatalf("Len = %d", n)
	}
}

// TestLoggedMarksTheStore: opening a store written by Bolt alone changes
// nothing; the first log record is preceded by the store's mark, which a
// build that does not read the log refuses.
func TestLoggedMarksTheStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chain.db")
	b, err := OpenBolt(path, BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := chain(3)
	if err := b.Append(c[:2]...); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	before := fileSum(t, path)
	l, err := OpenLogged(path, LoggedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if fileSum(t, path) != before {
		t.Fatal("opening and closing the store changed it")
	}
	l = mustOpenLogged(t, path, LoggedOptions{})
	if err := l.Append(c[2]); err != nil {
		t.Fatal(err)
	}
	if marked, files, err := l.bolt.logged(); err != nil || !marked || !files {
		t.Fatalf("after a logged write: marked %v, %v", marked, err)
	}
	// Crash: the record is only in the log; the store opens with it.
	r := mustOpenLogged(t, crashCopy(t, l, path), LoggedOptions{})
	if got := collectT(t, r); !slices.Equal(got, c) {
		t.Fatalf("blocks = %v", got)
	}
}

// TestLoggedRefusesMissingLogFile: once the store has written its log,
// either segment file missing (deleted after a crash, with acknowledged
// records not yet in the bolt file) refuses the store with ErrCorrupt and
// ErrMissingLog, naming the file; nothing is created.
func TestLoggedRefusesMissingLogFile(t *testing.T) {
	for seg := range 2 {
		t.Run(fmt.Sprintf("wal%d", seg), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "chain.db")
			l := mustOpenLogged(t, path, LoggedOptions{})
			c := chain(40)
			for i := range c {
				if err := l.Append(c[i]); err != nil {
					t.Fatal(err)
				}
			}
			cp := crashCopy(t, l, path)
			gone := WALPaths(cp)[seg]
			if err := os.Remove(gone); err != nil {
				t.Fatal(err)
			}
			_, err := OpenLogged(cp, LoggedOptions{})
			if !errors.Is(err, ErrCorrupt) || !errors.Is(err, ErrMissingLog) || !strings.Contains(err.Error(), gone) {
				t.Fatalf("OpenLogged = %v, want ErrMissingLog naming %s", err, gone)
			}
			if _, err := os.Stat(gone); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the refused open created %s: %v", gone, err)
			}
		})
	}
}

// TestLoggedUpgradesLogFiles: a store written by a build that created the
// second segment file only when it first used it (marked, no wal_files)
// opens without it, and records both files at its next log write.
func TestLoggedUpgradesLogFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chain.db")
	l := mustOpenLogged(t, path, LoggedOptions{})
	c := chain(3)
	if err := l.Append(c[:2]...); err != nil {
		t.Fatal(err)
	}
	cp := crashCopy(t, l, path)
	// As the older build left it: no wal_files, no wal1.
	b, err := OpenBolt(cp, BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Delete(keyWALFiles) }); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if err := os.Remove(WALPaths(cp)[1]); err != nil {
		t.Fatal(err)
	}
	r := mustOpenLogged(t, cp, LoggedOptions{})
	if got := collectT(t, r); !slices.Equal(got, c[:2]) {
		t.Fatalf("blocks = %v", got)
	}
	if err := r.Append(c[2]); err != nil {
		t.Fatal(err)
	}
	if _, files, err := r.bolt.logged(); err != nil || !files {
		t.Fatalf("after a log write: files %v, %v", files, err)
	}
	for _, p := range WALPaths(cp) {
		if _, err := os.Stat(p); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDamagedLastRecordAtSectorEnd: a bit flipped in the last record of a
// segment whose header starts in the last two bytes of a 512-byte sector
// is damage, not a torn write. That piece of the header holds only the
// length's high bytes, zero whether written or not; taking it as a sector
// of zeros dropped the acknowledged record without a word.
func TestDamagedLastRecordAtSectorEnd(t *testing.T) {
	for _, at := range []int{walSector - 2, walSector - 1} {
		var data []byte
		for pad := 0; pad < 2*walSector; pad++ {
			data = appendRecord(nil, 1, Batch{Puts: []Put{put("s", "k", strings.Repeat("p", pad))}})
			if len(data)%walSector == at {
				break
			}
		}
		if len(data)%walSector != at {
			t.Fatalf("no first record ends at %d in its sector", at)
		}
		off := len(data)
		data = appendRecord(data, 2, Batch{Puts: []Put{put("s", "k2", "acknowledged")}})
		data = append(data, make([]byte, walGrow-len(data))...) // a segment grows in whole steps
		if recs, err := readSegment(data, 0); err != nil || len(recs) != 2 {
			t.Fatalf("clean segment: %d records, %v", len(recs), err)
		}
		data[off+walHeaderLen+10] ^= 0x04
		if recs, err := readSegment(data, 0); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("header at %d of its sector, body flipped: %d records, err %v; want ErrCorrupt", at, len(recs), err)
		}
	}
}

// TestSegmentSizeSteps: a segment grows in whole walGrow steps. A record
// that straddles a step and reaches past a file whose grow a crash cut
// short is torn (dropped, with the records before it kept); a file cut
// after its records, at a record boundary or inside one, is damage.
func TestSegmentSizeSteps(t *testing.T) {
	c := chain(3)
	rec1 := appendRecord(nil, 1, Batch{Blocks: c[:1]})
	// rec2 ends 40 bytes before the first step.
	pad := func(n int) Batch {
		return Batch{Puts: []Put{{Bucket: "s", Key: []byte("k"), Value: bytes.Repeat([]byte("v"), n)}}}
	}
	want := walGrow - 40 - len(rec1)
	var rec2 []byte
	for v := want - 64; v < want && len(rec2) != want; v++ {
		rec2 = appendRecord(nil, 2, pad(v))
	}
	if got := len(rec1) + len(rec2); got != walGrow-40 {
		t.Fatalf("records end at %d, want %d", got, walGrow-40)
	}
	rec3 := appendRecord(nil, 3, pad(500))
	run := append(append([]byte(nil), rec1...), rec2...)

	grown := append(bytes.Clone(run), rec3[:140]...) // the grow reached 100 bytes past the step
	recs, err := readSegment(grown, 0)
	if err != nil || len(recs) != 2 {
		t.Fatalf("a grow cut short: %d records, %v; want 2 and no error", len(recs), err)
	}

	small := append(bytes.Clone(rec1), appendRecord(nil, 2, Batch{Blocks: c[1:2]})...)
	small = append(small, appendRecord(nil, 3, Batch{Blocks: c[2:3]})...)
	whole := append(bytes.Clone(small), make([]byte, walGrow-len(small))...)
	if recs, err := readSegment(whole, 0); err != nil || len(recs) != 3 {
		t.Fatalf("a whole segment: %d records, %v", len(recs), err)
	}
	for _, cut := range []int{len(rec1), len(small), len(small) - 5} {
		if _, err := readSegment(whole[:cut], 0); !errors.Is(err, ErrCorrupt) {
			t.Errorf("a segment cut at %d: %v, want ErrCorrupt", cut, err)
		} else {
			t.Log(err)
		}
	}
}

// TestLoggedRefusesCutLog: a crash copy whose log file was cut at a
// record boundary, with acknowledged records past the cut, is refused.
func TestLoggedRefusesCutLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chain.db")
	l := mustOpenLogged(t, path, LoggedOptions{})
	offs := appendEach(t, l, chain(6))
	cp := crashCopy(t, l, path)
	seg := WALPaths(cp)[l.cur]
	if err := os.Truncate(seg, offs[4]); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenLogged(cp, LoggedOptions{}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "cut short") {
		t.Fatalf("OpenLogged = %v, want ErrCorrupt saying the file was cut", err)
	}
}

// TestLoggedReportsFlushes: OnFlush hears of every record written to the
// log, with the bytes that went to the segment files.
func TestLoggedReportsFlushes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chain.db")
	var mu sync.Mutex
	var flushes, bytes int
	l := mustOpenLogged(t, path, LoggedOptions{OnFlush: func(took time.Duration, n int) {
		if took < 0 || n <= 0 {
			t.Errorf("OnFlush(%v, %d)", took, n)
		}
		mu.Lock()
		flushes++
		bytes += n
		mu.Unlock()
	}})
	c := chain(3)
	for _, b := range c {
		if err := l.Append(b); err != nil {
			t.Fatal(err)
		}
	}
	l.wmu.Lock()
	var written int64
	for _, s := range l.segs {
		written += s.off
	}
	l.wmu.Unlock()
	mu.Lock()
	defer mu.Unlock()
	if flushes != len(c) || int64(bytes) != written {
		t.Fatalf("OnFlush heard %d flushes of %d bytes; want %d of %d", flushes, bytes, len(c), written)
	}
}
