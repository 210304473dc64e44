package vote

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/store"
)

// Incarnations. A node that leaves its network's configuration (removed by
// the majority, or leaving for another network) never comes back under
// the same raft id: it wipes its raft state and enters anew under the raft
// id of its next incarnation, as etcd gives a re-added member a new id.
// Its old id stays silent for ever, which to raft is a member that crashed
// for good, so the wipe cannot break raft's safety even where a member that
// lags still counts the old id as a voter.

// RaftIDOf maps a member to the raft id of its incarnation: RaftID of its
// node id for the first one, then sha256(id "#" incarnation).
func RaftIDOf(m consensus.Member) uint64 {
	if m.Incarnation == 0 {
		return RaftID(m.ID)
	}
	sum := sha256.Sum256([]byte(m.ID + "#" + strconv.FormatUint(m.Incarnation, 10)))
	id := binary.BigEndian.Uint64(sum[:8])
	if id == 0 {
		id = 1
	}
	return id
}

// maxGone bounds the removed raft ids a member remembers.
const maxGone = 1024

// forget records that raft id id was removed from the configuration.
func (e *Engine) forget(id uint64) {
	if e.mem.gone[id] {
		return
	}
	if len(e.mem.goneOrder) >= maxGone {
		delete(e.mem.gone, e.mem.goneOrder[0])
		e.mem.goneOrder = e.mem.goneOrder[1:]
	}
	e.mem.gone[id] = true
	e.mem.goneOrder = append(e.mem.goneOrder, id)
}

// stepRemoved handles a member's notice that our raft id was removed from
// its configuration: only a member of our network is believed, and only
// about our current incarnation. Members send it only for ids whose
// removal they applied, so the removal is committed.
func (e *Engine) stepRemoved(from string, body []byte) error {
	r := reader{buf: body}
	id := r.uvarint()
	if r.err != nil || len(r.buf) != 0 {
		return fmt.Errorf("%w: removal notice", consensus.ErrMalformed)
	}
	if id != e.id || e.mem.removed || e.fatal != nil || e.merge.moving != nil || e.merge.leave != nil {
		return nil // a node on its way out of the network has no use for it
	}
	if !e.isMember() && from == e.joinVia {
		// Our join target removed this incarnation before it caught up.
		e.log.Warn("removed before admitted; entering anew", "told_by", from)
		e.mem.removed, e.mem.rejoinVia = true, from
		return nil
	}
	for _, m := range e.mem.members {
		if m.ID == from && RaftIDOf(m) != e.id {
			e.log.Warn("removed from the network by the majority; entering it again as a new member", "told_by", from)
			e.mem.removed, e.mem.rejoinVia = true, from
			e.out.Results = append(e.out.Results, e.giveUp()...)
			return nil
		}
	}
	return nil
}

// giveUp drops every unresolved write of this node, which is leaving its
// network, and returns their answers: whether each may still be committed
// by the network left behind.
func (e *Engine) giveUp() []consensus.Result {
	ids := make([]uint64, 0, len(e.prop.pending))
	for id := range e.prop.pending {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]consensus.Result, 0, len(ids))
	for _, id := range ids {
		out = append(out, consensus.Result{ID: id, Err: &consensus.WriteError{MayCommit: e.prop.pending[id].submitted, Cause: consensus.ErrNotMember}})
		delete(e.prop.pending, id)
	}
	e.prop.queue = nil
	return out
}

// rejoin makes a removed node enter its network again as a new member,
// through the member that told it, or any other member it knows.
func (e *Engine) rejoin() {
	via := e.mem.rejoinVia
	if via == "" {
		ids := make([]string, 0, len(e.mem.members))
		for id, m := range e.mem.members {
			if id != e.id {
				ids = append(ids, m.ID)
			}
		}
		if len(ids) == 0 {
			return // nobody to ask: stay removed
		}
		slices.Sort(ids)
		via = ids[0]
	}
	err := e.renew(via, func(b store.Batch) error {
		// Blocks of a catch-up that did not finish were never applied.
		if n := e.chain.Len(); n > e.applied.Height {
			b.Detach = n - e.applied.Height
		}
		return e.chain.Write(b)
	})
	if err != nil {
		e.fatal = err
	}
}

