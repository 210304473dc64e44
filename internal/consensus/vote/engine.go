package vote

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/store"
)

// Engine is the vote engine. It implements consensus.Engine.
//
// Its state is split by concern, as raft's own is: the Engine itself is
// the raft bridge (raft, its storage, the applied state, snapshots);
// prop batches and forwards this node's proposals (proposer.go); mem is
// the membership (membership.go); merge the moves between networks
// (merge.go); dur the store writes handed out and not yet durable
// (durable.go).
type Engine struct {
	cfg     Config
	id      uint64
	log     *slog.Logger
	rn      *raft.RawNode
	storage *raft.MemoryStorage
	chain   *chain.Chain
	store   store.Store

	prop  proposer
	mem   membership
	merge mergeState
	dur   durability

	// applied is the durable applied state; confState the configuration
	// as of the last applied entry; snap the last snapshot's metadata.
	applied   appliedState
	confState raftpb.ConfState
	snapIndex uint64
	sinceSnap int // entries applied since the last snapshot
	snapBytes int // bytes of those entries
	catchup   *catchup

	now         int    // ticks since start
	leaderHeard int    // tick of the last message from the leader (or of being it)
	lead        uint64 // the leader as of the last raft Ready
	campaigned  bool
	resumed     bool
	state       raft.StateType
	dedupe      *dedupe
	joinVia     string
	joinAt      int
	out         consensus.Ready
	fatal       error
	// carry: the last Ready stopped with More; the next goes on whatever
	// windowsFull says. visible is the applied index of the chain as the
	// caller has it (every Persist handed out applied).
	carry   bool
	visible uint64

	// token is the network's join token (replicated state); tokenAt the
	// tick the leader last proposed it; moveToken the token of the
	// network this one moves to. vouched maps raft ids to node ids of the
	// members a member listed for this node while it joins; admitted and
	// denied are the answer to its join (admission.go).
	token     string
	tokenAt   int
	moveToken string
	vouched   map[uint64]string
	vouchAt   int // tick of the last vouch asked for (askVouch)
	vouchAsks int
	joinKept  string // the join target kept in the store
	admitted  bool
	denied    string
	// snapFirst: this node founds a network on a chain above genesis,
	// which the log will not hold: its first applied entries are taken
	// into a snapshot at once (maybeSnapshot).
	snapFirst bool

	// consents are the join tokens of the networks this one consents to
	// merge with (replicated state); consentSent when this leader last
	// proved a consent to each network; heard the last announce of each
	// peer (consent.go).
	consents    []consent
	consentSent map[uint64]int
	heard       map[string]announce
	// deniedLogAt is the tick of the last "join refused" line, and
	// deniedQuiet the refusals not logged since.
	deniedLogAt, deniedQuiet int
	// served counts the block answers each peer got this tick, and
	// servedStrangers those of peers that are no members.
	served          map[string]int
	servedStrangers int
	// reads are the read barriers not resolved (read.go).
	reads readState
}

var _ consensus.Engine = (*Engine)(nil)

// New creates an engine. With cfg.Bootstrap it forms a one-member network
// and elects itself at once.
func New(cfg Config) (*Engine, error) {
	cfg.setDefaults()
	if err := ValidateMember(cfg.Self); err != nil {
		return nil, fmt.Errorf("vote: self: %w", err)
	}
	if cfg.Store == nil || cfg.Chain == nil {
		return nil, errors.New("vote: Store and Chain are required")
	}
	e := &Engine{
		cfg:         cfg,
		id:          RaftIDOf(cfg.Self),
		log:         cfg.Logger,
		storage:     raft.NewMemoryStorage(),
		chain:       cfg.Chain,
		store:       cfg.Store,
		prop:        newProposer(cfg.Session),
		mem:         newMembership(),
		merge:       newMergeState(),
		dedupe:      newDedupe(),
		vouched:     make(map[uint64]string),
		consentSent: make(map[uint64]int),
		heard:       make(map[string]announce),
		served:      make(map[string]int),
	}
	l, err := load(cfg.Store)
	if err != nil {
		return nil, err
	}
	e.cfg.Self.Incarnation = l.incarnation
	e.id = RaftIDOf(e.cfg.Self)
	if e.merge.orphans, err = loadOrphans(cfg.Store); err != nil {
		return nil, fmt.Errorf("vote: %w", err)
	}
	if err := e.restore(l); err != nil {
		return nil, err
	}
	rn, err := newRawNode(e.raftConfig(e.snapIndex))
	if err != nil {
		return nil, fmt.Errorf("vote: %w", err)
	}
	e.rn = rn
	if err := e.start(l); err != nil {
		return nil, err
	}
	return e, nil
}

