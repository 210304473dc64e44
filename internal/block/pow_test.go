package block

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
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

// zeroBits returns the leading zero bits of a hex curr_hash.
func zeroBits(t testing.TB, currHash string) int {
	t.Helper()
	raw, err := hex.DecodeString(currHash)
	if err != nil || len(raw) != sha256.Size {
		t.Fatalf("curr_hash %q is not a hex sha256", currHash)
	}
	return LeadingZeros((*[sha256.Size]byte)(raw))
}

// mine seals b with the first nonce whose hash has b.Difficulty zero bits.
// The search is deterministic: b fixes everything but the nonce.
func mine(t testing.TB, b Block) Block {
	t.Helper()
	for nonce := uint64(0); nonce < 1<<24; nonce++ {
		s, err := Seal(b, nonce)
		if err != nil {
			t.Fatalf("Seal: %v", err)
		}
		if zeroBits(t, s.CurrHash) >= int(b.Difficulty) {
			return s
		}
	}
	t.Fatalf("no nonce below 2^24 meets difficulty %d", b.Difficulty)
	return Block{}
}

// testEntries returns n distinct valid entries.
func testEntries(n int) []string {
	entries := make([]string, n)
	for i := range entries {
		entries[i] = fmt.Sprintf(`"entry %d"`, i)
	}
	return entries
}

func TestDecodeEntriesAccepts(t *testing.T) {
	cases := []struct {
		name string
		raw  []string // posted JSON values, stored as EncodeData writes them
	}{
		{"one string", []string{`"hi"`}},
		{"object", []string{`{"a":1}`}},
		{"numbers", []string{`1`, `-2.5e3`, `0`}},
		{"quote and backslash", []string{`"a \" b \\ c"`, `"\\\\"`, `"\""`}},
		{"escapes", []string{`"tab\tnl\n"`, `"é€😀"`, `"<&>"`}},
		{"mixed", []string{`"hi"`, `{"a":[1,"x",null]}`, `true`, `null`, `[]`, `{}`}},
		{"object with quoted key", []string{`{"k\"ey":"v\\al"}`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			entries := make([]string, len(c.raw))
			for i, r := range c.raw {
				entries[i] = mustEncodeData(t, r)
			}
			data := EncodeEntries(entries)
			got, err := DecodeEntries(data)
			if err != nil {
				t.Fatalf("DecodeEntries(%s): %v", data, err)
			}
			if fmt.Sprint(got) != fmt.Sprint(entries) || len(got) != len(entries) {
				t.Fatalf("DecodeEntries(%s) = %q, want %q", data, got, entries)
			}
			// The data is a JSON array of those very strings.
			var std []string
			if err := json.Unmarshal([]byte(data), &std); err != nil || fmt.Sprint(std) != fmt.Sprint(entries) {
				t.Fatalf("encoding/json reads %s as %q (%v)", data, std, err)
			}
		})
	}
	// MaxEntries entries is the limit, not over it.
	entries := testEntries(MaxEntries)
	if got, err := DecodeEntries(EncodeEntries(entries)); err != nil || len(got) != MaxEntries {
		t.Fatalf("MaxEntries entries: %d, %v", len(got), err)
	}
}

