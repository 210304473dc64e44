package store

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/naivechain/naivechain/internal/block"
)

// chain returns genesis and n-1 blocks on top of it.
func chain(n int) []block.Block {
	if n == 0 {
		return nil
	}
	return append([]block.Block{block.Genesis()}, extend(block.Genesis(), n-1, "b")...)
}

// extend returns n blocks on top of prev; tag makes forks differ.
func extend(prev block.Block, n int, tag string) []block.Block {
	out := make([]block.Block, n)
	for i := range out {
		prev = block.Next(prev, fmt.Sprintf("%s-%d", tag, prev.Index+1))
		out[i] = prev
	}
	return out
}

// minePoW returns a valid proof-of-work block on prev at the least
// difficulty: the first nonce whose hash has block.MinDifficulty zero bits
// (about 256 tries). Everything else is fixed, so the block is too.
func minePoW(t testing.TB, prev block.Block, entries ...string) block.Block {
	t.Helper()
	b, err := block.Mine(block.NewPoW(prev, entries, 1_700_000_000_000+int64(prev.Index), block.MinDifficulty), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// powChain returns genesis, two proof-of-work blocks and a classic block.
func powChain(t testing.TB) []block.Block {
	g := block.Genesis()
	p1 := minePoW(t, g, `"a"`, `{"b": 1}`)
	p2 := minePoW(t, p1, `"c"`)
	return []block.Block{g, p1, p2, block.Next(p2, `"classic"`)}
}

// collect reads Blocks(from) whole.
func collect(t *testing.T, s Store, from uint64) []block.Block {
	t.Helper()
	var out []block.Block
	for blk, err := range s.Blocks(from) {
		if err != nil {
			t.Fatalf("Blocks(%d): %v", from, err)
		}
		out = append(out, blk)
	}
	return out
}

type record struct{ K, V string }

// scanAll reads a bucket whole.
func scanAll(t *testing.T, s Store, bucket string, from []byte) []record {
	t.Helper()
	var out []record
	if err := s.Scan(bucket, from, func(k, v []byte) error {
		out = append(out, record{string(k), string(v)})
		return nil
	}); err != nil {
		t.Fatalf("Scan(%s): %v", bucket, err)
	}
	return out
}

func openBolt(t *testing.T) Store {
	t.Helper()
	b, err := OpenBolt(filepath.Join(t.TempDir(), "chain.db"), BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestMemory(t *testing.T) {
	testStore(t, func(t *testing.T) Store { return NewMemory() })
}

func TestBolt(t *testing.T) {
	testStore(t, openBolt)
}

// openLogged opens a Logged store; segmentBatches 0 is the default, a
// small value makes checkpoints run all the time.
func openLogged(segmentBatches int) func(t *testing.T) Store {
	return func(t *testing.T) Store {
		t.Helper()
		l, err := OpenLogged(filepath.Join(t.TempDir(), "chain.db"), LoggedOptions{SegmentBatches: segmentBatches})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return l
	}
}

func TestLogged(t *testing.T) {
	testStore(t, openLogged(0))
}

func TestLoggedCheckpointing(t *testing.T) {
	testStore(t, openLogged(2))
}

func TestFaultyHealthy(t *testing.T) {
	testStore(t, func(t *testing.T) Store { return NewFaulty(openBolt(t)) })
}

// testStore checks that a Store behaves as its interface documents.
func testStore(t *testing.T, open func(t *testing.T) Store) {
	t.Run("AppendLenBlock", func(t *testing.T) {
		s := open(t)
		if n := s.Len(); n != 0 {
			t.Fatalf("empty Len = %d", n)
		}
		if _, err := s.Block(0); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Block(0) of empty store: %v, want ErrNotFound", err)
		}
		want := chain(10)
		if err := s.Append(want[:1]...); err != nil {
			t.Fatal(err)
		}
		if err := s.Append(want[1:]...); err != nil {
			t.Fatal(err)
		}
		if err := s.Append(); err != nil {
			t.Fatalf("empty Append: %v", err)
		}
		if n := s.Len(); n != 10 {
			t.Fatalf("Len = %d, want 10", n)
		}
		for i, w := range want {
			if got, err := s.Block(uint64(i)); err != nil || got != w {
				t.Fatalf("Block(%d) = %+v, %v; want %+v", i, got, err, w)
			}
		}
		if _, err := s.Block(10); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Block(10): %v, want ErrNotFound", err)
		}
		if got := collect(t, s, 0); !slices.Equal(got, want) {
			t.Fatalf("Blocks(0) = %v", got)
		}
		if got := collect(t, s, 7); !slices.Equal(got, want[7:]) {
			t.Fatalf("Blocks(7) = %v", got)
		}
		if got := collect(t, s, 10); len(got) != 0 {
			t.Fatalf("Blocks(10) = %v", got)
		}
		if got := collect(t, s, 99); len(got) != 0 {
			t.Fatalf("Blocks(99) = %v", got)
		}
		// Breaking out early is fine.
		for blk, err := range s.Blocks(0) {
			if err != nil || blk != want[0] {
				t.Fatalf("first of Blocks(0) = %v, %v", blk, err)
			}
			break
		}
	})

	t.Run("PoWBlocks", func(t *testing.T) {
		s := open(t)
		want := powChain(t)
		if err := block.CheckChain(want); err != nil {
			t.Fatal(err)
		}
		if err := s.Append(want[:2]...); err != nil {
			t.Fatal(err)
		}
		if err := s.Append(want[2:]...); err != nil {
			t.Fatal(err)
		}
		for i, w := range want {
			if got, err := s.Block(uint64(i)); err != nil || got != w {
				t.Fatalf("Block(%d) = %+v, %v; want %+v", i, got, err, w)
			}
		}
		if got := collect(t, s, 0); !slices.Equal(got, want) {
			t.Fatalf("Blocks(0) = %+v", got)
		}
		// Replacing a PoW tip by another keeps the new one's fields.
		other := minePoW(t, want[1], `"d"`)
		if err := s.Write(Batch{Detach: 2, Blocks: []block.Block{other}}); err != nil {
			t.Fatal(err)
		}
		if got := collect(t, s, 0); !slices.Equal(got, []block.Block{want[0], want[1], other}) {
			t.Fatalf("after the reorg: %+v", got)
		}
	})

	t.Run("BlocksAcrossChunks", func(t *testing.T) {
		s := open(t)
		want := chain(2*chunkBlocks + 7)
		for c := range slices.Chunk(want, 500) {
			if err := s.Append(c...); err != nil {
				t.Fatal(err)
			}
		}
		if got := collect(t, s, 3); !slices.Equal(got, want[3:]) {
			t.Fatalf("Blocks(3) yielded %d blocks, want %d", len(got), len(want)-3)
		}
	})

	t.Run("BlocksWhileAppending", func(t *testing.T) {
		s := open(t)
		want := chain(chunkBlocks + 100)
		if err := s.Append(want...); err != nil {
			t.Fatal(err)
		}
		tip := want[len(want)-1]
		// Appends from inside the loop: interleaved with every yield and
		// every chunk, deterministically.
		var got []block.Block
		for blk, err := range s.Blocks(0) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, blk)
			tip = block.Next(tip, "more")
			if err := s.Append(tip); err != nil {
				t.Fatal(err)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("yielded %d blocks, want the %d of the tip at the start", len(got), len(want))
		}
		if n := s.Len(); n != uint64(2*len(want)) {
			t.Fatalf("Len = %d, want %d", n, 2*len(want))
		}
	})

	t.Run("BlocksWhileAppendingConcurrently", func(t *testing.T) {
		s := open(t)
		want := chain(2 * chunkBlocks)
		if err := s.Append(want...); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			tip := want[len(want)-1]
			for range 50 {
				more := extend(tip, 20, "c")
				if err := s.Append(more...); err != nil {
					t.Error(err)
					return
				}
				tip = more[len(more)-1]
			}
		})
		for range 3 {
			got := collect(t, s, 0)
			if len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
				t.Fatalf("yielded %d blocks, not a prefix of the chain", len(got))
			}
			if err := block.CheckChain(got); err != nil {
				t.Fatalf("inconsistent view: %v", err)
			}
		}
		wg.Wait()
	})

	t.Run("Gap", func(t *testing.T) {
		s := open(t)
		c := chain(3)
		if err := s.Append(c...); err != nil {
			t.Fatal(err)
		}
		for _, bad := range [][]block.Block{
			{c[2]},                                   // an index already stored
			{block.Next(block.Next(c[2], "x"), "y")}, // one too far
			extend(c[2], 2, "z")[1:],                 // starts at 4
			{block.Next(c[2], "x"), block.Next(c[2], "y")}, // same index twice
		} {
			if err := s.Append(bad...); !errors.Is(err, ErrGap) {
				t.Fatalf("Append(%v): %v, want ErrGap", bad, err)
			}
		}
		if err := s.Write(Batch{Blocks: extend(c[2], 1, "w")[:1], Puts: []Put{{Bucket: "b", Key: []byte("k"), Value: []byte("v")}}}); err != nil {
			t.Fatal(err)
		}
		if err := s.Write(Batch{Blocks: []block.Block{c[1]}, Puts: []Put{{Bucket: "b", Key: []byte("k2"), Value: []byte("v")}}}); !errors.Is(err, ErrGap) {
			t.Fatalf("Write with a gap: %v, want ErrGap", err)
		}
		if n := s.Len(); n != 4 {
			t.Fatalf("Len = %d after refused appends, want 4", n)
		}
		if _, err := s.Get("b", []byte("k2")); !errors.Is(err, ErrNotFound) {
			t.Fatalf("the put of a refused batch was applied: %v", err)
		}
	})

	t.Run("Detach", func(t *testing.T) {
		s := open(t)
		c := chain(10)
		if err := s.Append(c...); err != nil {
			t.Fatal(err)
		}
		if err := s.Write(Batch{Detach: 3}); err != nil {
			t.Fatal(err)
		}
		if n := s.Len(); n != 7 {
			t.Fatalf("Len = %d, want 7", n)
		}
		if _, err := s.Block(7); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Block(7) after detach: %v", err)
		}
		// A reorg: detach two and attach a longer fork in one batch.
		fork := extend(c[4], 4, "fork")
		if err := s.Write(Batch{Detach: 2, Blocks: fork}); err != nil {
			t.Fatal(err)
		}
		want := append(slices.Clone(c[:5]), fork...)
		if got := collect(t, s, 0); !slices.Equal(got, want) {
			t.Fatalf("after reorg Blocks = %v", got)
		}
		// The fork must start at the length after Detach.
		if err := s.Write(Batch{Detach: 1, Blocks: extend(want[8], 1, "x")}); !errors.Is(err, ErrGap) {
			t.Fatalf("detach 1 then append at 9: %v, want ErrGap", err)
		}
		for _, d := range []uint64{9, 10, 1000} {
			if err := s.Write(Batch{Detach: d}); !errors.Is(err, ErrDetachGenesis) {
				t.Fatalf("Detach %d of 9: %v, want ErrDetachGenesis", d, err)
			}
		}
		if err := s.Write(Batch{Detach: 8}); err != nil {
			t.Fatalf("detach all but genesis: %v", err)
		}
		if got := collect(t, s, 0); !slices.Equal(got, c[:1]) {
			t.Fatalf("Blocks = %v, want genesis only", got)
		}
		empty := open(t)
		if err := empty.Write(Batch{Detach: 1}); !errors.Is(err, ErrDetachGenesis) {
			t.Fatalf("Detach on an empty store: %v, want ErrDetachGenesis", err)
		}
	})

	t.Run("Buckets", func(t *testing.T) {
		s := open(t)
		put := func(bucket, k, v string) Put { return Put{Bucket: bucket, Key: []byte(k), Value: []byte(v)} }
		if err := s.Write(Batch{Puts: []Put{
			put("log", "c", "3"), put("log", "a", "1"), put("log", "b", "2"), put("log", "d", "4"),
			put("log", "e", "5"), put("state", "a", "other"), put("log", "\x00", "zero"),
			put("log", "b", "2b"), // the later put wins
			{Bucket: "state", Key: []byte("empty"), Value: []byte{}},
		}}); err != nil {
			t.Fatal(err)
		}
		want := []record{{"\x00", "zero"}, {"a", "1"}, {"b", "2b"}, {"c", "3"}, {"d", "4"}, {"e", "5"}}
		if got := scanAll(t, s, "log", nil); !slices.Equal(got, want) {
			t.Fatalf("Scan(log) = %q", got)
		}
		if got := scanAll(t, s, "log", []byte("b")); !slices.Equal(got, want[2:]) {
			t.Fatalf("Scan(log, b) = %q", got)
		}
		if got := scanAll(t, s, "log", []byte("bb")); !slices.Equal(got, want[3:]) {
			t.Fatalf("Scan(log, bb) = %q", got)
		}
		if got := scanAll(t, s, "log", []byte("f")); len(got) != 0 {
			t.Fatalf("Scan(log, f) = %q", got)
		}
		if got := scanAll(t, s, "nothing", nil); len(got) != 0 {
			t.Fatalf("Scan(nothing) = %q", got)
		}
		if v, err := s.Get("state", []byte("empty")); err != nil || v == nil || len(v) != 0 {
			t.Fatalf("Get(empty value) = %q (nil %t), %v; want an empty non-nil value", v, v == nil, err)
		}
		if v, err := s.Get("state", []byte("a")); err != nil || string(v) != "other" {
			t.Fatalf("Get(state, a) = %q, %v", v, err)
		}

		// Get returns a copy.
		v, _ := s.Get("log", []byte("a"))
		v[0] = 'X'
		if v, _ := s.Get("log", []byte("a")); string(v) != "1" {
			t.Fatalf("mutating a Get result changed the store: %q", v)
		}
		// Put copies the value.
		val := []byte("orig")
		if err := s.Write(Batch{Puts: []Put{{Bucket: "state", Key: []byte("p"), Value: val}}}); err != nil {
			t.Fatal(err)
		}
		val[0] = 'X'
		if v, _ := s.Get("state", []byte("p")); string(v) != "orig" {
			t.Fatalf("mutating a put value changed the store: %q", v)
		}

		for _, c := range []struct {
			bucket string
			key    string
		}{{"log", "zz"}, {"nothing", "a"}, {"log", ""}, {"", "a"}, {"Bad!", "a"}} {
			if _, err := s.Get(c.bucket, []byte(c.key)); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get(%q, %q): %v, want ErrNotFound", c.bucket, c.key, err)
			}
		}

		// Deletes come before puts; a nil value deletes.
		if err := s.Write(Batch{
			Deletes: []DeleteRange{{Bucket: "log", From: []byte("b"), To: []byte("d")}, {Bucket: "nothing", From: nil}},
			Puts:    []Put{{Bucket: "log", Key: []byte("e")}, put("log", "c", "new")},
		}); err != nil {
			t.Fatal(err)
		}
		want = []record{{"\x00", "zero"}, {"a", "1"}, {"c", "new"}, {"d", "4"}}
		if got := scanAll(t, s, "log", nil); !slices.Equal(got, want) {
			t.Fatalf("after deletes Scan(log) = %q, want %q", got, want)
		}
		// A nil To deletes up to the last key.
		if err := s.Write(Batch{Deletes: []DeleteRange{{Bucket: "log", From: []byte("a")}}}); err != nil {
			t.Fatal(err)
		}
		if got := scanAll(t, s, "log", nil); !slices.Equal(got, want[:1]) {
			t.Fatalf("after open range delete Scan(log) = %q", got)
		}
		// An empty range deletes nothing; nil From and To delete all.
		if err := s.Write(Batch{Deletes: []DeleteRange{{Bucket: "state", From: []byte("z"), To: []byte("a")}}}); err != nil {
			t.Fatal(err)
		}
		if got := scanAll(t, s, "state", nil); len(got) != 3 {
			t.Fatalf("an empty range deleted: %q", got)
		}
		if err := s.Write(Batch{Deletes: []DeleteRange{{Bucket: "state"}}}); err != nil {
			t.Fatal(err)
		}
		if got := scanAll(t, s, "state", nil); len(got) != 0 {
			t.Fatalf("after delete all Scan(state) = %q", got)
		}
	})

	t.Run("ScanManyAndWriteFromFn", func(t *testing.T) {
		s := open(t)
		var puts []Put
		for i := range 3000 {
			puts = append(puts, Put{Bucket: "log", Key: fmt.Appendf(nil, "%08d", i), Value: []byte{byte(i)}})
		}
		if err := s.Write(Batch{Puts: puts}); err != nil {
			t.Fatal(err)
		}
		var seen []string
		if err := s.Scan("log", []byte("00000500"), func(k, v []byte) error {
			seen = append(seen, string(k))
			// Writing from fn must not deadlock (bolt: no write inside a read tx).
			if string(k) == "00000600" {
				return s.Write(Batch{Puts: []Put{{Bucket: "other", Key: k, Value: v}}})
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(seen) != 2500 || seen[0] != "00000500" || !slices.IsSorted(seen) || seen[2499] != "00002999" {
			t.Fatalf("Scan yielded %d keys from %s to %s", len(seen), seen[0], seen[len(seen)-1])
		}
		if v, err := s.Get("other", []byte("00000600")); err != nil || !bytes.Equal(v, []byte{byte(600 % 256)}) {
			t.Fatalf("write from Scan fn: %q, %v", v, err)
		}
	})

	t.Run("ScanStops", func(t *testing.T) {
		s := open(t)
		var puts []Put
		for _, k := range []string{"a", "b", "c", "d"} {
			puts = append(puts, Put{Bucket: "x", Key: []byte(k), Value: []byte(k)})
		}
		if err := s.Write(Batch{Puts: puts}); err != nil {
			t.Fatal(err)
		}
		stop := errors.New("stop")
		var seen []string
		err := s.Scan("x", nil, func(k, v []byte) error {
			seen = append(seen, string(k))
			if string(k) == "b" {
				return stop
			}
			return nil
		})
		if err != stop || !slices.Equal(seen, []string{"a", "b"}) {
			t.Fatalf("Scan = %v after %q, want stop after [a b]", err, seen)
		}
	})

	t.Run("BadBatchAppliesNothing", func(t *testing.T) {
		s := open(t)
		c := chain(5)
		if err := s.Append(c[:2]...); err != nil {
			t.Fatal(err)
		}
		good := Put{Bucket: "ok", Key: []byte("k"), Value: []byte("v")}
		for _, bad := range []string{"", "Upper", "has space", "slash/", "dot.", strings.Repeat("a", 65), "é"} {
			for _, b := range []Batch{
				{Blocks: c[2:], Puts: []Put{good, {Bucket: bad, Key: []byte("k"), Value: []byte("v")}}},
				{Detach: 1, Blocks: c[1:], Puts: []Put{good}, Deletes: []DeleteRange{{Bucket: bad}}},
			} {
				if err := s.Write(b); !errors.Is(err, ErrBadBucket) {
					t.Fatalf("bucket %q: %v, want ErrBadBucket", bad, err)
				}
			}
		}
		for _, b := range []Batch{
			{Blocks: c[2:], Puts: []Put{good, {Bucket: "ok", Value: []byte("no key")}}},
			{Blocks: c[2:], Puts: []Put{good, {Bucket: "ok", Key: make([]byte, MaxKeyLen+1), Value: []byte("v")}}},
			{Blocks: []block.Block{{Index: 2, Data: strings.Repeat("x", block.MaxDataLen+1)}}, Puts: []Put{good}},
			{Blocks: []block.Block{{Index: 2, CurrHash: strings.Repeat("x", MaxHashLen+1)}}, Puts: []Put{good}},
		} {
			if err := s.Write(b); err == nil {
				t.Fatalf("batch %.80v accepted", b)
			}
		}
		if ok := strings.Repeat("a", 64); ValidBucket(ok) != nil || ValidBucket("a-b_c9") != nil {
			t.Fatal("valid bucket names refused")
		}
		if n := s.Len(); n != 2 {
			t.Fatalf("Len = %d after refused batches, want 2", n)
		}
		if _, err := s.Get("ok", []byte("k")); !errors.Is(err, ErrNotFound) {
			t.Fatalf("a put of a refused batch was applied: %v", err)
		}
		if err := s.Write(Batch{Puts: []Put{{Bucket: "ok", Key: make([]byte, MaxKeyLen), Value: []byte("v")}}}); err != nil {
			t.Fatalf("a key of MaxKeyLen: %v", err)
		}
	})

	t.Run("Closed", func(t *testing.T) {
		s := open(t)
		if err := s.Append(chain(3)...); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Write(Batch{}); !errors.Is(err, ErrClosed) {
			t.Fatalf("Write: %v", err)
		}
		if err := s.Append(block.Next(block.Genesis(), "x")); !errors.Is(err, ErrClosed) {
			t.Fatalf("Append: %v", err)
		}
		if _, err := s.Block(0); !errors.Is(err, ErrClosed) {
			t.Fatalf("Block: %v", err)
		}
		if _, err := s.Get("b", []byte("k")); !errors.Is(err, ErrClosed) {
			t.Fatalf("Get: %v", err)
		}
		if err := s.Scan("b", nil, func(k, v []byte) error { return nil }); !errors.Is(err, ErrClosed) {
			t.Fatalf("Scan: %v", err)
		}
		yielded := 0
		for _, err := range s.Blocks(0) {
			yielded++
			if !errors.Is(err, ErrClosed) {
				t.Fatalf("Blocks: %v", err)
			}
		}
		if yielded != 1 {
			t.Fatalf("Blocks after Close yielded %d times, want one ErrClosed", yielded)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	})
}
