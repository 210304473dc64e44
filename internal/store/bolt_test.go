package store

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"pgregory.net/rapid"

	"github.com/naivechain/naivechain/internal/block"
)

func mustOpenBolt(t *testing.T, path string, opts BoltOptions) *Bolt {
	t.Helper()
	b, err := OpenBolt(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestBoltReopenKeepsEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chain.db")
	b := mustOpenBolt(t, path, BoltOptions{})
	c := chain(2000)
	if err := b.Append(c...); err != nil {
		t.Fatal(err)
	}
	if err := b.Write(Batch{Puts: []Put{
		{Bucket: "raft-log", Key: []byte("a"), Value: []byte("1")},
		{Bucket: "raft-state", Key: []byte("hard"), Value: []byte{}},
	}}); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b = mustOpenBolt(t, path, BoltOptions{})
	if n := b.Len(); n != 2000 {
		t.Fatalf("Len = %d, want 2000", n)
	}
	if got := collect(t, b, 0); !slices.Equal(got, c) {
		t.Fatal("blocks differ after reopen")
	}
	if got := scanAll(t, b, "raft-log", nil); !slices.Equal(got, []record{{"a", "1"}}) {
		t.Fatalf("raft-log = %q", got)
	}
	if v, err := b.Get("raft-state", []byte("hard")); err != nil || v == nil || len(v) != 0 {
		t.Fatalf("empty value after reopen: %q, %v", v, err)
	}
	// A caller's bucket may be named like ours without touching ours.
	if err := b.Write(Batch{Puts: []Put{{Bucket: "blocks", Key: []byte("x"), Value: []byte("y")}, {Bucket: "meta", Key: []byte("magic"), Value: []byte("no")}}}); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = mustOpenBolt(t, path, BoltOptions{})
	if n := b.Len(); n != 2000 {
		t.Fatalf("Len = %d after writing buckets named blocks and meta", n)
	}
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(data)
}

func TestOpenBoltRefusesForeignFiles(t *testing.T) {
	dir := t.TempDir()
	random := make([]byte, 64<<10)
	rng := rand.NewChaCha8([32]byte{1})
	rng.Read(random)
	// A bolt file of someone else's.
	foreign := filepath.Join(dir, "foreign.db")
	db, err := bolt.Open(foreign, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucket([]byte("users"))
		if err != nil {
			return err
		}
		return bk.Put([]byte("alice"), []byte("admin"))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	// A bolt file with our bucket but another magic.
	future := filepath.Join(dir, "future.db")
	db, err = bolt.Open(future, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucket(bucketBlocks); err != nil {
			return err
		}
		return bk.Put(keyMagic, []byte("naivechain-store/9"))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	files := map[string][]byte{
		"random.db": random,
		"text.db":   []byte("these are my notes, do not overwrite\n"),
		"page.db":   bytes.Repeat([]byte{0}, 4096), // zeros, not empty
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"random.db", "text.db", "page.db", "foreign.db", "future.db"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			before := fileSum(t, path)
			statBefore, _ := os.Stat(path)
			b, err := OpenBolt(path, BoltOptions{})
			if err == nil {
				b.Close()
				t.Fatal("opened a file that is not a store")
			}
			if !errors.Is(err, ErrNotAStore) || !strings.Contains(err.Error(), path+" is not a naivechain store") {
				t.Fatalf("error %q, want ErrNotAStore naming the file", err)
			}
			t.Log(err)
			if after := fileSum(t, path); after != before {
				t.Fatal("the refused file was changed")
			}
			if statAfter, _ := os.Stat(path); statAfter.Size() != statBefore.Size() || statAfter.Mode() != statBefore.Mode() {
				t.Fatal("the refused file's size or mode changed")
			}
		})
	}
}

func TestOpenBoltLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chain.db")
	first := mustOpenBolt(t, path, BoltOptions{})
	if err := first.Append(block.Genesis()); err != nil {
		t.Fatal(err)
	}
	second, err := OpenBolt(path, BoltOptions{Timeout: 10 * time.Millisecond})
	if err == nil {
		second.Close()
		t.Fatal("opened a store held by another")
	}
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "store is in use by another process") {
		t.Fatalf("error %q, want ErrLocked", err)
	}
	// The first is unharmed, and once it is closed the file opens.
	if err := first.Append(block.Next(block.Genesis(), "x")); err != nil {
		t.Fatal(err)
	}
	first.Close()
	again := mustOpenBolt(t, path, BoltOptions{})
	if n := again.Len(); n != 2 {
		t.Fatalf("Len = %d, want 2", n)
	}
}

