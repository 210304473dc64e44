// Package chain owns the best chain of a node: it checks every block against
// the rules of package block before it reaches the store, builds the next
// block from agreed data, and re-validates what is stored for health.
//
// It also gives what a fork repair needs, as btcd does: a block locator
// and the fork point a peer's locator shares with us (locator.go), reorgs
// planned without writing and then applied in one batch (reorg.go), and
// events for every block connected to or disconnected from the chain
// (events.go), published without ever waiting for a subscriber.
//
// The chain never calls the network and never decides what is agreed or
// which branch is better: the consensus engine hands it data that is
// already final, or a branch it has chosen.
package chain
