package legacy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/naivechain/naivechain/internal/block"
)

// Replies a receiver sends back, as bare text frames.
const (
	// ReplyACK accepts a message.
	ReplyACK = "ACK"
	// ReplyKCA refuses a message: a block that does not validate, or a frame
	// that cannot be read.
	ReplyKCA = "KCA"
	// ReplyPONG answers a Ping. The original's reply to PING is broken; this
	// is the reply it means to send.
	ReplyPONG = `{"CMD": "PONG"}`
)

// Timeout bounds one exchange (dial, send, reply), as the original's client
// does.
const Timeout = 10 * time.Second

// MaxFrame bounds one received frame: 4 MiB. It holds any message of one
// block (a block's data of block.MaxDataLen bytes is at most twice as long
// once escaped in a frame) and an upload of about 20,000 blocks of short
// data. The original's own server (Python's websockets) refuses frames over
// 1 MiB, so no Python node can take a longer upload either.
const MaxFrame = 4 << 20

// Commands, the value of the CMD key of each message.
const (
	CmdJoin       = "NEW_PEER_JOIN"
	CmdDataUpload = "NEW_JOIN_DATA_UPLOAD"
	CmdAddPeer    = "ADD_PEER"
	CmdValidate   = "VALIDATE_BLOCK"
	CmdAddBlock   = "ADD_BLOCK"
	CmdPing       = "PING"
)

// OriginalHost is the host the original announces for itself in every
// message, whatever its address. A receiver replaces it with the address it
// sees.
const OriginalHost = "0.0.0.0"

// Bounds of the identifying fields.
const (
	MaxPeerIDLen = 64
	MaxHostLen   = 253
)

// ErrMalformed reports a frame that is not a message of the protocol: not a
// JSON object, too large, or a known CMD with missing or mistyped fields.
var ErrMalformed = errors.New("legacy: malformed frame")

// ErrPoWBlock reports a proof-of-work block handed to the protocol, which
// has room for the original's four block fields only: writing one would
// send another block, without its timestamp, nonce and difficulty.
var ErrPoWBlock = errors.New("legacy: the original protocol carries classic blocks only")

// powKeys are the keys a proof-of-work block adds to the original's four.
var powKeys = [...]string{"timestamp", "nonce", "difficulty"}

// checkClassic returns ErrPoWBlock when m holds a proof-of-work block
// (block.Block.IsPoW), which Encode cannot write; nil otherwise.
func checkClassic(m Message) error {
	check := func(b block.Block) error {
		if b.IsPoW() {
			return fmt.Errorf("%w: block %d is a proof-of-work block", ErrPoWBlock, b.Index)
		}
		return nil
	}
	switch m := m.(type) {
	case DataUpload:
		for _, b := range m.Blocks {
			if err := check(b); err != nil {
				return err
			}
		}
	case Validate:
		return check(m.Block)
	case Other:
		if m.Block != nil {
			return check(*m.Block)
		}
	}
	return nil
}

// Message is one frame of the protocol: Join, AddPeer, DataUpload, Validate,
// AddBlock, Ping or Other.
type Message interface {
	// Command returns the CMD the message travels under, or "" for Other.
	Command() string
	message()
}

// Peer is one node as the original lists it: its id, host and port. Ports
// travel as decimal strings.
type Peer struct {
	ID   string
	Host string
	Port string
}

// Join (NEW_PEER_JOIN) asks the receiver to take the sender as a peer and to
// answer with a DataUpload on a new connection. The original always sends
// PeerHost "0.0.0.0"; a receiver replaces it with the address it sees.
type Join struct {
	PeerID   string
	PeerHost string
	PeerPort string
}

// AddPeer (ADD_PEER) tells the receiver about the sender, after the sender
// learnt of the receiver from a DataUpload. Its fields are Join's.
type AddPeer struct {
	PeerID   string
	PeerHost string
	PeerPort string
}

