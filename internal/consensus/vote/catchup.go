package vote

import (
	"encoding/binary"
	"errors"
	"fmt"

	"go.etcd.io/raft/v3/raftpb"

	"naivechain/internal/block"
	"naivechain/internal/consensus"
	"naivechain/internal/store"
)

// Catch-up: a member whose log is behind the leader's compacted log gets a
// raft snapshot, which names a chain height and tip but carries no blocks.
// Before the engine hands the snapshot to raft, it fetches the missing
// blocks in bounded batches (kindFetch / kindBlocks), checking each one
// links to its chain; raft adopts the snapshot only once the chain reaches
// the snapshot's tip. Fetched blocks are written beyond the applied height,
// so a crash in the middle drops them on restart (restore).

// Bounds of one kindBlocks answer.
const (
	maxFetchBlocks = 1024
	maxFetchBytes  = 4 << 20
)

// catchup is a snapshot waiting for its blocks.
type catchup struct {
	msg   raftpb.Message
	desc  descriptor
	peer  string // node id we fetch from
	asked int    // tick of the last request
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
	have := e.chain.Len()
	if have > d.Height {
		// Our chain is longer than the snapshot's yet our log is behind:
		// leftovers of an earlier catch-up. Drop them.
		if err := e.chain.Write(store.Batch{Detach: have - max(d.Height, e.applied.Height)}); err != nil {
			return fmt.Errorf("vote: trim chain for snapshot: %w", err)
		}
		have = e.chain.Len()
	}
	e.catchup = &catchup{msg: m, desc: d, peer: from}
	if have == d.Height {
		return e.finishCatchup()
	}
	e.askBlocks()
	return nil
}

// askBlocks requests the next batch of missing blocks.
func (e *Engine) askBlocks() {
	c := e.catchup
	c.asked = e.now
	from := e.chain.Len()
	n := min(c.desc.Height-from, maxFetchBlocks)
	body := binary.AppendUvarint(nil, from)
	body = binary.AppendUvarint(body, n)
	e.send(c.peer, kindFetch, body)
}

// retryCatchup asks again, from the leader if one is known, when an answer
// is overdue.
func (e *Engine) retryCatchup() {
	if e.catchup == nil || e.now-e.catchup.asked < e.cfg.RetryTicks {
		return
	}
	if m, ok := e.members[e.rn.BasicStatus().Lead]; ok && m.ID != e.cfg.Self.ID {
		e.catchup.peer = m.ID
	}
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
	n = min(n, maxFetchBlocks)
	out := binary.AppendUvarint(nil, start)
	var blocks []block.Block
	size := 0
	for b, err := range e.chain.Blocks(start) {
		if err != nil {
			e.log.Warn("cannot serve blocks", "err", err)
			return nil
		}
		blocks = append(blocks, b)
		size += len(b.Data) + len(b.PreviousHash) + len(b.CurrHash)
		if uint64(len(blocks)) == n || size >= maxFetchBytes {
			break
		}
	}
	out = binary.AppendUvarint(out, uint64(len(blocks)))
	for _, b := range blocks {
		out = appendBlock(out, b)
	}
	e.send(from, kindBlocks, out)
	return nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decodeBlocks decodes a kindBlocks body.
func decodeBlocks(body []byte) (uint64, []block.Block, error) {
	r := reader{buf: body}
	start, n := r.uvarint(), r.uvarint()
	if r.err == nil && n > maxFetchBlocks {
		return 0, nil, fmt.Errorf("%w: %d blocks in one answer", consensus.ErrMalformed, n)
	}
	blocks := make([]block.Block, 0, min(n, uint64(len(body))))
	for i := uint64(0); i < n && r.err == nil; i++ {
		blocks = append(blocks, r.block(start+i))
	}
	if r.err != nil {
		return 0, nil, r.err
	}
	if len(r.buf) != 0 {
		return 0, nil, fmt.Errorf("%w: %d trailing bytes", consensus.ErrMalformed, len(r.buf))
	}
	return start, blocks, nil
}

// takeBlocks appends fetched blocks that continue our chain.
func (e *Engine) takeBlocks(from string, body []byte) error {
	start, blocks, err := decodeBlocks(body)
	if err != nil {
		return err
	}
	c := e.catchup
	if c == nil || from != c.peer || start != e.chain.Len() {
		return nil // late or unasked: ignore
	}
	if need := c.desc.Height - start; uint64(len(blocks)) > need {
		blocks = blocks[:need]
	}
	if len(blocks) == 0 {
		return nil
	}
	// Chain.Append checks every block links to the previous one; a peer
	// that sends anything else is faulty.
	if err := e.chain.Append(blocks...); err != nil {
		var rule *block.RuleError
		if !errors.As(err, &rule) {
			e.fatal = fmt.Errorf("vote: store fetched blocks: %w", err)
			return nil
		}
		e.catchup.asked = e.now - e.cfg.RetryTicks // ask someone else at once
		return fmt.Errorf("%w: fetched blocks: %v", consensus.ErrMalformed, err)
	}
	if e.chain.Len() >= c.desc.Height {
		return e.finishCatchup()
	}
	e.askBlocks()
	return nil
}