func TestDecodeEntriesRejects(t *testing.T) {
	cases := []struct {
		name, data string
		want       error
	}{
		{"empty array", `[]`, ErrBadEntries},
		{"too many entries", EncodeEntries(testEntries(MaxEntries + 1)), ErrBadEntries},
		{"duplicate", `["\"a\"","1","\"a\""]`, ErrDuplicateEntry},
		{"space after bracket", `[ "\"a\""]`, ErrBadEntries},
		{"space after comma", `["1", "2"]`, ErrBadEntries},
		{"newline before bracket", `["1"` + "\n]", ErrBadEntries},
		{"trailing space", `["1"] `, ErrBadEntries},
		{"object without its space", `["{\"a\":1}"]`, ErrBadEntries},
		{"array without its space", `["[1,2]"]`, ErrBadEntries},
		{"raw non-ASCII", `["\"é\""]`, ErrBadEntries},
		{"escaped non-ASCII", `["\"\u00e9\""]`, ErrBadEntries},
		{"escaped ASCII in the array", `["\u0031"]`, ErrBadEntries},
		{"escaped slash", `["\"a\/b\""]`, ErrBadEntries},
		{"control character", `["\"a\tb\""]`, ErrBadEntries},
		{"empty entry", `[""]`, ErrBadEntries},
		{"entry not JSON", `["hi"]`, ErrBadEntries},
		{"entry two values", `["1 2"]`, ErrBadEntries},
		{"unquoted string entry", `["\"a"]`, ErrBadEntries},
		{"number element", `[1]`, ErrBadEntries},
		{"nested array", `[["1"]]`, ErrBadEntries},
		{"string", `"\"a\""`, ErrBadEntries},
		{"object", `{"a":"1"}`, ErrBadEntries},
		{"null", `null`, ErrBadEntries},
		{"number", `1`, ErrBadEntries},
		{"empty", ``, ErrBadEntries},
		{"trailing garbage", `["1"]x`, ErrBadEntries},
		{"second array", `["1"]["2"]`, ErrBadEntries},
		{"unterminated", `["1"`, ErrBadEntries},
		{"invalid UTF-8", "[\"\\\"\xff\\\"\"]", ErrBadEntries},
		{"too long", `["` + strings.Repeat("1", MaxDataLen) + `"]`, ErrDataTooLong},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := DecodeEntries(c.data)
			if !errors.Is(err, c.want) {
				t.Fatalf("DecodeEntries(%.60q) = %q, %v; want %v", c.data, got, err, c.want)
			}
			if got != nil {
				t.Fatalf("DecodeEntries(%.60q) returned entries %q with its error", c.data, got)
			}
		})
	}
}

func TestCheckEntry(t *testing.T) {
	for _, ok := range []string{`"hi"`, `1`, `{"a": 1}`, `[1, 2]`, `"\u00e9"`, `"a\"b\\c"`} {
		if err := CheckEntry(ok); err != nil {
			t.Errorf("CheckEntry(%s) = %v", ok, err)
		}
	}
	for _, bad := range []string{``, `hi`, `{"a":1}`, `"é"`, `"\/"`, ` 1`, `1 `, `"a` + "\x7f" + `"`, `1 2`} {
		if err := CheckEntry(bad); !errors.Is(err, ErrBadEntries) {
			t.Errorf("CheckEntry(%q) = %v, want ErrBadEntries", bad, err)
		}
	}
}

// refMTH is RFC 6962's Merkle tree hash computed bottom up, level by level:
// pair neighbours, and lift a lone last node to the next level unchanged.
// That builds the same tree as the RFC's recursive split at the largest
// power of two below n.
func refMTH(entries []string) [sha256.Size]byte {
	if len(entries) == 0 {
		return sha256.Sum256(nil)
	}
	var level [][]byte
	for _, e := range entries {
		h := sha256.Sum256(append([]byte{0x00}, e...))
		level = append(level, h[:])
	}
	for len(level) > 1 {
		var up [][]byte
		for i := 0; i < len(level); i += 2 {
			if i+1 == len(level) {
				up = append(up, level[i])
				continue
			}
			h := sha256.Sum256(bytes.Join([][]byte{{0x01}, level[i], level[i+1]}, nil))
			up = append(up, h[:])
		}
		level = up
	}
	return [sha256.Size]byte(level[0])
}

