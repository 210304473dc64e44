package block

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// powTime is the fixed timestamp of the test blocks (Unix milliseconds).
const powTime int64 = 1_700_000_000_000

// mustEncodeData returns EncodeData(raw) or fails the test.
func mustEncodeData(t testing.TB, raw string) string {
	t.Helper()
	s, err := EncodeData(json.RawMessage(raw))
	if err != nil {
		t.Fatalf("EncodeData(%s): %v", raw, err)
	}
	return s
}

// plainClassic and plainPoW are Block's JSON forms as plain structs, which
// encoding/json marshals without any MarshalJSON.
type plainClassic struct {
	Index        uint64 `json:"index"`
	PreviousHash string `json:"previous_hash"`
	Data         string `json:"data"`
	CurrHash     string `json:"curr_hash"`
}

type plainPoW struct {
	Index        uint64 `json:"index"`
	PreviousHash string `json:"previous_hash"`
	Data         string `json:"data"`
	CurrHash     string `json:"curr_hash"`
	Timestamp    int64  `json:"timestamp"`
	Nonce        uint64 `json:"nonce"`
	Difficulty   uint8  `json:"difficulty"`
}

func TestMarshalJSON(t *testing.T) {
	classic := Next(Genesis(), `"x"`)
	raw, err := json.Marshal(classic)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"index":1,"previous_hash":"` + GenesisHash + `","data":"\"x\"","curr_hash":"` + classic.CurrHash + `"}`
	if string(raw) != want {
		t.Fatalf("classic\n got %s\nwant %s", raw, want)
	}

	pow := Block{Index: 7, PreviousHash: GenesisHash, Data: `["\"hi\""]`, CurrHash: "00ab",
		Timestamp: powTime, Nonce: 0, Difficulty: 9}
	raw, err = json.Marshal(pow)
	if err != nil {
		t.Fatal(err)
	}
	want = `{"index":7,"previous_hash":"` + GenesisHash + `","data":"[\"\\\"hi\\\"\"]","curr_hash":"00ab",` +
		`"timestamp":1700000000000,"nonce":0,"difficulty":9}`
	if string(raw) != want {
		t.Fatalf("PoW\n got %s\nwant %s", raw, want)
	}
	var back Block
	if err := json.Unmarshal(raw, &back); err != nil || back != pow {
		t.Fatalf("Unmarshal = %+v, %v; want %+v", back, err, pow)
	}

	// Each of the three fields alone brings all seven keys, zeros included.
	for _, b := range []Block{{Timestamp: -5}, {Nonce: 1 << 63}, {Difficulty: 255}} {
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf(`{"index":0,"previous_hash":"","data":"","curr_hash":"","timestamp":%d,"nonce":%s,"difficulty":%d}`,
			b.Timestamp, strconv.FormatUint(b.Nonce, 10), b.Difficulty)
		if string(raw) != want {
			t.Errorf("got %s\nwant %s", raw, want)
		}
		var back Block
		if err := json.Unmarshal(raw, &back); err != nil || back != b {
			t.Errorf("Unmarshal(%s) = %+v, %v", raw, back, err)
		}
	}
}

// TestMarshalJSONEscaping: a Block marshals exactly as the plain struct of
// its keys would, whether or not the caller escapes HTML; the API turns
// escaping off to serve data as the original does.
func TestMarshalJSONEscaping(t *testing.T) {
	classic := Next(Genesis(), mustEncodeData(t, `"<b>&</b> \u2028 é"`))
	pow := Block{Index: 1, PreviousHash: GenesisHash, Data: EncodeEntries([]string{classic.Data}), CurrHash: "x<\u2028>\xff", Nonce: 3}
	plain := map[string]any{
		"classic": plainClassic{classic.Index, classic.PreviousHash, classic.Data, classic.CurrHash},
		"pow":     plainPoW{pow.Index, pow.PreviousHash, pow.Data, pow.CurrHash, pow.Timestamp, pow.Nonce, pow.Difficulty},
	}
	for name, b := range map[string]Block{"classic": classic, "pow": pow} {
		for _, escape := range []bool{true, false} {
			encode := func(v any) string {
				var buf bytes.Buffer
				enc := json.NewEncoder(&buf)
				enc.SetEscapeHTML(escape)
				if err := enc.Encode(v); err != nil {
					t.Fatal(err)
				}
				return buf.String()
			}
			got, want := encode(b), encode(plain[name])
			if got != want {
				t.Errorf("%s, escape HTML %v:\n got %s\nwant %s", name, escape, got, want)
			}
			if hasRaw := strings.Contains(got, "<b>&"); hasRaw == escape {
				t.Errorf("%s, escape HTML %v: %s", name, escape, got)
			}
		}
	}
}
