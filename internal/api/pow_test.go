package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/chain"
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
		if want := pySpaced(c.want) + "\n"; rec.Code != 200 || rec.Body.String() != want {
			t.Errorf("GET %s = %d\n%s\nwant\n%s", c.target, rec.Code, rec.Body, want)
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
	pow, err := block.Mine(unmined, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.events.Append(pow); err != nil {
		t.Fatal(err)
	}
	want := `{"index":1,"previous_hash":"` + block.GenesisHash + `","data":"[\"\\\"<b>&</b>\\\"\"]","curr_hash":"` + pow.CurrHash +
		`","timestamp":1700000000000,"nonce":` + strconv.FormatUint(pow.Nonce, 10) + `,"difficulty":8}`
	if want = pySpaced(want); blockJSON(t, pow) != want {
		t.Fatalf("blockJSON = %s, want %s", blockJSON(t, pow), want)
	}
	s.expect(chain.Event{Kind: chain.BlockConnected, Block: pow})
}

// TestRefusedWriteStatuses checks the status of each kind of refused write:
// a conflict cannot be cured by retrying (409), nor a group too large for
// a block (413), an engine without entry ids cannot take ?wait=false (501),
// and anything else is "try again later" (503).
func TestRefusedWriteStatuses(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want int
	}{
		{"conflict", fmt.Errorf("%w: overlap", ErrConflict), http.StatusConflict},
		{"too large", fmt.Errorf("group: %w", block.ErrDataTooLong), http.StatusRequestEntityTooLarge},
		{"unsupported", ErrUnsupported, http.StatusNotImplemented},
		{"busy", errors.New("mempool full"), http.StatusServiceUnavailable},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFake()
			f.propose = func(context.Context, string) error { return c.err }
			f.submit = func(context.Context, []string) ([]string, error) { return nil, c.err }
			h := NewHandler(f, Options{})
			for _, target := range []string{"/data", "/data?wait=false"} {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, loopbackRequest(http.MethodPost, target, strings.NewReader(`{"data": "x"}`)))
				if rec.Code != c.want || !strings.Contains(rec.Body.String(), `"data": false`) {
					t.Fatalf("POST %s: %d %s, want %d with data false", target, rec.Code, rec.Body, c.want)
				}
			}
		})
	}
	f := newFake()
	f.submit = func(context.Context, []string) ([]string, error) { return []string{"abc"}, nil }
	rec := httptest.NewRecorder()
	NewHandler(f, Options{}).ServeHTTP(rec, loopbackRequest(http.MethodPost, "/entries?wait=false", strings.NewReader(`["x", "y"]`)))
	if rec.Code != http.StatusAccepted || rec.Body.String() != `{"status": "OK", "data": {"ids": ["abc"]}}`+"\n" {
		t.Fatalf("POST /entries?wait=false: %d %q", rec.Code, rec.Body)
	}
}
