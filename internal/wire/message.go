package wire

import "fmt"

// ProtocolVersion is the version of the native protocol this package speaks.
const ProtocolVersion = 2

// Subprotocol is the WebSocket subprotocol name both ends must negotiate.
const Subprotocol = "naivechain.v2"

// MaxMessageSize bounds one encoded message, type byte included.
const MaxMessageSize = 8 << 20

// MaxPeers bounds the entries of one Peers message.
const MaxPeers = 1024

// MaxReasonLen bounds the reason of a Reject, in bytes.
const MaxReasonLen = 1024

// Type is the first byte of every encoded message.
type Type uint8

// Message types. ONLY APPEND TO THIS LIST: the numbers are on the wire, and a
// node of an older version must keep reading the types it knows.
const (
	TypeHello     Type = 1
	TypeReject    Type = 2
	TypePing      Type = 3
	TypePeers     Type = 4
	TypeConsensus Type = 5
	// 6 and 7 are reserved (JoinRequest/JoinResponse of an early draft); never reuse them.
)

var typeNames = map[Type]string{
	TypeHello:     "Hello",
	TypeReject:    "Reject",
	TypePing:      "Ping",
	TypePeers:     "Peers",
	TypeConsensus: "Consensus",
}

// String returns the name of t, or "Type(n)" for an unknown type.
func (t Type) String() string {
	if s, ok := typeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// Message is any message of the protocol.
type Message interface {
	Type() Type
}

// PeerInfo is what a node tells others about a peer: its id and the address
// others dial to reach it. Host is a DNS name, an IPv4 or an IPv6 literal
// (without brackets); Port is the WebSocket port and HTTPPort the HTTP API
// port (empty when unknown), both decimal strings.
type PeerInfo struct {
	ID       string `json:"id"`
	Host     string `json:"host"`
	Port     string `json:"port"`
	HTTPPort string `json:"http_port,omitempty"`
}

// Hello opens a connection: the dialer sends it first and the acceptor
// answers with its own (or a Reject). Genesis is the hash of block 0 and
// Engine the consensus engine ("vote" or "pow"); both must match for two
// nodes to talk.
type Hello struct {
	Version  int    `json:"version"`
	NodeID   string `json:"node_id"`
	Host     string `json:"host"`
	Port     string `json:"port"`
	HTTPPort string `json:"http_port,omitempty"`
	Genesis  string `json:"genesis"`
	Engine   string `json:"engine"`
}

// PeerInfo returns the peer record a Hello announces.
func (m *Hello) PeerInfo() PeerInfo {
	return PeerInfo{ID: m.NodeID, Host: m.Host, Port: m.Port, HTTPPort: m.HTTPPort}
}

// Reject tells the other end why the connection is about to be closed.
type Reject struct {
	Reason string `json:"reason"`
}

// Ping keeps a connection alive. It has no payload; any message received
// counts as a sign of life.
type Ping struct{}

// Peers gossips peer records: the sender itself and the peers it is
// connected to.
type Peers struct {
	Peers []PeerInfo `json:"peers"`
}

// Consensus carries one message of the consensus engine. Its payload is
// opaque to this package.
type Consensus struct {
	Payload []byte
}

// Type implements Message.
func (*Hello) Type() Type { return TypeHello }

// Type implements Message.
func (*Reject) Type() Type { return TypeReject }

// Type implements Message.
func (*Ping) Type() Type { return TypePing }

// Type implements Message.
func (*Peers) Type() Type { return TypePeers }

// Type implements Message.
func (*Consensus) Type() Type { return TypeConsensus }
