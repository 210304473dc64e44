// Package consensus defines Engine, the one interface through which a node
// gets data agreed by its peers and turned into blocks. Engines live in
// sub-packages: vote (majority agreement on go.etcd.io/raft/v3).
//
// An engine is a synchronous state machine in the style of raft's RawNode:
// the caller feeds it ticks, peer messages and proposals from a single
// goroutine and carries out the Ready it returns. An engine never starts a
// goroutine, never reads a clock and never touches the network, which is
// what lets package simnet run many of them deterministically.
package consensus
