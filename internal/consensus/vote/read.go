package vote

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/naivechain/naivechain/internal/consensus"
)

// Linearizable reads, as etcd serves them (its linearizableReadLoop). A
// read asks for a barrier (ReadIndex); the barriers asked while no round is
// out go together into one raft ReadIndex with a context of this engine's
// own. Raft answers with the leader's commit index once a majority has
// confirmed, by a round of heartbeats, that the leader still leads (a
// follower forwards the request to its leader, MsgReadIndex, and gets the
// index back, MsgReadIndexResp). The barriers are released once this
// node's chain holds every entry up to that index: the chain a read is
// served from then holds every write acknowledged before the read began.
//
// One round is out at a time: the barriers asked meanwhile wait for the
// next one, so under load a round of heartbeats serves many reads. A round
// not answered within readRetryTicks (a lost message) is asked again with
// a new context; a round out when the leader changes is asked again of the
// new leader; when no leader is known, every barrier not yet released
// fails (ErrNoLeader). Barriers expire after Config.ReadTicks.

// Bounds of the reads.
const (
	// DefaultMaxReads is the default of Config.MaxReads.
	DefaultMaxReads = 4096
	// readRetryTicks is how long a round waits for its answer before it
	// is asked again.
	readRetryTicks = 5
	// maxReadContext bounds the context of a peer's MsgReadIndex: ours are
	// 16 bytes.
	maxReadContext = 64
	// maxReadAsks bounds the MsgReadIndex a leader takes from one member
	// per tick, each a round of heartbeats to every member. An honest
	// member has one round out at a time; on loopback under load a round
	// takes about a millisecond, so a member may ask about 100 times in a
	// tick of 100 ms. An ask past the bound is dropped and asked again
	// readRetryTicks later.
	maxReadAsks = 256
)

// readWait is one barrier: its id and the tick it was asked.
type readWait struct {
	id uint64
	at int
}

// readRound is one raft ReadIndex: its context, its barriers, when it was
// asked and, once answered, its read index.
type readRound struct {
	ctx   []byte
	waits []readWait
	at    int
	index uint64
}

// readState is the engine's reads: those queued for the next round, the
// round out, and the rounds answered that wait for the chain.
type readState struct {
	next      uint64 // last barrier id handed out
	seq       uint64 // last round asked (the context's counter)
	queued    []readWait
	asking    *readRound
	confirmed []*readRound
	count     int            // barriers not resolved
	asks      map[uint64]int // MsgReadIndex taken from each member this tick
}

// ReadIndex implements consensus.Reader.
func (e *Engine) ReadIndex() (uint64, error) {
	switch {
	case e.fatal != nil:
		return 0, e.fatal
	case !e.canRead():
		return 0, consensus.ErrNotMember
	case e.rn.BasicStatus().Lead == raft.None:
		return 0, consensus.ErrNoLeader
	case e.reads.count >= e.cfg.MaxReads:
		return 0, consensus.ErrReadsBusy
	}
	e.prop.stirred = true
	e.reads.next++
	e.reads.queued = append(e.reads.queued, readWait{id: e.reads.next, at: e.now})
	e.reads.count++
	return e.reads.next, nil
}

// canRead reports whether this node's chain is its network's: it is a
// member and not leaving.
func (e *Engine) canRead() bool {
	return e.isMember() && !e.mem.removed && e.merge.leave == nil && e.merge.moving == nil
}

// askReads starts a round for the queued barriers when none is out.
func (e *Engine) askReads() {
	r := &e.reads
	if r.asking != nil || len(r.queued) == 0 || e.rn.BasicStatus().Lead == raft.None {
		return
	}
	r.seq++
	// The session makes the context unique among the nodes (a leader
	// keys its pending reads by context) and among this node's runs.
	ctx := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, e.cfg.Session), r.seq)
	r.asking = &readRound{ctx: ctx, waits: r.queued, at: e.now}
	r.queued = nil
	e.rn.ReadIndex(ctx)
}

// takeReadStates matches raft's answers to the round out.
func (e *Engine) takeReadStates(states []raft.ReadState) {
	r := &e.reads
	for _, rs := range states {
		if r.asking == nil || !bytes.Equal(rs.RequestCtx, r.asking.ctx) {
			continue // an answer to a round given up
		}
		r.asking.index = rs.Index
		r.confirmed = append(r.confirmed, r.asking)
		r.asking = nil
	}
}

