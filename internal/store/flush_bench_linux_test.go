//go:build linux

package store

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/naivechain/naivechain/internal/block"
)

// BenchmarkDiskFlush measures the disk itself: each of n writers writes
// 32 KiB into its own file and calls fdatasync, as a store commit does, and
// an op is one such round of all n. On a disk that serialises flushes the
// flushes/s stay flat as writers are added and each flush takes longer:
// the budget the nodes of a one-machine network share.
func BenchmarkDiskFlush(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("writers=%d", n), func(b *testing.B) {
			files := make([]*os.File, n)
			for i := range files {
				f, err := os.OpenFile(filepath.Join(b.TempDir(), "f"), os.O_RDWR|os.O_CREATE, 0o600)
				if err != nil {
					b.Fatal(err)
				}
				defer f.Close()
				if _, err := f.WriteAt(make([]byte, 4<<20), 0); err != nil {
					b.Fatal(err)
				}
				if err := f.Sync(); err != nil {
					b.Fatal(err)
				}
				files[i] = f
			}
			buf := make([]byte, 32<<10)
			round := 0
			for b.Loop() {
				var wg sync.WaitGroup
				for _, f := range files {
					wg.Go(func() {
						off := int64(round%100) * int64(len(buf))
						if _, err := f.WriteAt(buf, off); err != nil {
							b.Error(err)
						}
						if err := syscall.Fdatasync(int(f.Fd())); err != nil {
							b.Error(err)
						}
					})
				}
				wg.Wait()
				round++
			}
			b.ReportMetric(float64(round*n)/b.Elapsed().Seconds(), "flushes/s")
		})
	}
}

// BenchmarkBoltAppendConcurrent commits one block to each of n stores at
// once, as the n nodes of a devnet on one machine do: an op is the slowest
// of the n commits.
func BenchmarkBoltAppendConcurrent(b *testing.B) {
	appendConcurrent(b, func(b *testing.B) Store {
		s, err := OpenBolt(filepath.Join(b.TempDir(), "chain.db"), BoltOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	})
}

// BenchmarkLoggedAppendConcurrent is the same through the write-ahead log.
func BenchmarkLoggedAppendConcurrent(b *testing.B) {
	appendConcurrent(b, func(b *testing.B) Store {
		return mustOpenLogged(b, filepath.Join(b.TempDir(), "chain.db"), LoggedOptions{})
	})
}

func appendConcurrent(b *testing.B, open func(b *testing.B) Store) {
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("stores=%d", n), func(b *testing.B) {
			stores := make([]Store, n)
			tips := make([]block.Block, n)
			for i := range stores {
				s := open(b)
				tips[i] = block.Genesis()
				if err := s.Append(tips[i]); err != nil {
					b.Fatal(err)
				}
				stores[i] = s
			}
			for b.Loop() {
				var wg sync.WaitGroup
				for i, s := range stores {
					wg.Go(func() {
						tips[i] = block.Next(tips[i], benchData(tips[i].Index+1))
						if err := s.Append(tips[i]); err != nil {
							b.Error(err)
						}
					})
				}
				wg.Wait()
			}
		})
	}
}