// maxInflight is raft's window of unacknowledged appends per follower. One
// append in flight makes raft carry every entry proposed meanwhile in the
// next append, as soon as the follower answers: under load an append holds
// many entries, and a follower sees one append and sends one answer per
// fsync of the leader rather than per proposal. On loopback, where a
// message costs more than its bytes, this cut the WebSocket messages of
// 20,000 writes from about 153,000 to 16,000 and raised the devnet's
// writes/s by about a fifth (BENCHMARKS.md). A follower that falls behind
// still receives up to MaxSizePerMsg per round trip, and a lost append is
// sent again at the next heartbeat answer. The cost is on slow links:
// under load, entries proposed while an append is in flight wait for its
// answer, up to one more round trip.
const maxInflight = 1

// raftConfig is raft's configuration for this node's incarnation.
func (e *Engine) raftConfig(applied uint64) *raft.Config {
	return &raft.Config{
		ID:                        e.id,
		ElectionTick:              e.cfg.ElectionTicks,
		HeartbeatTick:             e.cfg.HeartbeatTicks,
		Storage:                   raftStorage{MemoryStorage: e.storage, e: e},
		Applied:                   applied,
		MaxSizePerMsg:             1 << 20,
		MaxInflightMsgs:           maxInflight,
		MaxUncommittedEntriesSize: 64 << 20,
		AsyncStorageWrites:        true,
		CheckQuorum:               true,
		PreVote:                   true,
		Logger:                    raftLogger{l: e.cfg.Logger, name: e.nodeName},
	}
}

// newRawNode is raft.NewRawNode with raft's panics on inconsistent stored
// state turned into errors.
func newRawNode(c *raft.Config) (rn *raft.RawNode, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("stored raft state is inconsistent: %v", r)
		}
	}()
	return raft.NewRawNode(c)
}

// restore loads the state read from the store into the engine. Raft is
// restarted at the snapshot and replays the committed entries after it:
// entries already applied (up to e.applied) only rebuild the membership,
// the others are applied as usual.
func (e *Engine) restore(l *loaded) error {
	if l.desc != nil {
		if err := e.storage.ApplySnapshot(l.snap); err != nil {
			return fmt.Errorf("vote: restore snapshot: %w", err)
		}
		e.snapIndex = l.snap.Metadata.Index
		e.confState = l.snap.Metadata.ConfState
		e.setMembers(*l.desc)
	}
	if !raft.IsEmptyHardState(l.hard) {
		if err := e.storage.SetHardState(l.hard); err != nil {
			return fmt.Errorf("vote: restore hard state: %w", err)
		}
	}
	if err := e.storage.Append(l.entries); err != nil {
		return fmt.Errorf("vote: restore raft log: %w", err)
	}
	e.dedupe.sessions = l.sessions
	e.applied = l.applied
	if e.applied.Index < e.snapIndex || (l.desc != nil && e.applied.Height < l.desc.Height) {
		return fmt.Errorf("vote: store is inconsistent: applied index %d below snapshot %d", e.applied.Index, e.snapIndex)
	}
	switch {
	case !l.hasRaftState() && l.joining != "":
		// Entering a network anew: the chain above genesis waits for the
		// network's snapshot or log (renew).
		e.applied.Height = 1
		return nil
	case !l.hasRaftState():
		e.applied.Height = e.chain.Len() // nothing applied yet
		return nil
	}
	n := e.chain.Len()
	switch {
	case n < e.applied.Height:
		return fmt.Errorf("vote: store is inconsistent: the chain has %d blocks, the applied state needs %d", n, e.applied.Height)
	case n > e.applied.Height && l.joining != "":
		// Kept for the snapshot of the network it is entering (renew).
	case n > e.applied.Height:
		// Blocks fetched during a catch-up that did not finish: never
		// acknowledged, never applied. Drop them.
		if err := e.chain.Write(store.Batch{Detach: n - e.applied.Height}); err != nil {
			return fmt.Errorf("vote: drop unfinished catch-up: %w", err)
		}
		e.log.Warn("dropped blocks of an unfinished catch-up", "from", n, "to", e.applied.Height)
	}
	return nil
}

