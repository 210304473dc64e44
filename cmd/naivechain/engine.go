package main

import (
	"fmt"
	"time"

	"github.com/naivechain/naivechain/internal/consensus/pow"
	"github.com/naivechain/naivechain/internal/consensus/vote"
	"github.com/naivechain/naivechain/internal/node"
)

// engineFlags choose the consensus engine; node and devnet share them.
type engineFlags struct {
	consensus       string
	blockInterval   time.Duration
	startDifficulty int
	mine            bool
	miners          int
}

// register adds the engine flags to fs; defaultInterval is the block
// interval when none is given (devnet's is shorter than a node's).
func (ef *engineFlags) register(fs flagSet, defaultInterval time.Duration) {
	fs.stringVar(&ef.consensus, []string{"consensus"}, "vote", "consensus engine: vote (majority agreement of known members) or pow (proof of work, open networks); every node of a network runs the same")
	fs.durationVar(&ef.blockInterval, []string{"block-interval"}, defaultInterval, "pow: target time between blocks; difficulty retargets toward it")
	fs.intVar(&ef.startDifficulty, []string{"start-difficulty"}, 16, "pow: difficulty (leading zero bits) of block 1; at least 8")
	fs.boolVar(&ef.mine, []string{"mine"}, true, "pow: mine blocks (false: validate and relay only)")
	fs.intVar(&ef.miners, []string{"miners"}, 0, "pow: nonce-search goroutines (0: one per core but one)")
}

// apply sets the engine of a node's config: the factory that builds it
// (consensus.Factory; the node never names an engine's package) and its
// mining settings. A new engine adds its case here.
func (ef *engineFlags) apply(cfg *node.Config) error {
	switch ef.consensus {
	case "vote":
		cfg.Engine = vote.Factory
		return nil
	case "pow":
	default:
		return fmt.Errorf("%w: --consensus must be vote or pow, not %q", errUsage, ef.consensus)
	}
	if ef.startDifficulty < 8 || ef.startDifficulty > 255 {
		return fmt.Errorf("%w: --start-difficulty must be between 8 and 255", errUsage)
	}
	p := pow.DefaultParams(ef.blockInterval)
	p.StartDifficulty = uint8(ef.startDifficulty)
	if err := p.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	cfg.Engine, cfg.Mine, cfg.Miners = pow.Factory(p), ef.mine, ef.miners
	return nil
}
