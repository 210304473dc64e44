package store

import (
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/naivechain/naivechain/internal/block"
)

// benchData is about 40 bytes, the size of a typical block's data.
func benchData(i uint64) string { return fmt.Sprintf("payment %016d to account %08d", i, i%9973) }

func benchAppend(b *testing.B, open func(b *testing.B) Store) {
	for _, size := range []int{1, 64, 1024} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			s := open(b)
			tip := block.Genesis()
			if err := s.Append(tip); err != nil {
				b.Fatal(err)
			}
			batch := make([]block.Block, size)
			blocks := 0
			for b.Loop() {
				for i := range batch {
					tip = block.Next(tip, benchData(tip.Index+1))
					batch[i] = tip
				}
				if err := s.Append(batch...); err != nil {
					b.Fatal(err)
				}
				blocks += size
			}
			b.ReportMetric(float64(blocks)/b.Elapsed().Seconds(), "blocks/s")
		})
	}
}

// BenchmarkBoltAppend measures durable appends: one fsynced transaction
// per batch.
func BenchmarkBoltAppend(b *testing.B) {
	benchAppend(b, func(b *testing.B) Store {
		s, err := OpenBolt(filepath.Join(b.TempDir(), "chain.db"), BoltOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	})
}

// BenchmarkLoggedAppend measures durable appends through the write-ahead
// log: one fdatasynced record per batch, checkpoints into the bolt file
// beside them.
func BenchmarkLoggedAppend(b *testing.B) {
	benchAppend(b, func(b *testing.B) Store {
		return mustOpenLogged(b, filepath.Join(b.TempDir(), "chain.db"), LoggedOptions{})
	})
}

// BenchmarkLoggedWriteAsync measures appends through WriteAsync, queued
// back to back without waiting: the log writer merges what is queued while
// it flushes into one record. blocks/s counts until the last batch is
// durable.
func BenchmarkLoggedWriteAsync(b *testing.B) {
	for _, size := range []int{1, 64} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			s := mustOpenLogged(b, filepath.Join(b.TempDir(), "chain.db"), LoggedOptions{})
			tip := block.Genesis()
			if err := s.Append(tip); err != nil {
				b.Fatal(err)
			}
			var wg sync.WaitGroup
			var failed atomic.Pointer[error]
			done := func(err error) {
				if err != nil {
					failed.Store(&err)
				}
				wg.Done()
			}
			batch := make([]block.Block, size)
			blocks := 0
			start := time.Now()
			for b.Loop() {
				for i := range batch {
					tip = block.Next(tip, benchData(tip.Index+1))
					batch[i] = tip
				}
				wg.Add(1)
				if err := s.WriteAsync(Batch{Blocks: batch}, done); err != nil {
					b.Fatal(err)
				}
				blocks += size
			}
			wg.Wait()
			elapsed := time.Since(start)
			if err := failed.Load(); err != nil {
				b.Fatal(*err)
			}
			s.wmu.Lock()
			records := s.seq
			s.wmu.Unlock()
			b.ReportMetric(float64(blocks)/elapsed.Seconds(), "blocks/s")
			b.ReportMetric(float64(blocks)/float64(records), "blocks/record")
		})
	}
}

// BenchmarkMemoryAppend is the same with nothing durable, for comparison.
func BenchmarkMemoryAppend(b *testing.B) {
	benchAppend(b, func(b *testing.B) Store { return NewMemory() })
}

// BenchmarkBoltOpen measures opening a store of 100k blocks, which reads
// the length and verifies the last 1024 blocks.
func BenchmarkBoltOpen(b *testing.B) {
	path := filepath.Join(b.TempDir(), "chain.db")
	s, err := OpenBolt(path, BoltOptions{})
	if err != nil {
		b.Fatal(err)
	}
	tip := block.Genesis()
	batch := []block.Block{tip}
	for tip.Index < 100_000-1 {
		for len(batch) < 4096 && tip.Index < 100_000-1 {
			tip = block.Next(tip, benchData(tip.Index+1))
			batch = append(batch, tip)
		}
		if err := s.Append(batch...); err != nil {
			b.Fatal(err)
		}
		batch = batch[:0]
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		s, err := OpenBolt(path, BoltOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if s.Len() != 100_000 {
			b.Fatalf("Len = %d", s.Len())
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBlockRead measures what a block read from disk costs beyond
// bbolt's lookup: decoding it, and decoding it and checking its hash
// (checkStored), for classic blocks of several sizes and a proof-of-work
// block of 100 entries.
func BenchmarkBlockRead(b *testing.B) {
	g := block.Genesis()
	blocks := map[string]block.Block{}
	for _, size := range []int{40, 1 << 10, 64 << 10, 1 << 20} {
		data := make([]byte, size)
		for i := range data {
			data[i] = 'a' + byte(i%26)
		}
		blocks[fmt.Sprintf("classic-%dB", size)] = block.Next(g, string(data))
	}
	entries := make([]string, 100)
	for i := range entries {
		entries[i] = fmt.Sprintf("%q", benchData(uint64(i)))
	}
	pow, err := block.Mine(block.NewPoW(g, entries, 1, block.MinDifficulty), 1<<20)
	if err != nil {
		b.Fatal(err)
	}
	blocks["pow-100-entries"] = pow
	for _, name := range []string{"classic-40B", "classic-1024B", "classic-65536B", "classic-1048576B", "pow-100-entries"} {
		blk := blocks[name]
		v := encodeBlock(blk)
		b.Run(name+"/decode", func(b *testing.B) {
			for b.Loop() {
				if _, err := decodeBlock(1, v); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/decode+check", func(b *testing.B) {
			for b.Loop() {
				got, err := decodeBlock(1, v)
				if err != nil {
					b.Fatal(err)
				}
				if err := checkStored(got); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBoltIterate measures reading a 10,000-block store whole with
// Blocks, every block checked (hash and link), and one block with Block.
func BenchmarkBoltIterate(b *testing.B) {
	path := filepath.Join(b.TempDir(), "chain.db")
	s, err := OpenBolt(path, BoltOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	tip := block.Genesis()
	batch := []block.Block{tip}
	for tip.Index < 10_000-1 {
		tip = block.Next(tip, benchData(tip.Index+1))
		batch = append(batch, tip)
	}
	if err := s.Append(batch...); err != nil {
		b.Fatal(err)
	}
	b.Run("Blocks", func(b *testing.B) {
		n := 0
		for b.Loop() {
			for _, err := range s.Blocks(0) {
				if err != nil {
					b.Fatal(err)
				}
				n++
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/block")
	})
	b.Run("Block", func(b *testing.B) {
		i := uint64(0)
		for b.Loop() {
			if _, err := s.Block(i % 10_000); err != nil {
				b.Fatal(err)
			}
			i += 7
		}
	})
}