// Name implements consensus.Engine.
func (e *Engine) Name() string { return "vote" }

// Tick implements consensus.Engine.
//
// The order of its steps matters where one step acts on what another
// decides:
//   - The per-tick budgets reset first (forwarding, served): a lost
//     forward or append then delays proposals one tick at most, and every
//     step below serves under this tick's budget.
//   - rejoin comes before everything that touches raft: it may replace
//     the raft node (renew, a new incarnation), and the rest of the tick
//     must act on the new one, not on the raft that was removed.
//   - checkLeave comes before raft's tick: a move that timed out is given
//     up, or a committed move begun, so that the membership steps below
//     see whether this node still takes part in its network's raft.
//   - raft's tick comes before leaderHeard, and leaderHeard before
//     retryJoin: a leader that stepped down at this tick (CheckQuorum) is
//     not counted as heard, and retryJoin's abandoned() must see a leader
//     that still leads as heard now, or a lone leader would ask to join.
//   - admitJoins comes before manageMembers: raft takes one membership
//     change at a time (proposeConf), and a waiting join goes before a
//     promotion or a removal.
//   - manageMembers and proposeToken run on the leader as of this tick.
//   - retry comes last among the proposals: it queues again those that
//     waited too long, for the next Ready's flush; orphans and reads only
//     count time and are independent of the others.
func (e *Engine) Tick() {
	if e.fatal != nil {
		return
	}
	e.prop.stirred = true
	e.prop.forwarding = false
	e.now++
	clear(e.served)
	e.servedStrangers = 0
	if e.mem.removed && e.merge.moving == nil && e.merge.leave == nil {
		e.rejoin()
	}
	e.checkLeave()
	e.rn.Tick()
	if e.isLeader() {
		e.leaderHeard = e.now
	}
	e.retryJoin()
	e.admitJoins()
	e.retryCatchup()
	if e.isLeader() {
		e.manageMembers()
		e.proposeToken()
	}
	e.prop.retry(e.now, e.cfg.RetryTicks)
	e.proposeOrphans()
	e.tickReads()
}

// Step implements consensus.Engine.
func (e *Engine) Step(from string, payload []byte) error {
	if len(payload) == 0 {
		return fmt.Errorf("%w: empty payload", consensus.ErrMalformed)
	}
	if e.fatal != nil {
		return nil // a failed engine takes nothing more in
	}
	if payload[0] != kindRaft {
		e.prop.stirred = true
	}
	switch payload[0] {
	case kindRaft:
		return e.stepRaftMessage(from, payload[1:])
	case kindFetch:
		return e.serveFetch(from, payload[1:])
	case kindBlocks:
		if e.merge.leave != nil && from == e.merge.leave.peer {
			start, blocks, err := decodeBlocks(payload[1:])
			if err != nil {
				return err
			}
			return e.takeBranch(start, blocks)
		}
		return e.takeBlocks(from, payload[1:])
	case kindAnnounce:
		return e.stepAnnounce(from, payload[1:])
	case kindLocate:
		return e.serveLocate(from, payload[1:])
	case kindHostRequest:
		return e.stepHostRequest(from, payload[1:])
	case kindHostAnswer:
		return e.stepHostAnswer(from, payload[1:])
	case kindJoin:
		return e.stepJoin(from, payload[1:])
	case kindVouch:
		return e.stepVouch(from, payload[1:])
	case kindConsent:
		return e.stepConsent(from, payload[1:])
	case kindJoinDenied:
		return e.stepDenied(from, payload[1:])
	case kindRemoved:
		return e.stepRemoved(from, payload[1:])
	case kindJoinRefuse:
		return e.stepRefuse(from, payload[1:])
	default:
		return fmt.Errorf("%w: unknown kind %d", consensus.ErrMalformed, payload[0])
	}
}