func TestEntriesRoot(t *testing.T) {
	entries := testEntries(20)
	for n := 0; n <= len(entries); n++ {
		if got, want := EntriesRoot(entries[:n]), refMTH(entries[:n]); got != want {
			t.Errorf("EntriesRoot of %d entries = %x, want %x", n, got, want)
		}
	}
	// The empty tree is sha256 of nothing.
	if got := hex.EncodeToString(func() []byte { r := EntriesRoot(nil); return r[:] }()); got != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Errorf("empty root = %s", got)
	}
	// One entry: the root is its leaf hash, whose hex is its id.
	for _, e := range []string{`"hi"`, `1`, `{"a": 1}`} {
		leaf := sha256.Sum256(append([]byte{0x00}, e...))
		if got := EntriesRoot([]string{e}); got != leaf {
			t.Errorf("root of [%s] = %x, want leaf hash %x", e, got, leaf)
		}
		if got, want := EntryID(e), hex.EncodeToString(leaf[:]); got != want {
			t.Errorf("EntryID(%s) = %s, want %s", e, got, want)
		}
	}
	// Two entries: sha256(0x01 || leaf(a) || leaf(b)), and order matters.
	a, b := sha256.Sum256([]byte("\x00\"a\"")), sha256.Sum256([]byte("\x00\"b\""))
	want := sha256.Sum256(append(append([]byte{0x01}, a[:]...), b[:]...))
	if got := EntriesRoot([]string{`"a"`, `"b"`}); got != want {
		t.Errorf("root of two = %x, want %x", got, want)
	}
	if EntriesRoot([]string{`"b"`, `"a"`}) == want {
		t.Error("swapping two entries keeps the root")
	}
}

func TestHeaderLayout(t *testing.T) {
	b := Block{Index: 0x0102030405060708, PreviousHash: GenesisHash, Timestamp: -2, Difficulty: 0x2a, Nonce: 0x1112131415161718}
	root := sha256.Sum256([]byte("root"))
	h, err := Header(b, root)
	if err != nil {
		t.Fatal(err)
	}
	prev, _ := hex.DecodeString(GenesisHash)
	var want []byte
	want = binary.BigEndian.AppendUint64(want, b.Index)
	want = append(want, prev...)
	want = append(want, root[:]...)
	want = append(want, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe)
	want = append(want, 0x2a)
	want = binary.BigEndian.AppendUint64(want, b.Nonce)
	if !bytes.Equal(h[:], want) || len(want) != HeaderLen {
		t.Fatalf("header\n got %x\nwant %x", h, want)
	}
	if got := binary.BigEndian.Uint64(h[NonceOffset:]); got != b.Nonce {
		t.Fatalf("nonce at NonceOffset = %#x", got)
	}
	for _, bad := range []string{"", GenesisPreviousHash, strings.ToUpper(GenesisHash), GenesisHash[:63] + "g", GenesisHash + "00", GenesisHash[:62]} {
		b.PreviousHash = bad
		if _, err := Header(b, root); !errors.Is(err, ErrBadPrevious) {
			t.Errorf("Header with previous %q: %v, want ErrBadPrevious", bad, err)
		}
	}
}

func TestLeadingZeros(t *testing.T) {
	for _, c := range []struct {
		hex  string
		want int
	}{
		{"80" + strings.Repeat("00", 31), 0},
		{"01" + strings.Repeat("00", 31), 7},
		{"00ff" + strings.Repeat("00", 30), 8},
		{strings.Repeat("00", 8) + "40" + strings.Repeat("00", 23), 65},
		{strings.Repeat("00", 31) + "01", 255},
		{strings.Repeat("00", 32), 256},
	} {
		if got := zeroBits(t, c.hex); got != c.want {
			t.Errorf("LeadingZeros(%s) = %d, want %d", c.hex, got, c.want)
		}
	}
}

