package vote

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"naivechain/internal/block"
	"naivechain/internal/chain"
	"naivechain/internal/consensus"
	"naivechain/internal/store"
)

// Merging networks. Two vote networks that grew apart (two lone nodes, or
// two clusters started separately) meet when a node of one connects to a
// node of the other (POST /peers, gossip). Each member announces its
// network and chain to the peers that are not members of its network
// (Greet, kindAnnounce). The fork-choice rule (better) picks one history;
// every member of the losing network, on its own:
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

// announce is what a member tells the peers outside its network.
type announce struct {
	Cluster uint64
	Height  uint64
	Tip     string
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

func encodeAnnounce(a announce) []byte {
	b := binary.AppendUvarint(nil, a.Cluster)
	b = binary.AppendUvarint(b, a.Height)
	return appendString(b, a.Tip)
}

func decodeAnnounce(body []byte) (announce, error) {
	r := reader{buf: body}
	a := announce{Cluster: r.uvarint(), Height: r.uvarint(), Tip: r.string(64)}
	if r.err != nil || len(r.buf) != 0 || a.Cluster == 0 || a.Height == 0 || len(a.Tip) != 64 {
		return a, fmt.Errorf("%w: announce", consensus.ErrMalformed)
	}
	return a, nil
}

func encodeLocator(loc []chain.LocatorEntry) []byte {
	b := binary.AppendUvarint(nil, uint64(len(loc)))
	for _, l := range loc {
		b = binary.AppendUvarint(b, l.Index)
		b = appendString(b, l.Hash)
	}
	return b
}

func decodeLocator(body []byte) ([]chain.LocatorEntry, error) {
	r := reader{buf: body}
	n := r.uvarint()
	if r.err == nil && (n == 0 || n > chain.MaxLocatorEntries) {
		return nil, fmt.Errorf("%w: locator of %d entries", consensus.ErrMalformed, n)
	}
	loc := make([]chain.LocatorEntry, 0, min(n, chain.MaxLocatorEntries))
	for i := uint64(0); i < n && r.err == nil; i++ {
		loc = append(loc, chain.LocatorEntry{Index: r.uvarint(), Hash: r.string(64)})
	}
	if r.err != nil || len(r.buf) != 0 {
		return nil, fmt.Errorf("%w: locator", consensus.ErrMalformed)
	}
	return loc, nil
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
	return announce{Cluster: e.cluster, Height: e.applied.Height, Tip: tip.CurrHash}, nil
}

// Greet implements consensus.Engine: members announce their network to
// connected peers outside it.
func (e *Engine) Greet(peers []string) {
	if e.fatal != nil || e.cluster == 0 || e.removed || e.leave != nil || !e.isMember() {
		return
	}
	inside := make(map[string]bool, len(e.members))
	for _, m := range e.members {
		inside[m.ID] = true
	}
	var body []byte
	for _, p := range peers {
		if inside[p] {
			continue
		}
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

// stepAnnounce decides whether to leave for the announcing peer's network.
func (e *Engine) stepAnnounce(from string, body []byte) error {
	a, err := decodeAnnounce(body)
	if err != nil {
		return err
	}
	if e.cluster == 0 || a.Cluster == e.cluster || e.removed || e.leave != nil || e.catchup != nil || !e.isMember() {
		return nil
	}
	mine, err := e.appliedAnnounce()
	if err != nil || !better(a, mine) {
		return nil
	}
	loc, err := e.chain.Locator()
	if err != nil {
		e.log.Warn("cannot build a block locator", "err", err)
		return nil
	}
	e.log.Warn("met a network with a better chain; moving to it", "peer", from,
		"its_height", a.Height, "our_height", mine.Height, "its_network", fmt.Sprintf("%x", a.Cluster))
	e.leave = &leaving{peer: from, target: a, from: mine, asked: e.now}
	e.send(from, kindLocate, encodeLocator(loc))
	return nil
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
	l := e.leave
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

// abortLeave gives up a move; the node stays a member where it was. err
// is returned to the caller (the peer misbehaved) unless nil.
func (e *Engine) abortLeave(err error) error {
	e.log.Warn("giving up the move to another network", "peer", e.leave.peer, "err", err)
	e.leave = nil
	return err
}

// finishLeave applies the reorg onto the winner's branch and enters the
// winning network.
func (e *Engine) finishLeave() error {
	l := e.leave
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
	sess := orphanSession(e.cluster)
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
	e.orphans = append(e.orphans, orphans...)
	e.orphansSettled = false
	e.leave = nil
	e.log.Warn("moved to a better network", "fork", l.fork, "detached", len(plan.Detach), "attached", len(plan.Attach),
		"network", fmt.Sprintf("%x", l.target.Cluster))
	return nil
}

// checkLeave gives up a move whose peer went silent.
func (e *Engine) checkLeave() {
	if e.leave != nil && e.now-e.leave.asked > e.leaveTimeoutTicks() {
		_ = e.abortLeave(errors.New("no answer"))
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
	if len(e.orphans) == 0 || !e.isMember() || e.catchup != nil {
		return
	}
	touched := !e.orphansSettled
	for _, o := range e.orphans {
		if w.sessions[o.session] {
			touched = true
			break
		}
	}
	if !touched {
		return
	}
	e.orphansSettled = true
	keep := e.orphans[:0]
	for _, o := range e.orphans {
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
	e.orphans = keep
}

// proposeOrphans re-proposes the unsettled orphans, per session in seq
// order, RetryTicks apart. Low is the smallest seq this node still holds
// for the session: every member of the network left holds the same
// entries under the same seqs, so seqs below it are settled for all.
func (e *Engine) proposeOrphans() {
	if len(e.orphans) == 0 || !e.isMember() || e.catchup != nil || !e.orphansSettled || e.removed || e.leave != nil {
		return
	}
	slices.SortFunc(e.orphans, func(a, b orphan) int {
		if c := compareU64(a.session, b.session); c != 0 {
			return c
		}
		return compareU64(a.seq, b.seq)
	})
	for i := 0; i < len(e.orphans); {
		sess, low := e.orphans[i].session, e.orphans[i].seq
		b := batch{Session: sess, Low: low}
		size, j := 0, i
		for ; j < len(e.orphans) && e.orphans[j].session == sess; j++ {
			o := &e.orphans[j]
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
				if e.orphans[k].at < 0 || e.now-e.orphans[k].at >= e.cfg.RetryTicks {
					e.orphans[k].at = e.now
				}
			}
		}
		for j < len(e.orphans) && e.orphans[j].session == sess {
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
