package vote

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/store"
)

// maybeSnapshot takes a snapshot at the applied index of w once enough was
// applied since the last one, and compacts the raft log behind it. The
// snapshot is "the chain up to height N" plus the state the chain does not
// hold (members, de-duplication sessions).
func (e *Engine) maybeSnapshot(w *readyWrite) error {
	var force bool
	var raftApplied uint64
	if e.snapFirst && e.isMember() {
		// Raft must not find compacted the entries it has not applied yet.
		raftApplied = e.rn.BasicStatus().Applied
		force = raftApplied > 0
	}
	if w.applied.Index <= e.snapIndex || (!force && e.sinceSnap < e.cfg.SnapshotEntries && e.snapBytes < e.cfg.SnapshotBytes) {
		return nil
	}
	data, err := json.Marshal(e.describe(w.applied, w.tip.CurrHash))
	if err != nil {
		return fmt.Errorf("vote: encode snapshot: %w", err)
	}
	snap, err := e.storage.CreateSnapshot(w.applied.Index, &e.confState, data)
	if err != nil {
		return fmt.Errorf("vote: create snapshot: %w", err)
	}
	v, err := snap.Marshal()
	if err != nil {
		return fmt.Errorf("vote: encode snapshot: %w", err)
	}
	w.batch.Puts = append(w.batch.Puts, store.Put{Bucket: bucketState, Key: keySnapshot, Value: v})
	compact := e.compactIndex(w.applied.Index)
	if force {
		// A network founded on a chain its log does not hold: no member
		// may ever replay that log from its start over a shorter chain,
		// so the log behind the snapshot goes, and joiners get the
		// snapshot, which names the chain's height and tip.
		compact, e.snapFirst = min(w.applied.Index, raftApplied), false
	}
	if compact > 0 {
		if err := e.storage.Compact(compact); err != nil && !errors.Is(err, raft.ErrCompacted) {
			return fmt.Errorf("vote: compact log: %w", err)
		}
		w.batch.Deletes = append(w.batch.Deletes, store.DeleteRange{Bucket: bucketLog, From: indexKey(0), To: indexKey(compact + 1)})
	}
	e.snapIndex, e.sinceSnap, e.snapBytes = w.applied.Index, 0, 0
	e.log.Debug("snapshot taken", "index", w.applied.Index, "height", w.applied.Height)
	return nil
}

// compactIndex is the last entry to drop from the log behind a snapshot at
// applied: at most KeepEntries entries and KeepBytes bytes stay.
func (e *Engine) compactIndex(applied uint64) uint64 {
	first, err := e.storage.FirstIndex()
	if err != nil || applied < first {
		return 0
	}
	keep, size := uint64(0), 0
	for i := applied; i >= first && keep < uint64(e.cfg.KeepEntries); i-- {
		ents, err := e.storage.Entries(i, i+1, math.MaxUint64)
		if err != nil || len(ents) == 0 {
			break
		}
		size += ents[0].Size()
		if size > e.cfg.KeepBytes {
			break
		}
		keep++
	}
	if applied-keep < first {
		return 0
	}
	return applied - keep
}

// describe builds the descriptor of the engine's state at applied, whose
// last block has hash tip.
func (e *Engine) describe(applied appliedState, tip string) descriptor {
	d := descriptor{Height: applied.Height, Tip: tip, Members: []consensus.Member{}, Voters: []string{},
		Cluster: e.mem.cluster, Removed: slices.Clone(e.mem.goneOrder), Moving: e.merge.moving, Hosting: slices.Clone(e.merge.hostingOrder), Token: e.token, Consents: slices.Clone(e.consents)}
	for _, c := range e.merge.hostingOrder {
		if t, ok := e.merge.hostTokens[c]; ok {
			d.HostTokens = append(d.HostTokens, hostToken{Cluster: c, Token: t})
		}
	}
	for _, m := range e.Members() {
		d.Members = append(d.Members, m)
		if m.Voter {
			d.Voters = append(d.Voters, m.ID)
		}
	}
	ids := make([]uint64, 0, len(e.dedupe.sessions))
	for id := range e.dedupe.sessions {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		d.Sessions = append(d.Sessions, sessionRecord{ID: id, Data: e.dedupe.sessions[id].encode()})
	}
	return d
}