func TestSealCheckNext(t *testing.T) {
	g := Genesis()
	entries := []string{`"hi"`, `{"a": 1}`, `42`}
	good := mine(t, NewPoW(g, entries, powTime, MinDifficulty))
	if err := CheckNext(g, good); err != nil {
		t.Fatalf("CheckNext(genesis, mined) = %v", err)
	}
	if !good.IsPoW() || good.Index != 1 || good.PreviousHash != GenesisHash || good.Data != EncodeEntries(entries) ||
		good.Timestamp != powTime || good.Difficulty != MinDifficulty {
		t.Fatalf("mined block %+v", good)
	}
	// Seal is CurrHash = HashHeader(Header(b, EntriesRoot(entries))).
	h, err := Header(good, EntriesRoot(entries))
	if err != nil || HashHeader(&h) != good.CurrHash {
		t.Fatalf("HashHeader = %s (%v), want %s", HashHeader(&h), err, good.CurrHash)
	}
	// A chain: genesis, the mined block, a second one on it.
	next := mine(t, NewPoW(good, []string{`"next"`}, powTime+1, MinDifficulty+1))
	if err := CheckChain([]Block{g, good, next}); err != nil {
		t.Fatalf("CheckChain: %v", err)
	}

	// raised is good's contents claiming 40 bits, sealed with a nonce whose
	// hash has fewer: its hash matches its header but not its difficulty.
	raised := NewPoW(g, entries, powTime, 40)
	for nonce := uint64(0); ; nonce++ {
		if raised, err = Seal(raised, nonce); err != nil {
			t.Fatal(err)
		}
		if zeroBits(t, raised.CurrHash) < 40 {
			break
		}
	}
	otherData := mustEncodeData(t, `"other"`)

	upper := strings.ToUpper(GenesisHash)
	cases := []struct {
		name string
		prev Block
		mut  func(*Block)
		want error
	}{
		{"nonce", g, func(b *Block) { b.Nonce++ }, ErrBadHash},
		{"nonce high bit", g, func(b *Block) { b.Nonce ^= 1 << 63 }, ErrBadHash},
		{"other entries", g, func(b *Block) { b.Data = EncodeEntries([]string{`"hi"`, `{"a": 1}`, `43`}) }, ErrBadHash},
		{"entries reordered", g, func(b *Block) { b.Data = EncodeEntries([]string{`42`, `"hi"`, `{"a": 1}`}) }, ErrBadHash},
		{"an entry dropped", g, func(b *Block) { b.Data = EncodeEntries(entries[:2]) }, ErrBadHash},
		{"classic data", g, func(b *Block) { b.Data = otherData }, ErrBadEntries},
		{"non-canonical data", g, func(b *Block) { b.Data = `[ "\"hi\"","{\"a\": 1}","42"]` }, ErrBadEntries},
		{"no entries", g, func(b *Block) { b.Data = `[]` }, ErrBadEntries},
		{"duplicate entries", g, func(b *Block) { b.Data = `["42","42"]` }, ErrDuplicateEntry},
		{"data too long", g, func(b *Block) { b.Data = strings.Repeat(" ", MaxDataLen+1) }, ErrDataTooLong},
		{"timestamp", g, func(b *Block) { b.Timestamp++ }, ErrBadHash},
		{"timestamp negated", g, func(b *Block) { b.Timestamp = -b.Timestamp }, ErrBadHash},
		{"difficulty 7", g, func(b *Block) { b.Difficulty = MinDifficulty - 1 }, ErrLowDifficulty},
		{"difficulty 0", g, func(b *Block) { b.Difficulty = 0 }, ErrLowDifficulty},
		{"difficulty raised", g, func(b *Block) { b.Difficulty = 200 }, ErrBadHash},
		{"hash of a raised difficulty not met", g, func(b *Block) { *b = raised }, ErrInsufficient},
		{"curr_hash upper case", g, func(b *Block) { b.CurrHash = strings.ToUpper(b.CurrHash) }, ErrBadHash},
		{"curr_hash empty", g, func(b *Block) { b.CurrHash = "" }, ErrBadHash},
		{"curr_hash of the classic rule", g, func(b *Block) { b.CurrHash = Hash(b.PreviousHash, b.Data) }, ErrBadHash},
		// The link is checked before the block's own rules: an upper-case
		// previous_hash against a lower-case tip breaks the link ...
		{"previous_hash upper case", g, func(b *Block) { b.PreviousHash = upper }, ErrBrokenLink},
		// ... and one that links to a tip with an upper-case hash (no valid
		// block has one) is not a header's previous hash.
		{"previous_hash upper case, linked", Block{CurrHash: upper}, func(b *Block) { b.PreviousHash = upper }, ErrBadPrevious},
		{"previous_hash not 32 bytes, linked", Block{CurrHash: GenesisPreviousHash}, func(b *Block) { b.PreviousHash = GenesisPreviousHash }, ErrBadPrevious},
		{"previous_hash not hex, linked", Block{CurrHash: GenesisHash[:63] + "z"}, func(b *Block) { b.PreviousHash = GenesisHash[:63] + "z" }, ErrBadPrevious},
		{"previous_hash of another block", g, func(b *Block) { b.PreviousHash = next.CurrHash }, ErrBrokenLink},
		{"index", g, func(b *Block) { b.Index = 2 }, ErrBadIndex},
		{"index 0", g, func(b *Block) { b.Index = 0 }, ErrBadIndex},
		{"index of another prev", Block{Index: 1, CurrHash: GenesisHash}, func(*Block) {}, ErrBadIndex},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := good
			c.mut(&b)
			err := CheckNext(c.prev, b)
			if !errors.Is(err, c.want) {
				t.Fatalf("CheckNext = %v, want %v", err, c.want)
			}
			var re *RuleError
			if !errors.As(err, &re) || re.Index != b.Index {
				t.Fatalf("err %v is not a RuleError for block %d", err, b.Index)
			}
		})
	}

	// Seal refuses what the header cannot hold.
	bad := NewPoW(Block{CurrHash: upper}, entries, powTime, MinDifficulty)
	if _, err := Seal(bad, 0); !errors.Is(err, ErrBadPrevious) {
		t.Errorf("Seal on an upper-case previous: %v", err)
	}
	bad = NewPoW(g, nil, powTime, MinDifficulty)
	if _, err := Seal(bad, 0); !errors.Is(err, ErrBadEntries) {
		t.Errorf("Seal without entries: %v", err)
	}
}

