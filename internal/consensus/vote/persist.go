package vote

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/store"
)

// Buckets and keys of what the engine keeps in the store. Everything the
// engine writes for one raft Ready goes into one store batch, with the
// blocks that Ready commits: one fsync per Ready (group commit).
const (
	bucketLog     = "raft_log"   // 8-byte big-endian index -> raftpb.Entry
	bucketState   = "raft_state" // keyHardState, keySnapshot, keyApplied
	bucketDedupe  = "dedupe"     // 8-byte big-endian session -> encoded session
	bucketOrphans = "orphans"    // 8-byte session ‖ 8-byte seq -> hash, data (merge.go)
)

var (
	keyHardState = []byte("hardstate") // raftpb.HardState
	keySnapshot  = []byte("snapshot")  // raftpb.Snapshot; Data is a descriptor
	keyApplied   = []byte("applied")   // appliedState
	// keyIncarnation is this node's incarnation (8 bytes), absent for the
	// first; keyJoining the node id of the member it asks to admit it
	// while it enters a network anew. Both survive the wipe of the rest.
	keyIncarnation = []byte("incarnation")
	keyJoining     = []byte("joining")
)

func indexKey(i uint64) []byte { return binary.BigEndian.AppendUint64(nil, i) }

// appliedState is the last raft index whose entry is reflected in the
// chain, and the chain's length at that point. Blocks beyond Height on
// disk were never acknowledged by this state (a catch-up that did not
// finish) and are dropped on start.
type appliedState struct {
	Index  uint64
	Height uint64
}

func (a appliedState) encode() []byte {
	b := binary.BigEndian.AppendUint64(nil, a.Index)
	return binary.BigEndian.AppendUint64(b, a.Height)
}

func decodeApplied(b []byte) (appliedState, error) {
	if len(b) != 16 {
		return appliedState{}, fmt.Errorf("%w: applied state of %d bytes", consensus.ErrMalformed, len(b))
	}
	return appliedState{Index: binary.BigEndian.Uint64(b), Height: binary.BigEndian.Uint64(b[8:])}, nil
}

// maxSessionSeqs bounds the applied seqs above a floor that one session
// record may hold (writes in flight of one proposer).
const maxSessionSeqs = 1 << 17

func (s *session) encode() []byte {
	seqs := make([]uint64, 0, len(s.above))
	for q := range s.above {
		seqs = append(seqs, q)
	}
	slices.Sort(seqs)
	b := binary.AppendUvarint(nil, s.floor)
	b = binary.AppendUvarint(b, uint64(len(seqs)))
	for _, q := range seqs {
		b = binary.AppendUvarint(b, q)
	}
	return b
}

func decodeSession(b []byte) (*session, error) {
	r := reader{buf: b}
	s := &session{floor: r.uvarint(), above: make(map[uint64]struct{})}
	n := r.uvarint()
	if r.err == nil && n > maxSessionSeqs {
		return nil, fmt.Errorf("%w: session of %d seqs", consensus.ErrMalformed, n)
	}
	for i := uint64(0); i < n && r.err == nil; i++ {
		q := r.uvarint()
		if r.err == nil && q <= s.floor {
			return nil, fmt.Errorf("%w: session seq %d at or below floor %d", consensus.ErrMalformed, q, s.floor)
		}
		s.above[q] = struct{}{}
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.buf) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes in session", consensus.ErrMalformed, len(r.buf))
	}
	return s, nil
}