// DataUpload (NEW_JOIN_DATA_UPLOAD) gives a joining node the peers of the
// node it joined (except the joiner) and that node's whole chain, oldest
// block first. Decode checks the fields' types only; the receiver must check
// the chain with block.CheckChain.
type DataUpload struct {
	Peers  []Peer
	Blocks []block.Block
}

// Validate (VALIDATE_BLOCK) asks the receiver whether Block extends its tip.
type Validate struct {
	Block block.Block
}

// AddBlock (ADD_BLOCK) tells the receiver to append a block holding Value on
// its own tip. Value is the posted JSON value itself, not its encoding as a
// string: the block's data is block.EncodeData(Value). Decode returns Value
// in that encoding (Python's json.dumps style).
type AddBlock struct {
	Value json.RawMessage
}

// Ping (PING) asks for a ReplyPONG.
type Ping struct{}

// Other is any JSON object without CMD or with a CMD the protocol does not
// know; the original answers ACK to it. When the object is a block without
// CMD, as the original sends after an ADD_BLOCK, Block holds it; otherwise
// Block is nil.
type Other struct {
	Block *block.Block
}

// Command returns "NEW_PEER_JOIN".
func (Join) Command() string { return CmdJoin }

// Command returns "ADD_PEER".
func (AddPeer) Command() string { return CmdAddPeer }

// Command returns "NEW_JOIN_DATA_UPLOAD".
func (DataUpload) Command() string { return CmdDataUpload }

// Command returns "VALIDATE_BLOCK".
func (Validate) Command() string { return CmdValidate }

// Command returns "ADD_BLOCK".
func (AddBlock) Command() string { return CmdAddBlock }

// Command returns "PING".
func (Ping) Command() string { return CmdPing }

// Command returns "": Other travels without a CMD the protocol knows.
func (Other) Command() string { return "" }

func (Join) message()       {}
func (AddPeer) message()    {}
func (DataUpload) message() {}
func (Validate) message()   {}
func (AddBlock) message()   {}
func (Ping) message()       {}
func (Other) message()      {}

// NewAddBlock returns the AddBlock for a posted value, with Value in
// Python's json.dumps style. It fails when value is not one JSON value or
// its encoding is longer than block.MaxDataLen.
func NewAddBlock(value json.RawMessage) (AddBlock, error) {
	data, err := block.EncodeData(value)
	if err != nil {
		return AddBlock{}, err
	}
	return AddBlock{Value: json.RawMessage(data)}, nil
}

// Encode returns m as the original writes it: Python's json.dumps of a dict
// with keys in the original's order, separators ", " and ": ", non-ASCII as
// \uXXXX escapes. It panics when an AddBlock's Value is not one JSON value of
// at most block.MaxDataLen bytes once encoded; NewAddBlock and Decode never
// build such an AddBlock. It also panics when m holds a proof-of-work block
// (checkClassic): Decode never returns one, and Send refuses one with
// ErrPoWBlock before it encodes.
func Encode(m Message) []byte {
	if err := checkClassic(m); err != nil {
		panic(fmt.Sprintf("legacy: Encode: %v", err))
	}
	var sb strings.Builder
	switch m := m.(type) {
	case Join:
		writePeerMessage(&sb, CmdJoin, m.PeerID, m.PeerHost, m.PeerPort)
	case AddPeer:
		writePeerMessage(&sb, CmdAddPeer, m.PeerID, m.PeerHost, m.PeerPort)
	case DataUpload:
		sb.WriteString(`{"CMD": "` + CmdDataUpload + `", "peer_list": [`)
		for i, p := range m.Peers {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(`{"peer": `)
			sb.WriteString(block.PyString(p.ID))
			sb.WriteString(`, "host": `)
			sb.WriteString(block.PyString(p.Host))
			sb.WriteString(`, "port": `)
			sb.WriteString(block.PyString(p.Port))
			sb.WriteByte('}')
		}
		sb.WriteString(`], "data_list": [`)
		for i, b := range m.Blocks {
			if i > 0 {
				sb.WriteString(", ")
			}
			writeBlock(&sb, b)
		}
		sb.WriteString("]}")
	case Validate:
		sb.WriteString(`{"CMD": "` + CmdValidate + `", "block_data": `)
		writeBlock(&sb, m.Block)
		sb.WriteByte('}')
	case AddBlock:
		data, err := block.EncodeData(m.Value)
		if err != nil {
			panic(fmt.Sprintf("legacy: Encode of an AddBlock whose Value is invalid: %v", err))
		}
		sb.WriteString(`{"CMD": "` + CmdAddBlock + `", "data": `)
		sb.WriteString(data)
		sb.WriteByte('}')
	case Ping:
		sb.WriteString(`{"CMD": "` + CmdPing + `"}`)
	case Other:
		if m.Block == nil {
			sb.WriteString("{}")
		} else {
			writeBlock(&sb, *m.Block)
		}
	default:
		panic(fmt.Sprintf("legacy: Encode of unknown message type %T", m))
	}
	return []byte(sb.String())
}

