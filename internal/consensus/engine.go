package consensus

import (
	"errors"
	"fmt"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/store"
)

// Engine orders proposed data into blocks with the agreement of peers.
//
// All methods are called from one goroutine. After a call the caller
// calls Ready and carries it out: applies its store writes (Persist) in
// order, sends its messages and delivers its results; it may first gather
// many calls into one Ready, unless the engine is a StepWriter. A result
// reports blocks whose store writes are durable.
type Engine interface {
	// Name is the engine's name in handshakes ("vote", "pow").
	Name() string
	// Tick advances the engine's logical clock by one tick.
	Tick()
	// Step feeds one consensus message received from the node with id from.
	// An error means the message was malformed or not acceptable from that
	// peer and the caller should disconnect. The engine state is unchanged,
	// except that a message carrying several blocks may have had its valid
	// blocks before the first bad one taken in (pow), as they would have
	// been had they come alone.
	Step(from string, payload []byte) error
	// Propose queues data for agreement and returns its proposal id. The
	// outcome arrives in a later Ready as a Result with that id.
	Propose(data string) (uint64, error)
	// ProposeAll queues up to MaxGroup writes that are committed together,
	// as consecutive blocks, or not at all. One Result answers them all.
	ProposeAll(data []string) (uint64, error)
	// Abandon stops the engine from retrying proposal id. It reports
	// whether the proposal may still be committed later, that is whether
	// it was ever handed to the network.
	Abandon(id uint64) (mayCommit bool)
	// Ready returns the work accumulated since the last call. It never
	// blocks: an engine that waits for its writes to be durable hands out
	// nothing that depends on them until Durable says they are.
	Ready() Ready
	// Durable tells the engine that the Persist of a Ready with this token
	// is on disk (err nil) or failed to reach it.
	Durable(token uint64, err error)
	// Status describes the engine for logs and the API.
	Status() Status
	// Members returns the known members, this node included.
	Members() []Member
	// Greet tells the engine which peers it is connected to. It announces
	// its chain to those that are not members of its network, so that two
	// networks that meet can merge (see Engine docs of each engine).
	Greet(peers []string)
}

// Joiner is implemented by engines whose nodes enter a network by asking a
// member to admit them (vote). A node of an engine without it is part of
// the network as soon as it has a link (pow).
type Joiner interface {
	// Join asks the member with node id via to admit this node. The engine
	// retries by itself until it is a member.
	Join(via string)
	// Found makes a node that was to join a network form its own instead
	// (its peer turned out to be a legacy node). No-op for a member.
	Found() error
	// Resumed reports whether the engine resumed, from its store, the
	// state of a network it was part of (or was joining) before a restart.
	Resumed() bool
}

// Importer is implemented by engines that take whole blocks from outside
// the network: a legacy peer's chain (vote).
type Importer interface {
	// ProposeBlocks proposes whole blocks taken from outside (a legacy
	// peer), as they are. They are applied only if the first links to the
	// tip when they are ordered; otherwise they are skipped (and logged).
	ProposeBlocks(blocks []block.Block) error
}

// Persist is one store write an engine hands its caller (Ready.Persist).
type Persist struct {
	// Token names the write in the Durable call that answers it.
	Token uint64
	Batch store.Batch
}

// Member is one node as the engine knows it: its id and where to dial it.
type Member struct {
	ID       string `json:"id"`
	Host     string `json:"host"`
	Port     string `json:"port"`
	HTTPPort string `json:"http_port,omitempty"`
	// Key is the member's public key (standard base64 of the 32 ed25519
	// bytes), which derives its ID; empty for members recorded before
	// node keys.
	Key string `json:"key,omitempty"`
	// Incarnation counts the times this node entered a network anew (it
	// was removed, or it left for another network). Each incarnation is a
	// new member to the engine: the old one never speaks again.
	Incarnation uint64 `json:"incarnation,omitempty"`
	// Voter is false while the member is catching up as a learner.
	Voter bool `json:"-"`
}

// Message is a payload for the node with id To.
type Message struct {
	To      string
	Payload []byte
}

// Result is the outcome of one proposal: the block that carries its data
// (the first one for a group), and every block of a group in Blocks.
type Result struct {
	ID     uint64
	Block  block.Block
	Blocks []block.Block
	// Err, when set, means the engine gave up on the proposal (this node
	// left its network); it is a *WriteError telling whether the write
	// may still be committed by the network it left.
	Err error
}

// MaxGroup bounds the writes of one ProposeAll.
const MaxGroup = 1000

// Ready is the work an engine hands its caller.
type Ready struct {
	// Messages go to peers; they may be sent in any order and may be lost.
	Messages []Message
	// Results resolve proposals of this node; their blocks are already stored.
	Results []Result
	// MembersChanged is set when Members() differs from the last Ready.
	MembersChanged bool
	// Reads resolve read barriers of this node (Reader).
	Reads []ReadResult
	// Persist are the store writes the engine needs, in order. The caller
	// applies each to the chain before it calls the engine again (the
	// chain shows a write at once: chain.WriteAsync) and calls Durable
	// with its token once the write is on disk or failed.
	Persist []Persist
	// More is set when the engine has more to hand out once Persist is
	// applied: the caller applies it and calls Ready again.
	More bool
	// Err is a fatal error (the store failed). The engine must be stopped.
	Err error
}

