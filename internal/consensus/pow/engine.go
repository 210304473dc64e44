package pow

import (
	"cmp"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/big"
	"slices"
	"time"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/store"
)

// entriesBucket maps the id of every entry on the best chain (32 raw
// bytes) to the index of its block (8 bytes big-endian). It is written in
// the same store batch as the blocks, so it always matches the chain.
const entriesBucket = "pow_entries"

// keptBucket holds the entries of blocks this node detached in a reorg that
// the new branch lacks (32-byte id → entry), until a block holding them is
// on the best chain again. They may have been acknowledged: a crash must
// not lose them with the mempool, so they are written in the reorg's own
// store batch and return to the mempool at start.
const keptBucket = "pow_kept"

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

// syncRetryTicks is how long a request for blocks may go unanswered before
// the engine asks again.
const syncRetryTicks = 20

// templateTicks is how old a mining header may grow before it is rebuilt
// (fresh timestamp, new entries) even if nothing else changed.
const templateTicks = 10

// side is a block off the best chain, with what fork choice needs.
type side struct {
	b   block.Block
	ids []string
	cum *big.Int // cumulative work up to and including b
	seq uint64   // insertion order, for eviction
}

type peer struct {
	work   *big.Int
	height uint64
	hash   string
	asked  int // tick of the last getblocks sent to it, -1 when none is out
	// unanswered counts the getblocks it let time out since it last gave
	// a block we added: past ignoreClaimsAfter, its claim of more work no
	// longer makes this node behind (Behind), as anyone can claim work.
	unanswered int
}

// ignoreClaimsAfter is how many getblocks a peer may leave unanswered
// before Behind stops believing its claim of more work.
const ignoreClaimsAfter = 3

type proposal struct {
	ids []string
}

// Engine is the proof-of-work engine (see the package doc).
type Engine struct {
	cfg   Config
	p     Params
	log   *slog.Logger
	chain *chain.Chain
	st    store.Store

	// The best chain's difficulties and timestamps by index, and its
	// cumulative work.
	diffs []uint8
	times []int64
	work  *big.Int

	side      map[string]*side
	sideSeq   uint64
	sideBytes int

	pool   *mempool
	kept   map[string]struct{} // ids in keptBucket
	peers  []string
	known  map[string]*peer
	props  map[uint64]*proposal
	waits  map[string][]uint64 // entry id → proposals waiting for it
	nextID uint64

	// The header handed to miners.
	gen       uint64
	tmpl      block.Block
	tmplHdr   [block.HeaderLen]byte
	tmplIDs   []string
	tmplOK    bool
	tmplTick  int
	poolDirty bool

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
		work:  new(big.Int),
		side:  make(map[string]*side),
		pool:  newMempool(cfg.MempoolEntries, cfg.MempoolBytes),
		kept:  make(map[string]struct{}),
		known: make(map[string]*peer),
		props: make(map[uint64]*proposal),
		waits: make(map[string][]uint64),
	}
	n := cfg.Chain.Len()
	e.diffs = make([]uint8, 1, n)
	e.times = make([]int64, 1, n)
	for b, err := range cfg.Chain.Blocks(1) {
		if err != nil {
			return nil, fmt.Errorf("pow: load chain: %w", err)
		}
		if !b.IsPoW() {
			return nil, fmt.Errorf("pow: block %d of the stored chain is not a proof-of-work block: the data dir belongs to a vote network", b.Index)
		}
		e.diffs = append(e.diffs, b.Difficulty)
		e.times = append(e.times, b.Timestamp)
		e.work.Add(e.work, blockWork(b.Difficulty))
	}
	if err := e.loadKept(); err != nil {
		return nil, err
	}
	return e, nil
}

