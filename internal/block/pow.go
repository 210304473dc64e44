package block

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"strings"
)

// Proof-of-work blocks carry three more fields than the original's four:
// Timestamp, Nonce and Difficulty. A block is a proof-of-work block when
// any of them is set (a valid one always has Difficulty >= MinDifficulty);
// otherwise it is a classic block, hashed as the original hashes it.
//
// A proof-of-work block's Data is the JSON array of its entries, each
// entry a data string exactly as a classic block stores one (EncodeData's
// output). Its CurrHash is the hex sha256 of the 89-byte header:
//
//	index        8 bytes, big-endian
//	previous     32 bytes (PreviousHash, hex-decoded)
//	entries root 32 bytes (EntriesRoot of the entries)
//	timestamp    8 bytes, big-endian, Unix milliseconds (two's complement)
//	difficulty   1 byte
//	nonce        8 bytes, big-endian
//
// and that hash must start with Difficulty zero bits.
const (
	// HeaderLen is the size of the hashed header.
	HeaderLen = 8 + 32 + 32 + 8 + 1 + 8
	// NonceOffset is where the nonce sits in the header: last, so that a
	// miner rewrites only those bytes between attempts.
	NonceOffset = HeaderLen - 8
	// MinDifficulty is the least work any proof-of-work block carries.
	MinDifficulty = 8
	// MaxEntries bounds the entries of one proof-of-work block.
	MaxEntries = 1000
)

// Rule errors of proof-of-work blocks.
var (
	ErrBadEntries     = errors.New("block: data is not a canonical array of entries")
	ErrLowDifficulty  = errors.New("block: difficulty below the minimum")
	ErrInsufficient   = errors.New("block: curr_hash does not meet its difficulty")
	ErrBadPrevious    = errors.New("block: previous_hash is not 64 lower-case hex digits")
	ErrDuplicateEntry = errors.New("block: the same entry twice")
)

// IsPoW reports whether b is a proof-of-work block.
func (b Block) IsPoW() bool { return b.Difficulty != 0 || b.Timestamp != 0 || b.Nonce != 0 }

// MarshalJSON writes a classic block with the original's four keys only and
// a proof-of-work block with all seven, nonce 0 included.
//
// It does not escape '<', '>' and '&': encoding/json escapes a Marshaler's
// output itself unless the caller's Encoder turned that off (as the API
// does, to serve data as the original does), so the caller's choice holds.
func (b Block) MarshalJSON() ([]byte, error) { return b.AppendJSON(nil), nil }

// EntryID returns the id of an entry: the hex of its leaf hash in the
// entries tree, sha256(0x00 || entry).
func EntryID(entry string) string {
	h := leafHash(entry)
	return hex.EncodeToString(h[:])
}

func leafHash(entry string) [sha256.Size]byte {
	d := sha256.New()
	d.Write([]byte{0})
	d.Write([]byte(entry))
	var out [sha256.Size]byte
	d.Sum(out[:0])
	return out
}

// EntriesRoot returns the Merkle tree hash of entries as RFC 6962 defines
// it: leaves sha256(0x00 || entry), inner nodes sha256(0x01 || left ||
// right), the left subtree holding the largest power of two below n.
// The root of no entries is sha256 of nothing.
func EntriesRoot(entries []string) [sha256.Size]byte {
	if len(entries) == 0 {
		return sha256.Sum256(nil)
	}
	level := make([][sha256.Size]byte, len(entries))
	for i, e := range entries {
		level[i] = leafHash(e)
	}
	return treeHash(level)
}

func treeHash(leaves [][sha256.Size]byte) [sha256.Size]byte {
	if len(leaves) == 1 {
		return leaves[0]
	}
	k := 1 << (bits.Len(uint(len(leaves)-1)) - 1) // largest power of two < n
	l, r := treeHash(leaves[:k]), treeHash(leaves[k:])
	var buf [1 + 2*sha256.Size]byte
	buf[0] = 1
	copy(buf[1:], l[:])
	copy(buf[1+sha256.Size:], r[:])
	return sha256.Sum256(buf[:])
}

// EncodeEntries returns the canonical data of a block holding entries: a
// JSON array of strings with no spaces. Entries are printable ASCII (see
// CheckEntry), so only '"' and '\' need escaping.
func EncodeEntries(entries []string) string {
	var sb strings.Builder
	sb.WriteByte('[')
	for i, e := range entries {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteByte('"')
		for j := 0; j < len(e); j++ {
			if c := e[j]; c == '"' || c == '\\' {
				sb.WriteByte('\\')
			}
			sb.WriteByte(e[j])
		}
		sb.WriteByte('"')
	}
	sb.WriteByte(']')
	return sb.String()
}

