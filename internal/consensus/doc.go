// Package consensus defines Engine, the one interface through which a node
// gets data agreed by its peers and turned into blocks, the optional
// abilities an engine may have beyond it (optional.go), and Factory, by
// which the command line builds one. Engines live in sub-packages: vote
// (majority agreement on go.etcd.io/raft/v3) and pow (proof of work).
//
// An engine is a synchronous state machine in the style of raft's RawNode:
// the caller feeds it ticks, peer messages and proposals from a single
// goroutine and carries out the Ready it returns (package driver does, for
// the node, the simulation and the fill command). An engine never starts a
// goroutine, never reads a clock, never touches the network and never waits
// for its disk: it hands its store writes out in Ready.Persist and hears
// through Durable when they are on disk. That is what lets package simnet
// run many of them deterministically.
package consensus
