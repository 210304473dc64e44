package vote

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/store"
)

// Merging networks. Two vote networks that grew apart (two lone nodes, or
// two clusters started separately) meet when a node of one connects to a
// node of the other (POST /peers, gossip). Each member announces its
// network and chain to the peers that are not members of its network
// (Greet, kindAnnounce). The fork-choice rule (better) picks one history.
//
// The losing network moves as a whole, by a decision in its own log: its
// leader asks the winner's leader to host it (kindHostRequest); the winner
// commits a host entry, which voids any later move of its own to the
// loser, and says yes (kindHostAnswer); the loser's leader then commits a
// move entry. So two networks can never move into each other, and members
// of one network never split up. After the move entry no write of the old
// network becomes a block; every member then, on its own:
//
//  1. finds the fork point with the winner's node through a block locator
//     (kindLocate, answered with blocks from the fork point on);
//  2. fetches the winner's branch in bounded batches, each block checked;
//  3. plans the reorg (detach its blocks above the fork point, attach the
//     winner's) and applies it in one store transaction, together with
//     the orphaned entries and the wipe of its raft state;
//  4. enters the winning network as a new incarnation (renew), which
//     brings the rest of its chain through raft's snapshot and log;
//  5. once a member there, re-proposes its orphaned entries under one
//     session named after the network it left, with the entry's old index
//     as seq, so that however many members of the losing network
//     re-propose the same entry, it is applied once (dedupe).

// mergeState is this node's part in merges: the move under way, the
// network committed to move to, the networks committed to host, the
// leader's request to be hosted, and the orphaned entries to re-propose.
type mergeState struct {
	// leave is a move to a better network under way; orphans the entries
	// of blocks detached by moves, to re-propose there.
	leave          *leaving
	leaveTried     int // tick of the last start of a move
	orphans        []orphan
	orphansSettled bool
	// moving is the network this one committed to move to; hosting the
	// networks it committed to host (a move into one of them is void).
	moving       *moveTarget
	hosting      map[uint64]bool
	hostingOrder []uint64
	hostTokens   map[uint64]string // join tokens of the networks hosted
	// pendingHost is the leader's request to be hosted; hostReplies the
	// networks waiting for this leader's answer.
	pendingHost *hostRequest
	hostReplies map[uint64]string
}

func newMergeState() mergeState {
	return mergeState{
		hosting:     make(map[uint64]bool),
		hostTokens:  make(map[uint64]string),
		hostReplies: make(map[uint64]string),
	}
}

// reset forgets the moves and hostings of the network left for a new
// incarnation. The orphans stay: they are re-proposed in the next one.
func (ms *mergeState) reset() {
	ms.moving, ms.pendingHost, ms.leaveTried, ms.leave = nil, nil, 0, nil
	clear(ms.hosting)
	ms.hostingOrder = nil
	clear(ms.hostTokens)
	clear(ms.hostReplies)
}

// announce is what a member tells the peers outside its network.
type announce struct {
	Cluster uint64
	Height  uint64
	Tip     string
	Moving  bool // its network committed a move: never move into it
	// TokenHash is the sha256 of its network's join token (consent.go).
	TokenHash [32]byte
}

// better is the fork-choice rule between two networks: the longer chain
// wins; at equal length the smaller tip hash; with the same chain, the
// smaller network id. Heights only grow and a chain's block at a height
// never changes while it is a member, so two networks can never both see
// the other as better: one of them always stays.
func better(a, b announce) bool {
	if a.Height != b.Height {
		return a.Height > b.Height
	}
	if a.Tip != b.Tip {
		return a.Tip < b.Tip
	}
	return a.Cluster < b.Cluster
}

// appliedAnnounce describes this member's applied chain.
func (e *Engine) appliedAnnounce() (announce, error) {
	tip := e.chain.Tip()
	if tip.Index+1 != e.applied.Height {
		var err error
		if tip, err = e.chain.Block(e.applied.Height - 1); err != nil {
			return announce{}, err
		}
	}
	return announce{Cluster: e.mem.cluster, Height: e.applied.Height, Tip: tip.CurrHash, Moving: e.merge.moving != nil, TokenHash: tokenHash(e.token)}, nil
}