// descriptor is the data of a raft snapshot: the chain up to Height, whose
// last block has hash Tip, plus the state built from the log that is not
// in the chain (members and the de-duplication sessions). The blocks
// themselves are not in the snapshot: a member that needs them fetches
// them in batches (catchup.go).
type descriptor struct {
	Height   uint64             `json:"height"`
	Tip      string             `json:"tip"`
	Members  []consensus.Member `json:"members"`
	Voters   []string           `json:"voters"`
	Sessions []sessionRecord    `json:"sessions"`
	// Cluster names the network (the raft id of its founder); Removed the
	// raft ids removed from its configuration, most recent last.
	Cluster uint64   `json:"cluster,omitempty"`
	Removed []uint64 `json:"removed,omitempty"`
	// Moving is the network this one committed to move to; Hosting the
	// networks it committed to host (merge.go).
	Moving  *moveTarget `json:"moving,omitempty"`
	Hosting []uint64    `json:"hosting,omitempty"`
	// Token is the network's join token (admission.go); Consents the
	// tokens of the networks it consents to merge with (consent.go).
	Token    string    `json:"token,omitempty"`
	Consents []consent `json:"consents,omitempty"`
	// HostTokens are the join tokens of the networks hosted (merge.go).
	HostTokens []hostToken `json:"host_tokens,omitempty"`
}

type sessionRecord struct {
	ID   uint64 `json:"id"`
	Data []byte `json:"data"` // session.encode()
}

// maxDescriptorSessions bounds the sessions a snapshot may carry.
const maxDescriptorSessions = 1 << 16

func decodeDescriptor(b []byte) (descriptor, error) {
	var d descriptor
	if err := json.Unmarshal(b, &d); err != nil {
		return d, fmt.Errorf("%w: snapshot descriptor: %v", consensus.ErrMalformed, err)
	}
	if d.Height == 0 || len(d.Tip) != 64 {
		return d, fmt.Errorf("%w: snapshot descriptor height %d tip %q", consensus.ErrMalformed, d.Height, d.Tip)
	}
	if len(d.Sessions) > maxDescriptorSessions || len(d.Members) > 1024 || len(d.Removed) > maxGone || len(d.Hosting) > maxHosting {
		return d, fmt.Errorf("%w: snapshot descriptor too large", consensus.ErrMalformed)
	}
	for _, m := range d.Members {
		if err := ValidateMember(m); err != nil {
			return d, err
		}
	}
	if len(d.HostTokens) > maxHosting {
		return d, fmt.Errorf("%w: snapshot descriptor host tokens", consensus.ErrMalformed)
	}
	for _, h := range d.HostTokens {
		if !ValidToken(h.Token) {
			return d, fmt.Errorf("%w: snapshot descriptor host token", consensus.ErrMalformed)
		}
	}
	if len(d.Consents) > maxConsents {
		return d, fmt.Errorf("%w: snapshot descriptor consents", consensus.ErrMalformed)
	}
	for _, c := range d.Consents {
		if !validConsent(c) {
			return d, fmt.Errorf("%w: snapshot descriptor consent", consensus.ErrMalformed)
		}
	}
	if d.Token != "" && !ValidToken(d.Token) {
		return d, fmt.Errorf("%w: snapshot descriptor token", consensus.ErrMalformed)
	}
	if d.Moving != nil {
		if _, err := decodeMove(encodeMove(*d.Moving)); err != nil {
			return d, err
		}
	}
	for _, s := range d.Sessions {
		if _, err := decodeSession(s.Data); err != nil {
			return d, err
		}
	}
	return d, nil
}

// loaded is the engine state read back from a store.
type loaded struct {
	snap     raftpb.Snapshot
	desc     *descriptor
	hard     raftpb.HardState
	entries  []raftpb.Entry
	applied  appliedState
	sessions map[uint64]*session
	// incarnation and joining: see keyIncarnation.
	incarnation uint64
	joining     string
}

// hasRaftState reports whether the store holds a raft history: the node
// was a member, or was being admitted, before this start.
func (l *loaded) hasRaftState() bool {
	return l.hard.Term != 0 || l.hard.Commit != 0 || l.snap.Metadata.Index != 0
}

// storedDamagef reports stored engine state that does not decode or does
// not fit together: damage to the store, refused as the store refuses its
// own (store.ErrCorrupt: exit code 2, with the data dir left to check).
func storedDamagef(format string, args ...any) error {
	return fmt.Errorf("%w: vote: stored "+format, append([]any{store.ErrCorrupt}, args...)...)
}