// settleReads releases the barriers whose index the chain reached, and
// fails them all when the engine failed or this node left its network.
func (e *Engine) settleReads() {
	r := &e.reads
	if r.count == 0 {
		return
	}
	switch {
	case e.fatal != nil:
		e.failReads(e.fatal)
	case !e.canRead():
		e.failReads(consensus.ErrNotMember)
	default:
		e.settleReadsApplied()
	}
}

// resolveRead answers one barrier.
func (e *Engine) resolveRead(id uint64, err error) {
	e.reads.count--
	e.out.Reads = append(e.out.Reads, consensus.ReadResult{ID: id, Err: err})
}

// failReads fails every barrier not released yet.
func (e *Engine) failReads(err error) {
	r := &e.reads
	e.settleReadsApplied()
	for _, w := range r.queued {
		e.resolveRead(w.id, err)
	}
	if r.asking != nil {
		for _, w := range r.asking.waits {
			e.resolveRead(w.id, err)
		}
	}
	for _, c := range r.confirmed {
		for _, w := range c.waits {
			e.resolveRead(w.id, err)
		}
	}
	r.queued, r.asking, r.confirmed = nil, nil, nil
}

// settleReadsApplied releases the answered rounds the chain reached (as the
// caller applied it: e.visible), before
// the others fail: what is applied is served whatever happens next.
func (e *Engine) settleReadsApplied() {
	if e.fatal != nil {
		return // the chain may not hold what the failed write applied
	}
	e.reads.confirmed = slices.DeleteFunc(e.reads.confirmed, func(c *readRound) bool {
		if c.index > e.visible {
			return false
		}
		for _, w := range c.waits {
			e.resolveRead(w.id, nil)
		}
		return true
	})
}

// leaderChangedReads runs when raft's leader changes: with no leader the
// reads fail; with a new one the round out is asked of it again (the old
// leader's pending reads are gone). Answered rounds keep waiting for the
// chain: their index was confirmed by a majority after they were asked.
func (e *Engine) leaderChangedReads(lead uint64) {
	r := &e.reads
	if lead == raft.None {
		if r.count > 0 {
			e.failReads(consensus.ErrNoLeader)
		}
		return
	}
	if r.asking != nil {
		r.queued = append(r.asking.waits, r.queued...)
		r.asking = nil
	}
}

// tickReads asks a round again once it waited readRetryTicks, and fails the
// barriers older than ReadTicks.
func (e *Engine) tickReads() {
	r := &e.reads
	clear(r.asks)
	if r.count == 0 {
		return
	}
	if r.asking != nil && e.now-r.asking.at >= readRetryTicks {
		r.queued = append(r.asking.waits, r.queued...)
		r.asking = nil
	}
	expired := func(w readWait) bool {
		if e.now-w.at < e.cfg.ReadTicks {
			return false
		}
		e.resolveRead(w.id, consensus.ErrReadTimeout)
		return true
	}
	r.queued = slices.DeleteFunc(r.queued, expired)
	for _, c := range r.confirmed {
		c.waits = slices.DeleteFunc(c.waits, expired)
	}
	r.confirmed = slices.DeleteFunc(r.confirmed, func(c *readRound) bool { return len(c.waits) == 0 })
}

// checkReadMessage checks the context a MsgReadIndex or MsgReadIndexResp
// carries in its one entry (raft indexes it without a check).
func checkReadMessage(m raftpb.Message) error {
	if len(m.Entries) != 1 || m.Entries[0].Type != raftpb.EntryNormal || len(m.Entries[0].Data) > maxReadContext {
		return fmt.Errorf("%w: %v carries %d entries, one read context of at most %d bytes expected", consensus.ErrMalformed, m.Type, len(m.Entries), maxReadContext)
	}
	return nil
}

// admitRead reports whether raft should take a member's read message: a
// MsgReadIndexResp only from the leader it answers for, in its term; a
// MsgReadIndex without a term, as raft sends it, within maxReadAsks a tick
// from each member. A term raft would take as newer makes it step down or
// leave its leader: no honest read message carries one.
func (e *Engine) admitRead(m raftpb.Message) bool {
	switch m.Type {
	case raftpb.MsgReadIndexResp:
		bs := e.rn.BasicStatus()
		return m.From == bs.Lead && m.Term == bs.Term
	case raftpb.MsgReadIndex:
		if m.Term != 0 {
			return false
		}
		if e.reads.asks == nil {
			e.reads.asks = make(map[uint64]int)
		}
		e.reads.asks[m.From]++
		return e.reads.asks[m.From] <= maxReadAsks
	}
	return true
}
