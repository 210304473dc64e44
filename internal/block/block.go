package block

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// Genesis constants are PyNaive Chain's, so that every naivechain and every
// original node share block 0.
const (
	GenesisPreviousHash = "ioiiiuasyi891qbduquiuqwiqwiupwe"
	GenesisData         = `"random"`
	GenesisHash         = "71fbc6a1c90d94050b32ab9f9d6a11fc41724f8f954905c120c4c16b71f1f80f"
)

// MaxDataLen bounds the data string of one block. It keeps every block, and
// every message carrying blocks, of a known size.
const MaxDataLen = 1 << 20

// Block is one link of the chain. Field order is the wire and API order.
type Block struct {
	Index        uint64 `json:"index"`
	PreviousHash string `json:"previous_hash"`
	Data         string `json:"data"`
	CurrHash     string `json:"curr_hash"`
	// Timestamp (Unix milliseconds), Nonce and Difficulty (leading zero
	// bits of CurrHash) are set only in proof-of-work blocks (see pow.go).
	Timestamp  int64  `json:"timestamp,omitempty"`
	Nonce      uint64 `json:"nonce,omitempty"`
	Difficulty uint8  `json:"difficulty,omitempty"`
}

// Hash returns the lower-case hex sha256 of previousHash followed by data.
// The index is not hashed, as in the original.
func Hash(previousHash, data string) string {
	var sum [sha256.Size]byte
	if n := len(previousHash) + len(data); n <= 512 {
		// The common case hashes from a buffer on the stack.
		var buf [512]byte
		b := append(append(buf[:0], previousHash...), data...)
		sum = sha256.Sum256(b)
	} else {
		h := sha256.New()
		h.Write([]byte(previousHash))
		h.Write([]byte(data))
		h.Sum(sum[:0])
	}
	var out [2 * sha256.Size]byte
	hex.Encode(out[:], sum[:])
	return string(out[:])
}

// Genesis returns block 0.
func Genesis() Block {
	return Block{Index: 0, PreviousHash: GenesisPreviousHash, Data: GenesisData, CurrHash: GenesisHash}
}

// Next builds the block that carries data on top of prev.
func Next(prev Block, data string) Block {
	return Block{Index: prev.Index + 1, PreviousHash: prev.CurrHash, Data: data, CurrHash: Hash(prev.CurrHash, data)}
}

// Rule errors. A caller tells them apart with errors.Is; a block that fails
// any of them came from a faulty or malicious source.
var (
	ErrBadGenesis  = errors.New("block: not the genesis block")
	ErrBadIndex    = errors.New("block: wrong index")
	ErrBrokenLink  = errors.New("block: previous_hash does not match the previous block")
	ErrBadHash     = errors.New("block: curr_hash does not match its contents")
	ErrDataTooLong = errors.New("block: data too long")
	ErrEmptyChain  = errors.New("block: empty chain")
)

// RuleError reports which block broke which rule.
type RuleError struct {
	Index uint64
	Err   error
}

func (e *RuleError) Error() string { return fmt.Sprintf("block %d: %v", e.Index, e.Err) }
func (e *RuleError) Unwrap() error { return e.Err }

// CheckGenesis reports whether b is exactly the genesis block.
func CheckGenesis(b Block) error {
	if b != Genesis() {
		return &RuleError{Index: b.Index, Err: ErrBadGenesis}
	}
	return nil
}

// CheckNext reports whether b is a valid successor of prev: its index,
// its link and, for a classic block, its hash; for a proof-of-work block
// its entries, header hash and work. Rules that depend on more of the
// chain (difficulty retargets, timestamps, entries seen before) are the
// pow engine's.
func CheckNext(prev, b Block) error {
	_, err := CheckNextEntries(prev, b)
	return err
}

// CheckHash reports whether b's curr_hash is the one its own fields give:
// for a classic block the hash of its previous_hash and data, for a
// proof-of-work block its entries, header hash and work. It needs no other
// block, so that a store can check every block it reads from disk.
func CheckHash(b Block) error {
	if b.IsPoW() {
		return checkPoWHash(b)
	}
	if b.CurrHash != Hash(b.PreviousHash, b.Data) {
		return &RuleError{Index: b.Index, Err: ErrBadHash}
	}
	return nil
}

// CheckNextEntries is CheckNext that also returns the entries of a valid
// proof-of-work block (nil for a classic block), decoded once.
func CheckNextEntries(prev, b Block) ([]string, error) {
	switch {
	case b.Index != prev.Index+1:
		return nil, &RuleError{Index: b.Index, Err: fmt.Errorf("%w: want %d", ErrBadIndex, prev.Index+1)}
	case b.PreviousHash != prev.CurrHash:
		return nil, &RuleError{Index: b.Index, Err: ErrBrokenLink}
	case len(b.Data) > MaxDataLen:
		return nil, &RuleError{Index: b.Index, Err: ErrDataTooLong}
	case b.IsPoW():
		return checkPoW(b)
	case b.CurrHash != Hash(b.PreviousHash, b.Data):
		return nil, &RuleError{Index: b.Index, Err: ErrBadHash}
	}
	return nil, nil
}

// CheckChain validates a whole chain: genesis first, then every link.
func CheckChain(blocks []Block) error {
	if len(blocks) == 0 {
		return ErrEmptyChain
	}
	if err := CheckGenesis(blocks[0]); err != nil {
		return err
	}
	for i := 1; i < len(blocks); i++ {
		if err := CheckNext(blocks[i-1], blocks[i]); err != nil {
			return err
		}
	}
	return nil
}
