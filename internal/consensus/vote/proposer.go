package vote

import (
	"fmt"
	"slices"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/consensus"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/tracker"
)

// proposal is a write, or a group of writes committed together, of this
// node that is not resolved yet. Its items have seqs seq, seq+1, ...
type proposal struct {
	seq       uint64
	data      []string
	submitted bool // handed to raft at least once: it may commit
	at        int  // tick of the last submission
}

// proposer holds this node's proposals from Propose until their results:
// it batches the queued ones into raft entries (flush), forwards them to
// the leader one forward at a time, and proposes again those that waited
// too long or whose leader changed.
type proposer struct {
	session uint64      // Config.Session: this run's proposals
	seq     uint64      // the last seq handed out
	queue   []*proposal // waiting to be handed to raft
	pending map[uint64]*proposal
	// forwarding: a follower forwarded proposals to the leader and has
	// not had an append since; proposals wait in the queue until one
	// comes (or a tick), then go together in one forward.
	forwarding bool
	// stirred: since its last Ready the engine took in something other
	// than proposals taken in while every window was full (a tick, a
	// message, a call); see windowsFull.
	stirred bool
}

func newProposer(session uint64) proposer {
	return proposer{session: session, pending: make(map[uint64]*proposal)}
}

// Propose implements consensus.Engine.
func (e *Engine) Propose(data string) (uint64, error) {
	return e.ProposeAll([]string{data})
}

// ProposeAll implements consensus.Engine: the writes travel in one raft
// entry, so they become consecutive blocks in one store transaction, all
// or none. Their items carry consecutive seqs from the returned id.
func (e *Engine) ProposeAll(data []string) (uint64, error) {
	if e.fatal != nil {
		return 0, e.fatal
	}
	if e.mem.removed || e.merge.leave != nil || e.merge.moving != nil {
		return 0, consensus.ErrNotMember
	}
	if len(data) == 0 || len(data) > consensus.MaxGroup {
		return 0, fmt.Errorf("vote: a group of %d writes (1 to %d)", len(data), consensus.MaxGroup)
	}
	if len(e.prop.pending) >= e.cfg.MaxPending {
		return 0, consensus.ErrBusy
	}
	return e.prop.add(data), nil
}

// add queues data as one proposal and returns its seq.
func (pr *proposer) add(data []string) uint64 {
	p := &proposal{seq: pr.seq + 1, data: data}
	pr.seq += uint64(len(data))
	pr.pending[p.seq] = p
	pr.queue = append(pr.queue, p)
	return p.seq
}

// ProposeBlocks implements consensus.Engine: blocks are proposed as they
// are, in one entry, and applied only if the first links to the tip then.
// Blocks holding a proof-of-work block are refused whole (ErrPoWBlock):
// a vote chain holds classic blocks only.
func (e *Engine) ProposeBlocks(blocks []block.Block) error {
	e.prop.stirred = true
	if e.fatal != nil {
		return e.fatal
	}
	// Encode every entry before proposing any, so that a refused block
	// leaves nothing proposed.
	var entries [][]byte
	for len(blocks) > 0 {
		n := min(len(blocks), maxEntryBlocks)
		entry, err := encodeBlocks(blocks[:n])
		if err != nil {
			return err
		}
		entries = append(entries, entry)
		blocks = blocks[n:]
	}
	for _, entry := range entries {
		if err := e.rn.Propose(entry); err != nil {
			return fmt.Errorf("vote: propose blocks: %w", err)
		}
	}
	return nil
}

// Abandon implements consensus.Engine.
func (e *Engine) Abandon(id uint64) bool {
	e.prop.stirred = true
	return e.prop.abandon(id)
}

// abandon forgets proposal id and reports whether it may still commit.
func (pr *proposer) abandon(id uint64) bool {
	p, ok := pr.pending[id]
	if !ok {
		return false
	}
	delete(pr.pending, id)
	pr.queue = slices.DeleteFunc(pr.queue, func(q *proposal) bool { return q == p })
	return p.submitted
}

// retry moves proposals that waited retryTicks for their commit back to
// the queue.
func (pr *proposer) retry(now, retryTicks int) {
	for _, p := range pr.pending {
		if p.submitted && p.at >= 0 && now-p.at >= retryTicks {
			p.at = -1 // queued again
			pr.queue = append(pr.queue, p)
		}
	}
}

