package api

import (
	"context"
	"errors"
	"iter"
	"time"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/chain"
)

// Backend is what the API needs from a node.
type Backend interface {
	// Propose adds data (already encoded with block.EncodeData) to the
	// chain and blocks until it is committed on a majority or fails.
	Propose(ctx context.Context, data string) (block.Block, error)
	// ProposeAll adds several data strings as consecutive blocks,
	// committed together or not at all, and returns the blocks.
	ProposeAll(ctx context.Context, data []string) ([]block.Block, error)
	// Blocks yields the chain from index from, oldest first, streaming
	// (never the whole chain in memory). It yields nothing when from is
	// past the tip.
	Blocks(from uint64) iter.Seq2[block.Block, error]
	// ReadBarrier returns once Blocks and Info show every write that any
	// member acknowledged before the call (a linearizable read, ?consistent=true),
	// or fails: ErrNoConsistentRead when the engine has none (pow), another
	// error (no leader, no quorum in time, too many reads) otherwise.
	ReadBarrier(ctx context.Context) error
	// Info describes the node for GET /node.
	Info() NodeInfo
	// Peers lists the node's peers, excluding itself, in the order GET
	// /peers shows them.
	Peers() []Peer
	// Connect joins the peer at host:port (POST /peers). joinToken is
	// the join token of the peer's network, which a vote node needs to
	// merge with it; an error wrapping ErrForbidden refuses the request,
	// one wrapping ErrSelf says that host:port is this node.
	Connect(ctx context.Context, host, port, joinToken string) error
	// Status describes the node's consensus state (GET /status).
	Status(ctx context.Context) (Status, error)
	// Readiness returns nil when the node can take a write now (GET
	// /ready), else an error saying why not, in words for an operator.
	Readiness(ctx context.Context) error
	// Submit queues data (one group, committed together) without waiting
	// and returns the entries' ids (POST /data?wait=false). An engine
	// without entry ids returns an error wrapping ErrUnsupported.
	Submit(ctx context.Context, data []string) ([]string, error)
	// Entry reports where the entry with id stands (GET /entries/{id});
	// ErrUnsupported as for Submit, ErrBadEntryID for a malformed id.
	Entry(ctx context.Context, id string) (EntryState, error)
	// Subscribe returns a subscription to the chain's events (GET
	// /events) that may fall behind by buffer events before it is
	// dropped. The caller closes it.
	Subscribe(buffer int) *chain.Subscription
}

// Errors of Submit and Entry that the API maps to statuses.
var (
	ErrUnsupported = errors.New("not supported by this node's consensus engine (entry ids need --consensus pow)")
	ErrBadEntryID  = errors.New("an entry id is 64 lower-case hex digits")
	// ErrConflict marks a write that can never be taken as it is (some
	// of its entries are already pending or written in another group).
	ErrConflict = errors.New("write conflicts with entries already pending or written")
	// ErrForbidden refuses a request the node's rules do not allow (a
	// merge without the other network's join token).
	ErrForbidden = errors.New("forbidden")
	// ErrSelf refuses a POST /peers whose address is this node's own.
	ErrSelf = errors.New("that is this node")
)

// EntryState is GET /entries/{id}'s data.
type EntryState struct {
	ID string `json:"id"`
	// State is pending (in the mempool), confirmed (in a block of the
	// best chain) or unknown.
	State         string `json:"state"`
	Index         uint64 `json:"index,omitempty"`
	Confirmations uint64 `json:"confirmations,omitempty"`
}

// Status is what GET /status reports: this node's view of consensus.
type Status struct {
	Engine  string   `json:"engine"`
	Role    string   `json:"role"`   // leader, follower, candidate, learner, joining, removed, failed
	Leader  string   `json:"leader"` // node id, "" when none is known
	Term    uint64   `json:"term"`
	Pending int      `json:"pending"` // writes of this node not yet resolved
	Members []Member `json:"members"`
	Bans    []Ban    `json:"bans"` // peers whose connections are refused for now
	// PoW describes a proof-of-work node's chain and miner.
	PoW *PoWStatus `json:"pow,omitempty"`
}

// PoWStatus is the proof-of-work part of GET /status.
type PoWStatus struct {
	Height     uint64 `json:"height"`
	Work       string `json:"work"`       // cumulative work of the best chain, hex
	Difficulty uint8  `json:"difficulty"` // of the tip
	Mempool    int    `json:"mempool"`    // pending entries
	SideBlocks int    `json:"side_blocks"`
	Mined      uint64 `json:"mined"`  // blocks this node mined since it started
	Reorgs     uint64 `json:"reorgs"` // branch switches since it started
	Hashes     uint64 `json:"hashes"` // nonces tried since it started
}

// Ban is a peer this node refuses until Until, for Reason.
type Ban struct {
	ID     string    `json:"id"`
	Until  time.Time `json:"until"`
	Reason string    `json:"reason"`
}

// Member is one member of the network as GET /status shows it.
type Member struct {
	ID    string `json:"id"`
	Host  string `json:"host"` // where it last proved its id, else where it joined
	Port  string `json:"port"`
	Voter bool   `json:"voter"` // false while it catches up as a learner
	// Reachable is whether this node has a connection to the member now
	// (always true for itself), and Since when that has been so.
	Reachable bool      `json:"reachable"`
	Since     time.Time `json:"since"`
}

// NodeInfo is what GET /node reports.
type NodeInfo struct {
	PeerID    string
	DataCount uint64 // chain length, genesis included
	Health    bool   // the chain re-validates and the store is sound; not readiness (GET /ready)
	RPCPort   string // the peer-to-peer (WebSocket) port
	Started   time.Time
}

// Peer is one entry of GET /peers.
type Peer struct {
	ID, Host, Port string
}

// UncertainWrite is implemented by errors from Backend.Propose that know
// whether the refused write may still be committed later, for instance
// after a timeout while a majority was being gathered. Its message is shown
// to the client as is, so it must say so itself.
type UncertainWrite interface {
	error
	MayStillCommit() bool
}