func writePeerMessage(sb *strings.Builder, cmd, id, host, port string) {
	sb.WriteString(`{"CMD": "` + cmd + `", "peer_id": `)
	sb.WriteString(block.PyString(id))
	sb.WriteString(`, "peer_host": `)
	sb.WriteString(block.PyString(host))
	sb.WriteString(`, "peer_port": `)
	sb.WriteString(block.PyString(port))
	sb.WriteByte('}')
}

func writeBlock(sb *strings.Builder, b block.Block) {
	sb.WriteString(`{"index": `)
	sb.WriteString(strconv.FormatUint(b.Index, 10))
	sb.WriteString(`, "previous_hash": `)
	sb.WriteString(block.PyString(b.PreviousHash))
	sb.WriteString(`, "data": `)
	sb.WriteString(block.PyString(b.Data))
	sb.WriteString(`, "curr_hash": `)
	sb.WriteString(block.PyString(b.CurrHash))
	sb.WriteByte('}')
}

// object is a decoded JSON object. As in Python's json.loads, the last of
// duplicate keys wins and keys are case-sensitive.
type object map[string]json.RawMessage

// Decode reads one frame. The frame must be UTF-8, without \u escapes of
// unpaired surrogates, holding one JSON object of
// at most MaxFrame bytes. For a known CMD, the required fields must be present
// with the right types: ids of 1 to 64 bytes of [A-Za-z0-9._-], hosts of 1 to
// 253 bytes without spaces or control characters, ports from 1 to 65535 as
// JSON strings or numbers (returned as decimal strings), blocks with an
// integer index ≥ 0, string hashes and a string data of at most
// block.MaxDataLen bytes. Unknown keys are ignored, as the original does,
// except a proof-of-work block's (timestamp, nonce, difficulty) in a block:
// reading such a block as a classic one would read another block, so it is
// refused (and an object without CMD holding one is an Other without
// Block). Every error wraps ErrMalformed.
func Decode(frame []byte) (Message, error) {
	if len(frame) > MaxFrame {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformed, len(frame), MaxFrame)
	}
	// A frame is checked whole, ignored keys included: a string read with
	// U+FFFD in place of what was sent would be stored, hashed or
	// compared as another one. The original refuses such text too (its
	// server closes on bad UTF-8; its hashing fails on a lone surrogate).
	if err := block.CheckJSONText(frame); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	obj, err := decodeObject(frame)
	if err != nil {
		return nil, err
	}
	raw, ok := obj["CMD"]
	if !ok {
		return decodeOther(obj), nil
	}
	var cmd string
	if raw[0] != '"' || json.Unmarshal(raw, &cmd) != nil {
		// The original compares CMD with strings; anything else falls
		// through.
		return Other{}, nil
	}
	switch cmd {
	case CmdJoin:
		id, host, port, err := decodePeerFields(obj)
		if err != nil {
			return nil, err
		}
		return Join{PeerID: id, PeerHost: host, PeerPort: port}, nil
	case CmdAddPeer:
		id, host, port, err := decodePeerFields(obj)
		if err != nil {
			return nil, err
		}
		return AddPeer{PeerID: id, PeerHost: host, PeerPort: port}, nil
	case CmdDataUpload:
		return decodeDataUpload(obj)
	case CmdValidate:
		raw, ok := obj["block_data"]
		if !ok {
			return nil, missing("block_data")
		}
		b, err := decodeBlock(raw)
		if err != nil {
			return nil, fmt.Errorf("block_data: %w", err)
		}
		return Validate{Block: b}, nil
	case CmdAddBlock:
		raw, ok := obj["data"]
		if !ok {
			return nil, missing("data")
		}
		m, err := NewAddBlock(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: data: %v", ErrMalformed, err)
		}
		return m, nil
	case CmdPing:
		return Ping{}, nil
	default:
		return Other{}, nil
	}
}