// Greet implements consensus.Engine: members announce their network to
// every connected peer.
func (e *Engine) Greet(peers []string) {
	e.prop.stirred = true
	if e.fatal != nil || e.mem.cluster == 0 || e.mem.removed || !e.isMember() {
		return
	}
	// Members of our own network ignore it, but one left behind by a move
	// learns from it where its network went.
	var body []byte
	for _, p := range peers {
		if body == nil {
			a, err := e.appliedAnnounce()
			if err != nil {
				e.log.Warn("cannot read the applied tip", "err", err)
				return
			}
			body = encodeAnnounce(a)
		}
		e.send(p, kindAnnounce, body)
	}
}

// stepAnnounce lets the leader ask a better network to host this one.
func (e *Engine) stepAnnounce(from string, body []byte) error {
	a, err := decodeAnnounce(body)
	if err != nil {
		return err
	}
	if len(e.heard) >= maxHeard {
		clear(e.heard)
	}
	e.heard[from] = a
	if e.mem.cluster == 0 || a.Cluster == e.mem.cluster {
		return nil
	}
	if !a.Moving && e.merge.moving == nil && e.merge.leave == nil && e.isMember() && e.abandoned() && e.isMemberID(from) {
		// A member of our network now belongs to another, and ours has
		// had no leader for long: it moved while we were away, and the
		// move entry will never reach us. Follow it.
		e.log.Warn("our network moved while this node was away; following it", "peer", from, "network", fmt.Sprintf("%x", a.Cluster))
		e.merge.moving = &moveTarget{Cluster: a.Cluster, Peer: from, Height: a.Height, Tip: a.Tip}
		e.beginLeave()
		return nil
	}
	if a.Moving || e.merge.moving != nil || e.merge.pendingHost != nil || e.mem.removed || !e.isLeader() {
		return nil
	}
	mine, err := e.appliedAnnounce()
	if err != nil {
		return nil
	}
	if !better(a, mine) {
		e.proveConsent(from, a)
		return nil
	}
	token, consented := e.consentFor(a.TokenHash, from)
	if !consented {
		// No operator of ours gave its token: meeting it changes nothing.
		return nil
	}
	if e.merge.hosting[a.Cluster] {
		// We agreed to host it when it was worse; it did not come and is
		// better now. Withdraw first (a move into a network we host is
		// void), then ask at its next announce.
		_ = e.rn.Propose(encodeHost(unhostVersion, a.Cluster, ""))
		return nil
	}
	e.log.Warn("met a network with a better chain; asking it to host this network", "peer", from,
		"its_height", a.Height, "our_height", mine.Height, "its_network", fmt.Sprintf("%x", a.Cluster))
	e.merge.pendingHost = &hostRequest{target: a, peer: from, at: e.now, token: token}
	e.send(from, kindHostRequest, encodeHostRequest(mine, token, e.token))
	return nil
}

// abandoned reports whether this member has heard from no leader of its
// network for longer than a move may take.
func (e *Engine) abandoned() bool {
	return e.now-e.leaderHeard > e.leaveTimeoutTicks()
}

func (e *Engine) isMemberID(id string) bool {
	for rid, m := range e.mem.members {
		if m.ID == id && rid != e.id {
			return true
		}
	}
	return false
}

// hostRequest is a leader's request, not answered yet, to be hosted.
type hostRequest struct {
	target announce
	peer   string
	at     int
	tries  int
	token  string // the host network's join token
}

// maxHosting bounds the networks remembered as hosted, and the networks
// waiting for this leader's answer.
const maxHosting = 64

// maxHeard bounds the peers whose last announce is kept.
const maxHeard = 256

// stepHostRequest answers a network that asks to move into this one. Only
// the leader says yes, once a host entry is committed; a follower names
// its leader.
func (e *Engine) stepHostRequest(from string, body []byte) error {
	a, token, theirs, err := decodeHostRequest(body)
	if err != nil {
		return err
	}
	if e.mem.cluster == 0 || a.Cluster == e.mem.cluster || !e.isMember() {
		return nil
	}
	if !tokenMatches(token, e.token) {
		// Our operator never gave our token to theirs: no consent.
		e.send(from, kindHostAnswer, appendString([]byte{0}, ""))
		return nil
	}
	if !e.isLeader() {
		e.send(from, kindHostAnswer, appendString([]byte{0}, e.mem.members[e.rn.BasicStatus().Lead].ID))
		return nil
	}
	mine, err := e.appliedAnnounce()
	if err != nil || e.merge.moving != nil || !better(mine, a) {
		e.send(from, kindHostAnswer, appendString([]byte{0}, ""))
		return nil
	}
	if p := e.merge.pendingHost; p != nil && p.target.Cluster == a.Cluster {
		// Both leaders asked each other at once: the smaller network
		// id hosts.
		if e.mem.cluster > a.Cluster {
			e.send(from, kindHostAnswer, appendString([]byte{0}, ""))
			return nil
		}
		e.merge.pendingHost = nil
	}
	if e.merge.hosting[a.Cluster] {
		e.send(from, kindHostAnswer, appendString([]byte{1}, ""))
		return nil
	}
	if len(e.merge.hostReplies) < maxHosting {
		e.merge.hostReplies[a.Cluster] = from
	}
	if err := e.rn.Propose(encodeHost(hostVersion, a.Cluster, theirs)); err != nil {
		delete(e.merge.hostReplies, a.Cluster)
	}
	return nil
}