// Found implements consensus.Engine: a node that was to join a network
// and found no native one forms its own, alone.
func (e *Engine) Found() error {
	e.prop.stirred = true
	if e.resumed || e.isMember() {
		return nil
	}
	if err := e.rn.Bootstrap([]raft.Peer{{ID: e.id, Context: encodeMember(e.cfg.Self)}}); err != nil {
		return fmt.Errorf("vote: found: %w", err)
	}
	e.snapFirst = e.chain.Len() > 1
	e.cfg.Bootstrap = true
	e.joinVia = ""
	return nil
}

func (e *Engine) isLeader() bool { return e.rn.BasicStatus().RaftState == raft.StateLeader }

// Ready implements consensus.Engine. It handles at most one raft Ready:
// the store batch that Ready makes durable is handed out in Persist, and
// the caller applies it to the chain before it calls the engine again. So
// the engine never reads a chain that lacks a write it handed out (it
// reads the chain's tip while it builds the next batch, and raft's
// storage reads it for snapshots). More says raft has more to hand out.
func (e *Engine) Ready() consensus.Ready {
	if e.fatal == nil {
		e.advance()
	}
	e.settleReads()
	out := e.out
	e.out = consensus.Ready{}
	out.Err = e.fatal
	if e.mem.memberVer != e.mem.memberSeen {
		out.MembersChanged, e.mem.memberSeen = true, e.mem.memberVer
	}
	return out
}

// advance carries the engine on from the writes that became durable,
// hands queued proposals and reads to raft, and handles raft's next Ready
// unless every window is full (windowsFull) or too many writes are in
// flight; a Durable then stirs it again.
func (e *Engine) advance() {
	if !e.dur.failed() {
		// The caller applied every Persist handed out; not so when
		// one was refused (its failure comes in order, once the writes
		// before it are durable).
		e.visible = e.applied.Index
	}
	if e.takeDurable() {
		e.prop.stirred = true // a durable write may free a window or commit
	}
	// Checked before flush: a proposal taken in while a window is open
	// makes an append that must be sent. A Ready that stopped with More
	// goes on as it would have.
	hold := !e.prop.stirred && !e.carry && e.windowsFull()
	e.carry = false
	e.prop.flush(e.rn, e.state, e.now)
	e.askReads()
	if !hold && e.fatal == nil {
		e.campaign()
		if e.rn.HasReady() && !e.dur.full() {
			e.handleReady(e.rn.Ready())
			e.askReads()
			e.carry = e.fatal == nil && e.rn.HasReady()
		}
	}
	e.prop.stirred = false
	// A read the batch handed out releases waits for the caller to apply
	// it (settleReadsApplied): the next Ready releases it.
	e.out.More = e.carry || (len(e.reads.confirmed) > 0 && e.visible < e.applied.Index)
}

// campaign makes the founder of a network elect itself at once rather
// than after an election timeout. Raft refuses while the entry that made
// it a member is not reported applied (the write that applied it is not
// durable yet): every Ready tries again until it is.
func (e *Engine) campaign() {
	if e.cfg.Bootstrap && !e.campaigned && e.isMember() {
		_ = e.rn.Campaign()
		e.campaigned = e.rn.BasicStatus().RaftState != raft.StateFollower
	}
}

// handleReady handles one raft Ready: everything it makes durable goes
// into one store batch, handed out as a Persist, written (and fsynced)
// before the messages that vouch for it are sent and before any write it
// applies is reported committed: raft's contract, and "persist before
// acknowledging".
func (e *Engine) handleReady(rd raft.Ready) {
	e.noteSoftState(rd.SoftState)
	w := &readyWrite{tip: e.chain.Tip(), applied: e.applied}
	if e.joinVia != "" && !e.isMember() && e.joinKept != e.joinVia {
		// The first raft state of a join: a restart must go on asking
		// (and taking raft messages only from the members vouched for).
		w.batch.Puts = append(w.batch.Puts, store.Put{Bucket: bucketState, Key: keyJoining, Value: []byte(e.joinVia)})
		e.joinKept = e.joinVia
	}
	if err := e.persistRaft(rd, w); err != nil {
		e.fatal = err
		return
	}
	wasMoving := e.merge.moving != nil
	if err := e.applyCommitted(rd, w); err != nil {
		e.fatal = err
		return
	}
	h := &heldWrite{leave: !wasMoving && e.merge.moving != nil, results: w.results}
	e.sendReady(rd.Messages, h)
	// The batch is visible once the caller applies it (the chain's tip
	// moves then) and durable later: the blocks it applies come from
	// entries that are durable here and committed by a majority, so
	// nothing seen can be lost, only rebuilt from the log after a crash.
	e.out.Persist = append(e.out.Persist, e.dur.hold(h, w.batch))
	e.applied = w.applied
}

