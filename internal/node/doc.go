// Package node is the runtime of one naivechain node. It owns the
// goroutines and the clock, and wires the chain, the consensus engine, the
// peer-to-peer host and the HTTP API together.
//
// All consensus state is touched by a single event loop (run): ticks, peer
// messages and client writes reach it through bounded channels, and its
// driver (internal/driver, the same code simnet runs) carries out what the
// engine's Ready asks. Everything else (HTTP handlers,
// peer connections) talks to the loop and never to the engine directly.
//
// The node never names an engine's package: Config.Engine builds the
// engine (cmd/naivechain picks vote.Factory or pow.Factory), and what an
// engine has beyond consensus.Engine (mining, entries, reads, admission,
// work statistics, handshake rules, sync state) is asked for through the
// optional interfaces of package consensus.
package node