// stepHostAnswer moves this network once the better one agreed to host it.
func (e *Engine) stepHostAnswer(from string, body []byte) error {
	if len(body) == 0 || body[0] > 1 {
		return fmt.Errorf("%w: host answer", consensus.ErrMalformed)
	}
	r := reader{buf: body[1:]}
	hint := r.string(64)
	if r.err != nil || len(r.buf) != 0 || (hint != "" && !validID(hint)) {
		return fmt.Errorf("%w: host answer", consensus.ErrMalformed)
	}
	p := e.merge.pendingHost
	if p == nil || from != p.peer {
		return nil
	}
	switch {
	case body[0] == 1:
		e.merge.pendingHost = nil
		if !e.isLeader() || e.merge.moving != nil {
			return nil
		}
		mt := moveTarget{Cluster: p.target.Cluster, Peer: from, Height: p.target.Height, Tip: p.target.Tip, Token: p.token}
		if err := e.rn.Propose(encodeMove(mt)); err == nil {
			e.log.Warn("network agreed to host this one; moving", "peer", from, "network", fmt.Sprintf("%x", mt.Cluster))
		}
	case hint != "" && hint != from && hint != e.cfg.Self.ID && p.tries < 3:
		p.peer, p.tries, p.at = hint, p.tries+1, e.now
		mine, err := e.appliedAnnounce()
		if err != nil {
			e.merge.pendingHost = nil
			return nil
		}
		e.send(hint, kindHostRequest, encodeHostRequest(mine, p.token, e.token))
	default:
		e.merge.pendingHost = nil
	}
	return nil
}

// moveTarget is a network this node's network committed to move to.
type moveTarget struct {
	Cluster uint64 `json:"cluster"`
	Peer    string `json:"peer"`
	Height  uint64 `json:"height"`
	Tip     string `json:"tip"`
	// Token is the target network's join token, which its members
	// present to enter it.
	Token string `json:"token,omitempty"`
}

// applyMove applies a committed move entry: the first one that is not
// void decides, and from then on no write of this network becomes a
// block. A move into a network this one hosts is void (that network
// moves here), and so is a move whose target is no longer better than
// the chain at this point of the log (writes committed while the leader
// asked): every member sees the same chain there, and decides alike.
func (e *Engine) applyMove(ent []byte, w *readyWrite) {
	mt, err := decodeMove(ent)
	if err != nil {
		e.log.Error("skipping undecodable move entry", "err", err)
		return
	}
	if e.merge.moving != nil || e.merge.hosting[mt.Cluster] || mt.Cluster == e.mem.cluster {
		return
	}
	here := announce{Cluster: e.mem.cluster, Height: w.tip.Index + 1, Tip: w.tip.CurrHash}
	if !better(announce{Cluster: mt.Cluster, Height: mt.Height, Tip: mt.Tip}, here) {
		e.log.Info("move no longer to a better chain; staying", "network", fmt.Sprintf("%x", mt.Cluster))
		return
	}
	e.merge.moving = &mt
	e.moveToken = mt.Token
	e.log.Warn("this network moves to a better one", "network", fmt.Sprintf("%x", mt.Cluster), "via", mt.Peer)
}

