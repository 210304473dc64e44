package legacy

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/naivechain/naivechain/internal/block"
)

const (
	idB = "be809443-c21f-4130-9ba8-b18a8f6e7e56"
	idC = "3f1e0c52-7a4b-4d7e-9c1a-2b6f8e9d0a11"
)

// The README's second block.
var testingStringAgain = block.Block{
	Index:        1,
	PreviousHash: block.GenesisHash,
	Data:         `"Testing String Again"`,
	CurrHash:     "c8a8924ed4d8c58638b9f4fcbb7609bb0edb4a509d1514246a04ebba680d5a1f",
}

// goldens are the frames the original writes, as Python 3's json.dumps
// prints them for the dicts the original builds.
var goldens = []struct {
	name  string
	msg   Message
	frame string
}{
	{
		"join",
		Join{PeerID: idB, PeerHost: "0.0.0.0", PeerPort: "9803"},
		`{"CMD": "NEW_PEER_JOIN", "peer_id": "be809443-c21f-4130-9ba8-b18a8f6e7e56", "peer_host": "0.0.0.0", "peer_port": "9803"}`,
	},
	{
		"add peer",
		AddPeer{PeerID: idB, PeerHost: "0.0.0.0", PeerPort: "9803"},
		`{"CMD": "ADD_PEER", "peer_id": "be809443-c21f-4130-9ba8-b18a8f6e7e56", "peer_host": "0.0.0.0", "peer_port": "9803"}`,
	},
	{
		"upload of the README's chain",
		DataUpload{
			Peers:  []Peer{{ID: idC, Host: "0.0.0.0", Port: "9802"}},
			Blocks: []block.Block{block.Genesis(), testingStringAgain},
		},
		`{"CMD": "NEW_JOIN_DATA_UPLOAD", "peer_list": [{"peer": "3f1e0c52-7a4b-4d7e-9c1a-2b6f8e9d0a11", "host": "0.0.0.0", "port": "9802"}], "data_list": [{"index": 0, "previous_hash": "ioiiiuasyi891qbduquiuqwiqwiupwe", "data": "\"random\"", "curr_hash": "71fbc6a1c90d94050b32ab9f9d6a11fc41724f8f954905c120c4c16b71f1f80f"}, {"index": 1, "previous_hash": "71fbc6a1c90d94050b32ab9f9d6a11fc41724f8f954905c120c4c16b71f1f80f", "data": "\"Testing String Again\"", "curr_hash": "c8a8924ed4d8c58638b9f4fcbb7609bb0edb4a509d1514246a04ebba680d5a1f"}]}`,
	},
	{
		"upload without peers",
		DataUpload{Blocks: []block.Block{block.Genesis()}},
		`{"CMD": "NEW_JOIN_DATA_UPLOAD", "peer_list": [], "data_list": [{"index": 0, "previous_hash": "ioiiiuasyi891qbduquiuqwiqwiupwe", "data": "\"random\"", "curr_hash": "71fbc6a1c90d94050b32ab9f9d6a11fc41724f8f954905c120c4c16b71f1f80f"}]}`,
	},
	{
		"validate non-ASCII data",
		Validate{Block: block.Next(block.Genesis(), `"h\u00e9llo \u20ac\ud83d\ude00"`)},
		`{"CMD": "VALIDATE_BLOCK", "block_data": {"index": 1, "previous_hash": "71fbc6a1c90d94050b32ab9f9d6a11fc41724f8f954905c120c4c16b71f1f80f", "data": "\"h\\u00e9llo \\u20ac\\ud83d\\ude00\"", "curr_hash": "40701f54b84d8529deacd7d8450a73d5e9acd2e7ebc65dc4c985568b3e73a8c5"}}`,
	},
	{
		"validate raw non-ASCII in a block string",
		Validate{Block: block.Block{Index: 7, PreviousHash: "p", Data: "é\n\"", CurrHash: "c"}},
		`{"CMD": "VALIDATE_BLOCK", "block_data": {"index": 7, "previous_hash": "p", "data": "\u00e9\n\"", "curr_hash": "c"}}`,
	},
	{
		"add block x",
		AddBlock{Value: json.RawMessage(`"x"`)},
		`{"CMD": "ADD_BLOCK", "data": "x"}`,
	},
	{
		"add block of the README's value",
		AddBlock{Value: json.RawMessage(`"Testing String Again"`)},
		`{"CMD": "ADD_BLOCK", "data": "Testing String Again"}`,
	},
	{
		"add block of an object",
		AddBlock{Value: json.RawMessage(`{"a": [1, "\u00e9", null, true], "b": {}}`)},
		`{"CMD": "ADD_BLOCK", "data": {"a": [1, "\u00e9", null, true], "b": {}}}`,
	},
	{"ping", Ping{}, `{"CMD": "PING"}`},
	{
		"block without CMD",
		Other{Block: &testingStringAgain},
		`{"index": 1, "previous_hash": "71fbc6a1c90d94050b32ab9f9d6a11fc41724f8f954905c120c4c16b71f1f80f", "data": "\"Testing String Again\"", "curr_hash": "c8a8924ed4d8c58638b9f4fcbb7609bb0edb4a509d1514246a04ebba680d5a1f"}`,
	},
	{"empty object", Other{}, `{}`},
}

