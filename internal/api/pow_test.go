package api

import (
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"naivechain/internal/block"
	"naivechain/internal/chain"
)

// TestPoWBlocksJSON: the API writes a proof-of-work block with its seven
// keys, nonce 0 included, and a classic block (genesis) with the
// original's four, each in order and without HTML escaping.
func TestPoWBlocksJSON(t *testing.T) {
	g := block.Genesis()
	pow, err := block.Seal(block.NewPoW(g, []string{`"<b>&</b>"`, `{"n": 1}`}, 1_700_000_000_000, block.MinDifficulty), 0)
	if err != nil {
		t.Fatal(err)
	}
	after := block.Next(pow, `"classic again"`)
	f := newFake()
	f.chain = []block.Block{g, pow, after}
	h := NewHandler(f, Options{})

	wantGenesis := `{"index":0,"previous_hash":"ioiiiuasyi891qbduquiuqwiqwiupwe","data":"\"random\"","curr_hash":"` + block.GenesisHash + `"}`
	wantPoW := `{"index":1,"previous_hash":"` + block.GenesisHash + `","data":"[\"\\\"<b>&</b>\\\"\",\"{\\\"n\\\": 1}\"]","curr_hash":"` + pow.CurrHash +
		`","timestamp":1700000000000,"nonce":0,"difficulty":8}`
	wantAfter := `{"index":2,"previous_hash":"` + pow.CurrHash + `","data":"\"classic again\"","curr_hash":"` + after.CurrHash + `"}`
	wantChain := `[` + wantGenesis + `,` + wantPoW + `,` + wantAfter + `]`

	for _, c := range []struct{ target, want string }{
		{"/data", `{"status":"OK","data":` + wantChain + `}`},
		{"/blocks", `{"status":"OK","data":` + wantChain + `}`},
		{"/blocks?from=1&limit=1", `{"status":"OK","data":[` + wantPoW + `]}`},
		{"/blocks/0", `{"status":"OK","data":` + wantGenesis + `}`},
		{"/blocks/1", `{"status":"OK","data":` + wantPoW + `}`},
	} {
		rec := do(t, h, "GET", c.target, "")
		// GET /data streams one block per Encode, each ending in a newline.
		got := strings.ReplaceAll(strings.TrimSpace(rec.Body.String()), "\n", "")
		if rec.Code != 200 || got != c.want {
			t.Errorf("GET %s = %d\n%s\nwant\n%s", c.target, rec.Code, got, c.want)
		}
	}

	// Key counts, and the blocks read back as they are.
	rec := do(t, h, "GET", "/blocks", "")
	var page struct {
		Data []map[string]json.RawMessage
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || len(page.Data) != 3 {
		t.Fatalf("page %s: %v", rec.Body, err)
	}
	for i, want := range []int{4, 7, 4} {
		if got := len(page.Data[i]); got != want {
			t.Errorf("block %d has %d keys, want %d", i, got, want)
		}
	}
	var blocks struct{ Data []block.Block }
	if err := json.Unmarshal(rec.Body.Bytes(), &blocks); err != nil || len(blocks.Data) != 3 ||
		blocks.Data[0] != g || blocks.Data[1] != pow || blocks.Data[2] != after {
		t.Fatalf("read back %+v, %v", blocks.Data, err)
	}
}

// TestEventsShowPoWBlock: GET /events writes a proof-of-work block with its
// seven keys, as GET /blocks does.
func TestEventsShowPoWBlock(t *testing.T) {
	f := newFake()
	srv := httptest.NewServer(NewHandler(f, Options{}))
	defer srv.Close()
	s, cancel := openEvents(t, srv.URL)
	defer cancel()

	// The chain checks the block: mine it (about 256 tries at the least
	// difficulty; everything but the nonce is fixed).
	g := block.Genesis()
	unmined := block.NewPoW(g, []string{`"<b>&</b>"`}, 1_700_000_000_000, block.MinDifficulty)
	var pow block.Block
	for nonce := uint64(0); pow.CurrHash == ""; nonce++ {
		if nonce == 1<<20 {
			t.Fatal("no nonce found")
		}
		b, err := block.Seal(unmined, nonce)
		if err != nil {
			t.Fatal(err)
		}
		if block.CheckNext(g, b) == nil {
			pow = b
		}
	}
	if err := f.events.Append(pow); err != nil {
		t.Fatal(err)
	}
	want := `{"index":1,"previous_hash":"` + block.GenesisHash + `","data":"[\"\\\"<b>&</b>\\\"\"]","curr_hash":"` + pow.CurrHash +
		`","timestamp":1700000000000,"nonce":` + strconv.FormatUint(pow.Nonce, 10) + `,"difficulty":8}`
	if blockJSON(t, pow) != want {
		t.Fatalf("blockJSON = %s, want %s", blockJSON(t, pow), want)
	}
	s.expect(chain.Event{Kind: chain.BlockConnected, Block: pow})
}