// load reads the engine's state. A missing record is an empty state; a
// record that does not decode is an error (the store is damaged).
func load(st store.Store) (*loaded, error) {
	l := &loaded{sessions: make(map[uint64]*session)}
	get := func(key []byte) ([]byte, error) {
		v, err := st.Get(bucketState, key)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		return v, err
	}
	if v, err := get(keySnapshot); err != nil {
		return nil, err
	} else if v != nil {
		if err := l.snap.Unmarshal(v); err != nil {
			return nil, storedDamagef("snapshot: %w", err)
		}
		d, err := decodeDescriptor(l.snap.Data)
		if err != nil {
			return nil, storedDamagef("snapshot: %w", err)
		}
		l.desc = &d
	}
	if v, err := get(keyHardState); err != nil {
		return nil, err
	} else if v != nil {
		if err := l.hard.Unmarshal(v); err != nil {
			return nil, storedDamagef("hard state: %w", err)
		}
	}
	if v, err := get(keyApplied); err != nil {
		return nil, err
	} else if v != nil {
		if l.applied, err = decodeApplied(v); err != nil {
			return nil, storedDamagef("applied state: %w", err)
		}
	}
	if v, err := get(keyIncarnation); err != nil {
		return nil, err
	} else if v != nil {
		if len(v) != 8 {
			return nil, storedDamagef("incarnation of %d bytes", len(v))
		}
		l.incarnation = binary.BigEndian.Uint64(v)
	}
	if v, err := get(keyJoining); err != nil {
		return nil, err
	} else if v != nil {
		if !validID(string(v)) {
			return nil, storedDamagef("join peer %q is not a node id", v)
		}
		l.joining = string(v)
	}
	next := l.snap.Metadata.Index + 1
	err := st.Scan(bucketLog, indexKey(next), func(k, v []byte) error {
		var ent raftpb.Entry
		if err := ent.Unmarshal(v); err != nil {
			return storedDamagef("raft entry %x: %w", k, err)
		}
		if ent.Index != next || len(k) != 8 || binary.BigEndian.Uint64(k) != ent.Index {
			return storedDamagef("raft log has a gap at %d (found entry %d under key %x)", next, ent.Index, k)
		}
		next++
		l.entries = append(l.entries, ent)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := l.check(); err != nil {
		return nil, err
	}
	err = st.Scan(bucketDedupe, nil, func(k, v []byte) error {
		s, err := decodeSession(v)
		if err != nil || len(k) != 8 {
			return storedDamagef("session %x: %v", k, err)
		}
		l.sessions[binary.BigEndian.Uint64(k)] = s
		return nil
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// check verifies that the records fit together the way raft requires, so
// a damaged store is refused with an error rather than a raft panic.
func (l *loaded) check() error {
	first := l.snap.Metadata.Index
	last := first + uint64(len(l.entries))
	prevTerm := l.snap.Metadata.Term
	for _, ent := range l.entries {
		if ent.Term < prevTerm {
			return storedDamagef("raft log: term goes back at entry %d", ent.Index)
		}
		prevTerm = ent.Term
	}
	switch {
	case l.hard.Commit < first && l.hasRaftState() && l.hard.Commit != 0:
		return storedDamagef("commit index %d is below the snapshot %d", l.hard.Commit, first)
	case l.hard.Commit > last:
		return storedDamagef("commit index %d is beyond the log's last entry %d", l.hard.Commit, last)
	case prevTerm > l.hard.Term && l.hasRaftState():
		return storedDamagef("log has term %d above the hard state's %d", prevTerm, l.hard.Term)
	case l.applied.Index > max(l.hard.Commit, first):
		return storedDamagef("applied index %d is beyond the commit index %d", l.applied.Index, l.hard.Commit)
	}
	return nil
}
