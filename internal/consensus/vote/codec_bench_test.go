package vote

import (
	"fmt"
	"strings"
	"testing"

	"github.com/naivechain/naivechain/internal/block"
)

// benchBatch is a batch of 64 writes of 40 bytes each, the kind of entry a
// proposer under load builds.
func benchBatch() batch {
	b := batch{Session: 7<<32 | 12345, Low: 1000, Items: make([]item, 64)}
	for i := range b.Items {
		d := fmt.Sprintf(`"write-%06d`, i)
		b.Items[i] = item{Seq: uint64(1000 + i), Data: d + strings.Repeat("x", 39-len(d)) + `"`}
		if len(b.Items[i].Data) != 40 {
			panic("benchBatch: item is not 40 bytes")
		}
	}
	return b
}

var sink any

func BenchmarkEncodeBatch(b *testing.B) {
	bt := benchBatch()
	b.SetBytes(int64(len(encodeBatch(bt))))
	b.ReportAllocs()
	var buf []byte
	for b.Loop() {
		buf = encodeBatch(bt)
	}
	sink = buf
	b.ReportMetric(float64(len(bt.Items))*float64(b.N)/b.Elapsed().Seconds(), "items/s")
}

func BenchmarkDecodeBatch(b *testing.B) {
	bt := benchBatch()
	buf := encodeBatch(bt)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	var got batch
	for b.Loop() {
		var err error
		if got, err = decodeBatch(buf); err != nil {
			b.Fatal(err)
		}
	}
	sink = got
	b.ReportMetric(float64(len(bt.Items))*float64(b.N)/b.Elapsed().Seconds(), "items/s")
}

// BenchmarkCheckBatch checks the batch of BenchmarkDecodeBatch, as a
// follower does with every entry it receives.
func BenchmarkCheckBatch(b *testing.B) {
	bt := benchBatch()
	buf := encodeBatch(bt)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if err := checkBatch(buf); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(bt.Items))*float64(b.N)/b.Elapsed().Seconds(), "items/s")
}

// BenchmarkDecodeBlocksEntry decodes a blocks entry of 64 chained blocks
// with 40 bytes of data each.
func BenchmarkDecodeBlocksEntry(b *testing.B) {
	const n = 64
	blocks := make([]block.Block, 0, n)
	prev := block.Genesis()
	for i := 0; i < n; i++ {
		prev = block.Next(prev, benchBatch().Items[i].Data)
		blocks = append(blocks, prev)
	}
	buf, err := encodeBlocks(blocks)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	var got []block.Block
	for b.Loop() {
		var err error
		if got, err = decodeBlocksEntry(buf); err != nil {
			b.Fatal(err)
		}
	}
	sink = got
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "blocks/s")
}
