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
	e.out.Results = append(e.out.Results, e.prop.giveUp()...)
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
	e.mem.reset()
	e.merge.reset()
	e.lead, e.state, e.campaigned = raft.None, raft.StateFollower, false
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