// applyHost applies a committed host entry; the leader that proposed it
// answers the waiting network.
func (e *Engine) applyHost(ent []byte) {
	c, token, err := decodeHost(ent)
	if err != nil {
		e.log.Error("skipping undecodable host entry", "err", err)
		return
	}
	if ent[0] == unhostVersion {
		delete(e.merge.hosting, c)
		delete(e.merge.hostTokens, c)
		e.merge.hostingOrder = slices.DeleteFunc(e.merge.hostingOrder, func(h uint64) bool { return h == c })
		return
	}
	ok := e.merge.moving == nil
	if ok && !e.merge.hosting[c] {
		if len(e.merge.hostingOrder) >= maxHosting {
			delete(e.merge.hosting, e.merge.hostingOrder[0])
			delete(e.merge.hostTokens, e.merge.hostingOrder[0])
			e.merge.hostingOrder = e.merge.hostingOrder[1:]
		}
		e.merge.hosting[c] = true
		e.merge.hostingOrder = append(e.merge.hostingOrder, c)
	}
	if ok && token != "" {
		// Its members enter with their own network's token, which a
		// member away during the move still holds.
		e.merge.hostTokens[c] = token
	}
	if to, waiting := e.merge.hostReplies[c]; waiting {
		delete(e.merge.hostReplies, c)
		flag := byte(0)
		if ok {
			flag = 1
		}
		e.send(to, kindHostAnswer, appendString([]byte{flag}, ""))
	}
}

// beginLeave starts (or starts again) this member's move to the network
// its network committed to.
func (e *Engine) beginLeave() {
	mt := e.merge.moving
	e.merge.leaveTried = e.now
	mine, err := e.appliedAnnounce()
	if err != nil || mine.Cluster == 0 {
		return
	}
	loc, err := e.chain.Locator()
	if err != nil {
		e.log.Warn("cannot build a block locator", "err", err)
		return
	}
	// Only the node that agreed to host this network: the members join
	// it with the host's token, which must never reach a stranger that
	// merely announces the same network id.
	peer := mt.Peer
	mine.Moving = false
	e.merge.leave = &leaving{peer: peer, target: announce{Cluster: mt.Cluster, Height: mt.Height, Tip: mt.Tip}, from: mine, asked: e.now}
	e.send(peer, kindLocate, encodeLocator(loc))
}

// leaving is a member on its way to another network: it collects the
// winner's branch above the fork point.
type leaving struct {
	peer    string
	target  announce // the winner, as announced
	from    announce // our applied chain when we decided
	asked   int      // tick of the last request or answer
	located bool
	fork    uint64
	attach  []block.Block
}

// maxReorgBlocks bounds the branch held in memory for one reorg. A longer
// winning branch is attached up to it; the rest comes through the
// winner's snapshot once this node is a member there.
const maxReorgBlocks = 1 << 16

// leaveTimeoutTicks is how long a move waits for an answer before it is
// given up (the node stays where it was, and may try again).
func (e *Engine) leaveTimeoutTicks() int { return 3 * e.cfg.RetryTicks }

// serveLocate answers a block locator with our blocks from the fork point on.
func (e *Engine) serveLocate(from string, body []byte) error {
	loc, err := decodeLocator(body)
	if err != nil {
		return err
	}
	if !e.mayServe(from) {
		return nil // finding the fork reads blocks: bounded like a fetch
	}
	fork, err := e.chain.FindFork(loc)
	if errors.Is(err, chain.ErrBadLocator) || errors.Is(err, chain.ErrNoCommonBlock) {
		return fmt.Errorf("%w: %v", consensus.ErrMalformed, err)
	}
	if err != nil {
		e.log.Warn("cannot answer a block locator", "err", err)
		return nil
	}
	e.serveRange(from, fork+1, maxFetchBlocks)
	return nil
}

// takeBranch takes a batch of the winner's branch.
func (e *Engine) takeBranch(start uint64, blocks []block.Block) error {
	l := e.merge.leave
	if !l.located {
		if start == 0 || start-1 > e.chain.Tip().Index {
			return e.abortLeave(fmt.Errorf("%w: branch from %d above our tip", consensus.ErrMalformed, start))
		}
		l.located, l.fork = true, start-1
		// The locator is coarse: skip the blocks we share.
		for len(blocks) > 0 && blocks[0].Index <= e.chain.Tip().Index {
			ours, err := e.chain.Block(blocks[0].Index)
			if err != nil {
				return e.abortLeave(nil)
			}
			if ours != blocks[0] {
				break
			}
			l.fork, blocks = blocks[0].Index, blocks[1:]
		}
	} else if start != l.fork+1+uint64(len(l.attach)) {
		return nil // not the batch asked for
	}
	prev := block.Block{}
	if len(l.attach) > 0 {
		prev = l.attach[len(l.attach)-1]
	} else if len(blocks) > 0 {
		var err error
		if prev, err = e.chain.Block(l.fork); err != nil {
			return e.abortLeave(nil)
		}
	}
	for _, b := range blocks {
		if err := block.CheckNext(prev, b); err != nil {
			return e.abortLeave(fmt.Errorf("%w: branch block: %v", consensus.ErrMalformed, err))
		}
		prev = b
	}
	room := maxReorgBlocks - len(l.attach)
	l.attach = append(l.attach, blocks[:min(len(blocks), room)]...)
	l.asked = e.now
	next := l.fork + 1 + uint64(len(l.attach))
	if len(blocks) == 0 || next >= l.target.Height || len(l.attach) >= maxReorgBlocks {
		return e.finishLeave()
	}
	body := binary.AppendUvarint(nil, next)
	body = binary.AppendUvarint(body, min(l.target.Height-next, maxFetchBlocks))
	e.send(l.peer, kindFetch, body)
	return nil
}