func TestGoldenFrames(t *testing.T) {
	for _, g := range goldens {
		t.Run(g.name, func(t *testing.T) {
			if got := string(Encode(g.msg)); got != g.frame {
				t.Errorf("Encode:\n got %s\nwant %s", got, g.frame)
			}
			m, err := Decode([]byte(g.frame))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(m, g.msg) {
				t.Errorf("Decode = %#v, want %#v", m, g.msg)
			}
		})
	}
}

func TestGoldenUploadChainIsValid(t *testing.T) {
	if err := block.CheckChain([]block.Block{block.Genesis(), testingStringAgain}); err != nil {
		t.Fatal(err)
	}
	if got := block.Next(block.Genesis(), `"Testing String Again"`); got != testingStringAgain {
		t.Fatalf("Next = %+v", got)
	}
}

// TestDecodeAccepts covers input the original may send that Encode never
// writes: numeric ports, other spacing, raw UTF-8, extra keys.
func TestDecodeAccepts(t *testing.T) {
	cases := []struct {
		name  string
		frame string
		want  Message
	}{
		{"numeric port", `{"CMD": "NEW_PEER_JOIN", "peer_id": "b", "peer_host": "0.0.0.0", "peer_port": 9803}`,
			Join{PeerID: "b", PeerHost: "0.0.0.0", PeerPort: "9803"}},
		{"numeric port in add peer", `{"CMD":"ADD_PEER","peer_id":"b","peer_host":"::1","peer_port":1}`,
			AddPeer{PeerID: "b", PeerHost: "::1", PeerPort: "1"}},
		{"port with leading zero", `{"CMD": "ADD_PEER", "peer_id": "b", "peer_host": "h", "peer_port": "065535"}`,
			AddPeer{PeerID: "b", PeerHost: "h", PeerPort: "65535"}},
		{"numeric ports in an upload", `{"CMD": "NEW_JOIN_DATA_UPLOAD", "peer_list": [{"peer": "c", "host": "0.0.0.0", "port": 9802}], "data_list": []}`,
			DataUpload{Peers: []Peer{{ID: "c", Host: "0.0.0.0", Port: "9802"}}}},
		{"extra keys", `{"CMD": "PING", "x": [1, 2]}`, Ping{}},
		{"whitespace", " \n{\"CMD\" : \"PING\"}\n", Ping{}},
		{"raw UTF-8 value", `{"CMD": "ADD_BLOCK", "data": "é"}`, AddBlock{Value: json.RawMessage(`"\u00e9"`)}},
		{"compact object value", `{"CMD": "ADD_BLOCK", "data": {"k":[1,2]}}`, AddBlock{Value: json.RawMessage(`{"k": [1, 2]}`)}},
		{"number value", `{"CMD": "ADD_BLOCK", "data": 123}`, AddBlock{Value: json.RawMessage(`123`)}},
		{"last duplicate wins", `{"CMD": "ADD_BLOCK", "data": 1, "data": 2}`, AddBlock{Value: json.RawMessage(`2`)}},
		{"unknown CMD", `{"CMD": "PONG"}`, Other{}},
		{"CMD not a string", `{"CMD": 5, "peer_id": "b"}`, Other{}},
		{"keys are case-sensitive", `{"cmd": "PING"}`, Other{}},
		{"not quite a block", `{"index": 1, "data": "x"}`, Other{}},
		{"a proof-of-work block without CMD", `{"index": 1, "previous_hash": "p", "data": "d", "curr_hash": "c", "timestamp": 1, "nonce": 0, "difficulty": 8}`, Other{}},
		{"compact block", `{"index":0,"previous_hash":"ioiiiuasyi891qbduquiuqwiqwiupwe","data":"\"random\"","curr_hash":"71fbc6a1c90d94050b32ab9f9d6a11fc41724f8f954905c120c4c16b71f1f80f"}`,
			Other{Block: &[]block.Block{block.Genesis()}[0]}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Decode([]byte(c.frame))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(m, c.want) {
				t.Fatalf("Decode = %#v, want %#v", m, c.want)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	join := func(id, host, port string) string {
		return `{"CMD": "NEW_PEER_JOIN", "peer_id": ` + id + `, "peer_host": ` + host + `, "peer_port": ` + port + `}`
	}
	validate := func(b string) string { return `{"CMD": "VALIDATE_BLOCK", "block_data": ` + b + `}` }
	blk := func(index, data string) string {
		return `{"index": ` + index + `, "previous_hash": "p", "data": ` + data + `, "curr_hash": "c"}`
	}
	cases := map[string]string{
		"empty":               ``,
		"not JSON":            `ACK`,
		"array":               `[]`,
		"null":                `null`,
		"string":              `"PING"`,
		"two objects":         `{} {}`,
		"truncated":           `{"CMD": "PING"`,
		"not UTF-8":           "{\"CMD\": \"PING\", \"x\": \"\xff\"}",
		"not UTF-8 in a key":  "{\"CMD\": \"PING\", \"\xfe\": 1}",
		"not UTF-8 in data":   "{\"CMD\": \"ADD_BLOCK\", \"data\": {\"a\": \"\xc3\"}}",
		"lone surrogate":      `{"CMD": "ADD_BLOCK", "data": {"k": ["\ud800"]}}`,
		"surrogate in a key":  `{"CMD": "ADD_BLOCK", "data": {"\udc00": 1}}`,
		"surrogate in hash":   validate(`{"index": 1, "previous_hash": "p\ud83d", "data": "d", "curr_hash": "c"}`),
		"surrogate in upload": `{"CMD": "NEW_JOIN_DATA_UPLOAD", "peer_list": [], "data_list": [` + blk(`1`, `"\udfff"`) + `]}`,
		"join without id":     `{"CMD": "NEW_PEER_JOIN", "peer_host": "0.0.0.0", "peer_port": "1"}`,
		"join without host":   `{"CMD": "NEW_PEER_JOIN", "peer_id": "b", "peer_port": "1"}`,
		"join without port":   `{"CMD": "NEW_PEER_JOIN", "peer_id": "b", "peer_host": "h"}`,
		"id empty":            join(`""`, `"h"`, `"1"`),
		"id too long":         join(`"`+strings.Repeat("a", 65)+`"`, `"h"`, `"1"`),
		"id with a slash":     join(`"a/b"`, `"h"`, `"1"`),
		"id a number":         join(`5`, `"h"`, `"1"`),
		"id null":             join(`null`, `"h"`, `"1"`),
		"host empty":          join(`"b"`, `""`, `"1"`),
		"host with a space":   join(`"b"`, `"a b"`, `"1"`),
		"host with a newline": join(`"b"`, `"a\nb"`, `"1"`),
		"host too long":       join(`"b"`, `"`+strings.Repeat("h", 254)+`"`, `"1"`),
		"port 0":              join(`"b"`, `"h"`, `"0"`),
		"port 65536":          join(`"b"`, `"h"`, `65536`),
		"port negative":       join(`"b"`, `"h"`, `-1`),
		"port fraction":       join(`"b"`, `"h"`, `80.0`),
		"port exponent":       join(`"b"`, `"h"`, `8e1`),
		"port letters":        join(`"b"`, `"h"`, `"80a"`),
		"port signed":         join(`"b"`, `"h"`, `"+80"`),
		"port null":           join(`"b"`, `"h"`, `null`),
		"port empty":          join(`"b"`, `"h"`, `""`),
		"add peer bad id":     `{"CMD": "ADD_PEER", "peer_id": "é", "peer_host": "h", "peer_port": "1"}`,
		"upload no peers":     `{"CMD": "NEW_JOIN_DATA_UPLOAD", "data_list": []}`,
		"upload no blocks":    `{"CMD": "NEW_JOIN_DATA_UPLOAD", "peer_list": []}`,
		"upload peers null":   `{"CMD": "NEW_JOIN_DATA_UPLOAD", "peer_list": null, "data_list": []}`,
		"upload peers object": `{"CMD": "NEW_JOIN_DATA_UPLOAD", "peer_list": {}, "data_list": []}`,
		"upload peer string":  `{"CMD": "NEW_JOIN_DATA_UPLOAD", "peer_list": ["c"], "data_list": []}`,
		"upload peer no port": `{"CMD": "NEW_JOIN_DATA_UPLOAD", "peer_list": [{"peer": "c", "host": "h"}], "data_list": []}`,
		"upload block list":   `{"CMD": "NEW_JOIN_DATA_UPLOAD", "peer_list": [], "data_list": [[0, "p", "d", "c"]]}`,
		"upload bad block":    `{"CMD": "NEW_JOIN_DATA_UPLOAD", "peer_list": [], "data_list": [` + blk(`-1`, `"d"`) + `]}`,
		"validate no block":   `{"CMD": "VALIDATE_BLOCK"}`,
		"validate null":       validate(`null`),
		"index negative":      validate(blk(`-1`, `"d"`)),
		"index fraction":      validate(blk(`1.5`, `"d"`)),
		"index exponent":      validate(blk(`1e2`, `"d"`)),
		"index string":        validate(blk(`"1"`, `"d"`)),
		"index too large":     validate(blk(`18446744073709551616`, `"d"`)),
		"data not a string":   validate(blk(`1`, `{"a": 1}`)),
		"data too long":       validate(blk(`1`, `"`+strings.Repeat("d", block.MaxDataLen+1)+`"`)),
		"hash a number":       validate(`{"index": 1, "previous_hash": "p", "data": "d", "curr_hash": 5}`),
		"hash missing":        validate(`{"index": 1, "previous_hash": "p", "data": "d"}`),
		"a PoW block":         validate(`{"index": 1, "previous_hash": "p", "data": "d", "curr_hash": "c", "timestamp": 1, "nonce": 2, "difficulty": 8}`),
		"a nonce of 0":        validate(`{"index": 1, "previous_hash": "p", "data": "d", "curr_hash": "c", "nonce": 0}`),
		"a null difficulty":   validate(`{"index": 1, "previous_hash": "p", "data": "d", "curr_hash": "c", "difficulty": null}`),
		"upload a PoW block":  `{"CMD": "NEW_JOIN_DATA_UPLOAD", "peer_list": [], "data_list": [{"index": 1, "previous_hash": "p", "data": "d", "curr_hash": "c", "timestamp": 5}]}`,
		"add block no data":   `{"CMD": "ADD_BLOCK"}`,
		"add block too long":  `{"CMD": "ADD_BLOCK", "data": "` + strings.Repeat("d", block.MaxDataLen) + `"}`,
		"too large":           `{"CMD": "PING", "x": "` + strings.Repeat(" ", MaxFrame) + `"}`,
	}
	for name, frame := range cases {
		t.Run(name, func(t *testing.T) {
			m, err := Decode([]byte(frame))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode = %#v, %v; want ErrMalformed", m, err)
			}
		})
	}
}

func TestNewAddBlock(t *testing.T) {
	m, err := NewAddBlock(json.RawMessage(` {"é":[1,2]} `))
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Value) != `{"\u00e9": [1, 2]}` {
		t.Fatalf("Value = %s", m.Value)
	}
	if _, err := NewAddBlock(json.RawMessage(`{`)); !errors.Is(err, block.ErrBadData) {
		t.Fatalf("err = %v, want block.ErrBadData", err)
	}
}

func TestEncodePanicsOnInvalidValue(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	Encode(AddBlock{Value: json.RawMessage(`{`)})
}

// powBlock is a proof-of-work block on genesis (unmined: the codec does
// not judge work).
var powBlock = block.Block{Index: 1, PreviousHash: block.GenesisHash, Data: `["\"x\""]`,
	CurrHash: strings.Repeat("0", 64), Timestamp: 1_700_000_000_000, Difficulty: block.MinDifficulty}

// TestEncodeRefusesPoW: the original protocol has room for four block
// fields only, so a message holding a proof-of-work block is refused
// (checkClassic, and Send) and Encode panics rather than write another
// block.
func TestEncodeRefusesPoW(t *testing.T) {
	pow := powBlock
	nonceOnly := testingStringAgain
	nonceOnly.Nonce = 1
	for _, m := range []Message{
		Validate{Block: pow},
		Validate{Block: nonceOnly},
		DataUpload{Blocks: []block.Block{block.Genesis(), pow}},
		Other{Block: &pow},
	} {
		if err := checkClassic(m); !errors.Is(err, ErrPoWBlock) {
			t.Errorf("checkClassic(%#v) = %v, want ErrPoWBlock", m, err)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Encode(%#v) did not panic", m)
				}
			}()
			Encode(m)
		}()
	}
	for _, g := range goldens {
		if err := checkClassic(g.msg); err != nil {
			t.Errorf("checkClassic(%s) = %v", g.name, err)
		}
	}
	// What Decode reads of a PoW block's JSON is never a block.
	raw, err := json.Marshal(pow)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := Decode(raw); err != nil || !reflect.DeepEqual(m, Other{}) {
		t.Fatalf("Decode(%s) = %#v, %v; want Other without a block", raw, m, err)
	}
	if m, err := Decode([]byte(`{"CMD": "VALIDATE_BLOCK", "block_data": ` + string(raw) + `}`)); !errors.Is(err, ErrMalformed) || !errors.Is(err, ErrPoWBlock) {
		t.Fatalf("Decode of a VALIDATE_BLOCK of a PoW block = %#v, %v", m, err)
	}
}

