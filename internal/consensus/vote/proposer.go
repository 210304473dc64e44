package vote

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