// noteSoftState follows raft's role and leader.
func (e *Engine) noteSoftState(ss *raft.SoftState) {
	if ss == nil {
		return
	}
	if ss.RaftState != e.state {
		e.state = ss.RaftState
		if e.state == raft.StateLeader {
			e.mem.heardAllNow(e.now)
		}
	}
	if ss.Lead != e.lead {
		e.lead = ss.Lead
		e.prop.requeue()
		e.leaderChangedReads(e.lead)
	}
}

// persistRaft puts raft's own state of rd into w: the snapshot it
// installs, its new log entries and its hard state.
func (e *Engine) persistRaft(rd raft.Ready, w *readyWrite) error {
	if !raft.IsEmptySnap(rd.Snapshot) {
		if err := e.installSnapshot(rd.Snapshot, w); err != nil {
			return err
		}
	}
	if len(rd.Entries) > 0 {
		if err := e.persistEntries(rd.Entries, w); err != nil {
			return err
		}
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		if err := e.storage.SetHardState(rd.HardState); err != nil {
			return fmt.Errorf("vote: hard state: %w", err)
		}
		v, _ := rd.HardState.Marshal()
		w.batch.Puts = append(w.batch.Puts, store.Put{Bucket: bucketState, Key: keyHardState, Value: v})
	}
	return nil
}

// persistEntries appends new log entries to raft's log and to w.
func (e *Engine) persistEntries(ents []raftpb.Entry, w *readyWrite) error {
	last, _ := e.storage.LastIndex() // MemoryStorage never fails it
	if err := e.storage.Append(ents); err != nil {
		return fmt.Errorf("vote: raft log: %w", err)
	}
	if ents[0].Index <= last {
		// A leader overwrites a suffix of our log: drop it first.
		w.batch.Deletes = append(w.batch.Deletes, store.DeleteRange{Bucket: bucketLog, From: indexKey(ents[0].Index)})
	}
	for _, ent := range ents {
		v, err := ent.Marshal()
		if err != nil {
			return fmt.Errorf("vote: encode entry: %w", err)
		}
		w.batch.Puts = append(w.batch.Puts, store.Put{Bucket: bucketLog, Key: indexKey(ent.Index), Value: v})
	}
	return nil
}

// applyCommitted applies the committed entries of rd into w, with the
// state the chain does not hold (applied index, sessions, snapshot).
func (e *Engine) applyCommitted(rd raft.Ready, w *readyWrite) error {
	if len(rd.CommittedEntries) > 0 {
		// Entries build on the applied chain, not on blocks fetched
		// beyond it.
		if err := e.dropProvisional(w); err != nil {
			return err
		}
	}
	for _, ent := range rd.CommittedEntries {
		e.apply(ent, w)
	}
	if e.fatal != nil {
		return e.fatal
	}
	e.takeReadStates(rd.ReadStates)
	if c := e.catchup; c != nil && w.applied.Index >= c.msg.Snapshot.Metadata.Index {
		// The log brought us past the snapshot the fetch was for.
		e.catchup = nil
	}
	e.settleOrphans(w)
	if w.applied != e.applied {
		w.batch.Puts = append(w.batch.Puts, store.Put{Bucket: bucketState, Key: keyApplied, Value: w.applied.encode()})
		for id := range w.sessions {
			w.batch.Puts = append(w.batch.Puts, store.Put{Bucket: bucketDedupe, Key: indexKey(id), Value: e.dedupe.sessions[id].encode()})
		}
	}
	return e.maybeSnapshot(w)
}