// abortLeave gives up this attempt of a move; it starts again after
// leaveTimeoutTicks (checkLeave). err is returned to the caller (the peer
// misbehaved) unless nil.
func (e *Engine) abortLeave(err error) error {
	e.log.Warn("giving up the move to another network", "peer", e.merge.leave.peer, "err", err)
	e.merge.leave = nil
	return err
}

// finishLeave applies the reorg onto the winner's branch and enters the
// winning network.
func (e *Engine) finishLeave() error {
	l := e.merge.leave
	height := l.fork + 1 + uint64(len(l.attach))
	tip := e.chain.Tip()
	if len(l.attach) > 0 {
		tip = l.attach[len(l.attach)-1]
	} else if l.fork < tip.Index {
		var err error
		if tip, err = e.chain.Block(l.fork); err != nil {
			return e.abortLeave(nil)
		}
	}
	got := announce{Cluster: l.target.Cluster, Height: height, Tip: tip.CurrHash}
	if len(l.attach) < maxReorgBlocks && !better(got, l.from) {
		// The peer announced a chain it did not deliver.
		return e.abortLeave(fmt.Errorf("%w: announced %d blocks, delivered a branch of %d that is not better", consensus.ErrMalformed, l.target.Height, height))
	}
	plan, err := e.chain.PlanReorg(l.fork, l.attach)
	if err != nil {
		var rule *block.RuleError
		if errors.As(err, &rule) {
			return e.abortLeave(fmt.Errorf("%w: %v", consensus.ErrMalformed, err))
		}
		return e.abortLeave(nil)
	}
	// The network left, as it was when the move began: every member of it
	// names its orphans alike.
	sess := orphanSession(l.from.Cluster)
	orphans := make([]orphan, 0, len(plan.Detach))
	for _, b := range plan.Detach {
		orphans = append(orphans, orphan{session: sess, seq: b.Index, hash: b.CurrHash, data: b.Data, at: -1})
	}
	err = e.renew(l.peer, func(b store.Batch) error {
		for _, o := range orphans {
			b.Puts = append(b.Puts, store.Put{Bucket: bucketOrphans, Key: o.key(), Value: o.value()})
		}
		return e.chain.ApplyReorg(plan, b)
	})
	if err != nil {
		if errors.Is(err, chain.ErrStalePlan) {
			return e.abortLeave(nil)
		}
		e.fatal = err
		return nil
	}
	e.merge.orphans = append(e.merge.orphans, orphans...)
	e.merge.orphansSettled = false
	e.merge.leave = nil
	e.log.Warn("moved to a better network", "fork", l.fork, "detached", len(plan.Detach), "attached", len(plan.Attach),
		"network", fmt.Sprintf("%x", l.target.Cluster))
	return nil
}

// checkLeave gives up a move whose peer went silent, starts a decided
// move again, and forgets a host request left unanswered.
func (e *Engine) checkLeave() {
	if e.merge.leave != nil && e.now-e.merge.leave.asked > e.leaveTimeoutTicks() {
		_ = e.abortLeave(errors.New("no answer"))
	}
	if e.merge.leave == nil && e.merge.moving != nil && e.fatal == nil && e.now-e.merge.leaveTried >= e.leaveTimeoutTicks() {
		e.beginLeave()
	}
	if e.merge.pendingHost != nil && e.now-e.merge.pendingHost.at > e.leaveTimeoutTicks() {
		e.merge.pendingHost = nil
	}
}

// orphan is an entry of a block this node detached when it moved to
// another network: it must end in that network's chain once.
type orphan struct {
	session uint64 // names the network it came from
	seq     uint64 // the block's index there
	hash    string // the block's hash there
	data    string
	at      int // tick of the last proposal, -1 if none
}