// installSnapshot adopts a snapshot raft accepted from the leader. The
// chain already holds its blocks: the engine steps a snapshot into raft
// only once the catch-up fetched them (catchup.go).
func (e *Engine) installSnapshot(snap raftpb.Snapshot, w *readyWrite) error {
	d, err := decodeDescriptor(snap.Data)
	if err != nil {
		return fmt.Errorf("vote: install snapshot: %w", err)
	}
	if w.tip.Index+1 != d.Height || w.tip.CurrHash != d.Tip {
		return fmt.Errorf("vote: install snapshot: chain at %d (%s) is not the snapshot's %d (%s)", w.tip.Index+1, w.tip.CurrHash, d.Height, d.Tip)
	}
	if err := e.storage.ApplySnapshot(snap); err != nil {
		return fmt.Errorf("vote: install snapshot: %w", err)
	}
	sessions := make(map[uint64]*session, len(d.Sessions))
	for _, r := range d.Sessions {
		s, err := decodeSession(r.Data)
		if err != nil {
			return fmt.Errorf("vote: install snapshot: %w", err)
		}
		sessions[r.ID] = s
	}
	oldHeight := w.applied.Height
	e.dedupe.sessions = sessions
	if err := e.resolveCovered(oldHeight, d.Height, w); err != nil {
		return err
	}
	e.setMembers(d)
	e.snapIndex, e.sinceSnap, e.snapBytes = snap.Metadata.Index, 0, 0
	e.confState = snap.Metadata.ConfState
	v, err := snap.Marshal()
	if err != nil {
		return fmt.Errorf("vote: install snapshot: %w", err)
	}
	w.batch.Deletes = append(w.batch.Deletes,
		store.DeleteRange{Bucket: bucketLog, From: indexKey(0)},
		store.DeleteRange{Bucket: bucketDedupe, From: indexKey(0)})
	w.batch.Puts = append(w.batch.Puts, store.Put{Bucket: bucketState, Key: keySnapshot, Value: v})
	w.sessions = make(map[uint64]bool, len(sessions))
	for id := range sessions {
		w.sessions[id] = true
	}
	w.applied = appliedState{Index: snap.Metadata.Index, Height: d.Height}
	e.log.Info("installed snapshot", "index", snap.Metadata.Index, "height", d.Height)
	return nil
}

// raftStorage is raft's view of the log. Its Snapshot is always as recent
// as the applied state: a snapshot costs only a descriptor, and a member
// admitted after the last periodic snapshot must find itself in the
// configuration of the snapshot it is sent (raft refuses it otherwise).
type raftStorage struct {
	*raft.MemoryStorage
	e *Engine
}

// Snapshot implements raft.Storage.
func (s raftStorage) Snapshot() (raftpb.Snapshot, error) {
	snap, err := s.MemoryStorage.Snapshot()
	e := s.e
	if err != nil || e.applied.Index <= snap.Metadata.Index {
		return snap, err
	}
	tip, err := e.chain.Block(e.applied.Height - 1)
	if err != nil {
		return raftpb.Snapshot{}, raft.ErrSnapshotTemporarilyUnavailable
	}
	data, err := json.Marshal(e.describe(e.applied, tip.CurrHash))
	if err != nil {
		return raftpb.Snapshot{}, raft.ErrSnapshotTemporarilyUnavailable
	}
	return s.MemoryStorage.CreateSnapshot(e.applied.Index, &e.confState, data)
}

// resolveCovered answers this node's writes that were committed inside a
// snapshot it just installed: their entries will never be applied here
// one by one. The snapshot's session record says which are done; their
// blocks are among the blocks fetched for it, [from, to).
func (e *Engine) resolveCovered(from, to uint64, w *readyWrite) error {
	s := e.dedupe.sessions[e.cfg.Session]
	if s == nil || len(e.prop.pending) == 0 {
		return nil
	}
	byData := make(map[string][]*proposal) // by the data of a group's first write
	n := 0
	for _, p := range e.prop.pending {
		if _, applied := s.above[p.seq]; applied || p.seq <= s.floor {
			byData[p.data[0]] = append(byData[p.data[0]], p)
			n++
		}
	}
	if n == 0 {
		return nil
	}
	for _, ps := range byData {
		slices.SortFunc(ps, func(a, b *proposal) int { return compareU64(a.seq, b.seq) })
	}
	var group *proposal
	var blocks []block.Block
	for b, err := range e.chain.Blocks(from) {
		if err != nil {
			return fmt.Errorf("vote: read fetched blocks: %w", err)
		}
		if b.Index >= to {
			break
		}
		if group == nil {
			ps := byData[b.Data]
			if len(ps) == 0 {
				continue
			}
			group, blocks = ps[0], nil
			byData[b.Data] = ps[1:]
		}
		if b.Data != group.data[len(blocks)] {
			group = nil // not this group after all
			continue
		}
		blocks = append(blocks, b)
		if len(blocks) == len(group.data) {
			delete(e.prop.pending, group.seq)
			w.results = append(w.results, consensus.Result{ID: group.seq, Block: blocks[0], Blocks: blocks})
			group = nil
		}
	}
	e.prop.dropResolved()
	return nil
}