// corruptBlock overwrites the stored value of block index through a raw
// bolt handle.
func corruptBlock(t *testing.T, path string, index uint64, value []byte) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error {
		if value == nil {
			return tx.Bucket(bucketBlocks).Delete(blockKey(index))
		}
		return tx.Bucket(bucketBlocks).Put(blockKey(index), value)
	}); err != nil {
		t.Fatal(err)
	}
}

// TestBoltRefusesCorruptTail: a bad block among those checked on open
// refuses the store with ErrCorrupt and what is wrong, and changes nothing
// in the file: a bolt commit is whole or absent, so a bad block is damage
// to acknowledged blocks, and cutting the chain back to it (what open did
// before) deleted every acknowledged block above it.
func TestBoltRefusesCorruptTail(t *testing.T) {
	c := chain(10)
	badHash := c[9]
	badHash.CurrHash = strings.Repeat("0", 64)
	badLink := block.Next(block.Next(c[7], "other"), "x") // index 9 on another 8
	badGenesis := block.Genesis()
	badGenesis.Data = "not genesis"
	for _, tc := range []struct {
		name       string
		index      uint64
		value      []byte
		verifyTail int
		reason     string // "" when the store opens whole
	}{
		{"garbage at tip", 9, []byte("\x01\xff\xff\xff\xff\x0fgarbage"), 0, "block 9 of 10"},
		{"short value at tip", 9, encodeBlock(c[9])[:20], 0, "block 9 of 10"},
		{"wrong hash at tip", 9, encodeBlock(badHash), 0, "curr_hash does not match"},
		{"broken link at tip", 9, encodeBlock(badLink), 0, "previous_hash does not match"},
		{"garbage inside the tail", 5, []byte{0x03}, 0, "unknown encoding version"},
		{"garbage low in the tail", 1, []byte{0x03}, 0, "block 1 of 10"},
		{"short proof-of-work block at tip", 9, encodeBlock(unminedPoW(c[8]))[:70], 0, "block 9 of 10"},
		{"proof-of-work block without its fields at tip", 9, append([]byte{codecV2}, encodeBlock(c[9])[1:]...), 0, "truncated proof-of-work fields"},
		{"proof-of-work block without its work at tip", 9, encodeBlock(unminedPoW(c[8])), 0, "does not meet its difficulty"},
		{"a hole in the tail", 6, nil, 0, "block 6 is missing"},
		{"garbage genesis", 0, []byte("x"), 0, "block 0 of 10"},
		// Block 0 is the chain's to judge (chain.New refuses it).
		{"changed genesis", 0, encodeBlock(badGenesis), 0, ""},
		{"the anchor before the tail", 6, []byte("x"), 3, "block 6 of 10"},
		{"before the tail", 2, []byte("x"), 3, ""},
		{"verification off", 9, []byte("x"), -1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "chain.db")
			b := mustOpenBolt(t, path, BoltOptions{})
			if err := b.Append(c...); err != nil {
				t.Fatal(err)
			}
			b.Close()
			corruptBlock(t, path, tc.index, tc.value)
			before := fileSum(t, path)

			b, err := OpenBolt(path, BoltOptions{VerifyTail: tc.verifyTail})
			if tc.reason == "" {
				if err != nil {
					t.Fatal(err)
				}
				defer b.Close()
				if n := b.Len(); n != 10 {
					t.Fatalf("Len = %d, want 10", n)
				}
				return
			}
			if err == nil {
				n := b.Len()
				b.Close()
				t.Fatalf("opened with %d blocks, want ErrCorrupt with %q", n, tc.reason)
			}
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.reason) || !strings.Contains(err.Error(), "naivechain check") {
				t.Fatalf("open: %v; want ErrCorrupt with %q and what to do", err, tc.reason)
			}
			if after := fileSum(t, path); after != before {
				t.Fatal("the refused store was changed")
			}
		})
	}
}