// CheckEntry reports whether e is a valid entry: a data string exactly as
// EncodeData writes it, which is printable ASCII.
func CheckEntry(e string) error {
	if len(e) == 0 {
		return fmt.Errorf("%w: empty entry", ErrBadEntries)
	}
	for i := 0; i < len(e); i++ {
		if e[i] < 0x20 || e[i] > 0x7e {
			return fmt.Errorf("%w: entry holds byte %#x", ErrBadEntries, e[i])
		}
	}
	canon, err := EncodeData(json.RawMessage(e))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadEntries, err)
	}
	if canon != e {
		return fmt.Errorf("%w: entry %.40q is not in canonical form", ErrBadEntries, e)
	}
	return nil
}

// DecodeEntries returns the entries of a proof-of-work block's data. It
// accepts only what EncodeEntries writes for 1 to MaxEntries valid,
// distinct entries.
func DecodeEntries(data string) ([]string, error) {
	if len(data) > MaxDataLen {
		return nil, ErrDataTooLong
	}
	var entries []string
	if err := json.Unmarshal([]byte(data), &entries); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadEntries, err)
	}
	switch {
	case len(entries) == 0:
		return nil, fmt.Errorf("%w: no entries", ErrBadEntries)
	case len(entries) > MaxEntries:
		return nil, fmt.Errorf("%w: %d entries, limit %d", ErrBadEntries, len(entries), MaxEntries)
	}
	seen := make(map[string]struct{}, len(entries))
	for _, e := range entries {
		if err := CheckEntry(e); err != nil {
			return nil, err
		}
		if _, dup := seen[e]; dup {
			return nil, ErrDuplicateEntry
		}
		seen[e] = struct{}{}
	}
	if EncodeEntries(entries) != data {
		return nil, fmt.Errorf("%w: not in canonical form", ErrBadEntries)
	}
	return entries, nil
}

// Header returns the hashed header of a proof-of-work block whose entries
// have the given root. PreviousHash must be 64 hex digits.
func Header(b Block, root [sha256.Size]byte) ([HeaderLen]byte, error) {
	var h [HeaderLen]byte
	binary.BigEndian.PutUint64(h[0:], b.Index)
	if len(b.PreviousHash) != 2*sha256.Size || strings.ToLower(b.PreviousHash) != b.PreviousHash {
		return h, ErrBadPrevious
	}
	if _, err := hex.Decode(h[8:40], []byte(b.PreviousHash)); err != nil {
		return h, ErrBadPrevious
	}
	copy(h[40:72], root[:])
	binary.BigEndian.PutUint64(h[72:], uint64(b.Timestamp))
	h[80] = b.Difficulty
	binary.BigEndian.PutUint64(h[NonceOffset:], b.Nonce)
	return h, nil
}

// LeadingZeros returns the number of leading zero bits of a hash.
func LeadingZeros(sum *[sha256.Size]byte) int {
	n := 0
	for i := 0; i < len(sum); i += 8 {
		w := binary.BigEndian.Uint64(sum[i:])
		n += bits.LeadingZeros64(w)
		if w != 0 {
			break
		}
	}
	return n
}

// HashHeader returns the hex curr_hash of a header.
func HashHeader(h *[HeaderLen]byte) string {
	sum := sha256.Sum256(h[:])
	return hex.EncodeToString(sum[:])
}

// NewPoW builds an unmined proof-of-work block on prev carrying entries;
// the miner then searches its Nonce (Seal fills CurrHash).
func NewPoW(prev Block, entries []string, timestamp int64, difficulty uint8) Block {
	return Block{Index: prev.Index + 1, PreviousHash: prev.CurrHash, Data: EncodeEntries(entries),
		Timestamp: timestamp, Difficulty: difficulty}
}

// Seal sets b's Nonce and the CurrHash that goes with it.
func Seal(b Block, nonce uint64) (Block, error) {
	entries, err := DecodeEntries(b.Data)
	if err != nil {
		return b, err
	}
	b.Nonce = nonce
	h, err := Header(b, EntriesRoot(entries))
	if err != nil {
		return b, err
	}
	b.CurrHash = HashHeader(&h)
	return b, nil
}