// Reader is implemented by engines that serve linearizable reads (vote).
// A read barrier is released once this node's chain holds every entry the
// network committed before the barrier was asked for: a read of the chain
// made after that sees every write acknowledged before the read began.
type Reader interface {
	// ReadIndex asks for a read barrier and returns its id. A later Ready
	// resolves it in Reads: released (no error) or failed (ErrNoLeader,
	// ErrReadTimeout, ErrNotMember, the store's failure). An error here
	// (ErrReadsBusy, ErrNoLeader, ...) means no barrier was made.
	ReadIndex() (uint64, error)
}

// ReadResult resolves the read barrier ID: released when Err is nil.
type ReadResult struct {
	ID  uint64
	Err error
}

// Status describes an engine at a moment.
type Status struct {
	Leader  string // node id of the current leader, "" if none known
	Term    uint64
	Role    string // "leader", "follower", "candidate", "learner", "joining", "removed"
	Pending int    // proposals not yet resolved, with entries to re-propose after a move
	// Unapplied counts the entries in this node's log that it has not
	// applied (vote; pow has none): entries not known committed yet, such
	// as those a crashed leader acknowledged before the survivors heard
	// of the commit. A network is at rest only when every node has none.
	Unapplied uint64
}

// Admission is implemented by engines whose networks admit members only
// with a join token (vote).
type Admission interface {
	// JoinState reports the answer to the join asked by Join: admitted,
	// or denied with the reason (final for the token presented).
	JoinState() (admitted bool, denied string)
	// Token returns the network's join token, "" until known.
	Token() string
	// UseToken sets the token this node records when it founds a network
	// (Found) and presents when it joins one.
	UseToken(token string)
}

// Errors an engine returns that callers must tell apart.
var (
	// ErrBusy means the engine holds too many unresolved proposals.
	ErrBusy = errors.New("consensus: too many pending writes, try again later")
	// ErrNotMember means this node is not (or no longer) a voting member.
	ErrNotMember = errors.New("consensus: this node is not a member of the network")
	// ErrMalformed marks a peer message that could not be decoded.
	ErrMalformed = errors.New("consensus: malformed message")
	// ErrStopped is returned to writes that were waiting when the node stopped.
	ErrStopped = errors.New("consensus: node stopped")
	// ErrInvalidBlock marks a peer message carrying a block that breaks a
	// rule of the chain (bad work, bad link, bad timestamp, entries seen
	// before): no honest peer sends one.
	ErrInvalidBlock = errors.New("consensus: invalid block")
	// ErrNoLeader fails a consistent read on a node that knows no leader:
	// an election is under way or this node cannot reach a majority.
	ErrNoLeader = errors.New("consensus: no leader: this node cannot reach a majority of the network right now (no quorum); try again or read another node")
	// ErrReadsBusy refuses a consistent read when too many wait already.
	ErrReadsBusy = errors.New("consensus: too many consistent reads waiting, try again later")
	// ErrReadTimeout fails a consistent read that no majority confirmed
	// in time.
	ErrReadTimeout = errors.New("consensus: no majority confirmed the read in time (no quorum)")
)

// Miner is implemented by engines whose blocks take work to make (pow).
// The caller searches nonces for the current Work outside the engine's
// goroutine and hands a solution back through Mined.
type Miner interface {
	// Mining returns the header to mine now and its generation; ok is
	// false when there is nothing to mine. The generation changes with
	// every new header: a search for an older one is wasted.
	Mining() (gen uint64, header [block.HeaderLen]byte, difficulty uint8, ok bool)
	// Mined hands back a nonce found for generation gen. A stale
	// generation is ignored.
	Mined(gen, nonce uint64)
}

// EntryState is where an entry stands (GET /entries/{id}).
type EntryState struct {
	// State is "pending" (waiting for a block), "confirmed" (in a block
	// of the best chain) or "unknown".
	State string `json:"state"`
	// Index is the block holding the entry, when confirmed.
	Index uint64 `json:"index,omitempty"`
	// Confirmations counts that block and the blocks above it.
	Confirmations uint64 `json:"confirmations,omitempty"`
}

// Entries is implemented by engines whose writes are entries with ids that
// can be submitted without waiting (pow).
type Entries interface {
	// Submit queues entries as one group and returns their ids at once.
	Submit(data []string) ([]string, error)
	// Entry reports where the entry with this id stands.
	Entry(id string) (EntryState, error)
}

// WriteError is the answer to a write that was not committed in time.
type WriteError struct {
	// MayCommit is true when the write reached the network and may still
	// be committed after the error was reported.
	MayCommit bool
	Cause     error
	// Mined says the write waits for a block to be mined (pow), not for
	// a majority: the message says so.
	Mined bool
}

func (e *WriteError) Error() string {
	if e.Mined {
		return fmt.Sprintf("the write was not in a block of the best chain in time (%v); it stays pending and may still be committed later", e.Cause)
	}
	if e.MayCommit {
		return fmt.Sprintf("no majority committed the write in time (%v); it may still be committed later", e.Cause)
	}
	return fmt.Sprintf("no majority committed the write in time (%v); it was not accepted by any leader and will not be committed", e.Cause)
}

func (e *WriteError) Unwrap() error { return e.Cause }

// MayStillCommit reports whether the write may be committed after this error.
func (e *WriteError) MayStillCommit() bool { return e.MayCommit }
