package block

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestSeedVectors(t *testing.T) {
	if got := Hash(GenesisPreviousHash, GenesisData); got != GenesisHash {
		t.Fatalf("genesis hash = %s, want %s", got, GenesisHash)
	}
	if got, want := Hash("random_testing_data", `"initial_hash"`), "88458136d3fc2260cc310fa41880c8d7a550c9949807d112a9ff0aed1f258d60"; got != want {
		t.Fatalf("hash = %s, want %s", got, want)
	}
	b := Next(Genesis(), `"Testing String Again"`)
	want := Block{Index: 1, PreviousHash: GenesisHash, Data: `"Testing String Again"`, CurrHash: "c8a8924ed4d8c58638b9f4fcbb7609bb0edb4a509d1514246a04ebba680d5a1f"}
	if b != want {
		t.Fatalf("block 1 = %+v, want %+v", b, want)
	}
	if err := CheckNext(Genesis(), b); err != nil {
		t.Fatal(err)
	}
}

func TestBlockJSONKeyOrder(t *testing.T) {
	raw, err := json.Marshal(Genesis())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"index":0,"previous_hash":"ioiiiuasyi891qbduquiuqwiqwiupwe","data":"\"random\"","curr_hash":"71fbc6a1c90d94050b32ab9f9d6a11fc41724f8f954905c120c4c16b71f1f80f"}`
	if string(raw) != want {
		t.Fatalf("got %s\nwant %s", raw, want)
	}
}

func TestCheckNextRejects(t *testing.T) {
	g := Genesis()
	good := Next(g, `"x"`)
	cases := []struct {
		name string
		mut  func(*Block)
		want error
	}{
		{"index", func(b *Block) { b.Index = 5 }, ErrBadIndex},
		{"link", func(b *Block) { b.PreviousHash = "00" }, ErrBrokenLink},
		{"hash", func(b *Block) { b.CurrHash = Hash("a", "b") }, ErrBadHash},
		{"data changed", func(b *Block) { b.Data = `"y"` }, ErrBadHash},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := good
			c.mut(&b)
			err := CheckNext(g, b)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			var re *RuleError
			if !errors.As(err, &re) || re.Index != b.Index {
				t.Fatalf("err %v is not a RuleError for block %d", err, b.Index)
			}
		})
	}
}

func TestCheckChain(t *testing.T) {
	chain := []Block{Genesis()}
	for _, d := range []string{`"a"`, `1`, `{"k":[true,null]}`} {
		chain = append(chain, Next(chain[len(chain)-1], d))
	}
	if err := CheckChain(chain); err != nil {
		t.Fatal(err)
	}
	if err := CheckChain(nil); !errors.Is(err, ErrEmptyChain) {
		t.Fatalf("empty chain: %v", err)
	}
	bad := append([]Block(nil), chain...)
	bad[0].Data = `"other"`
	if err := CheckChain(bad); !errors.Is(err, ErrBadGenesis) {
		t.Fatalf("bad genesis: %v", err)
	}
	bad = append([]Block(nil), chain...)
	bad[2], bad[3] = bad[3], bad[2]
	if err := CheckChain(bad); !errors.Is(err, ErrBadIndex) {
		t.Fatalf("swapped: %v", err)
	}
}

func TestEncodeData(t *testing.T) {
	cases := []struct{ in, want string }{
		{`"Testing String Again"`, `"Testing String Again"`},
		{` "spaces around" `, `"spaces around"`},
		{`"quote \" and backslash \\ and slash \/"`, `"quote \" and backslash \\ and slash /"`},
		{`"tab\tnl\ncr\rbs\bff\f"`, `"tab\tnl\ncr\rbs\bff\f"`},
		{`"\u0001\u001f\u007f"`, `"\u0001\u001f\u007f"`},
		{`"héllo"`, `"h\u00e9llo"`},
		{`"€"`, `"\u20ac"`},
		{`"😀"`, `"\ud83d\ude00"`},
		{`"<&>"`, `"<&>"`},
		{`123`, `123`},
		{`1.50`, `1.50`},
		{`-2e10`, `-2e10`},
		{`true`, `true`},
		{`null`, `null`},
		{`[1,"a",[],{}]`, `[1, "a", [], {}]`},
		{`{"b":1,"a":{"x":[null,false]}}`, `{"b": 1, "a": {"x": [null, false]}}`},
		{`{"é": "ü"}`, `{"\u00e9": "\u00fc"}`},
		{`"\uD83D\uDE00"`, `"\ud83d\ude00"`},
		{`"\\ud800"`, `"\\ud800"`}, // a backslash, then text
		{`"\ufffd"`, `"\ufffd"`},
	}
	for _, c := range cases {
		got, err := EncodeData(json.RawMessage(c.in))
		if err != nil {
			t.Fatalf("EncodeData(%s): %v", c.in, err)
		}
		if got != c.want {
			t.Errorf("EncodeData(%s) = %s, want %s", c.in, got, c.want)
		}
	}
	for _, bad := range []string{``, ` `, `{`, `[1,]`, `"unterminated`, `1 2`, `{"a" 1}`, `nul`,
		"\"\xff\xfe\"", "[1, \"a\xc3\"]", "{\"\xff\": 1}", "\"\xed\xa0\x80\"", // not UTF-8
		`"\ud800"`, `"\udc00"`, `"\ud800\u0041"`, `"\udbff\ud800"`, `"\ud800\\udc00"`, `{"\ud83d": 1}`, `["x\ude00"]`,
	} {
		if got, err := EncodeData(json.RawMessage(bad)); !errors.Is(err, ErrBadData) {
			t.Errorf("EncodeData(%q) = %q, %v; want ErrBadData", bad, got, err)
		}
	}
}

