package vote

import (
	"encoding/binary"
	"errors"
	"fmt"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/store"
)

// Catch-up: a member whose log is behind the leader's compacted log gets a
// raft snapshot, which names a chain height and tip but carries no blocks.
// Before the engine hands the snapshot to raft, it fetches the missing
// blocks in bounded batches (kindFetch / kindBlocks), checking each one
// links to its chain; raft adopts the snapshot only once the chain reaches
// the snapshot's tip. Fetched blocks are written beyond the applied height,
// so a crash in the middle drops them on restart (restore).

// Bounds of one kindBlocks answer, and of the requests in flight at once
// (so at most fetchWindow answers are held out of order).
const (
	maxFetchBlocks = 1024
	maxFetchBytes  = 4 << 20
	fetchWindow    = 4
)

// catchup is a snapshot waiting for its blocks. Requests are pipelined:
// up to fetchWindow ranges are asked at once, answers that arrive ahead of
// the chain's tip wait in early, and each is checked when it is appended.
type catchup struct {
	msg      raftpb.Message
	desc     descriptor
	peer     string            // node id we fetch from
	asked    int               // tick of the last request or progress
	next     uint64            // first index not asked yet
	inflight map[uint64]uint64 // start -> count of the ranges asked
	early    map[uint64][]block.Block
}

// stepSnapshot handles a MsgSnap from the leader.
func (e *Engine) stepSnapshot(from string, m raftpb.Message) error {
	d, err := decodeDescriptor(m.Snapshot.Data)
	if err != nil {
		return err
	}
	if m.Snapshot.Metadata.Index <= e.applied.Index {
		return e.stepRaft(m) // stale: raft ignores it and answers
	}
	if t, err := e.storage.Term(m.Snapshot.Metadata.Index); err == nil && t == m.Snapshot.Metadata.Term {
		// Our log holds the snapshot's last entry: raft only moves the
		// commit index forward and we apply the entries as usual.
		return e.stepRaft(m)
	}
	if c := e.catchup; c != nil && d.Height >= c.desc.Height && e.chain.Len() < d.Height {
		// A fetch is under way: the leader re-sends its snapshot while it
		// waits. Aim at the newer one and let the fetch go on rather than
		// ask again for the batch already asked for.
		c.msg, c.desc = m, d
		if from != c.peer {
			// Another leader now: fetch from it.
			c.peer, c.asked, c.next = from, e.now, e.chain.Len()
			clear(c.inflight)
			clear(c.early)
			e.askBlocks()
		}
		return nil
	}
	have := e.chain.Len()
	if have > d.Height {
		// Our chain is longer than the snapshot's yet our log is behind:
		// leftovers of an earlier catch-up. Drop them.
		if err := e.chain.Write(store.Batch{Detach: have - max(d.Height, e.applied.Height)}); err != nil {
			return fmt.Errorf("vote: trim chain for snapshot: %w", err)
		}
		have = e.chain.Len()
	}
	e.catchup = &catchup{msg: m, desc: d, peer: from, next: have,
		inflight: make(map[uint64]uint64), early: make(map[uint64][]block.Block)}
	if have == d.Height {
		return e.finishCatchup()
	}
	e.catchup.asked = e.now
	e.askBlocks()
	return nil
}

// askBlocks fills the window of requests for missing blocks.
func (e *Engine) askBlocks() {
	c := e.catchup
	for len(c.inflight) < fetchWindow && c.next < c.desc.Height {
		n := min(c.desc.Height-c.next, maxFetchBlocks)
		e.askRange(c.next, n)
		c.next += n
	}
}

func (e *Engine) askRange(from, n uint64) {
	c := e.catchup
	c.inflight[from] = n
	body := binary.AppendUvarint(nil, from)
	body = binary.AppendUvarint(body, n)
	e.send(c.peer, kindFetch, body)
}

// retryCatchup starts the fetch again from the chain's tip, from the
// leader if one is known, when it made no progress for RetryTicks.
func (e *Engine) retryCatchup() {
	c := e.catchup
	if c == nil || e.now-c.asked < e.cfg.RetryTicks {
		return
	}
	if m, ok := e.mem.members[e.rn.BasicStatus().Lead]; ok && m.ID != e.cfg.Self.ID {
		c.peer = m.ID
	}
	c.asked, c.next = e.now, e.chain.Len()
	clear(c.inflight)
	clear(c.early)
	e.askBlocks()
}

// finishCatchup hands the snapshot to raft once the chain reached its tip,
// or gives it up when the chain does not match.
func (e *Engine) finishCatchup() error {
	c := e.catchup
	e.catchup = nil
	tip := e.chain.Tip()
	if tip.CurrHash != c.desc.Tip {
		e.log.Error("fetched chain does not end at the snapshot's tip; dropping it",
			"height", c.desc.Height, "want", c.desc.Tip, "got", tip.CurrHash)
		if n := e.chain.Len(); n > e.applied.Height {
			if err := e.chain.Write(store.Batch{Detach: n - e.applied.Height}); err != nil {
				return fmt.Errorf("vote: drop fetched blocks: %w", err)
			}
		}
		return nil
	}
	return e.stepRaft(c.msg)
}