func TestCommand(t *testing.T) {
	want := map[string]Message{
		"NEW_PEER_JOIN": Join{}, "ADD_PEER": AddPeer{}, "NEW_JOIN_DATA_UPLOAD": DataUpload{},
		"VALIDATE_BLOCK": Validate{}, "ADD_BLOCK": AddBlock{}, "PING": Ping{}, "": Other{},
	}
	for cmd, m := range want {
		if got := m.Command(); got != cmd {
			t.Errorf("%T.Command() = %q, want %q", m, got, cmd)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, g := range goldens {
		f.Add([]byte(g.frame))
	}
	for _, s := range []string{
		`{"CMD": "NEW_PEER_JOIN", "peer_id": "b", "peer_host": "0.0.0.0", "peer_port": 9803}`,
		`{"CMD": "ADD_BLOCK", "data": {"k":[1.50,-2e10,"\ud800"]}}`,
		`{"CMD": 5}`, `[]`, `{"index": 1}`, `{"CMD": "VALIDATE_BLOCK", "block_data": {"index": 1e2}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		m, err := Decode(frame)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		out := Encode(m)
		for _, c := range out {
			if c >= 0x7f {
				t.Fatalf("Encode(%#v) = %q is not ASCII", m, out)
			}
		}
		again, err := Decode(out)
		if err != nil {
			t.Fatalf("Decode(Encode(%#v)) = %q: %v", m, out, err)
		}
		if !reflect.DeepEqual(again, m) {
			t.Fatalf("round trip: %#v -> %q -> %#v", m, out, again)
		}
		if out2 := Encode(again); string(out2) != string(out) {
			t.Fatalf("Encode not stable: %q then %q", out, out2)
		}
	})
}
