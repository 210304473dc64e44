package vote

import (
	"fmt"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/consensus"
	"go.etcd.io/raft/v3/raftpb"
)

// applyBatch applies an entry of writes: each write seen for the first
// time (dedupe) becomes a block, and a proposal of this node whose blocks
// are all in w is resolved.
func (e *Engine) applyBatch(ent raftpb.Entry, w *readyWrite) {
	b, err := decodeBatch(ent.Data)
	if err != nil {
		// checkEntries keeps these out of the log; a leader of ours
		// cannot produce one.
		e.log.Error("skipping undecodable committed entry", "index", ent.Index, "err", err)
		return
	}
	e.sinceSnap++
	e.snapBytes += len(ent.Data)
	fresh := e.dedupe.admit(b)
	if w.sessions == nil {
		w.sessions = make(map[uint64]bool)
	}
	w.sessions[b.Session] = true
	var group *proposal
	var groupBlocks []block.Block
	for i, it := range b.Items {
		if !fresh[i] {
			continue
		}
		if err := e.dropProvisional(w); err != nil {
			e.fatal = err
			return
		}
		blk := block.Next(w.tip, it.Data)
		w.batch.Blocks = append(w.batch.Blocks, blk)
		w.tip = blk
		if b.Session != e.cfg.Session {
			continue
		}
		// A group's items are fresh together (one entry): its
		// result is complete at its last item.
		if group != nil {
			groupBlocks = append(groupBlocks, blk)
		} else if p, ok := e.prop.pending[it.Seq]; ok {
			group, groupBlocks = p, []block.Block{blk}
		}
		if group != nil && len(groupBlocks) == len(group.data) {
			delete(e.prop.pending, group.seq)
			w.results = append(w.results, consensus.Result{ID: group.seq, Block: groupBlocks[0], Blocks: groupBlocks})
			group, groupBlocks = nil, nil
		}
	}
	e.prop.dropResolved()
}

// applyBlocks applies an entry of whole blocks taken from outside: each is
// appended only if it links to the tip, which every member sees alike.
func (e *Engine) applyBlocks(ent raftpb.Entry, w *readyWrite) {
	blocks, err := decodeBlocksEntry(ent.Data)
	if err != nil {
		e.log.Error("skipping undecodable committed entry", "index", ent.Index, "err", err)
		return
	}
	e.sinceSnap++
	e.snapBytes += len(ent.Data)
	if err := e.dropProvisional(w); err != nil {
		e.fatal = err
		return
	}
	taken := 0
	for _, b := range blocks {
		b.Index = w.tip.Index + 1
		if b.PreviousHash != w.tip.CurrHash || block.CheckNext(w.tip, b) != nil {
			break
		}
		w.batch.Blocks = append(w.batch.Blocks, b)
		w.tip = b
		taken++
	}
	switch {
	case taken == len(blocks):
	case taken == 0 && blocks[0].CurrHash == w.tip.CurrHash:
		// Another member proposed the same block first.
		e.log.Debug("block from outside already in the chain", "entry", ent.Index)
	default:
		e.log.Warn("blocks from outside no longer fit the tip; skipped", "entry", ent.Index, "taken", taken, "skipped", len(blocks)-taken)
	}
}

// dropProvisional makes w build on the applied chain: blocks fetched for a
// snapshot that raft did not take are detached in the same batch, and the
// catch-up is given up.
func (e *Engine) dropProvisional(w *readyWrite) error {
	if w.detachChecked {
		return nil
	}
	w.detachChecked = true
	n := e.chain.Len()
	if n <= w.applied.Height || len(w.batch.Blocks) > 0 {
		return nil
	}
	tip, err := e.chain.Block(w.applied.Height - 1)
	if err != nil {
		return fmt.Errorf("vote: read applied tip: %w", err)
	}
	w.batch.Detach, w.tip = n-w.applied.Height, tip
	e.catchup = nil
	return nil
}

// apply applies one committed entry into w. Entries at or below the
// durable applied index were applied before a restart: only their
// configuration changes are replayed, to rebuild raft's configuration.
func (e *Engine) apply(ent raftpb.Entry, w *readyWrite) {
	replay := ent.Index <= e.applied.Index
	switch ent.Type {
	case raftpb.EntryNormal:
		if len(ent.Data) == 0 {
			break
		}
		// Decisions of the network are replayed too: they are state.
		if ent.Data[0] == moveVersion {
			e.applyMove(ent.Data, w)
			break
		}
		if ent.Data[0] == hostVersion || ent.Data[0] == unhostVersion {
			e.applyHost(ent.Data)
			break
		}
		if ent.Data[0] == tokenVersion {
			e.applyToken(ent.Data)
			break
		}
		if ent.Data[0] == consentVersion {
			e.applyConsent(ent.Data)
			break
		}
		if replay || e.merge.moving != nil {
			break // after a move, no write of this network is a block
		}
		if ent.Data[0] == blocksVersion {
			e.applyBlocks(ent, w)
			break
		}
		e.applyBatch(ent, w)
	case raftpb.EntryConfChange:
		var cc raftpb.ConfChange
		if err := cc.Unmarshal(ent.Data); err != nil {
			e.log.Error("skipping undecodable conf change", "index", ent.Index, "err", err)
			break
		}
		e.applyConf(cc, ent.Index, replay, w)
	}
	if e.fatal != nil {
		return
	}
	if !replay {
		w.applied = appliedState{Index: ent.Index, Height: w.tip.Index + 1}
	} else if ent.Index == e.applied.Index && e.mem.replayedConfs > 0 {
		e.log.Info("restored members from the raft log", "members", len(e.mem.members), "changes", e.mem.replayedConfs)
		e.mem.replayedConfs = 0
	}
}