// requeue moves every submitted proposal back to the queue: a new leader
// may have lost what the old one held (duplicates are dropped on apply).
func (pr *proposer) requeue() {
	pr.forwarding = false
	for _, p := range pr.pending {
		if p.submitted && p.at >= 0 {
			p.at = -1
			pr.queue = append(pr.queue, p)
		}
	}
}

// dropResolved takes the proposals resolved meanwhile out of the queue.
func (pr *proposer) dropResolved() {
	if len(pr.queue) > 0 {
		pr.queue = slices.DeleteFunc(pr.queue, func(p *proposal) bool { _, ok := pr.pending[p.seq]; return !ok })
	}
}

// flush hands queued proposals to raft as batches. A follower forwards
// them to the leader, one forward at a time (see forwarding).
func (pr *proposer) flush(rn *raft.RawNode, state raft.StateType, now int) {
	if len(pr.queue) == 0 || rn.BasicStatus().Lead == raft.None {
		return
	}
	if pr.forwarding && state == raft.StateFollower {
		return // one forward in flight: see forwarding
	}
	if state == raft.StateFollower {
		pr.forwarding = true
	}
	slices.SortFunc(pr.queue, func(a, b *proposal) int { return compareU64(a.seq, b.seq) })
	for len(pr.queue) > 0 {
		n := pr.nextBatch()
		if err := rn.Propose(encodeBatch(pr.batch(n))); err != nil {
			return // no leader or too much uncommitted: keep them queued
		}
		for _, p := range pr.queue[:n] {
			p.submitted, p.at = true, now
		}
		pr.queue = pr.queue[n:]
	}
}

// nextBatch counts the queued proposals that go in the next entry: whole
// proposals only, so that a group never spans two entries.
func (pr *proposer) nextBatch() int {
	n, items, size := 0, 0, 0
	for n < len(pr.queue) {
		p := pr.queue[n]
		if n > 0 && (items+len(p.data) > maxBatchItems || size >= maxBatchBytes) {
			break
		}
		items += len(p.data)
		for _, d := range p.data {
			size += len(d)
		}
		n++
	}
	return n
}

// batch is the entry of the first n queued proposals.
func (pr *proposer) batch(n int) batch {
	items := 0
	for _, p := range pr.queue[:n] {
		items += len(p.data)
	}
	b := batch{Session: pr.session, Low: pr.low(), Items: make([]item, 0, items)}
	for _, p := range pr.queue[:n] {
		for j, d := range p.data {
			b.Items = append(b.Items, item{Seq: p.seq + uint64(j), Data: d})
		}
	}
	return b
}

// windowsFull reports whether this node leads and every other member has
// an append in flight (raft's window of one is full), so that no entry
// proposed now could be sent before an answer arrives. A Ready that would
// only write such entries is then put off: the answer that frees a
// window, or the next tick, stirs the engine, and its Ready writes and
// sends them all. Until then they are in raft's log, unwritten and
// acknowledged to no one. Under load this makes one fsync of the leader per
// round of appends instead of one per proposal that arrives.
func (e *Engine) windowsFull() bool {
	if e.state != raft.StateLeader {
		return false
	}
	hold, others := true, 0
	e.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) {
		if id == e.id {
			return
		}
		others++
		if pr.State != tracker.StateReplicate || !pr.IsPaused() {
			hold = false
		}
	})
	return hold && others > 0
}

// low is the smallest seq this session may still propose.
func (pr *proposer) low() uint64 {
	low := pr.seq + 1
	for s := range pr.pending {
		low = min(low, s)
	}
	return low
}

func compareU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// giveUp drops every unresolved write of this node, which is leaving its
// network, and returns their answers: whether each may still be committed
// by the network left behind.
func (pr *proposer) giveUp() []consensus.Result {
	ids := make([]uint64, 0, len(pr.pending))
	for id := range pr.pending {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]consensus.Result, 0, len(ids))
	for _, id := range ids {
		out = append(out, consensus.Result{ID: id, Err: &consensus.WriteError{MayCommit: pr.pending[id].submitted, Cause: consensus.ErrNotMember}})
		delete(pr.pending, id)
	}
	pr.queue = nil
	return out
}
