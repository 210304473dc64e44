package vote

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/store"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// membership is who is in this node's network: the members as of the last
// applied configuration change, the joins waiting to be admitted, the
// incarnations removed, when each member was last heard from, and the
// configuration change of ours in flight.
type membership struct {
	members map[uint64]consensus.Member
	removed bool
	// cluster identifies the network this node is a member of: the raft
	// id of its founder (the member added by raft entry 1). 0 until known.
	cluster uint64
	// gone remembers the raft ids removed from the configuration, so that
	// a removed node that talks again is told (kindRemoved); bounded.
	gone      map[uint64]bool
	goneOrder []uint64
	// rejoinVia is the member a removed node asks to admit it anew.
	rejoinVia string
	contacts  map[uint64]string           // raft id -> node id of every node heard from
	joins     map[uint64]consensus.Member // join requests not yet admitted
	lastHeard map[uint64]int
	confAt    int  // tick of the last conf change we proposed
	confWait  bool // a conf change we proposed is not applied yet
	// memberVer counts the changes of members; memberSeen is its value
	// reported in the last Ready.
	memberSeen, memberVer int
	// replayedConfs counts the configuration changes replayed since the
	// restart, for the one line that sums them up.
	replayedConfs int
}

func newMembership() membership {
	return membership{
		members:   make(map[uint64]consensus.Member),
		gone:      make(map[uint64]bool),
		contacts:  make(map[uint64]string),
		joins:     make(map[uint64]consensus.Member),
		lastHeard: make(map[uint64]int),
	}
}

// setMembers replaces the member registry with a snapshot's.
func (e *Engine) setMembers(d descriptor) {
	clear(e.mem.members)
	voters := make(map[string]bool, len(d.Voters))
	for _, v := range d.Voters {
		voters[v] = true
	}
	for _, m := range d.Members {
		m.Voter = voters[m.ID]
		e.mem.members[RaftIDOf(m)] = m
	}
	clear(e.mem.gone)
	e.mem.goneOrder = e.mem.goneOrder[:0]
	for _, id := range d.Removed {
		e.mem.forget(id)
	}
	if d.Cluster != 0 {
		e.mem.cluster = d.Cluster
	}
	if d.Token != "" {
		e.token = d.Token
	}
	e.consents = slices.Clone(d.Consents)
	e.merge.moving = d.Moving
	clear(e.merge.hosting)
	e.merge.hostingOrder = slices.Clone(d.Hosting)
	for _, c := range d.Hosting {
		e.merge.hosting[c] = true
	}
	clear(e.merge.hostTokens)
	for _, h := range d.HostTokens {
		if e.merge.hosting[h.Cluster] {
			e.merge.hostTokens[h.Cluster] = h.Token
		}
	}
	e.mem.memberVer++
}

// Join implements consensus.Engine.
func (e *Engine) Join(via string) {
	e.prop.stirred = true
	e.admitted, e.denied = false, ""
	e.joinVia = via
	e.joinAt = e.now - e.cfg.JoinRetryTicks
	e.retryJoin()
}

func (e *Engine) retryJoin() {
	if e.isMember() && e.abandoned() && e.now-e.joinAt >= 4*e.cfg.JoinRetryTicks {
		// Nobody leads our network for long: we may have been removed
		// while away, as a learner no member talks to. Asking to join
		// again is a no-op for a member, and earns a removed incarnation
		// its notice (handleJoin).
		e.joinAt = e.now
		if ids := e.mem.others(e.id); len(ids) > 0 {
			e.send(ids[(e.now/(4*e.cfg.JoinRetryTicks))%len(ids)], kindJoin, encodeJoin(e.cfg.Self, e.presentedToken()))
		}
		return
	}
	if e.joinVia == "" || e.isMember() || e.now-e.joinAt < e.cfg.JoinRetryTicks {
		return
	}
	e.joinAt = e.now
	e.send(e.joinVia, kindJoin, encodeJoin(e.cfg.Self, e.presentedToken()))
}

func (e *Engine) isMember() bool {
	_, ok := e.mem.members[e.id]
	return ok
}

