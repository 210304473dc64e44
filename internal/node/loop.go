package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/naivechain/naivechain/internal/api"
	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/logging"
	"github.com/naivechain/naivechain/internal/p2p"
	"github.com/naivechain/naivechain/internal/store"
	"github.com/naivechain/naivechain/internal/wire"
)

// loop is the only goroutine that touches the engine.
func (n *Node) loop(ctx context.Context) {
	ticker := time.NewTicker(n.cfg.Tick)
	defer ticker.Stop()
	waiting := make(map[uint64]chan writeResult)
	reading := make(map[uint64]chan error)
	ticks := 0
	inbound := n.host.Inbound()
	n.ready(waiting, reading) // a founder's first Ready makes it a member at once
	consL := logging.Actor(n.cfg.Logger, "CONSENSUS")
	observe := func() {
		if st, changed := n.metrics.observeEngine(n.engine); changed {
			logLeader(consL, st, n.id)
		}
	}
	observe()
	blocks := newBlockLog(n.chainL, time.Now, n.chain.Blocks, n.chain.Tip().Index)
	keep := time.NewTicker(peersSaveInterval)
	defer keep.Stop()
	var savedPeers string
	var greeted []string // the peers of the last Greet
	var found chan solution
	if n.miner != nil {
		found = n.miner.found
	}
	defer func() {
		for _, c := range waiting {
			c <- writeResult{err: consensus.ErrStopped}
		}
		for _, c := range reading {
			c <- consensus.ErrStopped
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			n.engine.Tick()
			observe()
			// Greet every greetTicks, and at the first tick after the
			// connected peers changed: an engine that sends to the peers
			// it was greeted with (pow) reaches a new one at once.
			ticks++
			if ids := n.observePeers(); ticks%greetTicks == 0 || !slices.Equal(ids, greeted) {
				n.engine.Greet(ids)
				greeted = ids
			}
		case in, ok := <-inbound:
			if !ok { // the host closed: the node is stopping
				inbound = nil
				continue
			}
			n.receive(in)
		case w := <-n.writes:
			n.propose(w, waiting)
		case r := <-n.reads:
			n.readIndex(r, reading)
		case a := <-n.abandons:
			n.abandon(a, waiting)
		case f := <-n.calls:
			f()
		case <-n.wake:
			// A store write became durable: the Ready below carries on.
		case s := <-found:
			n.engine.(consensus.Miner).Mined(s.gen, s.nonce)
		case <-keep.C:
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
				n.receive(in)
			case w := <-n.writes:
				n.propose(w, waiting)
			case r := <-n.reads:
				n.readIndex(r, reading)
			default:
				break drain
			}
		}
		n.ready(waiting, reading)
		blocks.observe(n.chain.Tip().Index)
		n.updateMining()
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

func (n *Node) propose(w writeReq, waiting map[uint64]chan writeResult) {
	id, err := n.engine.ProposeAll(w.data)
	if err != nil {
		w.reply <- writeResult{err: apiError(err)}
		w.id <- 0
		return
	}
	waiting[id] = w.reply
	w.id <- id
}

// maxQueuedReads bounds the consistent reads handed to the loop and not
// taken yet; the engine bounds those it holds (vote.DefaultMaxReads).
const maxQueuedReads = 1024

// readIndex asks the engine for a read barrier and keeps reply until the
// engine resolves it.
func (n *Node) readIndex(reply chan error, reading map[uint64]chan error) {
	id, err := n.engine.(consensus.Reader).ReadIndex()
	if err != nil {
		reply <- err
		return
	}
	reading[id] = reply
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

func (n *Node) abandon(a abandonReq, waiting map[uint64]chan writeResult) {
	if _, ok := waiting[a.id]; !ok {
		a.reply <- false // already answered: the result is in its channel
		return
	}
	delete(waiting, a.id)
	a.reply <- n.engine.Abandon(a.id)
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

// ready carries out the engine's Ready. When the engine failed (its store
// did), the writes waiting are answered with the failure and the node
// stays up for reads; the engine refuses every later write.
func (n *Node) ready(waiting map[uint64]chan writeResult, reading map[uint64]chan error) {
	rd := n.engine.Ready()
	for _, r := range rd.Reads {
		if c, ok := reading[r.ID]; ok {
			delete(reading, r.ID)
			c <- r.Err
		}
	}
	for _, r := range rd.Results {
		if c, ok := waiting[r.ID]; ok {
			delete(waiting, r.ID)
			if r.Err != nil {
				c <- writeResult{err: r.Err}
				continue
			}
			blocks := r.Blocks
			if blocks == nil {
				blocks = []block.Block{r.Block}
			}
			c <- writeResult{blocks: blocks}
		}
	}
	n.send(rd.Messages)
	if rd.MembersChanged {
		for _, m := range n.engine.Members() {
			if m.ID != n.id {
				n.host.AddKnown(wire.PeerInfo{ID: m.ID, Host: m.Host, Port: m.Port, HTTPPort: m.HTTPPort})
			}
		}
	}
	if rd.Err != nil {
		if n.failed.CompareAndSwap(false, true) {
			n.chainL.Error("storage failed: refusing writes, serving reads; restart the node once the disk is fixed", "err", rd.Err)
		}
		for id, c := range waiting {
			// The batch holding the write may or may not have reached the disk.
			c <- writeResult{err: &consensus.WriteError{MayCommit: true, Cause: rd.Err}}
			delete(waiting, id)
		}
		for id, c := range reading {
			c <- fmt.Errorf("consistent read: %w", rd.Err)
			delete(reading, id)
		}
	}
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
// send queues consensus messages on the peers' connections; it never
// blocks (a full queue drops, which consensus tolerates).
func (n *Node) send(msgs []consensus.Message) {
	for _, m := range msgs {
		n.host.Send(m.To, &wire.Consensus{Payload: m.Payload})
	}
}

func (n *Node) receive(in p2p.Inbound) {
	switch m := in.Msg.(type) {
	case *wire.Consensus:
		err := n.engine.Step(in.From.ID, m.Payload)
		if err == nil {
			return
		}
		score := penaltyRefused
		if errors.Is(err, consensus.ErrMalformed) || errors.Is(err, consensus.ErrInvalidBlock) {
			score = penaltyMalformed
		}
		banned := n.host.Penalize(in.From.ID, score, "invalid consensus message: "+err.Error())
		n.chainL.Warn("invalid consensus message; peer penalised", "peer", in.From.ID, "score", score, "banned", banned, "err", err)
	default:
		banned := n.host.Penalize(in.From.ID, penaltyMalformed, "unexpected "+in.Msg.Type().String()+" message")
		n.chainL.Warn("unexpected message; peer penalised", "peer", in.From.ID, "type", in.Msg.Type().String(), "banned", banned)
	}
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
	start := time.Now()
	bs, err := n.proposeAll(ctx, data)
	n.metrics.observeWrite(start, err)
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
