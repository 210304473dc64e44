package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// chainNode is a node that writes every value it is sent to its chain, in
// arrival order, acknowledging all but those failOn rejects (which it
// still writes: a write may commit after its client gave up). GET /data
// answers the chain with edit applied.
type chainNode struct {
	mu     sync.Mutex
	values []string // JSON-encoded, as a vote node stores them
	failOn func(n int) bool
	edit   func(values []string) []string
}

func (c *chainNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/data":
		var body struct {
			Data json.RawMessage `json:"data"`
		}
		if json.NewDecoder(r.Body).Decode(&body) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		c.values = append(c.values, string(body.Data))
		n := len(c.values)
		c.mu.Unlock()
		if c.failOn != nil && c.failOn(n) {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"status": "ERROR", "data": false, "error": "timeout"}`)
			return
		}
		io.WriteString(w, `{"status": "OK", "data": true}`)
	case r.Method == http.MethodPost && r.URL.Path == "/entries":
		var values []json.RawMessage
		if json.NewDecoder(r.Body).Decode(&values) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		// One block holding them all, as a pow node does.
		data, _ := json.Marshal(values)
		c.mu.Lock()
		c.values = append(c.values, string(data))
		first := len(c.values)
		c.mu.Unlock()
		fmt.Fprintf(w, `{"status": "OK", "data": {"first": %d, "count": 1}}`, first)
	case r.Method == http.MethodGet && r.URL.Path == "/data":
		c.mu.Lock()
		values := append([]string(nil), c.values...)
		c.mu.Unlock()
		if c.edit != nil {
			values = c.edit(values)
		}
		type blk struct {
			Index    int    `json:"index"`
			Data     string `json:"data"`
			CurrHash string `json:"curr_hash"`
		}
		blocks := []blk{{0, "genesis", "g"}}
		for i, v := range values {
			blocks = append(blocks, blk{i + 1, v, fmt.Sprintf("h%d-%s", i+1, v)})
		}
		json.NewEncoder(w).Encode(map[string]any{"status": "OK", "data": blocks})
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func verifyAgainst(t *testing.T, cfg Config, nodes ...*chainNode) *Check {
	t.Helper()
	var urls []string
	for _, n := range nodes {
		srv := httptest.NewServer(n)
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	cfg.Targets, cfg.Duration = urls[:1], time.Minute
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes[1:] {
		n.values = nodes[0].values // replicas of the first
	}
	return Verify(context.Background(), http.DefaultClient, urls, res, 0)
}

// TestVerify: one chain holding every acknowledged value once passes, even
// with the values of failed writes on it; a lost, a repeated or a forked
// block is reported.
func TestVerify(t *testing.T) {
	failEvery7 := func(n int) bool { return n%7 == 0 }
	cfg := Config{Clients: 4, Count: 60, Size: 24}
	for _, tc := range []struct {
		name  string
		edit  func([]string) []string // of the second node's chain
		edit0 func([]string) []string // of both
		check func(c *Check) bool
	}{
		{"good", nil, nil, func(c *Check) bool { return c.OK() && c.Found == 52 && c.Blocks == 61 }},
		{"fork", func(v []string) []string { v = append([]string(nil), v...); v[3] = `"other"`; return v }, nil,
			func(c *Check) bool { return !c.OK() && !c.ChainsEqual && c.Missing == 0 }},
		{"shorter", func(v []string) []string { return v[:len(v)-1] }, nil,
			func(c *Check) bool { return !c.ChainsEqual }},
		// The first value to arrive was acknowledged (failEvery7 fails
		// the 7th, 14th, ...), whichever client sent it.
		{"lost", nil, func(v []string) []string { return v[1:] },
			func(c *Check) bool { return !c.OK() && c.ChainsEqual && c.Missing == 1 }},
		{"twice", nil, func(v []string) []string { return append(append([]string(nil), v...), v[0]) },
			func(c *Check) bool { return !c.OK() && c.ChainsEqual && c.Duplicated == 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &chainNode{failOn: failEvery7, edit: tc.edit0}
			b := &chainNode{edit: tc.edit0}
			if tc.edit != nil {
				b.edit = tc.edit
			}
			c := verifyAgainst(t, cfg, a, b)
			if c.Error != "" || !tc.check(c) {
				t.Fatalf("check %+v", c)
			}
		})
	}
}

// TestVerifyUpTo: with upTo, blocks another client added to one target
// after the load do not make the chains differ; a target shorter than upTo
// does.
func TestVerifyUpTo(t *testing.T) {
	a, b := &chainNode{}, &chainNode{}
	srvA, srvB := httptest.NewServer(a), httptest.NewServer(b)
	defer srvA.Close()
	defer srvB.Close()
	res, err := Run(context.Background(), Config{Targets: []string{srvA.URL}, Clients: 2, Count: 20, Duration: time.Minute, Size: 16})
	if err != nil {
		t.Fatal(err)
	}
	b.values = append(append([]string(nil), a.values...), `"another client's write"`)
	urls := []string{srvA.URL, srvB.URL}
	if c := Verify(context.Background(), http.DefaultClient, urls, res, 21); !c.OK() || c.Blocks != 21 || c.Found != 20 {
		t.Fatalf("up to 21 blocks: %+v", c)
	}
	if c := Verify(context.Background(), http.DefaultClient, urls, res, 0); c.ChainsEqual {
		t.Fatalf("whole chains of different lengths found equal: %+v", c)
	}
	if c := Verify(context.Background(), http.DefaultClient, urls, res, 22); c.ChainsEqual {
		t.Fatalf("a chain shorter than upTo found equal: %+v", c)
	}
}

// TestVerifyBatchInOneBlock: values sent with POST /entries are found
// inside the array a pow block holds.
func TestVerifyBatchInOneBlock(t *testing.T) {
	c := verifyAgainst(t, Config{Clients: 2, Count: 10, Size: 20, Batch: 7}, &chainNode{})
	if !c.OK() || c.Found != 70 || c.Blocks != 11 {
		t.Fatalf("check %+v", c)
	}
}

// TestVerifyBadAnswers: a target that does not answer a chain makes the
// check fail with an error, not pass.
func TestVerifyBadAnswers(t *testing.T) {
	node := &chainNode{}
	srv := httptest.NewServer(node)
	defer srv.Close()
	res, err := Run(context.Background(), Config{Targets: []string{srv.URL}, Clients: 1, Count: 3, Duration: time.Minute, Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{`[]`, `{"status": "OK"}`, `{"status": "OK", "data": {}}`, `{"status": "OK", "data": [{"data": 5}]}`, `{"status": "OK", "data": [`} {
		bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) }))
		c := Verify(context.Background(), http.DefaultClient, []string{srv.URL, bad.URL}, res, 0)
		bad.Close()
		if c.Error == "" || c.OK() {
			t.Errorf("GET /data answering %s: check %+v, want an error", body, c)
		}
	}
	if c := Verify(context.Background(), http.DefaultClient, []string{srv.URL}, &Result{}, 0); c.Error == "" {
		t.Errorf("a result without a run was checked: %+v", c)
	}
}

// FuzzDecodeChain: any answer to GET /data decodes to a chain or an error,
// and counting a block's data never panics nor counts outside the run.
func FuzzDecodeChain(f *testing.F) {
	f.Add([]byte(`{"status": "OK", "data": [{"index": 0, "data": "x", "curr_hash": "h"}]}`))
	f.Add([]byte(`{"data": [{"data": "\"bench-a-1-0...\"", "curr_hash": "h"}], "status": "OK"}`))
	f.Add([]byte(`{"status": "OK", "data": [{"data": "[\"bench-a-99999999999999999999\", \"bench-a-2-7\"]"}]}`))
	f.Add([]byte(`{"status": "OK", "data": {}}`))
	f.Add([]byte(`[1, 2]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r := &run{cfg: Config{Batch: 8}, prefix: "bench-a-", acked: make([]bool, 4)}
		counts := make([]uint8, len(r.acked)*r.per())
		_, n, err := decodeChain(strings.NewReader(string(body)), 0, func(data string) { r.count(data, counts) })
		if err == nil && n > uint64(len(body)) {
			t.Fatalf("%d blocks from %d bytes", n, len(body))
		}
		r.cfg.Batch = 0
		single := make([]uint8, len(r.acked))
		r.count(string(body), single)
	})
}
