// Package vote is the majority-vote consensus engine: go.etcd.io/raft/v3
// orders proposed data, and every member turns each committed entry into
// the original's blocks (sha256 of the previous hash and the data).
//
// Because every member applies the same log in the same order, and a block
// is a pure function of its predecessor and its data, every member builds
// the same chain: it cannot fork. A write is acknowledged only once raft
// has committed it, that is once a strict majority of voters stored it.
//
// The engine is a synchronous state machine over raft.RawNode; it never
// starts goroutines, reads clocks or touches the network. Its store
// writes for raft (log, hard state, applied blocks) are handed to the
// caller as Ready.Persist and reported back through Durable (durable.go);
// only the rare writes of catch-ups, merges and new incarnations are
// made by the engine itself, synchronously.
package vote
