package consensus

import (
	"log/slog"
	"time"

	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/store"
)

// Factory builds a node's engine over its chain and store. The command
// line picks one by name (cmd/naivechain/engine.go), so the node runtime
// never names an engine's package; each engine's package offers its own.
type Factory func(Env) (Engine, error)

// Env is what the node hands a Factory: who the node is, its chain and
// store, how it was started, and the runtime's settings an engine may
// turn into ticks.
type Env struct {
	Self  Member
	Chain *chain.Chain
	Store store.Store
	// Bootstrap is set when the node was given no peer: it founds a
	// network, or resumes the one in its store.
	Bootstrap bool
	// JoinVia is the node id of the peer the node was told to join ("" for
	// none).
	JoinVia string
	// Rekeyed is set when the store was made under another node id (a data
	// dir made before node keys): state bound to the old id must go. The
	// node enters a network anew, through JoinVia when set.
	Rekeyed bool
	// JoinToken is the token the operator gave (Admission engines).
	JoinToken string
	// FounderToken returns the join token kept in the data dir of a node
	// that founds a network, making one when create is set and there is
	// none. The node remembers what it returns (Node.JoinToken).
	FounderToken func(create bool) (string, error)
	// Session is random per start: it tells this run's messages from an
	// earlier run's.
	Session uint64
	// Tick is the period of Engine.Tick.
	Tick time.Duration
	// RemoveAfter is how long a member may be unreachable before it is
	// removed (negative: never).
	RemoveAfter time.Duration
	// WriteTimeout bounds a client's write and a consistent read.
	WriteTimeout time.Duration
	// Now is the node's clock.
	Now func() time.Time
	// Mine is set when the operator wants this node to make blocks that
	// take work (Miner).
	Mine   bool
	Logger *slog.Logger
}
