// Package driver carries out a consensus engine's Ready: it is the one
// piece of code between an engine and its runtime, used alike by the node
// (internal/node), the deterministic simulation (internal/simnet) and the
// fill command, so that simnet's seeded schedules run the node's code.
//
// A Driver answers the proposals and read barriers its owner hands it when
// the engine resolves them (or fails them on the engine's fatal error, on
// a deadline, or when the owner stops), sends the engine's messages through
// Links, greets the engine with the connected peers when they change and
// every few ticks, hands a miner the engine's current work, reports
// membership changes, and applies the store writes the engine asks for
// (Ready.Persist) with chain.WriteAsync, telling the engine through
// Durable, in order, when each is on disk (a write the chain refuses
// outright is told at once: it never reached the chain).
//
// A Driver is synchronous: every method is called from its owner's one
// goroutine, the one that owns the engine. It never starts a goroutine,
// never reads a clock (time is the owner's Tick) and never waits for the
// disk's flush (only a store's full queue of batches can hold WriteAsync):
// a store write's completion, which arrives on the store's goroutine, only
// queues it and calls the owner's Wake. It never decides what a message
// means nor punishes a peer: Step returns the engine's verdict to the
// owner, which keeps the scores.
package driver