func TestBoltBlockReportsCorruption(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chain.db")
	b := mustOpenBolt(t, path, BoltOptions{})
	if err := b.Append(chain(10)...); err != nil {
		t.Fatal(err)
	}
	b.Close()
	corruptBlock(t, path, 2, []byte("x"))
	b = mustOpenBolt(t, path, BoltOptions{VerifyTail: 3})
	if _, err := b.Block(2); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Block(2): %v, want ErrCorrupt", err)
	}
	var last error
	for _, err := range b.Blocks(0) {
		last = err
	}
	if !errors.Is(last, ErrCorrupt) {
		t.Fatalf("Blocks: %v, want ErrCorrupt", last)
	}
}

func TestBoltBlocksReorgedDuringIteration(t *testing.T) {
	testReorgedDuringIteration(t, func(t *testing.T) (Store, func() int) {
		b := openBolt(t).(*Bolt)
		return b, b.iters.count
	})
}

// TestLoggedBlocksReorgedDuringIteration: the same with the chain's tail
// in the write-ahead log (served from memory) and its start in the bolt
// file.
func TestLoggedBlocksReorgedDuringIteration(t *testing.T) {
	testReorgedDuringIteration(t, func(t *testing.T) (Store, func() int) {
		path := filepath.Join(t.TempDir(), "chain.db")
		l := mustOpenLogged(t, path, LoggedOptions{})
		if err := l.Append(chain(chunkBlocks / 2)...); err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil { // into the bolt file
			t.Fatal(err)
		}
		l = mustOpenLogged(t, path, LoggedOptions{})
		return l, l.iters.count
	})
}

