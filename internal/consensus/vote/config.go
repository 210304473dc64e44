package vote

import (
	"crypto/sha256"
	"encoding/binary"
	"log/slog"
	"time"

	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/store"
)

// Config configures an Engine. Durations are in ticks.
type Config struct {
	// Self is this node: its id and the address other nodes dial.
	Self consensus.Member
	// Bootstrap starts a new one-member network; otherwise the node waits
	// to be admitted through Join.
	Bootstrap bool
	// Chain receives the blocks built from committed entries.
	Chain *chain.Chain
	// Store is the chain's store; the engine keeps its raft log, hard
	// state, snapshots and de-duplication state there too, written in the
	// same batches as the blocks they produce.
	Store store.Store
	// Session identifies this run of the proposer; it must differ between
	// runs of the same node (a random number does).
	Session uint64

	ElectionTicks  int // default 10
	HeartbeatTicks int // default 1
	// RetryTicks is how long a proposal waits for its commit before it is
	// proposed again (duplicates are dropped on apply). Default 20.
	RetryTicks int
	// JoinRetryTicks is how often a joining node asks again. Default 5.
	JoinRetryTicks int
	// RemoveAfterTicks is how long a member may stay silent before the
	// leader removes it from the configuration. 0 disables removal.
	RemoveAfterTicks int
	// Tick is the time one Tick stands for. It only turns tick counts
	// into durations in log lines; 0 says them in ticks.
	Tick time.Duration
	// MaxPending bounds the proposals that are queued or in flight.
	MaxPending int // default 65536
	// SnapshotEntries and SnapshotBytes: a snapshot is taken, and the raft
	// log compacted behind it, once this many entries or bytes of entries
	// were applied since the last one. Defaults 10000 and 16 MiB; they
	// bound the log a node holds in memory.
	SnapshotEntries int
	SnapshotBytes   int
	// KeepEntries and KeepBytes bound the applied entries that stay in the
	// log behind a snapshot, so that a member slightly behind catches up
	// from the log rather than from a snapshot. Defaults 1000 and 4 MiB.
	KeepEntries int
	KeepBytes   int

	// MaxReads bounds the read barriers waiting at once (ReadIndex);
	// default DefaultMaxReads. ReadTicks is how long one may wait before
	// it fails with consensus.ErrReadTimeout; default 100.
	MaxReads  int
	ReadTicks int

	// JoinToken is the token this node presents when it asks to join a
	// network; a founder (Bootstrap) records it as its network's token,
	// which every join must present (admission.go).
	JoinToken string

	Logger *slog.Logger
}

// RaftID maps a node id to its raft id: the first 8 bytes of its sha256,
// never 0 (raft's "none").
func RaftID(nodeID string) uint64 {
	sum := sha256.Sum256([]byte(nodeID))
	id := binary.BigEndian.Uint64(sum[:8])
	if id == 0 {
		id = 1
	}
	return id
}

// setDefaults fills in the settings left zero.
func (c *Config) setDefaults() {
	if c.ElectionTicks == 0 {
		c.ElectionTicks = 10
	}
	if c.HeartbeatTicks == 0 {
		c.HeartbeatTicks = 1
	}
	if c.RetryTicks == 0 {
		c.RetryTicks = 20
	}
	if c.JoinRetryTicks == 0 {
		c.JoinRetryTicks = 5
	}
	if c.MaxPending == 0 {
		c.MaxPending = 1 << 16
	}
	if c.MaxReads <= 0 {
		c.MaxReads = DefaultMaxReads
	}
	if c.ReadTicks <= 0 {
		c.ReadTicks = 100
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.SnapshotEntries == 0 {
		c.SnapshotEntries = 10000
	}
	if c.SnapshotBytes == 0 {
		c.SnapshotBytes = 16 << 20
	}
	if c.KeepEntries == 0 {
		c.KeepEntries = 1000
	}
	if c.KeepBytes == 0 {
		c.KeepBytes = 4 << 20
	}
}
