package block

import (
	"crypto/sha256"
	"encoding/json"
	"strings"
	"testing"
)

// benchData40 is a typical block data: a 40-byte JSON string, quotes
// included, as EncodeData stores a posted string.
var benchData40 = `"` + strings.Repeat("x", 38) + `"`

// benchData1K is a 1 KiB data string.
var benchData1K = `"` + strings.Repeat("y", 1022) + `"`

// sink keeps results alive so the compiler cannot drop the calls.
var sink any

func BenchmarkHash(b *testing.B) {
	for _, c := range []struct {
		name string
		data string
	}{{"data=40B", benchData40}, {"data=1KiB", benchData1K}} {
		b.Run(c.name, func(b *testing.B) {
			prev := GenesisHash
			// Bytes hashed: previous_hash (64 hex digits) then data.
			b.SetBytes(int64(len(prev) + len(c.data)))
			b.ReportAllocs()
			var h string
			for b.Loop() {
				h = Hash(prev, c.data)
			}
			sink = h
		})
	}
}

// BenchmarkSHA256Reference is the floor for Hash: crypto/sha256 alone on one
// core, on the 40 bytes of typical data and on the 104 bytes Hash digests
// for it (previous_hash then data).
func BenchmarkSHA256Reference(b *testing.B) {
	for _, c := range []struct {
		name string
		in   []byte
	}{
		{"in=40B", []byte(benchData40)},
		{"in=104B", []byte(GenesisHash + benchData40)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.in)))
			b.ReportAllocs()
			var sum [sha256.Size]byte
			for b.Loop() {
				sum = sha256.Sum256(c.in)
			}
			sink = sum
		})
	}
}

func BenchmarkNext(b *testing.B) {
	prev := Next(Genesis(), `"previous"`)
	b.ReportAllocs()
	var nb Block
	for b.Loop() {
		nb = Next(prev, benchData40)
	}
	sink = nb
}

func BenchmarkCheckNext(b *testing.B) {
	prev := Next(Genesis(), `"previous"`)
	next := Next(prev, benchData40)
	b.ReportAllocs()
	for b.Loop() {
		if err := CheckNext(prev, next); err != nil {
			b.Fatal(err)
		}
	}
}

// benchChain returns a valid chain of n blocks, genesis included, each
// holding 40 bytes of data.
func benchChain(n int) []Block {
	chain := make([]Block, 1, n)
	chain[0] = Genesis()
	for len(chain) < n {
		chain = append(chain, Next(chain[len(chain)-1], benchData40))
	}
	return chain
}

func BenchmarkCheckChain(b *testing.B) {
	const n = 10_000
	chain := benchChain(n)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := CheckChain(chain); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "blocks/s")
}

func BenchmarkEncodeData(b *testing.B) {
	for _, c := range []struct {
		name string
		in   string
	}{
		{"string", `"Testing String Again"`},
		{"object", `{"from":"alice","to":"bob","amount":42.5,"tags":["rent","june"],"paid":true,"note":null}`},
	} {
		b.Run(c.name, func(b *testing.B) {
			raw := json.RawMessage(c.in)
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			var s string
			for b.Loop() {
				var err error
				if s, err = EncodeData(raw); err != nil {
					b.Fatal(err)
				}
			}
			sink = s
		})
	}
}

// BenchmarkCheckJSONText measures the check every decoder of outside JSON
// runs before decoding: 1 MiB of text with an escape every 64 bytes.
func BenchmarkCheckJSONText(b *testing.B) {
	text := []byte(`"` + strings.Repeat(strings.Repeat("a", 58)+`\u00e9`, 1<<14) + `"`)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if err := CheckJSONText(text); err != nil {
			b.Fatal(err)
		}
	}
}
