package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"strconv"
	"time"

	"github.com/naivechain/naivechain/internal/api"
	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/driver"
	"github.com/naivechain/naivechain/internal/logging"
	"github.com/naivechain/naivechain/internal/p2p"
	"github.com/naivechain/naivechain/internal/store"
	"github.com/naivechain/naivechain/internal/transport"
	"github.com/naivechain/naivechain/internal/wire"
)

// loop is the only goroutine that touches the engine; the driver
// carries out what the engine asks for.
func (n *Node) loop(ctx context.Context) {
	ticker := n.clock.NewTicker(n.cfg.Tick)
	defer ticker.Stop()
	d := driver.New(driver.Config{
		Engine: n.engine, Chain: n.chain, Links: transportLinks{n}, GreetEvery: greetTicks,
		Wake: n.wakeLoop, MembersChanged: n.addMembers,
	})
	defer d.Stop(consensus.ErrStopped)
	inbound := n.tr.Inbound()
	n.process(d) // a founder's first Ready makes it a member at once
	consL := logging.Actor(n.cfg.Logger, "CONSENSUS")
	observe := func() {
		if st, changed := n.metrics.observeEngine(n.engine); changed {
			logLeader(consL, st, n.id)
		}
	}
	observe()
	blocks := newBlockLog(n.chainL, n.clock.Now, n.chain.Blocks, n.chain.Tip().Index)
	keep := n.clock.NewTicker(peersSaveInterval)
	defer keep.Stop()
	var savedPeers string
	var found chan solution
	if n.miner != nil {
		found = n.miner.found
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C():
			d.Tick()
			observe()
		case in, ok := <-inbound:
			if !ok { // the transport closed: the node is stopping
				inbound = nil
				continue
			}
			n.receive(d, in)
		case w := <-n.writes:
			n.propose(d, w)
		case r := <-n.reads:
			n.readIndex(d, r)
		case a := <-n.abandons:
			may, _ := d.Abandon(a.id) // not waiting: the result is in its channel
			a.reply <- may
		case f := <-n.calls:
			f()
		case <-n.wake:
			// A store write became durable: the Ready below carries on.
		case s := <-found:
			d.Mined(s.gen, s.nonce)
		case <-keep.C():
			savedPeers = n.keepPeers(savedPeers)
		}
		// Take in whatever else is already waiting before handling the
		// engine's Ready: one Ready, and one fsync, then covers many
		// messages and writes (group commit).
	drain:
		for i := 0; i < maxDrain; i++ {
			select {
			case in, ok := <-inbound:
				if !ok {
					inbound = nil
					break drain
				}
				n.receive(d, in)
			case w := <-n.writes:
				n.propose(d, w)
			case r := <-n.reads:
				n.readIndex(d, r)
			default:
				break drain
			}
		}
		n.process(d)
		blocks.observe(n.chain.Tip().Index)
		n.updateMining(d)
	}
}

// process carries out the engine's Ready. When the engine failed (its
// store did), the driver answers the writes waiting with the failure and
// the node stays up for reads; the engine refuses every later write.
func (n *Node) process(d *driver.Driver) {
	if err := d.Process(); err != nil && n.failed.CompareAndSwap(false, true) {
		n.chainL.Error("storage failed: refusing writes, serving reads; restart the node once the disk is fixed", "err", err)
	}
}

// transportLinks are the driver's links to the node's peers: the node's
// transport (Config.Transport; by default the peer host's).
type transportLinks struct{ n *Node }

// Send implements driver.Links: it queues a consensus message for the
// peer; it never blocks (a full queue drops, which consensus tolerates).
func (l transportLinks) Send(to string, payload []byte) { l.n.tr.Send(to, payload) }

// Peers implements driver.Links. It also brings the members'
// reachability (GET /status, /ready) up to date with the host's links.
func (l transportLinks) Peers() []string { return l.n.observePeers() }

// addMembers adds the engine's members to the host's known peers.
func (n *Node) addMembers(ms []consensus.Member) {
	for _, m := range ms {
		if m.ID != n.id {
			n.host.AddKnown(wire.PeerInfo{ID: m.ID, Host: m.Host, Port: m.Port, HTTPPort: m.HTTPPort})
		}
	}
}

// wakeLoop makes the loop handle the engine's Ready soon. It never blocks:
// one pending wake covers any number of writes.
func (n *Node) wakeLoop() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// greetTicks is how often (in ticks) the engine hears which peers are
// connected, so that it can announce its chain to those outside its
// network (networks that meet merge).
const greetTicks = 10

