// Package identity holds a node's key pair and what is derived from it: the
// node id, and the self-signed TLS certificate that proves the id to a peer.
//
// Every node has an ed25519 key pair, created once in its data directory.
// Its node id is derived from the public key (IDFromKey) and written in the
// UUID text form of the original's ids, with version 8 (RFC 9562's custom
// version) so that a key-derived id is told apart from the original's random
// version-4 ids. Knowing a node's id is enough to authenticate it: a peer
// proves an id by completing a TLS 1.3 handshake with a certificate whose
// key derives that id (as libp2p's TLS handshake binds a peer id to its
// certificate). The package does no network I/O and starts no goroutine.
package identity