// handleJoin admits a node as a learner; the leader promotes it to voter
// once it has caught up (manageMembers). A join that cannot be proposed
// now (this node is not a member yet, or another change is in flight) is
// kept and proposed again on the next ticks until the node is a member.
func (e *Engine) handleJoin(m consensus.Member, token string) {
	if !e.isMember() || e.mem.removed {
		return // not ours to admit to: the joiner asks again elsewhere
	}
	if e.token == "" {
		// The founder's token entry is not applied here yet; the joiner
		// asks again.
		return
	}
	if !tokenMatches(token, e.token) && !e.hostedToken(token) {
		why := "wrong join token"
		if token == "" {
			why = "no join token: this network admits only nodes given its token (--join-token)"
		}
		// Anyone may ask, as often as it likes: one line a second.
		if e.now-e.deniedLogAt >= 10 || e.deniedLogAt == 0 {
			e.log.Warn("join refused", "node", m.ID, "reason", why, "refused_meanwhile", e.deniedQuiet)
			e.deniedLogAt, e.deniedQuiet = e.now, 0
		} else {
			e.deniedQuiet++
		}
		e.send(m.ID, kindJoinDenied, []byte(why))
		return
	}
	id := RaftIDOf(m)
	e.mem.contacts[id] = m.ID
	e.send(m.ID, kindVouch, encodeVouch(e.mem.members))
	if e.mem.gone[id] {
		// That incarnation was removed: it must come back as a new one.
		e.send(m.ID, kindRemoved, binary.AppendUvarint(nil, id))
		return
	}
	if old, ok := e.mem.members[id]; ok {
		if old.ID != m.ID {
			e.send(m.ID, kindJoinRefuse, []byte("raft id collides with member "+old.ID))
		}
		return // already admitted: the joiner learns it from the log
	}
	if len(e.mem.joins) >= maxQueuedJoins {
		return
	}
	e.mem.joins[id] = m
	e.admitJoins()
}

// maxQueuedJoins bounds the joins a node remembers at once.
const maxQueuedJoins = 64