func orphanSession(cluster uint64) uint64 {
	sum := sha256.Sum256(binary.BigEndian.AppendUint64([]byte("naivechain orphans "), cluster))
	return binary.BigEndian.Uint64(sum[:8])
}

func (o orphan) key() []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, o.session), o.seq)
}

func (o orphan) value() []byte { return appendString(appendString(nil, o.hash), o.data) }

func decodeOrphan(k, v []byte) (orphan, error) {
	r := reader{buf: v}
	o := orphan{hash: r.string(64), data: r.string(block.MaxDataLen), at: -1}
	if len(k) != 16 || r.err != nil || len(r.buf) != 0 {
		return o, fmt.Errorf("%w: stored orphan %x", consensus.ErrMalformed, k)
	}
	o.session, o.seq = binary.BigEndian.Uint64(k), binary.BigEndian.Uint64(k[8:])
	return o, nil
}

// settleOrphans drops the orphans that are in the chain: applied under
// their session (by this node or another member of the network left), or
// still in the chain at their old place (the node came back to the
// network it left). It runs in a Ready, so the deletes are in its batch.
func (e *Engine) settleOrphans(w *readyWrite) {
	if len(e.merge.orphans) == 0 || !e.isMember() || e.catchup != nil {
		return
	}
	touched := !e.merge.orphansSettled
	for _, o := range e.merge.orphans {
		if w.sessions[o.session] {
			touched = true
			break
		}
	}
	if !touched {
		return
	}
	e.merge.orphansSettled = true
	keep := e.merge.orphans[:0]
	for _, o := range e.merge.orphans {
		done := false
		if s := e.dedupe.sessions[o.session]; s != nil {
			_, applied := s.above[o.seq]
			done = applied || o.seq <= s.floor
		}
		if !done && o.seq < w.tip.Index+1 {
			if b, err := e.chain.Block(o.seq); err == nil && b.CurrHash == o.hash && o.seq < e.applied.Height {
				done = true
			}
		}
		if done {
			k := o.key()
			w.batch.Deletes = append(w.batch.Deletes, store.DeleteRange{Bucket: bucketOrphans, From: k, To: keyAfter(k)})
			continue
		}
		keep = append(keep, o)
	}
	e.merge.orphans = keep
}

// proposeOrphans re-proposes the unsettled orphans, per session in seq
// order, RetryTicks apart. Low is the smallest seq this node still holds
// for the session: every member of the network left holds the same
// entries under the same seqs, so seqs below it are settled for all.
func (e *Engine) proposeOrphans() {
	if len(e.merge.orphans) == 0 || !e.isMember() || e.catchup != nil || !e.merge.orphansSettled || e.mem.removed || e.merge.leave != nil {
		return
	}
	slices.SortFunc(e.merge.orphans, func(a, b orphan) int {
		if c := compareU64(a.session, b.session); c != 0 {
			return c
		}
		return compareU64(a.seq, b.seq)
	})
	for i := 0; i < len(e.merge.orphans); {
		sess, low := e.merge.orphans[i].session, e.merge.orphans[i].seq
		b := batch{Session: sess, Low: low}
		size, j := 0, i
		for ; j < len(e.merge.orphans) && e.merge.orphans[j].session == sess; j++ {
			o := &e.merge.orphans[j]
			if o.at >= 0 && e.now-o.at < e.cfg.RetryTicks {
				continue
			}
			if len(b.Items) == maxBatchItems || size >= maxBatchBytes {
				break
			}
			b.Items = append(b.Items, item{Seq: o.seq, Data: o.data})
			size += len(o.data)
		}
		if len(b.Items) > 0 {
			if err := e.rn.Propose(encodeBatch(b)); err != nil {
				return // no leader yet: next tick
			}
			for k := i; k < j; k++ {
				if e.merge.orphans[k].at < 0 || e.now-e.merge.orphans[k].at >= e.cfg.RetryTicks {
					e.merge.orphans[k].at = e.now
				}
			}
		}
		for j < len(e.merge.orphans) && e.merge.orphans[j].session == sess {
			j++
		}
		i = j
	}
}

// loadOrphans reads the orphans kept in the store.
func loadOrphans(st store.Store) ([]orphan, error) {
	var out []orphan
	err := st.Scan(bucketOrphans, nil, func(k, v []byte) error {
		o, err := decodeOrphan(bytes.Clone(k), v)
		if err != nil {
			return err
		}
		out = append(out, o)
		return nil
	})
	return out, err
}
