package block

import (
	"bytes"
	"encoding/json"
	"testing"

	"pgregory.net/rapid"
)

// encodingJSON is b's JSON as encoding/json writes it with HTML escaping
// off, from a plain struct of the same keys.
func encodingJSON(t interface{ Fatal(...any) }, b Block) []byte {
	type classic struct {
		Index        uint64 `json:"index"`
		PreviousHash string `json:"previous_hash"`
		Data         string `json:"data"`
		CurrHash     string `json:"curr_hash"`
	}
	c := classic{b.Index, b.PreviousHash, b.Data, b.CurrHash}
	var v any = c
	if b.IsPoW() {
		v = struct {
			classic
			Timestamp  int64  `json:"timestamp"`
			Nonce      uint64 `json:"nonce"`
			Difficulty uint8  `json:"difficulty"`
		}{c, b.Timestamp, b.Nonce, b.Difficulty}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
}

// TestAppendJSONMatchesEncodingJSON: AppendJSON writes, byte for byte, what
// encoding/json writes for any block, whatever bytes its strings hold.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	str := rapid.OneOf(
		rapid.String(),
		rapid.StringOf(rapid.SampledFrom([]rune{'"', '\\', '\b', '\f', '\n', '\r', '\t', 0, 0x1f, 0x7f, '<', '>', '&', '\u2028', '\u2029', 'é', '\ufffd', '😀'})),
		rapid.Map(rapid.SliceOf(rapid.Byte()), func(b []byte) string { return string(b) }), // invalid UTF-8 too
	)
	rapid.Check(t, func(t *rapid.T) {
		b := drawBlock(t, str)
		want := encodingJSON(t, b)
		if got := b.AppendJSON(nil); !bytes.Equal(got, want) {
			t.Fatalf("AppendJSON:\n%s\nencoding/json:\n%s", got, want)
		}
		if got, err := b.MarshalJSON(); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("MarshalJSON: %s, %v", got, err)
		}
		prefix := []byte("x,")
		if got := b.AppendJSON(prefix); !bytes.Equal(got, append([]byte("x,"), want...)) {
			t.Fatalf("AppendJSON after a prefix: %s", got)
		}
	})
}

func BenchmarkAppendJSON(b *testing.B) {
	blk := Next(Genesis(), `"a payment of 12 coins from alice to bob, memo: <rent> & more"`)
	var buf []byte
	for b.Loop() {
		buf = blk.AppendJSON(buf[:0])
	}
}

func BenchmarkMarshalJSONEncoding(b *testing.B) {
	blk := Next(Genesis(), `"a payment of 12 coins from alice to bob, memo: <rent> & more"`)
	for b.Loop() {
		encodingJSON(b, blk)
	}
}

// TestAppendPyStringMatchesPyString: the appending form writes what
// PyString (Python's json.dumps of a string) writes.
func TestAppendPyStringMatchesPyString(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := rapid.OneOf(
			rapid.String(),
			rapid.StringOf(rapid.SampledFrom([]rune{'"', '\\', '\b', '\f', '\n', '\r', '\t', 0, 0x1f, 0x7f, 0x80, 'é', '\u2028', '\ufffd', '😀'})),
			rapid.Map(rapid.SliceOf(rapid.Byte()), func(b []byte) string { return string(b) }),
		).Draw(t, "s")
		if got, want := string(AppendPyString([]byte("x"), s)), "x"+PyString(s); got != want {
			t.Fatalf("AppendPyString(%q) = %s, PyString = %s", s, got, want)
		}
	})
}

// TestAppendPyJSON: a block as Python's json.dumps writes its dict.
func TestAppendPyJSON(t *testing.T) {
	b := Block{Index: 1, PreviousHash: "ab", Data: "\"caf\u00e9 \U0001F600\"", CurrHash: "cd"}
	want := `{"index": 1, "previous_hash": "ab", "data": "\"caf\u00e9 \ud83d\ude00\"", "curr_hash": "cd"}`
	if got := string(b.AppendPyJSON(nil)); got != want {
		t.Fatalf("AppendPyJSON = %s\nwant %s", got, want)
	}
	b.Timestamp, b.Nonce, b.Difficulty = 7, 8, 9
	want = want[:len(want)-1] + `, "timestamp": 7, "nonce": 8, "difficulty": 9}`
	if got := string(b.AppendPyJSON(nil)); got != want {
		t.Fatalf("AppendPyJSON of a pow block = %s\nwant %s", got, want)
	}
}

func BenchmarkAppendPyJSON(b *testing.B) {
	blk := Next(Genesis(), `"a payment of 12 coins from alice to bob, memo: <rent> & more"`)
	var buf []byte
	for b.Loop() {
		buf = blk.AppendPyJSON(buf[:0])
	}
}

// drawBlock draws a block whose strings come from str, classic or pow.
func drawBlock(t *rapid.T, str *rapid.Generator[string]) Block {
	b := Block{
		Index:        rapid.Uint64().Draw(t, "index"),
		PreviousHash: str.Draw(t, "previous"),
		Data:         str.Draw(t, "data"),
		CurrHash:     str.Draw(t, "hash"),
	}
	if rapid.Bool().Draw(t, "pow") {
		b.Timestamp = rapid.Int64().Draw(t, "timestamp")
		b.Nonce = rapid.Uint64().Draw(t, "nonce")
		b.Difficulty = rapid.Uint8().Draw(t, "difficulty")
	}
	return b
}
