// Package legacy speaks the original PyNaive Chain wire protocol, so that a
// naivechain node can exchange messages with Python nodes.
//
// The protocol is the original's, byte for byte: every message opens a new
// WebSocket connection (no subprotocol), sends one text frame holding a JSON
// object written in Python's default json.dumps style (", " and ": "
// separators, keys in insertion order, ensure_ascii), reads one text reply
// ("ACK", "KCA" or a small JSON object) and closes. Encode and Decode are the
// codec, Send and Server the two ends of an exchange (Server within Limits
// that bound what all its connections hold at once), and FakePeer is an
// in-memory Python node for tests of other packages.
//
// The package must never carry native-only data: no votes, terms, signatures,
// HTTP ports or any field the original does not know. A Python node cannot
// read them, and anything it cannot read it silently drops or crashes on.
// Native naivechain nodes talk to each other with internal/wire and
// internal/p2p, never with this package.
package legacy
