package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/naivechain/naivechain/internal/block"
)

// ErrCorrupt reports damaged stored data: a block that does not decode, or
// whose hash or link to the block before it fails; a truncated or empty
// bolt file, or a page bbolt fails on; a damaged write-ahead log record.
// It means the disk or the file was damaged (a torn write, a bad disk, an
// operator's mistake) or written by something else.
var ErrCorrupt = errors.New("store: corrupt")

// ErrMissingLog reports a store whose write-ahead log file is gone: it is
// refused (it wraps ErrCorrupt), as the records it held are not in the
// bolt file.
var ErrMissingLog = errors.New("store: write-ahead log file missing")

// Versions of an encoded block, its first byte. ONLY ADD versions: every
// one ever written must stay readable.
const (
	// codecV1 encodes a classic block: its previous_hash, data and
	// curr_hash.
	codecV1 = 0x01
	// codecV2 encodes a proof-of-work block (block.Block.IsPoW): v1's
	// fields, then its timestamp, difficulty and nonce.
	codecV2 = 0x02
)

// powFieldsLen is the size of v2's fixed fields after v1's:
// timestamp (8), difficulty (1), nonce (8).
const powFieldsLen = 8 + 1 + 8

// blockKey returns the key of the block at index: 8 bytes big-endian, so that
// bolt's byte order is the chain order.
func blockKey(index uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), index)
}

// encodeBlock encodes everything of b but its index, which is the key. A
// classic block is
//
//	0x01 | uvarint len(previous_hash) | previous_hash
//	     | uvarint len(data) | data | uvarint len(curr_hash) | curr_hash
//
// and a proof-of-work block
//
//	0x02 | the same three fields
//	     | timestamp (8 bytes big-endian, the int64's two's complement bits)
//	     | difficulty (1 byte) | nonce (8 bytes big-endian)
//
// so that a store written before proof-of-work blocks existed reads, and
// rewrites, byte for byte the same.
//
// checkBatch has already refused fields over the limits decodeBlock enforces.
func encodeBlock(b block.Block) []byte {
	return appendBlock(make([]byte, 0, encodedLen(b)), b)
}

// appendBlock appends encodeBlock(b) to v.
func appendBlock(v []byte, b block.Block) []byte {
	version := byte(codecV1)
	if b.IsPoW() {
		version = codecV2
	}
	v = append(v, version)
	for _, f := range [...]string{b.PreviousHash, b.Data, b.CurrHash} {
		v = binary.AppendUvarint(v, uint64(len(f)))
		v = append(v, f...)
	}
	if version == codecV2 {
		v = binary.BigEndian.AppendUint64(v, uint64(b.Timestamp))
		v = append(v, b.Difficulty)
		v = binary.BigEndian.AppendUint64(v, b.Nonce)
	}
	return v
}

// encodedLen is len(encodeBlock(b)).
func encodedLen(b block.Block) int {
	n := 1
	for _, f := range [...]string{b.PreviousHash, b.Data, b.CurrHash} {
		n += varintLen(uint64(len(f))) + len(f)
	}
	if b.IsPoW() {
		n += powFieldsLen
	}
	return n
}

// decodeBlock decodes the value stored under the key of index. It accepts
// exactly what encodeBlock produces and nothing else (no trailing bytes, no
// over-long varints, no v2 record of a block that is not a proof-of-work
// block), so that a decoded block always encodes back to v.
func decodeBlock(index uint64, v []byte) (block.Block, error) {
	corrupt := func(format string, args ...any) (block.Block, error) {
		return block.Block{}, fmt.Errorf("%w: block %d: %s", ErrCorrupt, index, fmt.Sprintf(format, args...))
	}
	if len(v) == 0 {
		return corrupt("empty value")
	}
	version := v[0]
	if version != codecV1 && version != codecV2 {
		return corrupt("unknown encoding version %#x", version)
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
	b := block.Block{Index: index, PreviousHash: fields[0], Data: fields[1], CurrHash: fields[2]}
	if version == codecV2 {
		if len(rest) < powFieldsLen {
			return corrupt("truncated proof-of-work fields: %d bytes, want %d", len(rest), powFieldsLen)
		}
		b.Timestamp = int64(binary.BigEndian.Uint64(rest))
		b.Difficulty = rest[8]
		b.Nonce = binary.BigEndian.Uint64(rest[9:])
		rest = rest[powFieldsLen:]
		if !b.IsPoW() {
			return corrupt("version %#x record of a block without proof-of-work fields", version)
		}
	}
	if len(rest) != 0 {
		return corrupt("%d trailing bytes", len(rest))
	}
	return b, nil
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