// admitJoins proposes the oldest waiting join, forgetting the ones that
// became members.
func (e *Engine) admitJoins() {
	if len(e.mem.joins) == 0 || !e.isMember() || e.mem.removed {
		return
	}
	newest := make(map[string]uint64, len(e.mem.joins)) // node id -> newest incarnation asking
	for _, m := range e.mem.joins {
		newest[m.ID] = max(newest[m.ID], m.Incarnation)
	}
	ids := make([]uint64, 0, len(e.mem.joins))
	for id, m := range e.mem.joins {
		_, member := e.mem.members[id]
		if member || e.mem.gone[id] || m.Incarnation < newest[m.ID] {
			// Admitted, removed (its AddLearner would be a no-op), or
			// superseded by a newer incarnation of the same node.
			delete(e.mem.joins, id)
			continue
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return
	}
	slices.Sort(ids)
	e.proposeConf(raftpb.ConfChange{Type: raftpb.ConfChangeAddLearnerNode, NodeID: ids[0], Context: encodeMember(e.mem.joins[ids[0]])})
}

// proposeConf proposes a configuration change unless one of ours is still
// in flight (raft admits one at a time).
func (e *Engine) proposeConf(cc raftpb.ConfChange) {
	if e.mem.confWait && e.now-e.mem.confAt < e.cfg.ElectionTicks {
		return
	}
	if err := e.rn.ProposeConfChange(cc); err != nil {
		return
	}
	e.mem.confWait, e.mem.confAt = true, e.now
	e.log.Info("proposed membership change", "change", cc.Type.String(), e.raftIDAttr("peer", cc.NodeID))
}

// manageMembers runs on the leader: it promotes learners that caught up and
// removes members that have been silent for too long.
func (e *Engine) manageMembers() {
	st := e.rn.Status()
	ids := make([]uint64, 0, len(st.Progress))
	for id := range st.Progress {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		pr := st.Progress[id]
		if id == e.id {
			continue
		}
		heard, ok := e.mem.lastHeard[id]
		if !ok {
			e.mem.lastHeard[id] = e.now
			heard = e.now
		}
		if e.cfg.RemoveAfterTicks > 0 && e.now-heard > e.cfg.RemoveAfterTicks {
			// The reason rides in the change so that every member logs it.
			why := "unreachable for " + e.ticksText(e.cfg.RemoveAfterTicks)
			e.proposeConf(raftpb.ConfChange{Type: raftpb.ConfChangeRemoveNode, NodeID: id, Context: []byte(why)})
			return
		}
		if pr.IsLearner && pr.Match >= st.Commit {
			e.proposeConf(raftpb.ConfChange{Type: raftpb.ConfChangeAddNode, NodeID: id, Context: encodeMember(e.mem.members[id])})
			return
		}
	}
}

// applyConf applies a configuration change. One replayed after a restart
// is old news: it is logged at debug, and the members the replay restored
// in one line at its end (apply).
func (e *Engine) applyConf(cc raftpb.ConfChange, index uint64, replay bool, w *readyWrite) {
	news := slog.LevelInfo
	if replay {
		news = slog.LevelDebug
		e.mem.replayedConfs++
	}
	e.mem.confWait = false
	if index == 1 {
		// Entry 1 adds the founder (raft's bootstrap): its raft id names
		// the network.
		e.mem.cluster = cc.NodeID
	}
	if e.mem.gone[cc.NodeID] && cc.Type != raftpb.ConfChangeRemoveNode {
		// A removed incarnation never comes back (it returns as a new
		// one); every member knows the same removals and skips alike.
		e.rn.ApplyConfChange(raftpb.ConfChange{NodeID: raft.None})
		return
	}
	if m, ok := e.mem.members[cc.NodeID]; ok && m.Voter && cc.Type == raftpb.ConfChangeAddLearnerNode {
		// A stale copy of a join that was already admitted and promoted:
		// applying it would demote a voter. Every member sees the same log
		// and skips it alike (etcd applies a rejected change as a no-op).
		e.rn.ApplyConfChange(raftpb.ConfChange{NodeID: raft.None})
		return
	}
	e.confState = *e.rn.ApplyConfChange(cc)
	e.mem.memberVer++
	switch cc.Type {
	case raftpb.ConfChangeAddNode, raftpb.ConfChangeAddLearnerNode:
		e.addMember(cc, news, w)
	case raftpb.ConfChangeRemoveNode:
		e.removeMember(cc, news, w)
	}
}

// addMember applies the admission of a learner or the promotion to voter.
func (e *Engine) addMember(cc raftpb.ConfChange, news slog.Level, w *readyWrite) {
	m, ok := e.mem.members[cc.NodeID]
	if len(cc.Context) > 0 {
		if dm, err := decodeMember(cc.Context); err == nil && RaftIDOf(dm) == cc.NodeID {
			m, ok = dm, true
		}
	}
	if !ok {
		e.log.Error("membership change without a valid member record", e.raftIDAttr("peer", cc.NodeID))
		return
	}
	m.Voter = cc.Type == raftpb.ConfChangeAddNode
	e.mem.members[cc.NodeID] = m
	e.mem.lastHeard[cc.NodeID] = e.now
	e.log.Log(context.Background(), news, "member added", "peer", m.ID, "addr", m.Host+":"+m.Port, "voter", m.Voter)
	if cc.NodeID == e.id && e.joinVia != "" {
		e.joinVia = ""
		w.batch.Deletes = append(w.batch.Deletes, store.DeleteRange{Bucket: bucketState, From: keyJoining, To: keyAfter(keyJoining)})
	}
}

// removeMember applies a removal; this node's own gives up its writes.
func (e *Engine) removeMember(cc raftpb.ConfChange, news slog.Level, w *readyWrite) {
	m := e.mem.members[cc.NodeID]
	delete(e.mem.members, cc.NodeID)
	delete(e.mem.lastHeard, cc.NodeID)
	e.mem.forget(cc.NodeID)
	if why := removalReason(cc.Context); why != "" {
		e.log.Log(context.Background(), news, "member removed", "peer", m.ID, "reason", why)
	} else {
		e.log.Log(context.Background(), news, "member removed", "peer", m.ID)
	}
	if cc.NodeID == e.id {
		e.mem.removed = true
		w.results = append(w.results, e.prop.giveUp()...)
	}
}

// removalReason is the reason a removal carries (manageMembers), cut to
// a length that fits a log line; "" when it carries none.
func removalReason(ctx []byte) string {
	const maxReason = 128
	if len(ctx) > maxReason {
		ctx = ctx[:maxReason]
	}
	return string(ctx)
}

// Members implements consensus.Engine.
func (e *Engine) Members() []consensus.Member {
	out := make([]consensus.Member, 0, len(e.mem.members))
	for _, m := range e.mem.members {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b consensus.Member) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// forget records that raft id id was removed from the configuration.
func (ms *membership) forget(id uint64) {
	if ms.gone[id] {
		return
	}
	if len(ms.goneOrder) >= maxGone {
		delete(ms.gone, ms.goneOrder[0])
		ms.goneOrder = ms.goneOrder[1:]
	}
	ms.gone[id] = true
	ms.goneOrder = append(ms.goneOrder, id)
}

// reset forgets the network left for a new incarnation: its members,
// removals and joins (contacts stay: raft ids name incarnations).
func (ms *membership) reset() {
	clear(ms.members)
	ms.memberVer++
	ms.removed, ms.rejoinVia, ms.cluster = false, "", 0
	clear(ms.gone)
	ms.goneOrder = nil
	clear(ms.lastHeard)
	clear(ms.joins)
	ms.confWait = false
}

// others returns the node ids of the members other than self, sorted.
func (ms *membership) others(self uint64) []string {
	ids := make([]string, 0, len(ms.members))
	for id, m := range ms.members {
		if id != self {
			ids = append(ids, m.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

// heardAllNow starts every member's silence from now: a new leader has
// not heard from anyone yet.
func (ms *membership) heardAllNow(now int) {
	for id := range ms.lastHeard {
		ms.lastHeard[id] = now
	}
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
			e.out.Results = append(e.out.Results, e.prop.giveUp()...)
			return nil
		}
	}
	return nil
}

// rejoin makes a removed node enter its network again as a new member,
// through the member that told it, or any other member it knows.
func (e *Engine) rejoin() {
	via := e.mem.rejoinVia
	if via == "" {
		ids := e.mem.others(e.id)
		if len(ids) == 0 {
			return // nobody to ask: stay removed
		}
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
