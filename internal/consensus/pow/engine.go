package pow

import (
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/store"
)

// Config configures an Engine.
type Config struct {
	Self   consensus.Member
	Chain  *chain.Chain
	Store  store.Store
	Params Params
	// Now is the clock block timestamps are taken from and checked
	// against.
	Now func() time.Time
	// Mine makes the engine hand out Work; without it the node validates
	// and relays only.
	Mine bool
	// MempoolEntries and MempoolBytes bound the mempool (defaults 100,000
	// entries and 64 MiB).
	MempoolEntries, MempoolBytes int
	// MaxSideBlocks and MaxSideBytes bound the blocks kept off the best
	// chain (defaults 20,000 blocks and 256 MiB): the longest fork the
	// engine can switch to at once.
	MaxSideBlocks int
	MaxSideBytes  int
	// BlocksPerReply bounds the blocks of an answer to a getblocks
	// (default, and at most, a message's bound): tests lower it to sync
	// in more rounds without mining hundreds of blocks.
	BlocksPerReply int
	Logger         *slog.Logger
}

// Engine is the proof-of-work engine (see the package doc). Its state is
// split by concern, each part a type of its own file:
//   - idx (index.go): the best chain's headers and work, the side blocks,
//     fork choice and locators;
//   - rules.go: the contextual rules of a block, pure functions of a view;
//   - sync (sync.go): the peers' claimed tips and the getblocks out;
//   - tmpl (template.go): the header handed to miners;
//   - pool (mempool.go), props (proposals.go), kept: entries waiting for a
//     block, the writes waiting for entries, the entries kept from
//     detached blocks (persist.go);
//   - hand (persist.go): the store writes handed to the caller.
//
// A switch of the best chain is planned, then applied (reorg.go).
type Engine struct {
	cfg   Config
	p     Params
	log   *slog.Logger
	chain *chain.Chain
	st    store.Store

	idx   *blockIndex
	sync  *syncer
	tmpl  miningTemplate
	pool  *mempool
	props *proposals
	kept  map[string]struct{} // ids in keptBucket
	hand  handOff
	peers []string

	ticks   int
	out     []consensus.Message
	results []consensus.Result
	err     error

	// Counters for Status and logs.
	mined, reorgs uint64
}

var _ consensus.Engine = (*Engine)(nil)
var _ consensus.Miner = (*Engine)(nil)
var _ consensus.Entries = (*Engine)(nil)

// New loads the best chain's difficulties and timestamps from the store and
// returns the engine. A store whose chain holds classic blocks (another
// engine's chain) is refused.
func New(cfg Config) (*Engine, error) {
	if err := cfg.Params.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		return nil, errors.New("pow: no clock")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MempoolEntries <= 0 {
		cfg.MempoolEntries = 100_000
	}
	if cfg.MempoolBytes <= 0 {
		cfg.MempoolBytes = 64 << 20
	}
	if cfg.MaxSideBlocks <= 0 {
		cfg.MaxSideBlocks = 20_000
	}
	if cfg.MaxSideBytes <= 0 {
		cfg.MaxSideBytes = 256 << 20
	}
	if cfg.BlocksPerReply <= 0 || cfg.BlocksPerReply > maxBlocksPerMsg {
		cfg.BlocksPerReply = maxBlocksPerMsg
	}
	e := &Engine{
		cfg: cfg, p: cfg.Params, log: cfg.Logger, chain: cfg.Chain, st: cfg.Store,
		sync:  newSyncer(),
		pool:  newMempool(cfg.MempoolEntries, cfg.MempoolBytes),
		props: newProposals(),
		kept:  make(map[string]struct{}),
	}
	idx, err := loadIndex(cfg.Chain, cfg.MaxSideBlocks, cfg.MaxSideBytes, e.fail)
	if err != nil {
		return nil, err
	}
	e.idx = idx
	if err := e.loadKept(); err != nil {
		return nil, err
	}
	return e, nil
}

// Name implements consensus.Engine.
func (e *Engine) Name() string { return "pow" }

// Rules is what the handshake compares: the engine and its Params.
func (e *Engine) Rules() string { return e.p.Rules() }

// Resumed implements consensus.Joiner: a pow node has no membership to
// resume.
func (e *Engine) Resumed() bool { return false }

// Found implements consensus.Joiner: there is no network to found.
func (e *Engine) Found() error { return nil }

