package node

import "github.com/naivechain/naivechain/internal/consensus/vote"

// newNode is New with the vote engine when cfg names none: most tests run
// the engine that cmd/naivechain picks by default.
func newNode(cfg Config) (*Node, error) {
	if cfg.Engine == nil {
		cfg.Engine = vote.Factory
	}
	return New(cfg)
}
