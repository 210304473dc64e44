package pow

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/naivechain/naivechain/internal/block"
)

// hashesPerLoop is how many nonces one iteration of the hashing
// benchmarks tries.
const hashesPerLoop = 1 << 12

func reportHashRate(b *testing.B) {
	b.ReportMetric(float64(b.N)*hashesPerLoop/b.Elapsed().Seconds(), "hashes/s")
}

// BenchmarkSearch is the miner's inner loop on one core, at a difficulty
// no nonce meets: every try is a full hash and a failed check.
func BenchmarkSearch(b *testing.B) {
	w := Work{Difficulty: 255}
	for i := range w.Header {
		w.Header[i] = byte(i)
	}
	start := uint64(0)
	for b.Loop() {
		if _, found := Search(&w, start, hashesPerLoop); found {
			b.Fatal("a nonce met difficulty 255")
		}
		start += hashesPerLoop
	}
	reportHashRate(b)
}

// BenchmarkSHA256Header is the bound BenchmarkSearch can approach: one
// sha256 of a header per nonce, nothing else.
func BenchmarkSHA256Header(b *testing.B) {
	var h [block.HeaderLen]byte
	for i := range h {
		h[i] = byte(i)
	}
	var sink byte
	n := uint64(0)
	for b.Loop() {
		for i := 0; i < hashesPerLoop; i++ {
			binary.BigEndian.PutUint64(h[block.NonceOffset:], n)
			sum := sha256.Sum256(h[:])
			sink ^= sum[0]
			n++
		}
	}
	_ = sink
	reportHashRate(b)
}

// BenchmarkCheckBlock is the engine's validation of one block of 100
// entries on its tip: link, entries, root and hash, work, retarget, median
// time and the entry index.
func BenchmarkCheckBlock(b *testing.B) {
	now := time.UnixMilli(1_700_000_000_000)
	e := newEngine(b, func() time.Time { return now }, nil)
	es := make([]string, 100)
	for i := range es {
		es[i] = fmt.Sprintf(`{"entry": %d, "payload": "some data of a typical size, about eighty bytes long"}`, i)
		if err := block.CheckEntry(es[i]); err != nil {
			b.Fatal(err)
		}
	}
	blk := mineBlock(b, e.chain.Tip(), es, now.UnixMilli(), e.p.StartDifficulty)
	v, ok := e.idx.viewOf(blk.PreviousHash, 0)
	if !ok {
		b.Fatal("no view of genesis")
	}
	for b.Loop() {
		if _, err := e.check(v, blk); err != nil {
			b.Fatal(err)
		}
	}
}
