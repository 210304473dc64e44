package legacy

import (
	"reflect"
	"strings"
	"testing"

	"github.com/naivechain/naivechain/internal/block"
)

// benchData40 is a typical block data: a 40-byte JSON string.
var benchData40 = `"` + strings.Repeat("x", 38) + `"`

// benchUpload is the DataUpload a node sends a joiner: two peers and a
// chain of n blocks, genesis included, each holding 40 bytes of data.
func benchUpload(n int) DataUpload {
	blocks := make([]block.Block, 1, n)
	blocks[0] = block.Genesis()
	for len(blocks) < n {
		blocks = append(blocks, block.Next(blocks[len(blocks)-1], benchData40))
	}
	return DataUpload{
		Peers:  []Peer{{ID: idB, Host: "10.0.0.2", Port: "9802"}, {ID: idC, Host: "10.0.0.3", Port: "9803"}},
		Blocks: blocks,
	}
}

var sink any

func benchLegacyMessages() []struct {
	name   string
	msg    Message
	blocks int
} {
	return []struct {
		name   string
		msg    Message
		blocks int
	}{
		{"Validate", Validate{Block: block.Next(block.Genesis(), benchData40)}, 1},
		{"DataUpload/1000", benchUpload(1000), 1000},
	}
}

func BenchmarkEncode(b *testing.B) {
	for _, c := range benchLegacyMessages() {
		b.Run(c.name, func(b *testing.B) {
			frame := Encode(c.msg)
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				frame = Encode(c.msg)
			}
			sink = frame
			b.ReportMetric(float64(c.blocks)*float64(b.N)/b.Elapsed().Seconds(), "blocks/s")
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, c := range benchLegacyMessages() {
		b.Run(c.name, func(b *testing.B) {
			frame := Encode(c.msg)
			if m, err := Decode(frame); err != nil {
				b.Fatal(err)
			} else if !reflect.DeepEqual(m, c.msg) {
				b.Fatalf("round trip changed the message")
			}
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			var m Message
			for b.Loop() {
				var err error
				if m, err = Decode(frame); err != nil {
					b.Fatal(err)
				}
			}
			sink = m
			b.ReportMetric(float64(c.blocks)*float64(b.N)/b.Elapsed().Seconds(), "blocks/s")
		})
	}
}