func FuzzEncodeData(f *testing.F) {
	for _, s := range []string{`"Testing String Again"`, `123`, `{"a":[1,"é",null]}`, `"\ud83d\ude00"`, `[`} {
		f.Add([]byte(s))
	}
	f.Add([]byte("\"\xff\""))
	f.Add([]byte(`["\ud800", "\\udc00"]`))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := EncodeData(in)
		if err != nil {
			return
		}
		// Nothing sent was replaced: U+FFFD is stored only when it was sent.
		if strings.Contains(out, `\ufffd`) && !strings.Contains(string(in), "\ufffd") && !bytes.Contains(bytes.ToLower(in), []byte("fffd")) {
			t.Fatalf("EncodeData(%q) = %q stores U+FFFD that was not sent", in, out)
		}
		// The stored form is valid JSON, pure ASCII, and a fixed point.
		if !json.Valid([]byte(out)) {
			t.Fatalf("EncodeData(%q) = %q is not valid JSON", in, out)
		}
		for i := 0; i < len(out); i++ {
			if out[i] >= 0x7f || out[i] < 0x20 {
				t.Fatalf("EncodeData(%q) = %q is not printable ASCII", in, out)
			}
		}
		again, err := EncodeData([]byte(out))
		if err != nil || again != out {
			t.Fatalf("not a fixed point: %q -> %q (%v)", out, again, err)
		}
	})
}

// TestHashMatchesSHA256 checks both of Hash's paths (a stack buffer up to
// 512 bytes, a streaming hash beyond) against crypto/sha256.
func TestHashMatchesSHA256(t *testing.T) {
	for _, n := range []int{0, 1, 447, 448, 449, 1000, 1 << 16} {
		data := strings.Repeat("x", n)
		sum := sha256.Sum256([]byte(GenesisHash + data))
		if got, want := Hash(GenesisHash, data), hex.EncodeToString(sum[:]); got != want {
			t.Fatalf("Hash with %d bytes of data = %s, want %s", n, got, want)
		}
	}
}