// maxDrain bounds the events taken in before one Ready.
const maxDrain = 1024

func (n *Node) propose(d *driver.Driver, w writeReq) {
	id, err := d.Propose(w.data, 0, func(o driver.Outcome) { w.reply <- writeResult{blocks: o.Blocks, err: o.Err} })
	if err != nil {
		w.reply <- writeResult{err: apiError(err)}
		w.id <- 0
		return
	}
	w.id <- id
}

// maxQueuedReads bounds the consistent reads handed to the loop and not
// taken yet; the engine bounds those it holds (vote.DefaultMaxReads).
const maxQueuedReads = 1024

// readIndex asks the engine for a read barrier; the driver answers reply
// once the engine resolves it.
func (n *Node) readIndex(d *driver.Driver, reply chan error) {
	if err := d.ReadIndex(func(err error) { reply <- err }); err != nil {
		reply <- err
	}
}

// ReadBarrier implements api.Backend: it returns once this node's chain
// holds every write acknowledged, by any member, before it was called
// (raft's ReadIndex), or fails: no leader or no quorum, too many reads
// waiting, ctx's end. A pow node has no such barrier
// (api.ErrNoConsistentRead).
func (n *Node) ReadBarrier(ctx context.Context) error {
	if _, ok := n.engine.(consensus.Reader); !ok {
		return api.ErrNoConsistentRead
	}
	// Buffered: the loop never blocks on it, and a reply to a read given
	// up is dropped with the channel. The engine expires the barrier.
	reply := make(chan error, 1)
	select {
	case n.reads <- reply:
	default:
		return consensus.ErrReadsBusy
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return fmt.Errorf("no majority confirmed the read in time (no quorum?): %w", ctx.Err())
	}
}

// peersSaveInterval is how often the known peers are written to the store
// when they changed.
const peersSaveInterval = 5 * time.Second

// keepPeers stores the known peers if they differ from last, and returns
// what is stored.
func (n *Node) keepPeers(last string) string {
	ps := n.host.Known()
	v, err := json.Marshal(ps)
	if err != nil || string(v) == last {
		return last
	}
	if err := savePeers(n.store, ps); err != nil {
		n.chainL.Warn("cannot keep the peer list", "err", err)
		return last
	}
	return string(v)
}

// Ban scores of a peer's faults (p2p.Penalize). Garbage, impossible
// messages and invalid blocks (consensus.ErrInvalidBlock: bad work, a
// broken chain rule) are never an honest peer's slip: they ban at once. A message the engine refused for another reason may come from an
// honest peer (raft drops a proposal forwarded to a node that just lost
// its leadership), so it takes several to ban.
const (
	penaltyMalformed = p2p.BanThreshold
	penaltyRefused   = 20
)

// receive hands a peer's message to the engine, and penalises the peer
// when the engine refuses it.
func (n *Node) receive(d *driver.Driver, in transport.Message) {
	err := d.Step(in.From, in.Payload)
	if err == nil {
		return
	}
	score := penaltyRefused
	if errors.Is(err, consensus.ErrMalformed) || errors.Is(err, consensus.ErrInvalidBlock) {
		score = penaltyMalformed
	}
	banned := n.tr.Penalize(in.From, score, "invalid consensus message: "+err.Error())
	n.chainL.Warn("invalid consensus message; peer penalised", "peer", in.From, "score", score, "banned", banned, "err", err)
}

