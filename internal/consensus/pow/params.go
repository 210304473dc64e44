package pow

import (
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/naivechain/naivechain/internal/block"
)

// Params are the rules every node of a network must share: a node with
// other Params would find its peers' blocks invalid. Rules() names them in
// the handshake, so such nodes refuse each other at once.
type Params struct {
	// BlockInterval is the target time between blocks.
	BlockInterval time.Duration
	// RetargetBlocks is how many blocks a difficulty holds before it is
	// adjusted toward BlockInterval.
	RetargetBlocks uint64
	// MaxStep bounds one adjustment, in bits (each bit doubles the work).
	MaxStep int
	// StartDifficulty is block 1's difficulty.
	StartDifficulty uint8
	// MaxFutureDrift is how far past a node's clock a block's timestamp
	// may be.
	MaxFutureDrift time.Duration
}

// MedianSpan is how many previous blocks the median time is taken over: a
// block's timestamp must be above the median of its last MedianSpan
// ancestors (Bitcoin's rule).
const MedianSpan = 11

// DefaultParams returns the rules for a target interval: retarget every
// 10 blocks by at most 2 bits, starting at 16 bits.
func DefaultParams(interval time.Duration) Params {
	return Params{
		BlockInterval:   interval,
		RetargetBlocks:  10,
		MaxStep:         2,
		StartDifficulty: 16,
		MaxFutureDrift:  2 * time.Minute,
	}
}

// Validate reports Params that cannot run a network.
func (p Params) Validate() error {
	switch {
	case p.BlockInterval < time.Millisecond || p.BlockInterval > 24*time.Hour:
		return fmt.Errorf("pow: block interval %v is not between 1ms and 24h", p.BlockInterval)
	case p.RetargetBlocks < 2 || p.RetargetBlocks > 100_000:
		return fmt.Errorf("pow: retarget every %d blocks: need 2 to 100,000", p.RetargetBlocks)
	case p.MaxStep < 1:
		return fmt.Errorf("pow: max step %d: need at least 1 bit", p.MaxStep)
	case p.StartDifficulty < block.MinDifficulty:
		return fmt.Errorf("pow: start difficulty %d is below the minimum %d", p.StartDifficulty, block.MinDifficulty)
	case p.MaxFutureDrift <= 0:
		return fmt.Errorf("pow: max future drift %v must be positive", p.MaxFutureDrift)
	}
	return nil
}

// Rules names the Params for handshakes (within the characters the Hello's
// engine field allows): two nodes talk only when their engines' rules are
// equal.
func (p Params) Rules() string {
	return fmt.Sprintf("pow.interval-%v.retarget-%d.step-%d.start-%d.drift-%v",
		p.BlockInterval, p.RetargetBlocks, p.MaxStep, p.StartDifficulty, p.MaxFutureDrift)
}

// NextDifficulty returns the difficulty of block height given its parent's
// difficulty and, when height starts a new window, the timestamps of the
// first and last block of the window that just ended (blocks
// height-RetargetBlocks and height-1). Block 1 has StartDifficulty.
//
// The adjustment is the whole number of bits closest to
// log2(expected/actual), where expected is (RetargetBlocks-1) block
// intervals, clamped to ±MaxStep and to [MinDifficulty, 255]. Integer
// arithmetic only: every node must compute exactly the same value.
func (p Params) NextDifficulty(height uint64, parent uint8, first, last int64) uint8 {
	if height <= 1 {
		return p.StartDifficulty
	}
	if !p.Retargets(height) {
		return parent
	}
	expected := big.NewInt(int64(p.RetargetBlocks-1) * p.BlockInterval.Milliseconds())
	// last-first in int64 would wrap for timestamps far apart (a block's
	// timestamp is only bounded below by its median time) and read as
	// time going back: take the difference exactly.
	actual := new(big.Int).Sub(big.NewInt(last), big.NewInt(first))
	if actual.Sign() <= 0 {
		actual.SetInt64(1) // timestamps may go back a little
	}
	// delta >= k   iff  expected/actual >= 2^(k-1/2)  iff  2e^2 >= a^2 * 2^(2k)
	// delta <= -k  iff  expected/actual <  2^(1/2-k)  iff  2e^2 * 2^(2k-2) < a^2
	e2 := new(big.Int).Mul(expected, expected)
	e2.Lsh(e2, 1)
	a2 := new(big.Int).Mul(actual, actual)
	var t big.Int
	delta := 0
	for delta < p.MaxStep && e2.Cmp(t.Lsh(a2, uint(2*(delta+1)))) >= 0 {
		delta++
	}
	for delta <= 0 && -delta < p.MaxStep {
		if t.Lsh(e2, uint(-2*delta)).Cmp(a2) >= 0 {
			break
		}
		delta--
	}
	return uint8(min(max(int(parent)+delta, block.MinDifficulty), 255))
}

// Retargets reports whether block height starts a new difficulty window.
func (p Params) Retargets(height uint64) bool {
	return height > p.RetargetBlocks && (height-1)%p.RetargetBlocks == 0
}

// MedianTime returns the median of timestamps (the last MedianSpan
// blocks' at most), or the smallest int64 when there are none.
func MedianTime(timestamps []int64) int64 {
	if len(timestamps) == 0 {
		return -1 << 63
	}
	s := slices.Clone(timestamps)
	slices.Sort(s)
	return s[len(s)/2]
}
