package vote

import (
	"errors"

	"github.com/naivechain/naivechain/internal/consensus"
)

// Factory builds a node's vote engine (consensus.Factory). It refuses a
// store that holds a proof-of-work chain, forgets the network of a store
// made under another node id, and takes a founder's join token from the
// node's data dir when the store holds no network yet.
func Factory(env consensus.Env) (consensus.Engine, error) {
	if env.Chain.Tip().IsPoW() {
		return nil, errors.New("node: the data dir holds a proof-of-work chain: start the node with --consensus pow")
	}
	if env.Rekeyed {
		if err := ForgetNetwork(env.Store, env.JoinVia); err != nil {
			return nil, err
		}
	}
	token := env.JoinToken
	if env.Bootstrap && env.FounderToken != nil {
		has, err := HasNetwork(env.Store)
		if err != nil {
			return nil, err
		}
		if token, err = env.FounderToken(!has); err != nil {
			return nil, err
		}
	}
	removeTicks := 0
	if env.RemoveAfter > 0 {
		removeTicks = int(env.RemoveAfter / env.Tick)
	}
	return New(Config{
		Self:             env.Self,
		JoinToken:        token,
		Bootstrap:        env.Bootstrap,
		Chain:            env.Chain,
		Store:            env.Store,
		Session:          env.Session,
		RemoveAfterTicks: removeTicks,
		Tick:             env.Tick,
		ReadTicks:        int(env.WriteTimeout/env.Tick) + 1,
		Logger:           env.Logger,
	})
}

// Roles implements consensus.RoleLister.
func (e *Engine) Roles() []string {
	return []string{"leader", "follower", "candidate", "learner", "joining", "moving", "removed", "failed"}
}

// The node runtime sees the engine only through these.
var (
	_ consensus.Joiner     = (*Engine)(nil)
	_ consensus.Importer   = (*Engine)(nil)
	_ consensus.Admission  = (*Engine)(nil)
	_ consensus.Reader     = (*Engine)(nil)
	_ consensus.RoleLister = (*Engine)(nil)
)
