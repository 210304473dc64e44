package block

import (
	"crypto/sha256"
	"encoding/binary"
)

// Work is a block to mine: its header with the nonce left to find, and
// the difficulty the header's hash must meet. Gen tells one Work from the
// next: a solution is only accepted for the current Gen.
type Work struct {
	Gen        uint64
	Header     [HeaderLen]byte
	Difficulty uint8
}

// Search tries the nonces from start to start+count-1 (wrapping) on w and
// returns the first that meets w's difficulty. It is the miner's inner
// loop: one sha256 of the header per nonce, the header rewritten in place.
func Search(w *Work, start, count uint64) (nonce uint64, found bool) {
	h := w.Header
	need := int(w.Difficulty)
	for i := uint64(0); i < count; i++ {
		n := start + i
		binary.BigEndian.PutUint64(h[NonceOffset:], n)
		sum := sha256.Sum256(h[:])
		// Most attempts fail on the first byte: test it before counting bits.
		if need >= 8 && sum[0] != 0 {
			continue
		}
		if LeadingZeros(&sum) >= need {
			return n, true
		}
	}
	return 0, false
}
