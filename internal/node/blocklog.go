package node

import (
	"context"
	"iter"
	"log/slog"
	"time"

	"github.com/naivechain/naivechain/internal/block"
)

// A busy node's log at info gets one summary of new blocks per
// blockSummaryBlocks blocks or per blockSummaryEvery, whichever comes
// first; each block has its own line at debug.
const (
	blockSummaryBlocks = 100
	blockSummaryEvery  = time.Second
)

// blockLog logs the growth of the chain. The node's loop shows it the tip
// after every step (observe); it never blocks and reads blocks from the
// chain only when debug lines are wanted.
type blockLog struct {
	log    *slog.Logger
	now    func() time.Time
	blocks func(from uint64) iter.Seq2[block.Block, error]

	height  uint64    // tip index at the last observe
	pending int       // blocks added since the last summary
	last    time.Time // time of the last summary
}

// newBlockLog starts counting above height: the blocks already on disk at
// start are history, not news.
func newBlockLog(log *slog.Logger, now func() time.Time, blocks func(uint64) iter.Seq2[block.Block, error], height uint64) *blockLog {
	return &blockLog{log: log, now: now, blocks: blocks, height: height}
}

// observe takes in the tip's index. A lower or equal tip (a reorg to a
// shorter branch, a rollback) adds no block.
func (b *blockLog) observe(tip uint64) {
	if tip > b.height {
		b.debugBlocks(b.height+1, tip)
		b.pending += int(tip - b.height)
	}
	b.height = tip
	if b.pending == 0 {
		return
	}
	now := b.now()
	if b.pending >= blockSummaryBlocks || now.Sub(b.last) >= blockSummaryEvery {
		b.log.Info("New blocks", "height", tip, "blocks", b.pending)
		b.pending, b.last = 0, now
	}
}

// debugBlocks logs blocks from..to one line each, when debug is on.
func (b *blockLog) debugBlocks(from, to uint64) {
	if !b.log.Enabled(context.Background(), slog.LevelDebug) || b.blocks == nil {
		return
	}
	for blk, err := range b.blocks(from) {
		if err != nil || blk.Index > to {
			return // a block the reader cannot have is not worth a log line
		}
		b.log.Debug("Block added", "index", blk.Index, "hash", blk.CurrHash, "bytes", len(blk.Data))
	}
}