// TestIsPoW: any one of the three proof-of-work fields makes a block one.
func TestIsPoW(t *testing.T) {
	if Genesis().IsPoW() || Next(Genesis(), `"x"`).IsPoW() {
		t.Fatal("classic block is PoW")
	}
	for _, b := range []Block{{Timestamp: -1}, {Nonce: 1}, {Difficulty: 1}} {
		if !b.IsPoW() {
			t.Errorf("%+v is not PoW", b)
		}
		// A PoW block with a classic hash is no classic block.
		b.Index, b.PreviousHash, b.Data = 1, GenesisHash, `"x"`
		b.CurrHash = Hash(b.PreviousHash, b.Data)
		if err := CheckNext(Genesis(), b); err == nil {
			t.Errorf("%+v passes CheckNext", b)
		}
	}
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
		"pow":     plainPoW(pow),
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

func FuzzDecodeEntries(f *testing.F) {
	for _, s := range []string{
		`["\"hi\""]`,
		`["{\"a\": 1}","1","null"]`,
		`["\"a\\\"b\\\\c\""]`,
		`[ "\"a\""]`,
		`["{\"a\":1}"]`,
		`["1","1"]`,
		`[]`,
		`["\u0031"]`,
		`["1"]x`,
		"[\"\\\"\xff\\\"\"]",
		`null`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		entries, err := DecodeEntries(data)
		if err != nil {
			if entries != nil {
				t.Fatalf("DecodeEntries(%q) returned %q with error %v", data, entries, err)
			}
			return
		}
		if again := EncodeEntries(entries); again != data {
			t.Fatalf("DecodeEntries(%q) = %q, which encodes as %q", data, entries, again)
		}
		if len(entries) == 0 || len(entries) > MaxEntries {
			t.Fatalf("DecodeEntries(%q): %d entries", data, len(entries))
		}
		seen := make(map[string]bool)
		for _, e := range entries {
			if err := CheckEntry(e); err != nil {
				t.Fatalf("DecodeEntries(%q) entry %q: %v", data, e, err)
			}
			if seen[e] {
				t.Fatalf("DecodeEntries(%q): %q twice", data, e)
			}
			seen[e] = true
		}
		// The entries are in the root: one changed entry changes it.
		if EntriesRoot(entries) != refMTH(entries) {
			t.Fatalf("EntriesRoot(%q) differs from the reference", entries)
		}
	})
}

