package store

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/naivechain/naivechain/internal/block"
)

// powBlock is a proof-of-work block as the store sees it: the store
// checks no rule, so its hash need not meet its difficulty.
func powBlock() block.Block {
	b := block.NewPoW(block.Genesis(), []string{`"a"`, `{"b": 1}`}, 1_700_000_000_000, 20)
	b.Nonce = 0x0102030405060708
	b.CurrHash = strings.Repeat("0", 5) + strings.Repeat("f", 59)
	return b
}

func TestCodecRoundTrip(t *testing.T) {
	for _, b := range []block.Block{
		block.Genesis(),
		block.Next(block.Genesis(), ""),
		{Index: 1<<64 - 1, PreviousHash: "\x00\xff", Data: strings.Repeat("d", block.MaxDataLen), CurrHash: strings.Repeat("h", MaxHashLen)},
		{Index: 7},
		powBlock(),
		{Index: 2, Timestamp: -1},
		{Index: 3, Nonce: 1},
		{Index: 4, Difficulty: 255},
		{Index: 1<<64 - 1, PreviousHash: strings.Repeat("p", MaxHashLen), Data: strings.Repeat("d", block.MaxDataLen), CurrHash: strings.Repeat("h", MaxHashLen),
			Timestamp: -1 << 63, Nonce: 1<<64 - 1, Difficulty: 255},
	} {
		v := encodeBlock(b)
		if n := encodedLen(b); n != len(v) || cap(v) != n {
			t.Fatalf("encodedLen(%.60v) = %d, encoded %d bytes (cap %d)", b, n, len(v), cap(v))
		}
		want := byte(codecV1)
		if b.IsPoW() {
			want = codecV2
		}
		if v[0] != want {
			t.Fatalf("%.60v encoded with version %#x, want %#x", b, v[0], want)
		}
		got, err := decodeBlock(b.Index, v)
		if err != nil || got != b {
			t.Fatalf("decode(encode(%.60v)) = %.60v, %v", b, got, err)
		}
	}
}

// TestCodecBytes pins both layouts byte for byte: a classic block is
// written as it always was, so existing files read and rewrite the same.
func TestCodecBytes(t *testing.T) {
	g := block.Genesis()
	want := []byte{0x01, 31}
	want = append(want, "ioiiiuasyi891qbduquiuqwiqwiupwe"...)
	want = append(want, 8)
	want = append(want, `"random"`...)
	want = append(want, 64)
	want = append(want, block.GenesisHash...)
	if got := encodeBlock(g); !bytes.Equal(got, want) {
		t.Fatalf("genesis encodes as\n%x\nwant\n%x", got, want)
	}

	b := powBlock()
	want = []byte{0x02, 64}
	want = append(want, block.GenesisHash...)
	want = append(want, byte(len(b.Data)))
	want = append(want, b.Data...)
	want = append(want, 64)
	want = append(want, b.CurrHash...)
	want = append(want, 0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00) // 1_700_000_000_000
	want = append(want, 20)
	want = append(want, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08)
	if got := encodeBlock(b); !bytes.Equal(got, want) {
		t.Fatalf("PoW block encodes as\n%x\nwant\n%x", got, want)
	}

	// A negative timestamp is its two's complement.
	b.Timestamp = -2
	v := encodeBlock(b)
	if tail := v[len(v)-powFieldsLen:]; !bytes.Equal(tail[:8], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}) {
		t.Fatalf("timestamp -2 encodes as %x", tail[:8])
	}
}

func TestDecodeBlockRefuses(t *testing.T) {
	good := encodeBlock(block.Genesis())
	goodPoW := encodeBlock(powBlock())
	// v2 is good with 17 bytes of proof-of-work fields appended.
	v2 := func(fields ...byte) []byte {
		return append(append([]byte{codecV2}, good[1:]...), fields...)
	}
	zeros := make([]byte, powFieldsLen)
	for name, v := range map[string][]byte{
		"empty":                             {},
		"version 0":                         {0x00, 0, 0, 0},
		"version 3":                         append([]byte{0x03}, goodPoW[1:]...),
		"version 2 without its fields":      append([]byte{0x02}, good[1:]...),
		"version 2 with zero pow fields":    v2(zeros...),
		"version 2 truncated by one":        goodPoW[:len(goodPoW)-1],
		"version 2 truncated in the nonce":  goodPoW[:len(goodPoW)-5],
		"version 2 truncated at difficulty": goodPoW[:len(goodPoW)-9],
		"version 2 truncated in a field":    goodPoW[:20],
		"version 2 trailing":                append(bytes.Clone(goodPoW), 0),
		"version 2 trailing zeros":          v2(append(zeros, 0)...),
		"version 1 with pow fields":         append([]byte{0x01}, goodPoW[1:]...),
		"version 1 with 17 zero bytes":      append(bytes.Clone(good), zeros...),
		"truncated":                         good[:len(good)-1],
		"trailing":                          append(bytes.Clone(good), 0),
		"no length":                         {0x01},
		"non-minimal":                       {0x01, 0x80, 0x00, 0x00, 0x00},
		"varint overflow":                   {0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"hash too long":                     append([]byte{0x01, 0x81, 0x02}, make([]byte, 257+2)...),
		"length past end":                   {0x01, 0x05, 'a'},
	} {
		if b, err := decodeBlock(3, v); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "block 3") {
			t.Errorf("%s: decodeBlock = %v, %v; want ErrCorrupt naming block 3", name, b, err)
		}
	}
}

func FuzzDecodeBlock(f *testing.F) {
	f.Add(uint64(0), encodeBlock(block.Genesis()))
	f.Add(uint64(1), encodeBlock(block.Next(block.Genesis(), "hello")))
	f.Add(uint64(2), encodeBlock(block.Block{}))
	f.Add(uint64(3), []byte{0x01, 0x80, 0x00})
	f.Add(uint64(4), []byte{})
	f.Add(uint64(1), encodeBlock(powBlock()))
	f.Add(uint64(5), encodeBlock(block.Block{Nonce: 1}))
	f.Add(uint64(6), append([]byte{0x02, 0, 0, 0}, make([]byte, powFieldsLen)...))
	f.Fuzz(func(t *testing.T, index uint64, v []byte) {
		b, err := decodeBlock(index, v)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if b.Index != index {
			t.Fatalf("index %d, want %d", b.Index, index)
		}
		if enc := encodeBlock(b); !bytes.Equal(enc, v) || encodedLen(b) != len(v) {
			t.Fatalf("encode(decode(%x)) = %x, encodedLen %d", v, enc, encodedLen(b))
		}
	})
}
