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
// comes back through Mined. It never writes the store itself: the store
// write of each switch of the best chain, and the clean-up New finds to do,
// go to its caller as Ready.Persist, and a proposal is answered only once
// the write holding its entry is Durable.
package pow
