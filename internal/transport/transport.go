// Package transport defines Transport, the seam between a node's runtime and
// the links that carry consensus messages between authenticated nodes.
// Package p2p implements it over WebSocket; Memory, in this package, is an
// in-memory network of transports that tests and simulations build
// clusters on, with no socket and no clock.
//
// A transport never decides what a message means: it hands payloads from a
// peer that proved its id to whoever reads Inbound, and sends payloads to
// a peer it has a link with.
package transport

// Message is one consensus payload received from the authenticated peer
// with node id From.
type Message struct {
	From    string
	Payload []byte
}

// Transport carries consensus payloads between this node and its peers.
type Transport interface {
	// Send queues payload for the peer with node id to. It never blocks:
	// without a link to that peer, or with its queue full, the payload is
	// dropped (consensus tolerates loss).
	Send(to string, payload []byte)
	// Peers returns the node ids of the peers with a link now, sorted.
	Peers() []string
	// Inbound delivers the payloads peers sent. It is closed when the
	// transport stops.
	Inbound() <-chan Message
	// Penalize records a fault of peer (a message its engine refused);
	// score adds up towards a ban. It reports whether the peer is now
	// banned and cut off.
	Penalize(peer string, score int, reason string) (banned bool)
}
