package store

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"naivechain/internal/block"
)

func TestCodecRoundTrip(t *testing.T) {
	for _, b := range []block.Block{
		block.Genesis(),
		block.Next(block.Genesis(), ""),
		{Index: 1<<64 - 1, PreviousHash: "\x00\xff", Data: strings.Repeat("d", block.MaxDataLen), CurrHash: strings.Repeat("h", MaxHashLen)},
		{Index: 7},
	} {
		v := encodeBlock(b)
		got, err := decodeBlock(b.Index, v)
		if err != nil || got != b {
			t.Fatalf("decode(encode(%.60v)) = %.60v, %v", b, got, err)
		}
	}
}

func TestDecodeBlockRefuses(t *testing.T) {
	good := encodeBlock(block.Genesis())
	for name, v := range map[string][]byte{
		"empty":           {},
		"version 0":       {0x00, 0, 0, 0},
		"version 2":       append([]byte{0x02}, good[1:]...),
		"truncated":       good[:len(good)-1],
		"trailing":        append(bytes.Clone(good), 0),
		"no length":       {0x01},
		"non-minimal":     {0x01, 0x80, 0x00, 0x00, 0x00},
		"varint overflow": {0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"hash too long":   append([]byte{0x01, 0x81, 0x02}, make([]byte, 257+2)...),
		"length past end": {0x01, 0x05, 'a'},
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
		if enc := encodeBlock(b); !bytes.Equal(enc, v) {
			t.Fatalf("encode(decode(%x)) = %x", v, enc)
		}
	})
}
