package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestPostEntries(t *testing.T) {
	f := newFake()
	h := NewHandler(f, Options{})
	rec := do(t, h, "POST", "/entries", `["one", 2, {"three": [3]}]`)
	if rec.Code != 200 || rec.Body.String() != `{"status": "OK", "data": {"first": 1, "count": 3}}`+"\n" {
		t.Fatalf("POST /entries: %d %s", rec.Code, rec.Body)
	}
	want := []string{`"one"`, `2`, `{"three": [3]}`}
	for i, b := range f.chain[1:] {
		if b.Index != uint64(i+1) || b.Data != want[i] {
			t.Fatalf("block %d: %+v, want data %s", i+1, b, want[i])
		}
	}
}

func TestPostEntriesRefusals(t *testing.T) {
	many := "[" + strings.Repeat(`"x",`, MaxEntries) + `"x"]`
	for _, body := range []string{``, `{`, `{"data": 1}`, `"x"`, `[]`, `null`, `[1] [2]`, `[1,]`, many,
		"[\"ok\", \"\xff\xfe\"]", "[{\"\xff\": 1}]", `["ok", "\ud800"]`} {
		f := newFake()
		rec := do(t, NewHandler(f, Options{}), "POST", "/entries", body)
		if rec.Code != 400 || !strings.Contains(rec.Body.String(), `"status": "ERROR"`) {
			t.Errorf("%.40q: %d %s, want a JSON 400", body, rec.Code, rec.Body)
		}
		if len(f.proposed) != 0 {
			t.Errorf("%.40q: proposed %v", body, f.proposed)
		}
	}
	f := newFake()
	f.propose = func(_ context.Context, d string) error {
		if d == `"bad"` {
			return errors.New("refused")
		}
		return nil
	}
	rec := do(t, NewHandler(f, Options{}), "POST", "/entries", `["good", "bad"]`)
	if rec.Code != 503 || len(f.chain) != 1 {
		t.Fatalf("a failed group: %d %s, chain %d blocks", rec.Code, rec.Body, len(f.chain))
	}
	if rec := do(t, NewHandler(newFake(), Options{}), "GET", "/entries", ""); rec.Code != 405 {
		t.Fatalf("GET /entries: %d", rec.Code)
	}
}

func FuzzDecodeEntries(f *testing.F) {
	f.Add([]byte(`["a", 1, null]`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := DecodeEntries(strings.NewReader(string(in)))
		if err != nil {
			return
		}
		if len(out) == 0 || len(out) > MaxEntries {
			t.Fatalf("%d entries accepted", len(out))
		}
		for _, d := range out {
			if d == "" {
				t.Fatal("empty entry")
			}
		}
	})
}

// TestGetEntryAnswers: an unknown entry is an error answer like any other
// ({"status": "ERROR", ..., "error": ...}) that still carries the entry's
// state; a known one is an OK answer.
func TestGetEntryAnswers(t *testing.T) {
	id := strings.Repeat("0", 64)
	f := newFake()
	state := "unknown"
	f.entry = func(_ context.Context, got string) (EntryState, error) {
		return EntryState{ID: got, State: state, Index: map[string]uint64{"confirmed": 4}[state], Confirmations: map[string]uint64{"confirmed": 1}[state]}, nil
	}
	h := NewHandler(f, Options{})
	rec := do(t, h, "GET", "/entries/"+id, "")
	want := `{"status": "ERROR", "data": {"id": "` + id + `", "state": "unknown"}, "error": "unknown entry: neither pending in the mempool nor in a block of the best chain"}` + "\n"
	if rec.Code != http.StatusNotFound || rec.Body.String() != want {
		t.Fatalf("GET /entries/{unknown} = %d %s\nwant 404 %s", rec.Code, rec.Body, want)
	}
	state = "confirmed"
	rec = do(t, h, "GET", "/entries/"+id, "")
	want = `{"status": "OK", "data": {"id": "` + id + `", "state": "confirmed", "index": 4, "confirmations": 1}}` + "\n"
	if rec.Code != http.StatusOK || rec.Body.String() != want {
		t.Fatalf("GET /entries/{confirmed} = %d %s\nwant 200 %s", rec.Code, rec.Body, want)
	}
}