// renew wipes the raft state and starts the next incarnation, asking via
// to admit it. write stores the given batch (the wipe) together with
// whatever the caller changes in the same transaction.
//
// The chain is kept, but above genesis it counts as not applied: the new
// network's snapshot or log decides it. A snapshot whose tip it already
// holds costs no fetch (catchup.go); entries applied from the start of the
// log rebuild the same blocks over it (dropProvisional).
func (e *Engine) renew(via string, write func(store.Batch) error) error {
	inc := e.cfg.Self.Incarnation + 1
	b := store.Batch{
		Deletes: []store.DeleteRange{{Bucket: bucketLog}, {Bucket: bucketState}, {Bucket: bucketDedupe}},
		Puts: []store.Put{
			{Bucket: bucketState, Key: keyIncarnation, Value: binary.BigEndian.AppendUint64(nil, inc)},
			{Bucket: bucketState, Key: keyJoining, Value: []byte(via)},
			{Bucket: bucketState, Key: keyApplied, Value: appliedState{Height: 1}.encode()},
		},
	}
	if err := write(b); err != nil {
		return fmt.Errorf("vote: enter the network anew: %w", err)
	}
	e.out.Results = append(e.out.Results, e.giveUp()...)
	e.cfg.Self.Incarnation = inc
	e.id = RaftIDOf(e.cfg.Self)
	e.storage = raft.NewMemoryStorage()
	rn, err := newRawNode(e.raftConfig(0))
	if err != nil {
		return fmt.Errorf("vote: enter the network anew: %w", err)
	}
	e.rn = rn
	e.dur.gen++ // writes still in flight carry answers of the old raft
	e.applied = appliedState{Height: 1}
	e.confState = raftpb.ConfState{}
	e.snapIndex, e.sinceSnap, e.snapBytes = 0, 0, 0
	e.catchup = nil
	clear(e.mem.members)
	e.mem.memberVer++
	e.mem.removed, e.mem.rejoinVia, e.mem.cluster = false, "", 0
	e.merge.moving, e.merge.pendingHost, e.merge.leaveTried, e.merge.leave = nil, nil, 0, nil
	clear(e.merge.hosting)
	e.merge.hostingOrder = nil
	clear(e.merge.hostTokens)
	clear(e.merge.hostReplies)
	clear(e.mem.gone)
	e.mem.goneOrder = nil
	e.lead, e.state, e.campaigned = raft.None, raft.StateFollower, false
	clear(e.mem.lastHeard)
	clear(e.mem.joins)
	clear(e.vouched)
	e.joinKept = via // written in the wipe's batch
	e.mem.confWait = false
	e.dedupe = newDedupe()
	e.resumed = true
	e.cfg.Bootstrap = false
	e.log.Info("entering a network as a new member", "via", via, "incarnation", inc, "raft_id", fmt.Sprintf("%x", e.id))
	e.Join(via)
	return nil
}

// keyAfter is the smallest key after k, to delete k alone with a DeleteRange.
func keyAfter(k []byte) []byte { return append(slices.Clone(k), 0) }

// ForgetNetwork wipes the raft state kept in st, keeping the chain: the
// node's membership cannot carry over when its id changes (a data dir made
// before node keys). With joinVia empty the node founds a network anew on
// its chain at its next start; otherwise it enters joinVia's network as a
// new member, whose snapshot or log decides its chain, as renew does.
func ForgetNetwork(st store.Store, joinVia string) error {
	b := store.Batch{Deletes: []store.DeleteRange{{Bucket: bucketLog}, {Bucket: bucketState}, {Bucket: bucketDedupe}}}
	if joinVia != "" {
		if !validID(joinVia) {
			return fmt.Errorf("vote: join peer %q is not a node id", joinVia)
		}
		b.Puts = []store.Put{
			{Bucket: bucketState, Key: keyJoining, Value: []byte(joinVia)},
			{Bucket: bucketState, Key: keyApplied, Value: appliedState{Height: 1}.encode()},
		}
	}
	if err := st.Write(b); err != nil {
		return fmt.Errorf("vote: forget the network: %w", err)
	}
	return nil
}
