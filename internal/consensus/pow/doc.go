// Package pow is the proof-of-work engine: strangers agree on one chain by
// following the branch with the most cumulative work (Bitcoin's rule, with
// naivecoin's accumulated difficulty instead of length).
//
// Writes are entries. A node keeps the entries it hears of in a bounded
// mempool, gossips them to its peers and, when it mines, batches them into
// a block whose header commits to them (block.EntriesRoot). A write is
// answered once its entry is in a block on the best chain.
//
// Like every consensus engine the package is a synchronous state machine:
// it never starts a goroutine, never reads the clock (Config.Now is
// injected) and never touches the network. The search for a nonce is done
// by the caller (Search) on the Work the engine hands out, and its answer
// comes back through Mined. Its store writes go through the chain, or,
// with Config.HandOff, to its caller as Ready.Persist.
package pow
