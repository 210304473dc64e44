package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	"naivechain/internal/block"
)

// ErrCorrupt reports a stored block that cannot be decoded. It means the
// file was damaged (a torn write, a bad disk) or written by something else.
var ErrCorrupt = errors.New("store: corrupt block")

// codecVersion is the first byte of every encoded block. ONLY bump it
// together with a decoder for the old version.
const codecVersion = 0x01

// blockKey returns the key of the block at index: 8 bytes big-endian, so that
// bolt's byte order is the chain order.
func blockKey(index uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), index)
}

// encodeBlock encodes everything of b but its index, which is the key:
//
//	0x01 | uvarint len(previous_hash) | previous_hash
//	     | uvarint len(data) | data | uvarint len(curr_hash) | curr_hash
//
// checkBatch has already refused fields over the limits decodeBlock enforces.
func encodeBlock(b block.Block) []byte {
	v := make([]byte, 0, 1+3*binary.MaxVarintLen32+len(b.PreviousHash)+len(b.Data)+len(b.CurrHash))
	v = append(v, codecVersion)
	for _, f := range [...]string{b.PreviousHash, b.Data, b.CurrHash} {
		v = binary.AppendUvarint(v, uint64(len(f)))
		v = append(v, f...)
	}
	return v
}

// decodeBlock decodes the value stored under the key of index. It accepts
// exactly what encodeBlock produces and nothing else (no trailing bytes, no
// over-long varints), so that a decoded block always encodes back to v.
func decodeBlock(index uint64, v []byte) (block.Block, error) {
	corrupt := func(format string, args ...any) (block.Block, error) {
		return block.Block{}, fmt.Errorf("%w: block %d: %s", ErrCorrupt, index, fmt.Sprintf(format, args...))
	}
	if len(v) == 0 {
		return corrupt("empty value")
	}
	if v[0] != codecVersion {
		return corrupt("unknown encoding version %#x", v[0])
	}
	rest := v[1:]
	var fields [3]string
	for i, f := range [...]struct {
		name string
		max  int
	}{{"previous_hash", MaxHashLen}, {"data", block.MaxDataLen}, {"curr_hash", MaxHashLen}} {
		n, size := binary.Uvarint(rest)
		if size <= 0 {
			return corrupt("truncated length of %s", f.name)
		}
		if size != varintLen(n) {
			return corrupt("non-minimal length of %s", f.name)
		}
		rest = rest[size:]
		if n > uint64(f.max) {
			return corrupt("%s is %d bytes, limit %d", f.name, n, f.max)
		}
		if n > uint64(len(rest)) {
			return corrupt("%s is %d bytes, only %d left", f.name, n, len(rest))
		}
		fields[i] = string(rest[:n]) // a copy: v may be bolt's mmap
		rest = rest[n:]
	}
	if len(rest) != 0 {
		return corrupt("%d trailing bytes", len(rest))
	}
	return block.Block{Index: index, PreviousHash: fields[0], Data: fields[1], CurrHash: fields[2]}, nil
}

// varintLen returns the length of the minimal uvarint encoding of n.
func varintLen(n uint64) int {
	size := 1
	for n >= 0x80 {
		n >>= 7
		size++
	}
	return size
}