// Members implements consensus.Engine: there is no membership; only this
// node is listed.
func (e *Engine) Members() []consensus.Member { return []consensus.Member{e.cfg.Self} }

// Status implements consensus.Engine.
func (e *Engine) Status() consensus.Status {
	role := "relay"
	if e.cfg.Mine {
		role = "miner"
	}
	if e.err != nil {
		role = "failed"
	}
	return consensus.Status{Role: role, Pending: e.pool.len()}
}

// Ready implements consensus.Engine.
func (e *Engine) Ready() consensus.Ready {
	// The caller applied the writes of the last Ready: what waited to
	// read the chain may now, in order, until one of them makes a write.
	for !e.writing() && len(e.hand.deferred) > 0 {
		f := e.hand.deferred[0]
		e.hand.deferred = e.hand.deferred[1:]
		f()
	}
	rd := consensus.Ready{Messages: e.out, Results: e.results, Err: e.err,
		Persist: e.hand.queue, More: len(e.hand.deferred) > 0}
	e.out, e.results, e.hand.queue, e.hand.index = nil, nil, nil, nil
	return rd
}

// Tick implements consensus.Engine.
//
// Its order matters: the count advances first, as both parts measure from
// it (a getblocks asked again is stamped with this tick, so it expires
// syncRetryTicks from now, not one tick early); a peer's getblocks is
// marked expired before maybeSync runs, as only a peer with none out is
// asked; and the expired peers are asked again in id order, so that a
// simulation's messages come in a reproducible order. The template's
// aging is independent of the rest.
func (e *Engine) Tick() {
	e.ticks++
	e.tmpl.age(e.ticks)
	for _, id := range e.sync.expired(e.ticks) {
		e.maybeSync(id)
	}
}

// Greet implements consensus.Engine: every connected peer hears our tip,
// and a peer new to us also the entries we hold (every peer, when we do
// not mine).
func (e *Engine) Greet(peers []string) {
	old := e.peers
	e.peers = slices.Clone(peers)
	st := e.statusPayload()
	for _, id := range peers {
		if id == e.cfg.Self.ID {
			continue
		}
		e.send(id, st)
		// A node that does not mine offers its entries at every greet:
		// only a miner can take them to a block, and the first offer may
		// have been lost (a peer that went and came back between two
		// greets is not new).
		if !slices.Contains(old, id) || !e.cfg.Mine {
			e.sendPool(id)
		}
	}
	e.sync.keep(peers)
}

// Join implements consensus.Joiner: the peer is asked for its blocks.
func (e *Engine) Join(via string) {
	if !slices.Contains(e.peers, via) {
		e.peers = append(e.peers, via)
	}
	e.send(via, e.statusPayload())
	e.requestBlocks(via, e.idx.bestLocator())
}

func (e *Engine) send(to string, payload []byte) {
	e.out = append(e.out, consensus.Message{To: to, Payload: payload})
}

// broadcast sends payload to every peer but except.
func (e *Engine) broadcast(payload []byte, except string) {
	for _, id := range e.peers {
		if id != except && id != e.cfg.Self.ID {
			e.send(id, payload)
		}
	}
}

// statusPayload announces our best tip.
func (e *Engine) statusPayload() []byte {
	tip := e.chain.Tip()
	return encodeStatus(tip.Index, tip.CurrHash, e.idx.work)
}

// fail records a fatal store error: the engine stops changing anything.
func (e *Engine) fail(err error) {
	if e.err == nil {
		e.err = err
	}
}

// Stats are the engine's counters and its chain's shape.
type Stats struct {
	Height     uint64
	Work       string
	Difficulty uint8
	Mempool    int
	Side       int
	Mined      uint64
	Reorgs     uint64
}

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	tip := e.chain.Tip()
	return Stats{Height: tip.Index, Work: e.idx.work.Text(16), Difficulty: e.idx.diffs[tip.Index], Mempool: e.pool.len(),
		Side: len(e.idx.side), Mined: e.mined, Reorgs: e.reorgs}
}

// Behind reports a connected peer whose last status claims a better tip
// than this node's best chain, one it has not taken (yet): while there is
// one, the node is still syncing. A peer that let ignoreClaimsAfter
// getblocks in a row time out (about 6 s at the node's tick) is not
// believed until it gives a block this node adds: a stranger claiming work
// it never sends cannot hold the node "syncing".
func (e *Engine) Behind() (peer string, behind bool) {
	return e.sync.behind(e.idx.work, e.chain.Tip().CurrHash)
}