// checkPoW checks what a proof-of-work block must satisfy alone: its
// difficulty floor, its entries, its hash and its work. The link, the
// index and the data size are CheckNext's.
func checkPoW(b Block) ([]string, error) {
	if b.Difficulty < MinDifficulty {
		return nil, &RuleError{Index: b.Index, Err: fmt.Errorf("%w: %d, minimum %d", ErrLowDifficulty, b.Difficulty, MinDifficulty)}
	}
	entries, err := DecodeEntries(b.Data)
	if err != nil {
		return nil, &RuleError{Index: b.Index, Err: err}
	}
	h, err := Header(b, EntriesRoot(entries))
	if err != nil {
		return nil, &RuleError{Index: b.Index, Err: err}
	}
	sum := sha256.Sum256(h[:])
	if hex.EncodeToString(sum[:]) != b.CurrHash {
		return nil, &RuleError{Index: b.Index, Err: ErrBadHash}
	}
	if LeadingZeros(&sum) < int(b.Difficulty) {
		return nil, &RuleError{Index: b.Index, Err: ErrInsufficient}
	}
	return entries, nil
}

// checkPoWHash is checkPoW for a block that was valid once (a stored
// one): it recomputes the hash and the work from the fields, and skips the
// JSON checks of each entry, which cost a hundred times the hashing. Data
// that EncodeEntries cannot have written gets the full check, which says
// what is wrong with it.
func checkPoWHash(b Block) error {
	entries, ok := splitEntries(b.Data)
	if !ok || b.Difficulty < MinDifficulty {
		_, err := checkPoW(b)
		if err == nil {
			err = &RuleError{Index: b.Index, Err: ErrBadEntries}
		}
		return err
	}
	h, err := Header(b, EntriesRoot(entries))
	if err != nil {
		return &RuleError{Index: b.Index, Err: err}
	}
	sum := sha256.Sum256(h[:])
	var hexSum [2 * sha256.Size]byte
	hex.Encode(hexSum[:], sum[:])
	if string(hexSum[:]) != b.CurrHash {
		return &RuleError{Index: b.Index, Err: ErrBadHash}
	}
	if LeadingZeros(&sum) < int(b.Difficulty) {
		return &RuleError{Index: b.Index, Err: ErrInsufficient}
	}
	return nil
}

// splitEntries is the inverse of EncodeEntries: it returns the entries
// of data when data is exactly what EncodeEntries writes for them (1 to
// MaxEntries entries of printable ASCII, only '"' and '\\' escaped), so
// that the entries root computed from them covers every byte of data.
func splitEntries(data string) ([]string, bool) {
	if len(data) < 2 || data[0] != '[' || data[len(data)-1] != ']' {
		return nil, false
	}
	var entries []string
	var buf []byte
	for i := 1; i < len(data)-1; {
		if len(entries) > 0 {
			if data[i] != ',' {
				return nil, false
			}
			i++
		}
		if i >= len(data)-1 || data[i] != '"' || len(entries) == MaxEntries {
			return nil, false
		}
		i++
		start, escaped := i, false
		buf = buf[:0]
		for ; i < len(data)-1 && data[i] != '"'; i++ {
			c := data[i]
			if c < 0x20 || c > 0x7e {
				return nil, false
			}
			if c == '\\' {
				if i+1 >= len(data)-1 || data[i+1] != '"' && data[i+1] != '\\' {
					return nil, false
				}
				if !escaped {
					buf, escaped = append(buf, data[start:i]...), true
				}
				i++
				c = data[i]
			}
			if escaped {
				buf = append(buf, c)
			}
		}
		if i >= len(data)-1 {
			return nil, false // the closing quote is missing
		}
		e := data[start:i]
		if escaped {
			e = string(buf)
		}
		if e == "" {
			return nil, false
		}
		entries = append(entries, e)
		i++
	}
	return entries, len(entries) > 0
}

// ErrNoNonce reports that Mine tried every nonce it was allowed to.
var ErrNoNonce = errors.New("block: no nonce meets the difficulty within the tries allowed")

// Mine searches nonces 0, 1, ... (at most tries of them) on one goroutine
// and returns b sealed with the first that meets its difficulty. It is
// for tools and tests at small difficulties; nodes mine with many
// goroutines (pow.Search).
func Mine(b Block, tries uint64) (Block, error) {
	entries, err := DecodeEntries(b.Data)
	if err != nil {
		return b, err
	}
	h, err := Header(b, EntriesRoot(entries))
	if err != nil {
		return b, err
	}
	for nonce := uint64(0); nonce < tries; nonce++ {
		binary.BigEndian.PutUint64(h[NonceOffset:], nonce)
		if sum := sha256.Sum256(h[:]); LeadingZeros(&sum) >= int(b.Difficulty) {
			b.Nonce = nonce
			b.CurrHash = hex.EncodeToString(sum[:])
			return b, nil
		}
	}
	return b, ErrNoNonce
}
