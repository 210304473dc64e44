package api

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestConsistentQuery: every read route takes ?consistent=; true and 1
// wait for the barrier before reading, false, 0 and no value read at once,
// anything else is a 400 that reads nothing; the answer's body is the
// same either way.
func TestConsistentQuery(t *testing.T) {
	f := newFake()
	if _, err := f.Propose(context.Background(), `"x"`); err != nil {
		t.Fatal(err)
	}
	h := NewHandler(f, Options{})
	for _, path := range []string{"/data", "/blocks", "/blocks/1", "/node"} {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		local := do(t, h, "GET", path, "")
		for _, c := range []struct {
			query   string
			code    int
			barrier bool
		}{
			{"", 200, false},
			{"consistent=false", 200, false},
			{"consistent=0", 200, false},
			{"consistent=true", 200, true},
			{"consistent=1", 200, true},
			{"consistent=", 400, false},
			{"consistent", 400, false},
			{"consistent=yes", 400, false},
			{"consistent=TRUE", 400, false},
			{"consistent=true&consistent=false", 400, false},
		} {
			before := f.barriers
			target := path
			if c.query != "" {
				target += sep + c.query
			}
			rec := do(t, h, "GET", target, "")
			if rec.Code != c.code {
				t.Errorf("GET %s = %d %s, want %d", target, rec.Code, rec.Body, c.code)
			}
			if called := f.barriers > before; called != c.barrier {
				t.Errorf("GET %s: barrier called %v, want %v", target, called, c.barrier)
			}
			if c.code == 200 && path != "/node" && rec.Body.String() != local.Body.String() {
				t.Errorf("GET %s answered\n%s\nthe local read\n%s", target, rec.Body, local.Body)
			}
			if c.code == 400 && !strings.Contains(rec.Body.String(), "consistent: want true, 1, false or 0") {
				t.Errorf("GET %s: 400 without saying why: %s", target, rec.Body)
			}
		}
	}
	// A bad page is refused before any barrier is asked for.
	before := f.barriers
	if rec := do(t, h, "GET", "/blocks?limit=0&consistent=true", ""); rec.Code != 400 || f.barriers != before {
		t.Errorf("bad page with consistent=true: %d, barriers %d -> %d", rec.Code, before, f.barriers)
	}
}

// TestConsistentReadRefused: the barrier's failures: 400 on an engine
// without linearizable reads (pow), 503 saying why without a leader or a
// quorum in time; nothing of the chain is served then.
func TestConsistentReadRefused(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		code int
		want string
	}{
		{"pow", ErrNoConsistentRead, 400, "consistent reads need the vote engine"},
		{"no leader", errors.New("consensus: no leader: this node cannot reach a majority"), 503, "no leader"},
		{"deadline", context.DeadlineExceeded, 503, "not confirmed by a majority within"},
		{"wrapped deadline", errors.Join(errors.New("no majority"), context.DeadlineExceeded), 503, "no quorum"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFake()
			f.barrier = func(context.Context) error { return c.err }
			h := NewHandler(f, Options{})
			for _, path := range []string{"/data", "/blocks", "/blocks/0", "/node"} {
				rec := do(t, h, "GET", path+"?consistent=true", "")
				if rec.Code != c.code || !strings.Contains(rec.Body.String(), c.want) || !strings.Contains(rec.Body.String(), `"status": "ERROR"`) {
					t.Errorf("GET %s?consistent=true = %d %s, want %d with %q", path, rec.Code, rec.Body, c.code, c.want)
				}
				if strings.Contains(rec.Body.String(), "curr_hash") || strings.Contains(rec.Body.String(), "peer_id") {
					t.Errorf("GET %s?consistent=true served the chain after a failed barrier", path)
				}
			}
			if rec := do(t, h, "GET", "/data", ""); rec.Code != 200 {
				t.Errorf("a local read with a failing barrier: %d", rec.Code)
			}
		})
	}
}