func decodeObject(raw []byte) (object, error) {
	trimmed := bytes.TrimLeft(raw, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	var obj object
	if err := json.Unmarshal(trimmed, &obj); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return obj, nil
}

func decodeOther(obj object) Message {
	b, err := blockFromObject(obj)
	if err != nil {
		return Other{}
	}
	return Other{Block: &b}
}

func missing(key string) error {
	return fmt.Errorf("%w: missing %q", ErrMalformed, key)
}

func decodePeerFields(obj object) (id, host, port string, err error) {
	if id, err = peerID(obj, "peer_id"); err != nil {
		return "", "", "", err
	}
	if host, err = peerHost(obj, "peer_host"); err != nil {
		return "", "", "", err
	}
	if port, err = peerPort(obj, "peer_port"); err != nil {
		return "", "", "", err
	}
	return id, host, port, nil
}

func decodeDataUpload(obj object) (Message, error) {
	var m DataUpload
	peers, err := array(obj, "peer_list")
	if err != nil {
		return nil, err
	}
	for i, raw := range peers {
		p, err := decodeObject(raw)
		if err != nil {
			return nil, fmt.Errorf("peer_list[%d]: %w", i, err)
		}
		var peer Peer
		if peer.ID, err = peerID(p, "peer"); err != nil {
			return nil, fmt.Errorf("peer_list[%d]: %w", i, err)
		}
		if peer.Host, err = peerHost(p, "host"); err != nil {
			return nil, fmt.Errorf("peer_list[%d]: %w", i, err)
		}
		if peer.Port, err = peerPort(p, "port"); err != nil {
			return nil, fmt.Errorf("peer_list[%d]: %w", i, err)
		}
		m.Peers = append(m.Peers, peer)
	}
	blocks, err := array(obj, "data_list")
	if err != nil {
		return nil, err
	}
	if len(blocks) > 0 {
		m.Blocks = make([]block.Block, 0, len(blocks))
	}
	for i, raw := range blocks {
		b, err := decodeBlock(raw)
		if err != nil {
			return nil, fmt.Errorf("data_list[%d]: %w", i, err)
		}
		m.Blocks = append(m.Blocks, b)
	}
	return m, nil
}

func array(obj object, key string) ([]json.RawMessage, error) {
	raw, ok := obj[key]
	if !ok {
		return nil, missing(key)
	}
	if raw[0] != '[' {
		return nil, fmt.Errorf("%w: %q is not an array", ErrMalformed, key)
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrMalformed, key, err)
	}
	return elems, nil
}

func decodeBlock(raw json.RawMessage) (block.Block, error) {
	obj, err := decodeObject(raw)
	if err != nil {
		return block.Block{}, err
	}
	return blockFromObject(obj)
}