// sendReady sends the messages of a raft Ready that vouch for nothing and
// holds in h those that vouch for its write.
//
// Raft's asynchronous-storage mode: every message of the Ready that
// vouches for nothing (appends, heartbeats, forwarded proposals, vote
// requests) goes out now, before the write; a leader's appends reach the
// followers while it flushes (raft thesis 10.2.1), and a follower's
// forwarded proposal does not wait for its disk. What vouches for the
// write (answers to appends and votes, the leader's own acknowledgement,
// raft's notice that the entries are stable) is in the responses of the
// local storage messages, held until the write is durable.
func (e *Engine) sendReady(msgs []raftpb.Message, h *heldWrite) {
	var snapTo []uint64
	for _, m := range msgs {
		switch m.To {
		case raft.LocalAppendThread, raft.LocalApplyThread:
			h.responses = append(h.responses, m.Responses...)
			continue
		}
		e.sendRaft(m)
		if m.Type == raftpb.MsgSnap {
			snapTo = append(snapTo, m.To)
		}
	}
	for _, to := range snapTo {
		// The snapshot is small (the follower fetches the blocks itself):
		// count it as delivered; raft probes again if it was lost.
		e.rn.ReportSnapshot(to, raft.SnapshotFinish)
	}
}

// ticksText says n ticks as a duration when the tick is known.
func (e *Engine) ticksText(n int) string {
	if e.cfg.Tick <= 0 {
		return fmt.Sprintf("%d ticks", n)
	}
	return (time.Duration(n) * e.cfg.Tick).String()
}

func (e *Engine) sendRaft(m raftpb.Message) {
	to, ok := e.mem.members[m.To].ID, true
	if to == "" {
		// A joiner answers the leader before it has applied the entry
		// that names the leader.
		to, ok = e.mem.contacts[m.To]
	}
	if !ok {
		return
	}
	size := m.Size()
	buf := make([]byte, 0, 1+binary.MaxVarintLen64+size)
	buf = binary.AppendUvarint(append(buf, kindRaft), e.mem.cluster)
	n := len(buf)
	buf = buf[:n+size]
	if _, err := m.MarshalTo(buf[n:]); err != nil {
		e.log.Error("encode raft message", "err", err)
		return
	}
	e.out.Messages = append(e.out.Messages, consensus.Message{To: to, Payload: buf})
}

func (e *Engine) send(to string, kind byte, body []byte) {
	e.out.Messages = append(e.out.Messages, consensus.Message{To: to, Payload: append([]byte{kind}, body...)})
}

// Status implements consensus.Engine.
func (e *Engine) Status() consensus.Status {
	bs := e.rn.BasicStatus()
	st := consensus.Status{Term: bs.Term, Pending: len(e.prop.pending) + len(e.merge.orphans)}
	if last, _ := e.storage.LastIndex(); last > e.applied.Index {
		st.Unapplied = last - e.applied.Index
	}
	if m, ok := e.mem.members[bs.Lead]; ok {
		st.Leader = m.ID
	}
	switch {
	case e.fatal != nil:
		st.Role = "failed"
	case e.mem.removed:
		st.Role = "removed"
	case e.merge.leave != nil || e.merge.moving != nil:
		st.Role = "moving"
	case !e.isMember():
		st.Role = "joining"
	case !e.mem.members[e.id].Voter:
		st.Role = "learner"
	default:
		st.Role = map[raft.StateType]string{raft.StateLeader: "leader", raft.StateFollower: "follower",
			raft.StateCandidate: "candidate", raft.StatePreCandidate: "candidate"}[bs.RaftState]
	}
	return st
}

// Resumed implements consensus.Engine.
func (e *Engine) Resumed() bool { return e.resumed }

// start resumes what the store says this node was doing: joining a
// network, or a member of one; or founds a network (Config.Bootstrap).
func (e *Engine) start(l *loaded) error {
	if l.joining != "" {
		// Restarted while entering a network: go on asking.
		e.joinKept = l.joining
		e.resumed = true
		e.cfg.Bootstrap = false
		e.Join(l.joining)
		e.log.Info("restarted while joining a network anew", "via", l.joining, "incarnation", l.incarnation)
	} else if l.hasRaftState() {
		e.resumed = true
		e.cfg.Bootstrap = false // a restart: the network exists already
		e.log.Info("restarted from disk", "term", l.hard.Term, "commit", l.hard.Commit,
			"applied", e.applied.Index, "snapshot", e.snapIndex, "blocks", e.applied.Height)
	} else if e.cfg.Bootstrap {
		if err := e.rn.Bootstrap([]raft.Peer{{ID: e.id, Context: encodeMember(e.cfg.Self)}}); err != nil {
			return fmt.Errorf("vote: bootstrap: %w", err)
		}
		e.snapFirst = e.chain.Len() > 1
	}
	return nil
}