// FuzzCheckNext: arbitrary fields of a block on a fixed PoW tip never make
// CheckNext panic, and a block it accepts is one Seal reproduces.
func FuzzCheckNext(f *testing.F) {
	prev := mine(f, NewPoW(Genesis(), []string{`"prev"`}, powTime, MinDifficulty))
	good := mine(f, NewPoW(prev, []string{`"hi"`, `2`}, powTime+1, MinDifficulty))
	add := func(b Block) {
		f.Add(b.Index, b.PreviousHash, b.Data, b.CurrHash, b.Timestamp, b.Nonce, b.Difficulty)
	}
	add(good)
	add(Next(prev, `"classic"`))
	add(Block{Index: 2, PreviousHash: prev.CurrHash, Data: `[]`, Difficulty: 8})
	add(Block{Index: 2, PreviousHash: prev.CurrHash, Data: good.Data, CurrHash: good.CurrHash, Timestamp: good.Timestamp, Nonce: good.Nonce, Difficulty: 255})
	add(Block{Index: 2, PreviousHash: strings.ToUpper(prev.CurrHash), Data: `["1"]`, Difficulty: 8})
	add(Block{Index: 1 << 63, Timestamp: -1})
	f.Fuzz(func(t *testing.T, index uint64, previous, data, curr string, ts int64, nonce uint64, difficulty uint8) {
		b := Block{Index: index, PreviousHash: previous, Data: data, CurrHash: curr, Timestamp: ts, Nonce: nonce, Difficulty: difficulty}
		err := CheckNext(prev, b)
		if err != nil {
			var re *RuleError
			if !errors.As(err, &re) || re.Index != index {
				t.Fatalf("CheckNext(%+v) = %v, not a RuleError for its index", b, err)
			}
			return
		}
		if !b.IsPoW() {
			// This package lets a classic block follow a PoW one; the
			// engines decide which blocks a chain holds.
			if b.CurrHash != Hash(prev.CurrHash, b.Data) {
				t.Fatalf("accepted classic %+v with a wrong hash", b)
			}
			return
		}
		sealed, err := Seal(b, b.Nonce)
		if err != nil || sealed != b {
			t.Fatalf("accepted %+v, but Seal gives %+v (%v)", b, sealed, err)
		}
		if zeroBits(t, b.CurrHash) < int(b.Difficulty) || b.Difficulty < MinDifficulty {
			t.Fatalf("accepted %+v without its work", b)
		}
	})
}

func BenchmarkCheckNextPoW(b *testing.B) {
	prev := Genesis()
	next := mine(b, NewPoW(prev, testEntries(10), powTime, MinDifficulty))
	b.ReportAllocs()
	for b.Loop() {
		if err := CheckNext(prev, next); err != nil {
			b.Fatal(err)
		}
	}
}

func TestMine(t *testing.T) {
	g := Genesis()
	b, err := Mine(NewPoW(g, []string{`"m"`}, 1_700_000_000_000, MinDifficulty), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckNext(g, b); err != nil {
		t.Fatalf("mined block invalid: %v", err)
	}
	if _, err := Mine(NewPoW(g, []string{`"m"`}, 1_700_000_000_000, 60), 16); !errors.Is(err, ErrNoNonce) {
		t.Fatalf("16 tries at difficulty 60: %v, want ErrNoNonce", err)
	}
	if _, err := Mine(Block{Index: 1, PreviousHash: GenesisHash, Data: "[]", Difficulty: 8}, 16); !errors.Is(err, ErrBadEntries) {
		t.Fatalf("no entries: %v, want ErrBadEntries", err)
	}
}
