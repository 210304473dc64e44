package pow

import (
	"time"

	"github.com/naivechain/naivechain/internal/consensus"
)

// Factory returns a consensus.Factory building a node's pow engine with
// params; the zero Params mean DefaultParams(10s).
func Factory(params Params) consensus.Factory {
	if params == (Params{}) {
		params = DefaultParams(10 * time.Second)
	}
	return func(env consensus.Env) (consensus.Engine, error) {
		return New(Config{
			Self:   env.Self,
			Chain:  env.Chain,
			Store:  env.Store,
			Params: params,
			Now:    env.Now,
			Mine:   env.Mine,
			Logger: env.Logger,
		})
	}
}

// WritesOnStep implements consensus.StepWriter: a block taken in by Step
// or Mined switches the best chain in memory at once, and the store write
// of the switch is handed out in the next Ready, for the node's driver to
// apply (the engine never writes its switches itself).
func (e *Engine) WritesOnStep() bool { return true }

// Roles implements consensus.RoleLister.
func (e *Engine) Roles() []string { return []string{"miner", "relay", "failed"} }

// WorkStats implements consensus.WorkReporter.
func (e *Engine) WorkStats() consensus.WorkStats { return consensus.WorkStats(e.Stats()) }

// The node runtime sees the engine only through these.
var (
	_ consensus.Ruler        = (*Engine)(nil)
	_ consensus.Syncer       = (*Engine)(nil)
	_ consensus.WorkReporter = (*Engine)(nil)
	_ consensus.RoleLister   = (*Engine)(nil)
	_ consensus.Miner        = (*Engine)(nil)
	_ consensus.Entries      = (*Engine)(nil)
	_ consensus.StepWriter   = (*Engine)(nil)
)