// call runs f on the loop's goroutine, so that f may use the engine, and
// waits for it to finish. It gives up when ctx ends first.
func (n *Node) call(ctx context.Context, f func()) error {
	done := make(chan struct{})
	select {
	case n.calls <- func() { f(); close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Propose implements api.Backend: it hands data to the engine and waits
// for the block that carries it, at most until ctx ends.
func (n *Node) Propose(ctx context.Context, data string) (block.Block, error) {
	bs, err := n.ProposeAll(ctx, []string{data})
	if err != nil {
		return block.Block{}, err
	}
	return bs[0], nil
}

// ProposeAll implements api.Backend: the writes are committed together, as
// consecutive blocks, or not at all; it waits at most until ctx ends.
func (n *Node) ProposeAll(ctx context.Context, data []string) ([]block.Block, error) {
	start := n.clock.Now()
	bs, err := n.proposeAll(ctx, data)
	n.metrics.observeWrite(n.clock.Now().Sub(start), err)
	return bs, err
}

func (n *Node) proposeAll(ctx context.Context, data []string) ([]block.Block, error) {
	w := writeReq{data: data, reply: make(chan writeResult, 1), id: make(chan uint64, 1)}
	select {
	case n.writes <- w:
	default:
		return nil, consensus.ErrBusy
	}
	// Wait for the result itself: the proposal's id is needed only to
	// abandon the write, so it is read only then, and the loop wakes this
	// goroutine once per write rather than twice.
	select {
	case r := <-w.reply:
		if r.err == nil {
			// Committed here: legacy peers get it the original's way,
			// off the write path.
			n.legacy.announce(r.blocks)
		}
		return r.blocks, r.err
	case <-ctx.Done():
	}
	var id uint64
	select {
	case id = <-w.id:
	default:
		// The loop will still answer; the write was queued but not proposed.
		return nil, &consensus.WriteError{MayCommit: true, Cause: ctx.Err(), Mined: n.mines()}
	}
	if id == 0 {
		r := <-w.reply
		return r.blocks, r.err
	}
	a := abandonReq{id: id, reply: make(chan bool, 1)}
	select {
	case n.abandons <- a:
	case r := <-w.reply:
		return r.blocks, r.err
	}
	may := <-a.reply
	select {
	case r := <-w.reply: // answered just before the abandon
		return r.blocks, r.err
	default:
	}
	return nil, &consensus.WriteError{MayCommit: may, Cause: ctx.Err(), Mined: n.mines()}
}

// Blocks implements api.Backend.
func (n *Node) Blocks(from uint64) iter.Seq2[block.Block, error] { return n.chain.Blocks(from) }

// Subscribe implements api.Backend: the chain's events (GET /events).
func (n *Node) Subscribe(buffer int) *chain.Subscription { return n.chain.Subscribe(buffer) }

// Info implements api.Backend.
func (n *Node) Info() api.NodeInfo {
	return api.NodeInfo{
		PeerID:    n.id,
		DataCount: n.chain.Len(),
		Health:    n.chain.Healthy() && store.Damage(n.store) == nil,
		RPCPort:   strconv.Itoa(n.cfg.Port),
		Started:   n.started,
	}
}

// Peers implements api.Backend: the peers this node is connected to.
func (n *Node) Peers() []api.Peer {
	ps := n.host.Peers()
	out := make([]api.Peer, 0, len(ps))
	for _, p := range ps {
		out = append(out, api.Peer{ID: p.ID, Host: p.Host, Port: p.Port})
	}
	for _, p := range n.legacy.peerList() {
		out = append(out, api.Peer{ID: p.ID, Host: p.Host, Port: p.Port})
	}
	return out
}

// Connect implements api.Backend (POST /peers): it connects to the node at
// host:port; gossip then spreads the new peer through the network. The
// operator gave it, so it is redialed as long as a stored peer.
func (n *Node) Connect(ctx context.Context, host, port, joinToken string) error {
	peer, err := n.host.Connect(ctx, host, port, "")
	if se := (*p2p.SelfError)(nil); errors.As(err, &se) {
		return fmt.Errorf("%w: %s: %s", api.ErrSelf, se.Addr, se.Why)
	}
	if err != nil {
		return err
	}
	n.host.AddKnown(peer)
	mc, ok := n.engine.(mergeConsent)
	if !ok {
		return nil // an open network (pow): a link is all it takes
	}
	// A vote network merges with another only with both operators'
	// consent: the other's join token, given to ours, who makes this
	// request. The peer's announce (its network greets every peer within
	// a second) says whether the token is its network's.
	t := n.clock.NewTicker(n.cfg.Tick)
	defer t.Stop()
	for {
		var known, ok, same bool
		if err := n.call(ctx, func() { known, ok, same = mc.MergeTokenCheck(peer.ID, joinToken) }); err != nil {
			return err
		}
		switch {
		case known && same:
			return nil // a member of this node's own network
		case known && joinToken == "":
			return fmt.Errorf("%w: %s belongs to another network; merging with it needs that network's join token (\"join_token\")", api.ErrForbidden, peer.ID)
		case known && !ok:
			return fmt.Errorf("%w: that is not the join token of the network of %s", api.ErrForbidden, peer.ID)
		case known:
			var err error
			if cerr := n.call(ctx, func() { err = mc.AllowMerge(joinToken, peer.ID) }); cerr != nil {
				return cerr
			}
			if err != nil {
				return fmt.Errorf("%w: %v", api.ErrForbidden, err)
			}
			n.chainL.Info("Consented to merge with the network of a peer", "peer", peer.ID)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not tell which network it belongs to: %w", peer.ID, ctx.Err())
		case <-t.C():
		}
	}
}

// mergeConsent is implemented by engines whose networks merge only with
// their operators' consent (vote).
type mergeConsent interface {
	MergeTokenCheck(peer, token string) (known, ok, same bool)
	AllowMerge(token, peer string) error
}

// Status implements api.Backend: the engine's status and its members, and
// the peers banned.
func (n *Node) Status(ctx context.Context) (api.Status, error) {
	var st api.Status
	err := n.call(ctx, func() {
		es := n.engine.Status()
		st = api.Status{Engine: n.engine.Name(), Role: es.Role, Leader: es.Leader, Term: es.Term, Pending: es.Pending}
		n.observePeers()
		for _, m := range n.engine.Members() {
			st.Members = append(st.Members, n.reach.member(m, n.id))
		}
		if wr, ok := n.engine.(consensus.WorkReporter); ok {
			s := wr.WorkStats()
			st.PoW = &api.PoWStatus{Height: s.Height, Work: s.Work, Difficulty: s.Difficulty, Mempool: s.Mempool,
				SideBlocks: s.Side, Mined: s.Mined, Reorgs: s.Reorgs}
			if n.miner != nil {
				st.PoW.Hashes = n.miner.hashes.Load()
			}
		}
	})
	if err != nil {
		return st, err
	}
	for _, b := range n.host.Bans() {
		st.Bans = append(st.Bans, api.Ban{ID: b.ID, Until: b.Until, Reason: b.Reason})
	}
	return st, nil
}

// Readiness implements api.Backend (GET /ready): see readiness.
func (n *Node) Readiness(ctx context.Context) error {
	var err error
	if cerr := n.call(ctx, func() {
		n.observePeers()
		err = n.readiness()
	}); cerr != nil {
		return fmt.Errorf("the node's event loop did not answer: %w", cerr)
	}
	return err
}

// Members returns the consensus members as the engine knows them.
func (n *Node) Members(ctx context.Context) ([]consensus.Member, error) {
	var ms []consensus.Member
	err := n.call(ctx, func() { ms = n.engine.Members() })
	return ms, err
}

// Submit implements api.Backend: the engine queues the entries and the
// ids come back at once (pow only).
func (n *Node) Submit(ctx context.Context, data []string) ([]string, error) {
	en, ok := n.engine.(consensus.Entries)
	if !ok {
		return nil, api.ErrUnsupported
	}
	var ids []string
	var err error
	if cerr := n.call(ctx, func() { ids, err = en.Submit(data) }); cerr != nil {
		return nil, cerr
	}
	return ids, apiError(err)
}

// apiError marks an engine's refusal that no retry can cure for the API.
func apiError(err error) error {
	if errors.Is(err, consensus.ErrConflict) {
		return fmt.Errorf("%w: %w", api.ErrConflict, err)
	}
	return err
}

// Entry implements api.Backend (pow only).
func (n *Node) Entry(ctx context.Context, id string) (api.EntryState, error) {
	en, ok := n.engine.(consensus.Entries)
	if !ok {
		return api.EntryState{}, api.ErrUnsupported
	}
	if !validEntryID(id) {
		return api.EntryState{}, api.ErrBadEntryID
	}
	var st consensus.EntryState
	var err error
	if cerr := n.call(ctx, func() { st, err = en.Entry(id) }); cerr != nil {
		return api.EntryState{}, cerr
	}
	if err != nil {
		return api.EntryState{}, err
	}
	return api.EntryState{ID: id, State: st.State, Index: st.Index, Confirmations: st.Confirmations}, nil
}

func validEntryID(id string) bool {
	if len(id) != 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// mines reports whether writes wait for mined blocks (pow) rather than
// for a majority.
func (n *Node) mines() bool { _, ok := n.engine.(consensus.Miner); return ok }

// logLeader says at info that the leader changed: an operator's first
// question after a failure is who leads now.
func logLeader(log *slog.Logger, st consensus.Status, self string) {
	switch {
	case st.Leader == "":
		log.Info("No leader: an election is under way", "term", st.Term)
	case st.Leader == self:
		log.Info("This node is the leader", "term", st.Term)
	default:
		log.Info("Leader elected", "leader", st.Leader, "term", st.Term)
	}
}