func testReorgedDuringIteration(t *testing.T, open func(t *testing.T) (Store, func() int)) {
	c := chain(3 * chunkBlocks)
	for _, tc := range []struct {
		name    string
		detach  uint64
		wantErr bool
	}{
		{"below the tip seen", chunkBlocks, true},
		{"of blocks appended after the start", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, iters := open(t)
			if err := b.Append(c[b.Len():]...); err != nil {
				t.Fatal(err)
			}
			var got []block.Block
			var iterErr error
			for blk, err := range b.Blocks(0) {
				if err != nil {
					iterErr = err
					break
				}
				got = append(got, blk)
				if len(got) == 10 { // inside the first chunk
					if tc.detach > 0 {
						fork := extend(c[len(c)-int(tc.detach)-1], int(tc.detach)+1, "fork")
						if err := b.Write(Batch{Detach: tc.detach, Blocks: fork}); err != nil {
							t.Fatal(err)
						}
					} else {
						more := extend(c[len(c)-1], 5, "more")
						if err := b.Append(more...); err != nil {
							t.Fatal(err)
						}
						if err := b.Write(Batch{Detach: 5, Blocks: extend(c[len(c)-1], 6, "fork")}); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			if !tc.wantErr {
				if iterErr != nil || !slices.Equal(got, c) {
					t.Fatalf("yielded %d blocks, %v; want the %d seen at the start", len(got), iterErr, len(c))
				}
				return
			}
			if !errors.Is(iterErr, ErrReorged) {
				t.Fatalf("got %v, want ErrReorged", iterErr)
			}
			if !slices.Equal(got, c[:len(got)]) {
				t.Fatal("yielded blocks of two chains")
			}
			if n := iters(); n != 0 {
				t.Fatalf("%d iterations still registered", n)
			}
		})
	}
}

// TestBoltMatchesMemory applies random batches to both stores and checks
// they agree after each, reopening the Bolt store now and then.
func TestBoltMatchesMemory(t *testing.T) {
	dir := t.TempDir()
	runs := 0
	rapid.Check(t, func(rt *rapid.T) {
		runs++
		path := filepath.Join(dir, fmt.Sprintf("chain-%d.db", runs))
		bs, err := OpenBolt(path, BoltOptions{})
		if err != nil {
			rt.Fatal(err)
		}
		defer func() { bs.Close() }()
		mem := NewMemory()
		for _, s := range []Store{mem, bs} {
			if err := s.Append(block.Genesis()); err != nil {
				rt.Fatal(err)
			}
		}
		steps := rapid.IntRange(1, 30).Draw(rt, "steps")
		for step := range steps {
			if rapid.IntRange(0, 9).Draw(rt, "reopen") == 0 {
				if err := bs.Close(); err != nil {
					rt.Fatal(err)
				}
				if bs, err = OpenBolt(path, BoltOptions{}); err != nil {
					rt.Fatal(err)
				}
			}
			batch := drawBatch(rt, mem, step)
			errMem, errBolt := mem.Write(batch), bs.Write(batch)
			if fmt.Sprint(errMem) != fmt.Sprint(errBolt) {
				rt.Fatalf("step %d: Memory: %v, Bolt: %v", step, errMem, errBolt)
			}
			if mem.Len() != bs.Len() {
				rt.Fatalf("step %d: Len %d vs %d", step, mem.Len(), bs.Len())
			}
			if a, b := blocksOf(rt, mem), blocksOf(rt, bs); !slices.Equal(a, b) {
				rt.Fatalf("step %d: blocks differ:\n%v\n%v", step, a, b)
			}
			for _, bk := range modelBuckets {
				for _, from := range []string{"", "b", "zzz"} {
					if a, b := scanOf(rt, mem, bk, from), scanOf(rt, bs, bk, from); !slices.Equal(a, b) {
						rt.Fatalf("step %d: Scan(%s, %q) differs:\n%q\n%q", step, bk, from, a, b)
					}
				}
			}
		}
	})
}

// Buckets and keys of the batches drawBatch makes ("Bad" is not a valid
// bucket name).
var (
	modelBuckets = []string{"log", "state", "x-1", "Bad"}
	modelKeys    = []string{"a", "b", "ba", "c", "\x00", "\xff", "zz"}
)

// drawBatch draws a batch for a store holding what mem holds: a detach
// (sometimes of genesis), blocks that extend the new tip (sometimes with a
// gap), deletes and puts.
func drawBatch(rt *rapid.T, mem *Memory, step int) Batch {
	key := rapid.SampledFrom(modelKeys)
	bucket := rapid.SampledFrom(modelBuckets)
	optKey := rapid.OneOf(rapid.Just[[]byte](nil), rapid.Map(key, func(s string) []byte { return []byte(s) }))
	n := mem.Len()
	var batch Batch
	batch.Detach = rapid.Uint64Range(0, n).Draw(rt, "detach") // n: ErrDetachGenesis
	base := n - min(batch.Detach, n-1)
	prev, err := mem.Block(base - 1)
	if err != nil {
		rt.Fatal(err)
	}
	batch.Blocks = extend(prev, rapid.IntRange(0, 4).Draw(rt, "blocks"), fmt.Sprint(step))
	if len(batch.Blocks) > 0 && rapid.IntRange(0, 19).Draw(rt, "gap") == 0 {
		batch.Blocks[0].Index++
	}
	for range rapid.IntRange(0, 2).Draw(rt, "deletes") {
		batch.Deletes = append(batch.Deletes, DeleteRange{Bucket: bucket.Draw(rt, "bucket"), From: optKey.Draw(rt, "from"), To: optKey.Draw(rt, "to")})
	}
	for range rapid.IntRange(0, 5).Draw(rt, "puts") {
		p := Put{Bucket: bucket.Draw(rt, "bucket"), Key: []byte(key.Draw(rt, "key"))}
		if rapid.IntRange(0, 3).Draw(rt, "delete") > 0 {
			p.Value = rapid.SliceOfN(rapid.Byte(), 0, 8).Draw(rt, "value")
		}
		batch.Puts = append(batch.Puts, p)
	}
	return batch
}

func blocksOf(rt *rapid.T, s Store) []block.Block {
	var out []block.Block
	for blk, err := range s.Blocks(0) {
		if err != nil {
			rt.Fatal(err)
		}
		out = append(out, blk)
	}
	return out
}

func scanOf(rt *rapid.T, s Store, bucket, from string) []record {
	var out []record
	if err := s.Scan(bucket, []byte(from), func(k, v []byte) error {
		out = append(out, record{string(k), string(v)})
		return nil
	}); err != nil {
		rt.Fatal(err)
	}
	return out
}

// unminedPoW returns a proof-of-work block on prev whose hash is its
// header's but (almost surely) without the work its difficulty claims:
// nonce 0 at difficulty 200.
func unminedPoW(prev block.Block) block.Block {
	b, err := block.Seal(block.NewPoW(prev, []string{`"x"`}, 1, 200), 0)
	if err != nil {
		panic(err)
	}
	return b
}

// TestBoltReopenKeepsPoWBlocks: proof-of-work blocks survive a reopen,
// whose tail check accepts them, stored as version 2 records next to
// classic blocks' version 1 records.
func TestBoltReopenKeepsPoWBlocks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chain.db")
	b := mustOpenBolt(t, path, BoltOptions{})
	want := powChain(t)
	if err := b.Append(want...); err != nil {
		t.Fatal(err)
	}
	b.Close()

	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.View(func(tx *bolt.Tx) error {
		for i, blk := range want {
			v := tx.Bucket(bucketBlocks).Get(blockKey(uint64(i)))
			if wantV := encodeBlock(blk); !bytes.Equal(v, wantV) {
				t.Errorf("block %d stored as %x, want %x", i, v, wantV)
			}
			if version := v[0]; blk.IsPoW() != (version == codecV2) {
				t.Errorf("block %d (PoW %t) stored with version %#x", i, blk.IsPoW(), version)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	before := fileSum(t, path)
	b = mustOpenBolt(t, path, BoltOptions{})
	if got := collect(t, b, 0); !slices.Equal(got, want) {
		t.Fatalf("after reopen: %+v", got)
	}
	for i, w := range want {
		if got, err := b.Block(uint64(i)); err != nil || got != w {
			t.Fatalf("Block(%d) after reopen = %+v, %v", i, got, err)
		}
	}
	b.Close()
	if fileSum(t, path) != before {
		t.Fatal("reopening a store of PoW blocks changed its file")
	}
}

func TestBoltReopenWritesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chain.db")
	b := mustOpenBolt(t, path, BoltOptions{})
	if err := b.Append(chain(100)...); err != nil {
		t.Fatal(err)
	}
	b.Close()
	before := fileSum(t, path)
	b = mustOpenBolt(t, path, BoltOptions{})
	collect(t, b, 0)
	b.Close()
	if fileSum(t, path) != before {
		t.Fatal("opening and reading a store changed its file")
	}
}

// TestBoltRefusesUndecodableGenesis: with block 0 unreadable there is
// nothing to roll back to, so the store refuses to open and changes nothing.
func TestBoltRefusesUndecodableGenesis(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chain.db")
	b := mustOpenBolt(t, path, BoltOptions{})
	if err := b.Append(block.Genesis()); err != nil {
		t.Fatal(err)
	}
	b.Close()
	corruptBlock(t, path, 0, []byte{0x7f})
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenBolt(path, BoltOptions{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err = %v, want ErrCorrupt", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("the refused store was changed")
	}
}
