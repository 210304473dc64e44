// Package p2p owns the peer connections of one node: WebSocket transport,
// the handshake, one reader and one writer goroutine per connection, the
// table of known peers, gossip discovery and redialing.
//
// A Host speaks the native protocol of package wire. It delivers Consensus
// messages to its owner through Inbound and handles everything else (Hello,
// Ping, Peers, Reject) itself. The owner judges what a peer sent and
// penalises it (Penalize); the Host keeps the scores and refuses banned
// peers.
//
// What it must never do: import chain, consensus, store or node (it moves
// opaque messages and knows nothing of blocks); block a caller on a slow
// peer (outbound queues are bounded and drop); wait on the network without a
// deadline; let strangers hold more connections or handshakes than its
// bounds, or make it dial an address at more than a bounded rate (see
// limits.go and dialer.go); or leave a goroutine running after Run or
// Close returns.
package p2p
