package pow

import "github.com/naivechain/naivechain/internal/block"

// Work is block.Work: the node's miner hashes without naming this package.
type Work = block.Work

// Search is block.Search.
func Search(w *Work, start, count uint64) (nonce uint64, found bool) {
	return block.Search(w, start, count)
}
