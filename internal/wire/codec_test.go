package wire

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

const testGenesis = "71fbc6a1c90d94050b32ab9f9d6a11fc41724f8f954905c120c4c16b71f1f80f"

func validHello() *Hello {
	return &Hello{Version: 1, NodeID: "node-1", Host: "127.0.0.1", Port: "15001", HTTPPort: "15002", Genesis: testGenesis, Engine: "vote"}
}

// validMessages returns one valid message of every type, several for some.
func validMessages() []Message {
	many := make([]PeerInfo, MaxPeers)
	for i := range many {
		many[i] = PeerInfo{ID: "n" + strings.Repeat("x", i%60), Host: "example.com", Port: "1"}
	}
	return []Message{
		validHello(),
		&Hello{Version: 7, NodeID: strings.Repeat("a", 64), Host: "::1", Port: "65535", Genesis: testGenesis, Engine: "pow"},
		&Hello{Version: 1, NodeID: "A.b_c-9", Host: "node-2.example.org", Port: "1", Genesis: testGenesis, Engine: "x"},
		&Reject{Reason: "genesis mismatch"},
		&Reject{},
		&Reject{Reason: strings.Repeat("é", MaxReasonLen/2)},
		&Ping{},
		&Peers{},
		&Peers{Peers: []PeerInfo{{ID: "a", Host: "10.0.0.1", Port: "80", HTTPPort: "81"}, {ID: "b", Host: "fe80::1", Port: "443"}}},
		&Peers{Peers: many},
		&Consensus{},
		&Consensus{Payload: []byte{0, 1, 2, 255}},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, m := range validMessages() {
		t.Run(m.Type().String(), func(t *testing.T) {
			b, err := Encode(m)
			if err != nil {
				t.Fatalf("Encode(%+v): %v", m, err)
			}
			if Type(b[0]) != m.Type() {
				t.Fatalf("type byte %d, want %d", b[0], m.Type())
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode(%q): %v", b, err)
			}
			if !reflect.DeepEqual(got, m) {
				t.Fatalf("round trip: got %+v, want %+v", got, m)
			}
		})
	}
}

func TestDecodeDoesNotAlias(t *testing.T) {
	b := []byte{byte(TypeConsensus), 1, 2, 3}
	m, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	b[1] = 9
	if got := m.(*Consensus).Payload; !bytes.Equal(got, []byte{1, 2, 3}) {
		t.Fatalf("payload changed with the input: %v", got)
	}
}

func TestDecodeRejects(t *testing.T) {
	hello := func(f func(h *Hello)) []byte {
		h := validHello()
		f(h)
		return append([]byte{byte(TypeHello)}, mustJSON(t, h)...)
	}
	peers := func(p ...PeerInfo) []byte {
		return append([]byte{byte(TypePeers)}, mustJSON(t, &Peers{Peers: p})...)
	}
	tooMany := make([]PeerInfo, MaxPeers+1)
	for i := range tooMany {
		tooMany[i] = PeerInfo{ID: "a", Host: "h", Port: "1"}
	}
	typed := func(t Type, s string) []byte { return append([]byte{byte(t)}, s...) }
	tests := []struct {
		name string
		in   []byte
		want string // substring of the error
	}{
		{"empty", nil, "empty"},
		{"type zero", []byte{0}, "unknown type 0"},
		{"unknown type", []byte{200, '{', '}'}, "unknown type 200"},
		{"reserved type 6", []byte{6, '{', '}'}, "unknown type 6"},
		{"reserved type 6 empty", []byte{6}, "unknown type 6"},
		{"reserved type 7", []byte{7, '{', '"', 'o', 'k', '"', ':', 't', 'r', 'u', 'e', '}'}, "unknown type 7"},
		{"first unassigned type", []byte{8, '{', '}'}, "unknown type 8"},
		{"over size", append([]byte{byte(TypeConsensus)}, make([]byte, MaxMessageSize)...), "more than"},
		{"ping with payload", []byte{byte(TypePing), 0}, "trailing"},
		{"no payload", []byte{byte(TypeReject)}, "not a JSON object"},
		{"json array", typed(TypeReject, `[]`), "not a JSON object"},
		{"bad json", typed(TypeReject, `{"reason":`), "bad JSON"},
		{"wrong json type", typed(TypeReject, `{"reason":5}`), "bad JSON"},
		{"not UTF-8", typed(TypeReject, "{\"reason\":\"\xff\"}"), "not valid UTF-8"},
		{"not UTF-8 in a key", typed(TypeReject, "{\"reason\":\"x\",\"\xfe\":1}"), "not valid UTF-8"},
		{"unpaired surrogate", typed(TypeReject, `{"reason":"\ud800"}`), "unpaired surrogate"},
		{"trailing data", typed(TypeReject, `{"reason":"x"}x`), "trailing"},
		{"second object", typed(TypeReject, `{} {}`), "trailing"},
		{"reason too long", typed(TypeReject, `{"reason":"`+strings.Repeat("r", MaxReasonLen+1)+`"}`), "reason"},
		{"version zero", hello(func(h *Hello) { h.Version = 0 }), "version"},
		{"version negative", hello(func(h *Hello) { h.Version = -1 }), "version"},
		{"node id empty", hello(func(h *Hello) { h.NodeID = "" }), "node_id"},
		{"node id too long", hello(func(h *Hello) { h.NodeID = strings.Repeat("a", 65) }), "node_id"},
		{"node id slash", hello(func(h *Hello) { h.NodeID = "a/b" }), "node_id"},
		{"node id space", hello(func(h *Hello) { h.NodeID = "a b" }), "node_id"},
		{"host empty", hello(func(h *Hello) { h.Host = "" }), "host"},
		{"host space", hello(func(h *Hello) { h.Host = "a b" }), "host"},
		{"host control", hello(func(h *Hello) { h.Host = "a\nb" }), "host"},
		{"host brackets", hello(func(h *Hello) { h.Host = "[::1]" }), "host"},
		{"host with port", hello(func(h *Hello) { h.Host = "a.com:80" }), "host"},
		{"host too long", hello(func(h *Hello) { h.Host = strings.Repeat("a.", 127) }), "host"},
		{"host long label", hello(func(h *Hello) { h.Host = strings.Repeat("a", 64) }), "host"},
		{"host empty label", hello(func(h *Hello) { h.Host = "a..b" }), "host"},
		{"host dash label", hello(func(h *Hello) { h.Host = "-a.b" }), "host"},
		{"host non ascii", hello(func(h *Hello) { h.Host = "ä.com" }), "host"},
		{"port empty", hello(func(h *Hello) { h.Port = "" }), "port"},
		{"port zero", hello(func(h *Hello) { h.Port = "0" }), "port"},
		{"port leading zero", hello(func(h *Hello) { h.Port = "080" }), "port"},
		{"port too big", hello(func(h *Hello) { h.Port = "65536" }), "port"},
		{"port sign", hello(func(h *Hello) { h.Port = "+80" }), "port"},
		{"port hex", hello(func(h *Hello) { h.Port = "0x50" }), "port"},
		{"http port bad", hello(func(h *Hello) { h.HTTPPort = "99999" }), "http_port"},
		{"genesis short", hello(func(h *Hello) { h.Genesis = "abc" }), "genesis"},
		{"genesis upper", hello(func(h *Hello) { h.Genesis = strings.ToUpper(testGenesis) }), "genesis"},
		{"genesis not hex", hello(func(h *Hello) { h.Genesis = strings.Repeat("g", 64) }), "genesis"},
		{"engine empty", hello(func(h *Hello) { h.Engine = "" }), "engine"},
		{"engine too long", hello(func(h *Hello) { h.Engine = strings.Repeat("e", MaxEngineLen+1) }), "engine"},
		{"peers too many", peers(tooMany...), "entries"},
		{"peers bad entry", peers(PeerInfo{ID: "a", Host: "h", Port: "1"}, PeerInfo{ID: "", Host: "h", Port: "1"}), "peers[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Decode(tt.in)
			if err == nil {
				t.Fatalf("Decode accepted %q as %+v", trunc(tt.in), m)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			var me *MalformedError
			if !errors.As(err, &me) {
				t.Fatalf("error %v is not a *MalformedError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestEncodeRefusesInvalid(t *testing.T) {
	h := validHello()
	h.Port = "0"
	if _, err := Encode(h); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Encode(invalid hello) = %v, want ErrMalformed", err)
	}
	if _, err := Encode(nil); err == nil {
		t.Fatal("Encode(nil) succeeded")
	}
	if _, err := Encode(&Consensus{Payload: make([]byte, MaxMessageSize)}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Encode(over-size) = %v, want ErrMalformed", err)
	}
}

func TestValidateHost(t *testing.T) {
	for _, h := range []string{"localhost", "127.0.0.1", "::1", "2001:db8::8a2e:370:7334", "fe80::1%eth0", "node_1.internal", "a", "xn--bcher-kva.example", strings.Repeat("a", 63)} {
		if err := ValidateHost(h); err != nil {
			t.Errorf("ValidateHost(%q) = %v, want nil", h, err)
		}
	}
}

func TestFieldErrorIsReachable(t *testing.T) {
	_, err := Decode(append([]byte{byte(TypePeers)}, `{"peers":[{"id":"a","host":"h","port":"x"}]}`...))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "peers[0]" {
		t.Fatalf("errors.As(%v, *FieldError) = %v, field %+v", err, errors.As(err, &fe), fe)
	}
}

func TestTypeString(t *testing.T) {
	if got := TypeConsensus.String(); got != "Consensus" {
		t.Errorf("String() = %q", got)
	}
	for _, reserved := range []Type{6, 7} {
		if got, want := reserved.String(), fmt.Sprintf("Type(%d)", reserved); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
	if got := Type(99).String(); got != "Type(99)" {
		t.Errorf("String() = %q", got)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := marshalJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func trunc(b []byte) []byte {
	if len(b) > 80 {
		return b[:80]
	}
	return b
}