// loadKept puts the entries kept from detached blocks back in the mempool.
func (e *Engine) loadKept() error {
	var stale []store.Put
	err := e.st.Scan(keptBucket, nil, func(k, v []byte) error {
		id := hex.EncodeToString(k)
		entry := string(v)
		if block.CheckEntry(entry) != nil || block.EntryID(entry) != id {
			return fmt.Errorf("pow: corrupt kept entry %s", id)
		}
		if _, on, err := e.entryIndex(id); err != nil {
			return err
		} else if on {
			stale = append(stale, keptPut(id, ""))
			return nil
		}
		e.kept[id] = struct{}{}
		e.pool.readd([]string{entry}, []string{id})
		return nil
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("pow: load kept entries: %w", err)
	}
	if len(stale) > 0 {
		if err := e.st.Write(store.Batch{Puts: stale}); err != nil {
			return fmt.Errorf("pow: drop kept entries now on the chain: %w", err)
		}
	}
	return nil
}

// keptPut records entry under its id in keptBucket, or deletes the record
// when entry is "".
func keptPut(id, entry string) store.Put {
	key, _ := hex.DecodeString(id)
	if entry == "" {
		return store.Put{Bucket: keptBucket, Key: key}
	}
	return store.Put{Bucket: keptBucket, Key: key, Value: []byte(entry)}
}

// blockWork is the expected number of hashes behind a block of difficulty d.
func blockWork(d uint8) *big.Int { return new(big.Int).Lsh(big.NewInt(1), uint(d)) }

// better reports whether a tip of work w1 and hash h1 beats one of w2, h2:
// more work wins; at equal work the smaller hash does, so that every node
// picks the same tip without waiting for another block.
func better(w1 *big.Int, h1 string, w2 *big.Int, h2 string) bool {
	if c := w1.Cmp(w2); c != 0 {
		return c > 0
	}
	return h1 < h2
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
	rd := consensus.Ready{Messages: e.out, Results: e.results, Err: e.err}
	e.out, e.results = nil, nil
	return rd
}

// Tick implements consensus.Engine.
func (e *Engine) Tick() {
	e.ticks++
	if e.tmplOK && (e.poolDirty || e.ticks-e.tmplTick >= templateTicks) {
		e.tmplOK = false // rebuilt by the next Mining
	}
	// Sorted, so that a simulation's messages come in a reproducible order.
	for _, id := range slices.Sorted(maps.Keys(e.known)) {
		if p := e.known[id]; p.asked >= 0 && e.ticks-p.asked >= syncRetryTicks {
			p.asked = -1
			p.unanswered++
			e.maybeSync(id)
		}
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
	for id := range e.known {
		if !slices.Contains(peers, id) {
			delete(e.known, id)
		}
	}
}

// Join implements consensus.Joiner: the peer is asked for its blocks.
func (e *Engine) Join(via string) {
	if !slices.Contains(e.peers, via) {
		e.peers = append(e.peers, via)
	}
	e.send(via, e.statusPayload())
	e.requestBlocks(via, e.bestLocator())
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

func (e *Engine) statusPayload() []byte {
	tip := e.chain.Tip()
	return encode(kindStatus, statusMsg{Height: tip.Index, Hash: tip.CurrHash, Work: e.work.Text(16)})
}

func (e *Engine) sendPool(to string) {
	var groups [][]string
	size := 0
	for _, g := range e.pool.order {
		if g.dead {
			continue
		}
		if len(groups) == maxGroupsPerMsg || size+g.cost > maxEntriesBytes {
			break
		}
		groups = append(groups, g.entries)
		size += g.cost
	}
	if len(groups) > 0 {
		e.send(to, encode(kindEntries, entriesMsg{Groups: groups}))
	}
}

// Step implements consensus.Engine.
func (e *Engine) Step(from string, payload []byte) error {
	if e.err != nil {
		return nil // failed: the node serves reads only
	}
	d, err := decode(payload)
	if err != nil {
		return err
	}
	switch {
	case d.status != nil:
		p := e.peer(from)
		p.work, p.height, p.hash = d.work, d.status.Height, d.status.Hash
		if !better(p.work, p.hash, e.work, e.chain.Tip().CurrHash) {
			p.asked = -1 // nothing more to expect from this peer
		}
		e.maybeSync(from)
	case d.getBlocks != nil:
		return e.serveBlocks(from, d.getBlocks.Locator)
	case d.blocks != nil:
		return e.receiveBlocks(from, d.blocks)
	case d.entries != nil:
		e.receiveEntries(from, d.entries.Groups)
	}
	return nil
}

func (e *Engine) peer(id string) *peer {
	p := e.known[id]
	if p == nil {
		p = &peer{work: new(big.Int), asked: -1}
		e.known[id] = p
	}
	return p
}

// maybeSync asks peer id for blocks when its tip beats ours and we do not
// hold that tip already.
func (e *Engine) maybeSync(id string) {
	p := e.known[id]
	if p == nil || p.asked >= 0 || p.work == nil {
		return
	}
	tip := e.chain.Tip()
	if !better(p.work, p.hash, e.work, tip.CurrHash) {
		return
	}
	if s, ok := e.side[p.hash]; ok {
		// We hold that tip off the best chain but did not switch to it:
		// it beats us only by the peer's word. Ask from there.
		e.requestBlocks(id, e.sideLocator(s))
		return
	}
	e.requestBlocks(id, e.bestLocator())
}

func (e *Engine) requestBlocks(id string, loc []chain.LocatorEntry) {
	if len(loc) == 0 {
		return
	}
	e.peer(id).asked = e.ticks
	e.send(id, encode(kindGetBlocks, getBlocksMsg{Locator: loc}))
}

func (e *Engine) bestLocator() []chain.LocatorEntry {
	loc, err := e.chain.Locator()
	if err != nil {
		e.fail(err)
		return nil
	}
	return loc
}

// sideLocator is the locator of a branch that ends at s: side blocks
// above the fork, best-chain blocks below it.
func (e *Engine) sideLocator(s *side) []chain.LocatorEntry {
	branch, fork, ok := e.branch(s)
	if !ok {
		return e.bestLocator()
	}
	var loc []chain.LocatorEntry
	for _, idx := range chain.LocatorIndexes(s.b.Index) {
		if idx > fork {
			loc = append(loc, chain.LocatorEntry{Index: idx, Hash: branch[idx-fork-1].b.CurrHash})
			continue
		}
		b, err := e.chain.Block(idx)
		if err != nil {
			e.fail(err)
			return nil
		}
		loc = append(loc, chain.LocatorEntry{Index: idx, Hash: b.CurrHash})
	}
	return loc
}

// branch walks from s down the side blocks to the best chain and returns
// them oldest first with the fork index. ok is false when the walk breaks
// (a side block's parent was evicted).
func (e *Engine) branch(s *side) (branch []*side, fork uint64, ok bool) {
	for cur := s; ; {
		branch = append(branch, cur)
		if cur.b.Index == 0 {
			return nil, 0, false
		}
		if p, on := e.side[cur.b.PreviousHash]; on {
			cur = p
			continue
		}
		fork = cur.b.Index - 1
		if !e.onBest(fork, cur.b.PreviousHash) {
			return nil, 0, false
		}
		slices.Reverse(branch)
		return branch, fork, true
	}
}

// onBest reports whether the best chain holds hash at index.
func (e *Engine) onBest(index uint64, hash string) bool {
	if index >= uint64(len(e.diffs)) {
		return false
	}
	b, err := e.chain.Block(index)
	if err != nil {
		e.fail(err)
		return false
	}
	return b.CurrHash == hash
}

// serveBlocks answers a getblocks: the best chain's blocks after the fork
// point the locator gives, within a message's bounds.
func (e *Engine) serveBlocks(to string, loc []chain.LocatorEntry) error {
	fork, err := e.chain.FindFork(loc)
	switch {
	case errors.Is(err, chain.ErrNoCommonBlock):
		return nil // another genesis: nothing to give
	case errors.Is(err, chain.ErrBadLocator):
		return fmt.Errorf("%w: %v", consensus.ErrMalformed, err)
	case err != nil:
		e.fail(err)
		return nil
	}
	var out []block.Block
	size := 0
	more := false
	for b, err := range e.chain.Blocks(fork + 1) {
		if err != nil {
			break // a reorg under us: the peer asks again
		}
		if len(out) == e.cfg.BlocksPerReply || size+len(b.Data) > maxBlocksBytes && len(out) > 0 {
			more = true
			break
		}
		out = append(out, b)
		size += len(b.Data) + 256
	}
	if len(out) > 0 {
		e.send(to, encode(kindBlocks, blocksMsg{Blocks: out, More: more}))
	} else {
		e.send(to, e.statusPayload())
	}
	return nil
}

// view is a branch being validated: the best chain up to fork, then the
// side blocks in branch, then the blocks of a message accepted so far.
type view struct {
	fork   uint64
	above  []*side // blocks above fork, oldest first
	seen   map[string]struct{}
	parent block.Block
	cum    *big.Int
}

func (e *Engine) viewOf(parentHash string, parentIndex uint64) (*view, bool) {
	if e.onBest(parentIndex, parentHash) {
		b, err := e.chain.Block(parentIndex)
		if err != nil {
			e.fail(err)
			return nil, false
		}
		return &view{fork: parentIndex, parent: b, cum: e.bestWorkAt(parentIndex), seen: map[string]struct{}{}}, true
	}
	s, ok := e.side[parentHash]
	if !ok {
		return nil, false
	}
	branch, fork, ok := e.branch(s)
	if !ok {
		return nil, false
	}
	v := &view{fork: fork, above: branch, parent: s.b, cum: new(big.Int).Set(s.cum), seen: map[string]struct{}{}}
	for _, sb := range branch {
		for _, id := range sb.ids {
			v.seen[id] = struct{}{}
		}
	}
	return v, true
}

// bestWorkAt returns the cumulative work of the best chain up to index.
func (e *Engine) bestWorkAt(index uint64) *big.Int {
	w := new(big.Int).Set(e.work)
	for i := index + 1; i < uint64(len(e.diffs)); i++ {
		w.Sub(w, blockWork(e.diffs[i]))
	}
	return w
}

func (v *view) header(e *Engine, index uint64) (diff uint8, ts int64) {
	if index > v.fork {
		s := v.above[index-v.fork-1]
		return s.b.Difficulty, s.b.Timestamp
	}
	return e.diffs[index], e.times[index]
}

// errFuture marks a block stamped too far past our clock: not a fault of
// the peer (clocks differ), so it is dropped without a penalty.
var errFuture = errors.New("pow: block timestamp too far in the future")

// check validates b as the next block of v, and returns its entry ids.
func (e *Engine) check(v *view, b block.Block) ([]string, error) {
	invalid := func(err error) ([]string, error) {
		return nil, fmt.Errorf("%w: %w", consensus.ErrInvalidBlock, err)
	}
	entries, err := block.CheckNextEntries(v.parent, b)
	if err != nil {
		return invalid(err)
	}
	if !b.IsPoW() {
		return invalid(&block.RuleError{Index: b.Index, Err: errors.New("not a proof-of-work block")})
	}
	h := b.Index
	parentDiff, _ := v.header(e, h-1)
	var first, last int64
	if e.p.Retargets(h) {
		_, first = v.header(e, h-e.p.RetargetBlocks)
		_, last = v.header(e, h-1)
	}
	if want := e.p.NextDifficulty(h, parentDiff, first, last); b.Difficulty != want {
		return invalid(&block.RuleError{Index: h, Err: fmt.Errorf("difficulty %d, the retarget rule gives %d", b.Difficulty, want)})
	}
	if mtp := e.medianTime(v, h); b.Timestamp <= mtp {
		return invalid(&block.RuleError{Index: h, Err: fmt.Errorf("timestamp %d not above the median %d of the last %d blocks", b.Timestamp, mtp, MedianSpan)})
	}
	if limit := e.cfg.Now().Add(e.p.MaxFutureDrift).UnixMilli(); b.Timestamp > limit {
		return nil, fmt.Errorf("%w: block %d at %d, limit %d", errFuture, h, b.Timestamp, limit)
	}
	ids := make([]string, len(entries))
	for i, en := range entries {
		ids[i] = block.EntryID(en)
		if _, dup := v.seen[ids[i]]; dup {
			return invalid(&block.RuleError{Index: h, Err: fmt.Errorf("entry %s is already on this branch", ids[i])})
		}
		at, ok, err := e.entryIndex(ids[i])
		if err != nil {
			return nil, err
		}
		if ok && at <= v.fork {
			return invalid(&block.RuleError{Index: h, Err: fmt.Errorf("entry %s is already in block %d", ids[i], at)})
		}
	}
	return ids, nil
}

// medianTime is the median timestamp of the MedianSpan blocks below h on
// v (genesis, which has none, excluded).
func (e *Engine) medianTime(v *view, h uint64) int64 {
	var ts []int64
	for i := h - 1; i >= 1 && len(ts) < MedianSpan; i-- {
		_, t := v.header(e, i)
		ts = append(ts, t)
	}
	return MedianTime(ts)
}

func (e *Engine) entryIndex(id string) (uint64, bool, error) {
	key, err := hex.DecodeString(id)
	if err != nil {
		return 0, false, nil
	}
	v, err := e.st.Get(entriesBucket, key)
	if errors.Is(err, store.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		e.fail(err)
		return 0, false, err
	}
	if len(v) != 8 {
		err := fmt.Errorf("pow: corrupt entry index record for %s", id)
		e.fail(err)
		return 0, false, err
	}
	return binary.BigEndian.Uint64(v), true, nil
}

// receiveBlocks takes in blocks from a peer: it validates them onto the
// branch their first block names, keeps them, switches to them if they
// now make the best chain, and asks for more when the peer has more.
func (e *Engine) receiveBlocks(from string, m *blocksMsg) error {
	blocks := m.Blocks
	// Skip what we hold already.
	for len(blocks) > 0 && e.holds(blocks[0]) {
		blocks = blocks[1:]
	}
	if len(blocks) == 0 {
		if m.More {
			e.requestBlocks(from, e.locatorAt(m.Blocks[len(m.Blocks)-1]))
		}
		return nil
	}
	if blocks[0].Index == 0 {
		return fmt.Errorf("%w: a second genesis block", consensus.ErrInvalidBlock)
	}
	v, ok := e.viewOf(blocks[0].PreviousHash, blocks[0].Index-1)
	if !ok {
		// An orphan: ask this peer for the branch from our best chain.
		if e.err == nil {
			e.requestBlocks(from, e.bestLocator())
		}
		return nil
	}
	var added []*side
	var bad error
	for _, b := range blocks {
		ids, err := e.check(v, b)
		if e.err != nil {
			return nil // our store failed, not the peer
		}
		if err != nil {
			if !errors.Is(err, errFuture) {
				bad = err
			}
			break
		}
		e.sideSeq++
		s := &side{b: b, ids: ids, cum: new(big.Int).Add(v.cum, blockWork(b.Difficulty)), seq: e.sideSeq}
		v.above = append(v.above, s)
		for _, id := range ids {
			v.seen[id] = struct{}{}
		}
		v.parent, v.cum = b, s.cum
		added = append(added, s)
		// At debug: the node sums up new blocks at info.
		e.log.Debug("received a block", "index", b.Index, "hash", b.CurrHash, "from", from, "entries", len(ids))
	}
	if len(added) > 0 {
		if p := e.known[from]; p != nil {
			p.unanswered = 0
		}
		for _, s := range added {
			e.addSide(s)
		}
		last := added[len(added)-1]
		if better(last.cum, last.b.CurrHash, e.work, e.chain.Tip().CurrHash) {
			e.switchTo(last, from)
		}
		e.evictSide()
		if bad == nil && m.More {
			e.requestBlocks(from, e.locatorAt(last.b))
		} else if p := e.known[from]; p != nil && !m.More {
			p.asked = -1
		}
	}
	if bad != nil {
		return bad
	}
	return nil
}

// holds reports whether b is on the best chain or kept off it.
func (e *Engine) holds(b block.Block) bool {
	if _, ok := e.side[b.CurrHash]; ok {
		return true
	}
	return e.onBest(b.Index, b.CurrHash)
}

// locatorAt is the locator of the branch ending at b, which we hold, so
// that the peer goes on with the blocks after b. A block of the best chain
// below the tip gets a locator of its own: the tip's would make a peer
// whose reply held only blocks we have (a fork deeper than a reply below
// the locator entry it matched) send the same reply again, forever.
func (e *Engine) locatorAt(b block.Block) []chain.LocatorEntry {
	if s, ok := e.side[b.CurrHash]; ok {
		return e.sideLocator(s)
	}
	if b.Index < e.chain.Tip().Index && e.onBest(b.Index, b.CurrHash) {
		var loc []chain.LocatorEntry
		for _, idx := range chain.LocatorIndexes(b.Index) {
			lb, err := e.chain.Block(idx)
			if err != nil {
				e.fail(err)
				return nil
			}
			loc = append(loc, chain.LocatorEntry{Index: idx, Hash: lb.CurrHash})
		}
		return loc
	}
	return e.bestLocator()
}

// evictSide drops the oldest side blocks beyond the bound.
func (e *Engine) evictSide() {
	if len(e.side) <= e.cfg.MaxSideBlocks && e.sideBytes <= e.cfg.MaxSideBytes {
		return
	}
	all := make([]*side, 0, len(e.side))
	for _, s := range e.side {
		all = append(all, s)
	}
	slices.SortFunc(all, func(a, b *side) int { return cmp.Compare(a.seq, b.seq) })
	for _, s := range all {
		if len(e.side) <= e.cfg.MaxSideBlocks && e.sideBytes <= e.cfg.MaxSideBytes {
			return
		}
		e.dropSide(s.b.CurrHash)
	}
}

// addSide keeps s off the best chain; dropSide forgets the side block
// with that hash. Together they keep the count of bytes held.
func (e *Engine) addSide(s *side) {
	if old, ok := e.side[s.b.CurrHash]; ok {
		e.sideBytes -= sideSize(old)
	}
	e.side[s.b.CurrHash] = s
	e.sideBytes += sideSize(s)
}

func (e *Engine) dropSide(hash string) {
	if s, ok := e.side[hash]; ok {
		e.sideBytes -= sideSize(s)
		delete(e.side, hash)
	}
}

// sideSize approximates the memory a side block holds: its data and its
// entry ids.
func sideSize(s *side) int { return len(s.b.Data) + 64*len(s.ids) + 256 }

// switchTo makes the branch ending at s the best chain: an extension of
// the tip in one store batch, or a reorg planned and applied by the chain
// package. The store batch also updates the entry index, so the chain and
// the index never disagree.
func (e *Engine) switchTo(s *side, source string) {
	branch, fork, ok := e.branch(s)
	if !ok {
		return
	}
	attach := make([]block.Block, len(branch))
	var puts []store.Put
	inNew := make(map[string]struct{})
	var attachedIDs []string
	for i, sb := range branch {
		attach[i] = sb.b
		for _, id := range sb.ids {
			puts = append(puts, indexPut(id, sb.b.Index))
			inNew[id] = struct{}{}
			attachedIDs = append(attachedIDs, id)
			if _, ok := e.kept[id]; ok {
				puts = append(puts, keptPut(id, ""))
			}
		}
	}
	// orphaned holds, per detached block, its entries the new branch
	// lacks, with their ids.
	type orphans struct{ entries, ids []string }
	var orphaned []orphans
	var detached []block.Block
	tip := e.chain.Tip()
	if fork == tip.Index {
		if err := e.chain.Write(store.Batch{Blocks: attach, Puts: puts}); err != nil {
			e.fail(err)
			return
		}
	} else {
		plan, err := e.chain.PlanReorg(fork, attach)
		if err != nil {
			e.fail(err)
			return
		}
		var dels, keep []store.Put
		for _, b := range plan.Detach {
			entries, _ := block.DecodeEntries(b.Data) // valid: it is on our chain
			var o orphans
			for _, en := range entries {
				id := block.EntryID(en)
				dels = append(dels, indexPut(id, 0))
				if _, ok := inNew[id]; !ok {
					o.entries, o.ids = append(o.entries, en), append(o.ids, id)
					keep = append(keep, keptPut(id, en))
				}
			}
			orphaned = append(orphaned, o)
		}
		// Deletes first: an entry that moves to another block is put again.
		if err := e.chain.ApplyReorg(plan, store.Batch{Puts: slices.Concat(dels, puts, keep)}); err != nil {
			e.fail(err)
			return
		}
		detached = plan.Detach
		e.reorgs++
		e.log.Info("reorganised onto a branch with more work", "fork", fork, "detached", len(plan.Detach), "attached", len(attach), "from", source)
	}
	// Memory follows the store.
	oldWork := e.bestWorkAt(fork)
	e.diffs, e.times = e.diffs[:fork+1], e.times[:fork+1]
	for _, sb := range branch {
		e.diffs = append(e.diffs, sb.b.Difficulty)
		e.times = append(e.times, sb.b.Timestamp)
		e.dropSide(sb.b.CurrHash)
	}
	e.work.Set(s.cum)
	e.pool.remove(attachedIDs)
	for _, id := range attachedIDs {
		delete(e.kept, id)
	}
	// Detached blocks stay as a side branch we may switch back to; their
	// entries that the new branch lacks wait in the mempool again (over
	// its bounds if need be: they are few, and may be acknowledged).
	cum := oldWork
	var back [][]string
	for i, b := range detached {
		entries, _ := block.DecodeEntries(b.Data)
		cum = new(big.Int).Add(cum, blockWork(b.Difficulty))
		ids := make([]string, len(entries))
		for j, en := range entries {
			ids[j] = block.EntryID(en)
		}
		e.sideSeq++
		e.addSide(&side{b: b, ids: ids, cum: cum, seq: e.sideSeq})
		if o := orphaned[i]; len(o.ids) > 0 {
			for _, id := range o.ids {
				e.kept[id] = struct{}{}
			}
			e.pool.readd(o.entries, o.ids)
			back = append(back, o.entries)
		}
	}
	if len(back) > 0 {
		// Peers that never heard of them (they were mined behind a
		// partition) get them now.
		e.poolDirty = true
		e.broadcastGroups(back, "")
	}
	e.tmplOK = false
	e.resolve(attachedIDs)
	// Short branches travel whole (a block just mined or heard); a long
	// sync is announced by status and fetched by whoever lacks it.
	if len(attach) <= 16 {
		e.broadcast(encode(kindBlocks, blocksMsg{Blocks: attach}), source)
	} else {
		e.broadcast(e.statusPayload(), source)
	}
}

func indexPut(id string, index uint64) store.Put {
	key, _ := hex.DecodeString(id)
	if index == 0 {
		return store.Put{Bucket: entriesBucket, Key: key} // delete
	}
	return store.Put{Bucket: entriesBucket, Key: key, Value: binary.BigEndian.AppendUint64(nil, index)}
}

// resolve answers the proposals waiting for any of ids whose entries are
// now all on the best chain.
func (e *Engine) resolve(ids []string) {
	var ready []uint64
	for _, id := range ids {
		for _, pid := range e.waits[id] {
			if !slices.Contains(ready, pid) {
				ready = append(ready, pid)
			}
		}
	}
	for _, pid := range ready {
		p := e.props[pid]
		if p == nil {
			continue
		}
		blocks, ok := e.blocksOf(p.ids)
		if !ok {
			continue
		}
		e.forget(pid)
		e.results = append(e.results, consensus.Result{ID: pid, Block: blocks[0], Blocks: blocks})
	}
}

// blocksOf returns the blocks of the best chain holding ids (each block
// once, in chain order), or ok false while some id is not on it.
func (e *Engine) blocksOf(ids []string) ([]block.Block, bool) {
	var idx []uint64
	for _, id := range ids {
		at, ok, err := e.entryIndex(id)
		if err != nil || !ok {
			return nil, false
		}
		if !slices.Contains(idx, at) {
			idx = append(idx, at)
		}
	}
	slices.Sort(idx)
	out := make([]block.Block, 0, len(idx))
	for _, i := range idx {
		b, err := e.chain.Block(i)
		if err != nil {
			e.fail(err)
			return nil, false
		}
		out = append(out, b)
	}
	return out, true
}

func (e *Engine) forget(pid uint64) {
	p := e.props[pid]
	delete(e.props, pid)
	if p == nil {
		return
	}
	for _, id := range p.ids {
		w := slices.DeleteFunc(e.waits[id], func(x uint64) bool { return x == pid })
		if len(w) == 0 {
			delete(e.waits, id)
		} else {
			e.waits[id] = w
		}
	}
}

// receiveEntries keeps a peer's entries that are new to us and passes
// them on to our other peers.
func (e *Engine) receiveEntries(from string, groups [][]string) {
	var fresh [][]string
	for _, g := range groups {
		ids, err := groupIDs(g)
		if err != nil {
			continue
		}
		// A group that reaches us after some of its entries were mined
		// keeps the others, as it does in the mempool that saw them
		// mined: a block repeating an entry of the chain is invalid.
		g, ids = e.offChain(g, ids)
		if len(ids) == 0 || !fitsBlock(g) {
			continue
		}
		added, err := e.pool.add(g, ids)
		if err != nil || !added {
			continue
		}
		fresh = append(fresh, g)
	}
	if len(fresh) > 0 {
		e.poolDirty = true
		e.broadcastGroups(fresh, from)
	}
}

// broadcastGroups sends groups to every peer but except, in messages
// within the bounds decode enforces.
func (e *Engine) broadcastGroups(groups [][]string, except string) {
	for len(groups) > 0 {
		n, size := 0, 0
		for n < len(groups) && n < maxGroupsPerMsg {
			c := dataCost(groups[n])
			if n > 0 && size+c > maxEntriesBytes {
				break
			}
			size += c
			n++
		}
		e.broadcast(encode(kindEntries, entriesMsg{Groups: groups[:n]}), except)
		groups = groups[n:]
	}
}

// fitsBlock reports whether group g fits in one block's data. A group
// that does not could never be mined: kept, it would wait in every
// mempool forever and its proposal would never be answered.
func fitsBlock(g []string) bool { return 1+dataCost(g) <= block.MaxDataLen }

func groupIDs(g []string) ([]string, error) {
	ids := make([]string, len(g))
	for i, en := range g {
		ids[i] = block.EntryID(en)
		if slices.Contains(ids[:i], ids[i]) {
			return nil, block.ErrDuplicateEntry
		}
	}
	return ids, nil
}

// offChain returns the entries of g (with ids) that are not on the best
// chain, g itself when none is.
func (e *Engine) offChain(g, ids []string) ([]string, []string) {
	var keep, keepIDs []string
	for i, id := range ids {
		if _, ok, _ := e.entryIndex(id); !ok {
			keep, keepIDs = append(keep, g[i]), append(keepIDs, id)
		}
	}
	if len(keep) == len(g) {
		return g, ids
	}
	return keep, keepIDs
}

func (e *Engine) allOnChain(ids []string) bool {
	for _, id := range ids {
		if _, ok, _ := e.entryIndex(id); !ok {
			return false
		}
	}
	return true
}

// Propose implements consensus.Engine.
func (e *Engine) Propose(data string) (uint64, error) { return e.ProposeAll([]string{data}) }

// ProposeAll implements consensus.Engine: the entries go into the mempool
// as one group, which an honest miner puts in one block, and the proposal
// is resolved once they are all on the best chain. Entries are known by
// their content: an entry already on the chain resolves at once.
func (e *Engine) ProposeAll(data []string) (uint64, error) {
	ids, err := e.submit(data)
	if err != nil {
		return 0, err
	}
	e.nextID++
	pid := e.nextID
	e.props[pid] = &proposal{ids: ids}
	for _, id := range ids {
		e.waits[id] = append(e.waits[id], pid)
	}
	if e.allOnChain(ids) {
		e.resolve(ids)
	}
	return pid, nil
}

// Submit implements consensus.Entries.
func (e *Engine) Submit(data []string) ([]string, error) { return e.submit(data) }

func (e *Engine) submit(data []string) ([]string, error) {
	if e.err != nil {
		return nil, fmt.Errorf("pow: storage failed: %w", e.err)
	}
	if len(data) == 0 || len(data) > consensus.MaxGroup {
		return nil, fmt.Errorf("pow: a group holds 1 to %d entries, not %d", consensus.MaxGroup, len(data))
	}
	for _, d := range data {
		if err := block.CheckEntry(d); err != nil {
			return nil, err
		}
	}
	if !fitsBlock(data) {
		return nil, fmt.Errorf("pow: the group takes %d bytes of a block's data, limit %d: %w", 1+dataCost(data), block.MaxDataLen, block.ErrDataTooLong)
	}
	ids, err := groupIDs(data)
	if err != nil {
		return nil, err
	}
	onChain := 0
	for _, id := range ids {
		if _, ok, err := e.entryIndex(id); err != nil {
			return nil, err
		} else if ok {
			onChain++
		}
	}
	switch {
	case onChain == len(ids):
		return ids, nil
	case onChain > 0:
		return nil, fmt.Errorf("%w: %d of the %d entries are on the chain already", ErrOverlap, onChain, len(ids))
	}
	added, err := e.pool.add(slices.Clone(data), ids)
	if errors.Is(err, ErrMempoolFull) {
		return nil, fmt.Errorf("%w (%v)", consensus.ErrBusy, err)
	}
	if err != nil {
		return nil, err
	}
	if added {
		e.poolDirty = true
		e.broadcast(encode(kindEntries, entriesMsg{Groups: [][]string{data}}), "")
	}
	return ids, nil
}

// Entry implements consensus.Entries.
func (e *Engine) Entry(id string) (consensus.EntryState, error) {
	if len(id) != 64 {
		return consensus.EntryState{}, fmt.Errorf("pow: an entry id is 64 hex digits")
	}
	if _, err := hex.DecodeString(id); err != nil {
		return consensus.EntryState{}, fmt.Errorf("pow: an entry id is 64 hex digits")
	}
	at, ok, err := e.entryIndex(id)
	if err != nil {
		return consensus.EntryState{}, err
	}
	if ok {
		return consensus.EntryState{State: "confirmed", Index: at, Confirmations: e.chain.Tip().Index - at + 1}, nil
	}
	if e.pool.has(id) {
		return consensus.EntryState{State: "pending"}, nil
	}
	return consensus.EntryState{State: "unknown"}, nil
}

// Abandon implements consensus.Engine: the entry stays in the mempools it
// reached and may still be mined.
func (e *Engine) Abandon(id uint64) bool {
	e.forget(id)
	return true
}

// Mining implements consensus.Miner.
func (e *Engine) Mining() (uint64, [block.HeaderLen]byte, uint8, bool) {
	var none [block.HeaderLen]byte
	if !e.cfg.Mine || e.err != nil || e.pool.len() == 0 {
		return 0, none, 0, false
	}
	if !e.tmplOK {
		if !e.buildTemplate() {
			return 0, none, 0, false
		}
	}
	return e.gen, e.tmplHdr, e.tmpl.Difficulty, true
}

// buildTemplate makes the next header to mine on the tip.
func (e *Engine) buildTemplate() bool {
	entries, ids := e.pool.take()
	if len(entries) == 0 {
		return false
	}
	tip := e.chain.Tip()
	h := tip.Index + 1
	v := &view{fork: tip.Index}
	var first, last int64
	if e.p.Retargets(h) {
		_, first = v.header(e, h-e.p.RetargetBlocks)
		_, last = v.header(e, h-1)
	}
	diff := e.p.NextDifficulty(h, e.diffs[tip.Index], first, last)
	ts := max(e.cfg.Now().UnixMilli(), e.medianTime(v, h)+1)
	e.tmpl = block.NewPoW(tip, entries, ts, diff)
	hdr, err := block.Header(e.tmpl, block.EntriesRoot(entries))
	if err != nil {
		e.fail(fmt.Errorf("pow: header of the block to mine: %w", err))
		return false
	}
	e.tmplHdr, e.tmplIDs = hdr, ids
	e.gen++
	e.tmplOK, e.tmplTick, e.poolDirty = true, e.ticks, false
	return true
}

// Mined implements consensus.Miner: a nonce for the current header makes
// a block that extends the tip.
func (e *Engine) Mined(gen, nonce uint64) {
	if gen != e.gen || !e.tmplOK || e.err != nil {
		return
	}
	b, err := block.Seal(e.tmpl, nonce)
	if err != nil {
		return
	}
	e.tmplOK = false
	v, ok := e.viewOf(b.PreviousHash, b.Index-1)
	if !ok || v.fork != e.chain.Tip().Index {
		return // the tip moved on
	}
	ids, err := e.check(v, b)
	if err != nil {
		e.log.Warn("mined block refused", "index", b.Index, "err", err)
		return
	}
	e.mined++
	e.sideSeq++
	s := &side{b: b, ids: ids, cum: new(big.Int).Add(e.work, blockWork(b.Difficulty)), seq: e.sideSeq}
	e.addSide(s)
	e.log.Info("mined a block", "index", b.Index, "hash", b.CurrHash, "entries", len(ids), "difficulty", b.Difficulty)
	e.switchTo(s, "")
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
	return Stats{Height: tip.Index, Work: e.work.Text(16), Difficulty: e.diffs[tip.Index], Mempool: e.pool.len(),
		Side: len(e.side), Mined: e.mined, Reorgs: e.reorgs}
}

// Behind reports a connected peer whose last status claims a better tip
// than this node's best chain, one it has not taken (yet): while there is
// one, the node is still syncing. A peer that let ignoreClaimsAfter
// getblocks in a row time out (about 6 s at the node's tick) is not
// believed until it gives a block this node adds: a stranger claiming work
// it never sends cannot hold the node "syncing".
func (e *Engine) Behind() (peer string, behind bool) {
	tip := e.chain.Tip()
	for _, id := range slices.Sorted(maps.Keys(e.known)) {
		if p := e.known[id]; p.work != nil && p.unanswered < ignoreClaimsAfter && better(p.work, p.hash, e.work, tip.CurrHash) {
			return id, true
		}
	}
	return "", false
}

// Durable implements consensus.Engine. The engine writes its blocks itself
// and hands out no Persist, so no token ever comes back.
func (e *Engine) Durable(uint64, error) {}