// serveFetch answers a kindFetch with the blocks asked for, bounded.
func (e *Engine) serveFetch(from string, body []byte) error {
	r := reader{buf: body}
	start, n := r.uvarint(), r.uvarint()
	if r.err != nil || len(r.buf) != 0 || n == 0 {
		return fmt.Errorf("%w: fetch request", consensus.ErrMalformed)
	}
	if e.mayServe(from) {
		e.serveRange(from, start, n)
	}
	return nil
}

// Bounds of the block answers (fetches and locates) one peer gets per
// tick: each reads up to maxFetchBlocks blocks from the store, and anyone
// connected may ask. A member catching up keeps fetchWindow ranges in
// flight; a node of another network moving here fetches its branch the
// same way, more slowly. Requests past the bound go unanswered (the
// asker asks again).
const (
	maxServesPerTick         = 4 * fetchWindow
	maxServesPerTickStranger = 1
	// maxStrangerServesPerTick bounds the answers to all peers that are
	// no members together: keys are free, so many strangers are one.
	maxStrangerServesPerTick = 2
)

// mayServe counts a block request (fetch or locate) of from against the
// bounds of this tick, before any work is done for it, and reports
// whether it may be answered.
func (e *Engine) mayServe(from string) bool {
	member := e.isMemberID(from)
	bound := maxServesPerTickStranger
	if member {
		bound = maxServesPerTick
	}
	if e.served[from] >= bound || !member && e.servedStrangers >= maxStrangerServesPerTick {
		return false
	}
	if len(e.served) >= maxHeard {
		return false // more askers this tick than peers a node keeps
	}
	if !member {
		e.servedStrangers++
	}
	e.served[from]++
	return true
}

// serveRange sends from the blocks [start, start+n), bounded by
// maxFetchBlocks and maxFetchBytes; none if we have none there. The caller
// checked mayServe.
func (e *Engine) serveRange(from string, start, n uint64) {
	n = min(n, maxFetchBlocks)
	out := binary.AppendUvarint(nil, start)
	var blocks []block.Block
	size := 0
	for b, err := range e.chain.Blocks(start) {
		if err != nil {
			e.log.Warn("cannot serve blocks", "err", err)
			return
		}
		if b.IsPoW() {
			// The codec carries classic blocks only; a vote chain holds
			// no other. Serve the blocks before it.
			e.log.Warn("cannot serve a proof-of-work block", "index", b.Index)
			break
		}
		blocks = append(blocks, b)
		size += len(b.Data) + len(b.PreviousHash) + len(b.CurrHash)
		if uint64(len(blocks)) == n || size >= maxFetchBytes {
			break
		}
	}
	out = binary.AppendUvarint(out, uint64(len(blocks)))
	for _, b := range blocks {
		var err error
		if out, err = appendBlock(out, b); err != nil {
			e.log.Warn("cannot serve blocks", "err", err)
			return
		}
	}
	e.send(from, kindBlocks, out)
}

// takeBlocks appends fetched blocks that continue our chain.
func (e *Engine) takeBlocks(from string, body []byte) error {
	start, blocks, err := decodeBlocks(body)
	if err != nil {
		return err
	}
	c := e.catchup
	if c == nil || from != c.peer {
		return nil // late or unasked: ignore
	}
	n, ok := c.inflight[start]
	if !ok || start < e.chain.Len() {
		return nil
	}
	delete(c.inflight, start)
	if uint64(len(blocks)) > n {
		blocks = blocks[:n]
	}
	if len(blocks) == 0 {
		c.asked = e.now - e.cfg.RetryTicks // the peer has nothing: ask another at once
		return nil
	}
	if got := uint64(len(blocks)); got < n {
		// Cut short by the answer's byte bound: ask for the rest.
		e.askRange(start+got, n-got)
	}
	c.early[start] = blocks
	for {
		next, ok := c.early[e.chain.Len()]
		if !ok {
			break
		}
		delete(c.early, e.chain.Len())
		if n := e.chain.Len(); n > e.applied.Height && next[0].PreviousHash != e.chain.Tip().CurrHash {
			// Our blocks beyond the applied chain are not this network's
			// (kept from a network this node left, see renew): the
			// snapshot's chain replaces them. Fetch again from there.
			if err := e.chain.Write(store.Batch{Detach: n - e.applied.Height}); err != nil {
				e.fatal = fmt.Errorf("vote: drop blocks of another network: %w", err)
				return nil
			}
			e.log.Info("dropped blocks that are not the network's", "from", e.applied.Height, "to", n)
			c.asked, c.next = e.now, e.chain.Len()
			clear(c.inflight)
			clear(c.early)
			e.askBlocks()
			return nil
		}
		// Chain.Append checks every block links to the previous one; a
		// peer that sends anything else is faulty.
		if err := e.chain.Append(next...); err != nil {
			var rule *block.RuleError
			if !errors.As(err, &rule) {
				e.fatal = fmt.Errorf("vote: store fetched blocks: %w", err)
				return nil
			}
			c.asked = e.now - e.cfg.RetryTicks // ask someone else at once
			return fmt.Errorf("%w: fetched blocks: %v", consensus.ErrMalformed, err)
		}
		c.asked = e.now
	}
	if e.chain.Len() >= c.desc.Height {
		return e.finishCatchup()
	}
	e.askBlocks()
	return nil
}