func blockFromObject(obj object) (b block.Block, err error) {
	for _, k := range powKeys {
		if _, ok := obj[k]; ok {
			return block.Block{}, fmt.Errorf("%w: a block with %q: %w", ErrMalformed, k, ErrPoWBlock)
		}
	}
	rawIndex, ok := obj["index"]
	if !ok {
		return block.Block{}, missing("index")
	}
	if b.Index, err = strconv.ParseUint(string(rawIndex), 10, 64); err != nil || !allDigits(string(rawIndex)) {
		return block.Block{}, fmt.Errorf("%w: index %s is not an integer from 0 to 2^64-1", ErrMalformed, rawIndex)
	}
	if b.PreviousHash, err = str(obj, "previous_hash"); err != nil {
		return block.Block{}, err
	}
	if b.Data, err = str(obj, "data"); err != nil {
		return block.Block{}, err
	}
	if len(b.Data) > block.MaxDataLen {
		return block.Block{}, fmt.Errorf("%w: data is %d bytes, more than %d", ErrMalformed, len(b.Data), block.MaxDataLen)
	}
	if b.CurrHash, err = str(obj, "curr_hash"); err != nil {
		return block.Block{}, err
	}
	return b, nil
}

func str(obj object, key string) (string, error) {
	raw, ok := obj[key]
	if !ok {
		return "", missing(key)
	}
	s, ok := unquote(raw)
	if !ok {
		return "", fmt.Errorf("%w: %q is not a string", ErrMalformed, key)
	}
	return s, nil
}

// unquote returns the string raw holds, if raw is a JSON string. The plain
// strings of the protocol (ids, hashes, ports) skip json.Unmarshal, whose
// per-call allocations would otherwise dominate the cost of decoding an
// upload of many blocks.
func unquote(raw json.RawMessage) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	if body := raw[1 : len(raw)-1]; raw[len(raw)-1] == '"' && bytes.IndexByte(body, '\\') < 0 && bytes.IndexByte(body, '"') < 0 {
		// raw comes from a frame json.Unmarshal accepted: a string
		// without escapes is its own body.
		return string(body), true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

func peerID(obj object, key string) (string, error) {
	id, err := str(obj, key)
	if err != nil {
		return "", err
	}
	if err := ValidatePeerID(id); err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrMalformed, key, err)
	}
	return id, nil
}

func peerHost(obj object, key string) (string, error) {
	host, err := str(obj, key)
	if err != nil {
		return "", err
	}
	if err := ValidateHost(host); err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrMalformed, key, err)
	}
	return host, nil
}

// peerPort accepts a port as a JSON string or number and returns it as a
// decimal string without leading zeros.
func peerPort(obj object, key string) (string, error) {
	raw, ok := obj[key]
	if !ok {
		return "", missing(key)
	}
	s := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("%w: %q: %v", ErrMalformed, key, err)
		}
	}
	n, err := parsePort(s)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrMalformed, key, err)
	}
	return strconv.FormatUint(n, 10), nil
}

func parsePort(s string) (uint64, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || !allDigits(s) || n == 0 {
		return 0, fmt.Errorf("port %q is not an integer from 1 to 65535", s)
	}
	return n, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// ValidatePeerID reports whether id is 1 to 64 bytes of [A-Za-z0-9._-]. The
// original's ids are UUIDs.
func ValidatePeerID(id string) error {
	if id == "" || len(id) > MaxPeerIDLen {
		return fmt.Errorf("id length %d, want 1..%d", len(id), MaxPeerIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("id byte %d is %q, want [A-Za-z0-9._-]", i, c)
		}
	}
	return nil
}

// ValidateHost reports whether h is 1 to 253 bytes of printable ASCII without
// spaces. The original sends "0.0.0.0"; a name or an address is checked when
// it is dialed.
func ValidateHost(h string) error {
	if h == "" || len(h) > MaxHostLen {
		return fmt.Errorf("host length %d, want 1..%d", len(h), MaxHostLen)
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("host byte %d is %q: spaces, control and non-ASCII characters are not allowed", i, c)
		}
	}
	return nil
}

// ValidatePort reports whether p is a decimal port from 1 to 65535.
func ValidatePort(p string) error {
	_, err := parsePort(p)
	return err
}
