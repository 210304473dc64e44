package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/naivechain/naivechain/internal/block"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func do(t *testing.T, h http.Handler, method, target, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := loopbackRequest(method, target, strings.NewReader(body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if ct := rec.Header().Get("Content-Type"); rec.Body.Len() > 0 && ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q, want application/json", method, target, ct)
	}
	return rec
}

func compact(t *testing.T, s string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(s)); err != nil {
		t.Fatalf("not JSON: %v: %q", err, s)
	}
	return buf.String()
}

// The README's example: add "Testing String Again" on a fresh chain, then
// read the chain back.
const readmeGetData = `{
   "status": "OK",
   "data": [
      {
         "index": 0,
         "previous_hash": "ioiiiuasyi891qbduquiuqwiqwiupwe",
         "data": "\"random\"",
         "curr_hash": "71fbc6a1c90d94050b32ab9f9d6a11fc41724f8f954905c120c4c16b71f1f80f"
      },
      {
         "index": 1,
         "previous_hash": "71fbc6a1c90d94050b32ab9f9d6a11fc41724f8f954905c120c4c16b71f1f80f",
         "data": "\"Testing String Again\"",
         "curr_hash": "c8a8924ed4d8c58638b9f4fcbb7609bb0edb4a509d1514246a04ebba680d5a1f"
      }
   ]
}`

func TestReadmeExample(t *testing.T) {
	f := newFake()
	h := NewHandler(f, Options{})

	rec := do(t, h, "POST", "/data", `{"data": "Testing String Again"}`)
	// Byte for byte the original's (Flask-RESTful's) answer.
	if rec.Code != http.StatusOK || rec.Body.String() != `{"status": "OK", "data": true}`+"\n" {
		t.Fatalf("POST /data = %d %q", rec.Code, rec.Body)
	}
	rec = do(t, h, "GET", "/data", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /data = %d", rec.Code)
	}
	if got, want := compact(t, rec.Body.String()), compact(t, readmeGetData); got != want {
		t.Errorf("GET /data\n got %s\nwant %s", got, want)
	}
}

func TestGetDataDoesNotEscapeHTML(t *testing.T) {
	f := newFake()
	h := NewHandler(f, Options{})
	do(t, h, "POST", "/data", `{"data": "<b>&</b>"}`)
	rec := do(t, h, "GET", "/data", "")
	if want := `"data": "\"<b>&</b>\""`; !strings.Contains(rec.Body.String(), want) {
		t.Errorf("GET /data = %s, want it to contain %s", rec.Body, want)
	}
}

func TestGetDataEmptyChain(t *testing.T) {
	f := newFake()
	f.chain = nil
	rec := do(t, NewHandler(f, Options{}), "GET", "/data", "")
	if rec.Code != http.StatusOK || rec.Body.String() != `{"status": "OK", "data": []}`+"\n" {
		t.Errorf("GET /data = %d %s", rec.Code, rec.Body)
	}
}

func TestPostDataBadInput(t *testing.T) {
	tooBig := `{"data": "` + strings.Repeat("a", MaxBodyBytes) + `"}`
	// 'é' is 2 bytes in the body and 6 ("\u00e9") once encoded.
	encodesTooLong := `{"data": "` + strings.Repeat("é", block.MaxDataLen/6+1) + `"}`
	tests := []struct {
		name, body string
		code       int
		errHas     string
	}{
		{"empty body", "", 400, "empty body"},
		{"white space only", "  \n", 400, "empty body"},
		{"invalid JSON", `{"data": }`, 400, "invalid JSON"},
		{"truncated JSON", `{"data": "x"`, 400, "invalid JSON"},
		{"not JSON at all", `data=x`, 400, "invalid JSON"},
		{"string body", `"Testing String Again"`, 400, "body must be a JSON object"},
		{"array body", `[{"data": 1}]`, 400, "body must be a JSON object"},
		{"null body", `null`, 400, "body must be a JSON object"},
		{"missing data key", `{"dat": 1}`, 400, `missing "data" key`},
		{"data key in other case", `{"Data": 1}`, 400, `missing "data" key`},
		{"trailing garbage", `{"data": 1} x`, 400, "unexpected data after the JSON object"},
		{"second object", `{"data": 1}{"data": 2}`, 400, "unexpected data after the JSON object"},
		{"stray brace", `{"data": 1}}`, 400, "unexpected data after the JSON object"},
		{"body over 1 MiB", tooBig, 413, "request body larger than 1048576 bytes"},
		{"data too long once encoded", encodesTooLong, 413, "data longer than"},
		{"invalid UTF-8 in a string", "{\"data\":\"\xff\xfe\"}", 400, "not valid UTF-8"},
		{"invalid UTF-8 nested", "{\"data\": {\"a\": [1, \"x\xc3\"]}}", 400, "not valid UTF-8"},
		{"invalid UTF-8 in a key of data", "{\"data\": {\"\xff\": 1}}", 400, "not valid UTF-8"},
		{"invalid UTF-8 in another key", "{\"data\": 1, \"\xff\": 2}", 400, "not valid UTF-8"},
		{"invalid UTF-8 in the data key", "{\"d\xffata\": 1}", 400, "not valid UTF-8"},
		{"lone high surrogate", `{"data": "\ud800"}`, 400, "unpaired surrogate"},
		{"lone low surrogate nested", `{"data": ["\udc00x"]}`, 400, "unpaired surrogate"},
		{"reversed surrogates in a key", `{"data": {"\udc00\ud800": 1}}`, 400, "unpaired surrogate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			rec := do(t, NewHandler(f, Options{}), "POST", "/data", tt.body)
			if rec.Code != tt.code {
				t.Errorf("code %d, want %d (%s)", rec.Code, tt.code, rec.Body)
			}
			var got errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got.Status != StatusError || got.Data != nil || !strings.Contains(got.Error, tt.errHas) {
				t.Errorf("body %s, want status ERROR, no data, error containing %q", rec.Body, tt.errHas)
			}
			if p := f.proposals(); len(p) != 0 {
				t.Errorf("proposed %q on bad input", p)
			}
		})
	}
}

func TestPostDataValues(t *testing.T) {
	tests := []struct{ body, stored string }{
		{`{"data": "Testing String Again"}`, `"Testing String Again"`},
		{`{"data": 123}`, `123`},
		{`{"data": {"b": [1, true, null], "a": "é"}}`, `{"b": [1, true, null], "a": "\u00e9"}`},
		{`{"extra": 1, "data": false}` + "\n", `false`},
		{`{"data": "\ud83d\ude00 \\ud800"}`, `"\ud83d\ude00 \\ud800"`},
	}
	for _, tt := range tests {
		f := newFake()
		rec := do(t, NewHandler(f, Options{}), "POST", "/data", tt.body)
		if rec.Code != 200 {
			t.Errorf("%s: code %d %s", tt.body, rec.Code, rec.Body)
		}
		if p := f.proposals(); len(p) != 1 || p[0] != tt.stored {
			t.Errorf("%s: proposed %q, want [%q]", tt.body, p, tt.stored)
		}
	}
}

func TestPostDataProposeFails(t *testing.T) {
	tests := []struct {
		name    string
		err     func(ctx context.Context) error
		errText string
	}{
		{
			name: "uncertain, may still commit",
			err: func(context.Context) error {
				return fmt.Errorf("propose: %w", &uncertainErr{may: true, msg: "no majority yet; the write may still be committed later"})
			},
			errText: "propose: no majority yet; the write may still be committed later",
		},
		{
			name:    "uncertain, will not commit",
			err:     func(context.Context) error { return &uncertainErr{may: false, msg: "refused by 2 of 3 peers"} },
			errText: "refused by 2 of 3 peers",
		},
		{
			name:    "plain failure",
			err:     func(context.Context) error { return errDisk },
			errText: "disk on fire",
		},
		{
			name:    "backend only gave up waiting",
			err:     func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() },
			errText: "write not committed within 20ms (context deadline exceeded); it may still be committed later",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			f.propose = func(ctx context.Context, _ string) error { return tt.err(ctx) }
			rec := do(t, NewHandler(f, Options{WriteTimeout: 20 * time.Millisecond}), "POST", "/data", `{"data": 1}`)
			if rec.Code != http.StatusServiceUnavailable {
				t.Errorf("code %d, want 503", rec.Code)
			}
			want, _ := json.Marshal(tt.errText)
			if got, want := rec.Body.String(), `{"status": "ERROR", "data": false, "error": `+string(want)+"}\n"; got != want {
				t.Errorf("body\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestProposeDeadline(t *testing.T) {
	for _, tt := range []struct {
		opt, want time.Duration
	}{{0, DefaultWriteTimeout}, {3 * time.Second, 3 * time.Second}} {
		f := newFake()
		var left time.Duration
		f.propose = func(ctx context.Context, _ string) error {
			d, ok := ctx.Deadline()
			if !ok {
				return errors.New("no deadline")
			}
			left = time.Until(d)
			return nil
		}
		rec := do(t, NewHandler(f, Options{WriteTimeout: tt.opt}), "POST", "/data", `{"data": 1}`)
		if rec.Code != 200 || left > tt.want || left < tt.want-time.Second {
			t.Errorf("WriteTimeout %v: code %d, deadline in %v, want about %v", tt.opt, rec.Code, left, tt.want)
		}
	}
}

func TestPostDataClientGone(t *testing.T) {
	f := newFake()
	f.propose = func(ctx context.Context, _ string) error { <-ctx.Done(); return ctx.Err() }
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequestWithContext(ctx, "POST", "/data", strings.NewReader(`{"data": 1}`))
	req.Host = "127.0.0.1"
	rec := httptest.NewRecorder()
	NewHandler(f, Options{}).ServeHTTP(rec, req)
	if rec.Body.Len() != 0 {
		t.Errorf("answered a client that left: %s", rec.Body)
	}
}

func TestRoutingErrors(t *testing.T) {
	tests := []struct {
		method, target string
		code           int
		allow          string
	}{
		{"GET", "/", 404, ""},
		{"GET", "/nope", 404, ""},
		{"GET", "/data/", 404, ""},
		{"GET", "/blocks/", 404, ""},
		{"GET", "/blocks/1/2", 404, ""},
		{"DELETE", "/nope", 404, ""},
		{"DELETE", "/data", 405, "GET, POST"},
		{"PUT", "/data", 405, "GET, POST"},
		{"POST", "/node", 405, "GET"},
		{"DELETE", "/peers", 405, "GET, POST"},
		{"POST", "/blocks", 405, "GET"},
		{"PUT", "/blocks/3", 405, "GET"},
		{"POST", "/events", 405, "GET"},
	}
	for _, tt := range tests {
		f := newFake()
		rec := do(t, NewHandler(f, Options{}), tt.method, tt.target, `{"data": 1}`)
		if rec.Code != tt.code || rec.Header().Get("Allow") != tt.allow {
			t.Errorf("%s %s = %d Allow %q, want %d Allow %q", tt.method, tt.target, rec.Code, rec.Header().Get("Allow"), tt.code, tt.allow)
		}
		want := `{"status": "ERROR", "error": "not found"}` + "\n"
		if tt.code == 405 {
			want = fmt.Sprintf(`{"status": "ERROR", "error": "method %s not allowed; use %s"}`+"\n", tt.method, strings.ReplaceAll(tt.allow, ", ", " or "))
		}
		if rec.Body.String() != want {
			t.Errorf("%s %s: body %s, want %s", tt.method, tt.target, rec.Body, want)
		}
		if len(f.proposals()) != 0 || len(f.connects) != 0 {
			t.Errorf("%s %s reached the backend", tt.method, tt.target)
		}
	}
}

func TestGetNode(t *testing.T) {
	f := newFake()
	f.info = NodeInfo{
		PeerID:    "7a02e5b3-de28-49e5-947f-93a2c15d1d47",
		DataCount: 2,
		Health:    true,
		RPCPort:   "15001",
		Started:   time.Date(2018, 6, 2, 12, 42, 13, 860551000, time.Local),
	}
	rec := do(t, NewHandler(f, Options{}), "GET", "/node", "")
	want := `{"status": "OK", "data": {"peer_id": "7a02e5b3-de28-49e5-947f-93a2c15d1d47", "data_count": 2, "health": true, "rpc_port": "15001", "age": "2018-06-02 12:42:13.860551"}}` + "\n"
	if rec.Code != 200 || rec.Body.String() != want {
		t.Errorf("GET /node = %d\n got %s\nwant %s", rec.Code, rec.Body, want)
	}
}

func TestGetPeers(t *testing.T) {
	tests := []struct {
		name  string
		peers []Peer
		want  string
	}{
		{"none", nil, `{"status": "OK", "data": {}}`},
		{"readme", []Peer{{ID: "01cfb470-65a3-4267-a33c-28be309b5887", Host: "0.0.0.0", Port: "9803"}},
			`{"status": "OK", "data": {"01cfb470-65a3-4267-a33c-28be309b5887": {"host": "0.0.0.0", "port": "9803"}}}`},
		{"backend order kept, repeated id once", []Peer{{"z", "h1", "1"}, {"a", "h2", "2"}, {"z", "h3", "3"}, {"m<&>", "h4", "4"}},
			`{"status": "OK", "data": {"z": {"host": "h1", "port": "1"}, "a": {"host": "h2", "port": "2"}, "m<&>": {"host": "h4", "port": "4"}}}`},
	}
	for _, tt := range tests {
		f := newFake()
		f.peers = tt.peers
		rec := do(t, NewHandler(f, Options{}), "GET", "/peers", "")
		if rec.Code != 200 || rec.Body.String() != tt.want+"\n" {
			t.Errorf("%s: GET /peers = %d\n got %s\nwant %s", tt.name, rec.Code, rec.Body, tt.want)
		}
	}
}

func TestPostPeers(t *testing.T) {
	tests := []struct {
		name, body string
		code       int
		connect    [2]string // zero: Connect must not be called
		errHas     string
	}{
		{"string port", `{"host": "0.0.0.0", "port": "9803"}`, 200, [2]string{"0.0.0.0", "9803"}, ""},
		{"number port", `{"port": 15001, "host": "10.0.0.7"}`, 200, [2]string{"10.0.0.7", "15001"}, ""},
		{"IPv6 host", `{"host": "::1", "port": "1"}`, 200, [2]string{"::1", "1"}, ""},
		{"missing host", `{"port": "9803"}`, 400, [2]string{}, `missing "host" key`},
		{"host not a string", `{"host": 1, "port": "9803"}`, 400, [2]string{}, `"host" must be a string`},
		{"empty host", `{"host": "", "port": "9803"}`, 400, [2]string{}, `"host" must be a host name`},
		{"host with a path", `{"host": "a/b", "port": "9803"}`, 400, [2]string{}, `"host" must be a host name`},
		{"missing port", `{"host": "h"}`, 400, [2]string{}, `missing "port" key`},
		{"port zero", `{"host": "h", "port": 0}`, 400, [2]string{}, `"port" must be a port number`},
		{"port too big", `{"host": "h", "port": "65536"}`, 400, [2]string{}, `"port" must be a port number`},
		{"port fraction", `{"host": "h", "port": 98.5}`, 400, [2]string{}, `"port" must be a port number`},
		{"port negative", `{"host": "h", "port": -1}`, 400, [2]string{}, `"port" must be a port number`},
		{"port words", `{"host": "h", "port": "http"}`, 400, [2]string{}, `"port" must be a port number`},
		{"port bool", `{"host": "h", "port": true}`, 400, [2]string{}, `"port" must be a port number`},
		{"not an object", `["h", 1]`, 400, [2]string{}, "body must be a JSON object"},
		{"trailing garbage", `{"host": "h", "port": 1},`, 400, [2]string{}, "unexpected data after the JSON object"},
		{"invalid JSON", `{"host": "h", "port": }`, 400, [2]string{}, "invalid JSON"},
		{"invalid UTF-8 in host", "{\"host\": \"h\xff\", \"port\": 1}", 400, [2]string{}, "not valid UTF-8"},
		{"invalid UTF-8 in a key", "{\"host\": \"h\", \"port\": 1, \"\xfe\": 0}", 400, [2]string{}, "not valid UTF-8"},
		{"unpaired surrogate in host", `{"host": "h\udfff", "port": 1}`, 400, [2]string{}, "unpaired surrogate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			rec := do(t, NewHandler(f, Options{}), "POST", "/peers", tt.body)
			if rec.Code != tt.code {
				t.Errorf("code %d, want %d (%s)", rec.Code, tt.code, rec.Body)
			}
			if tt.code == 200 {
				if rec.Body.String() != `{"status": "OK", "data": true}`+"\n" {
					t.Errorf("body %s", rec.Body)
				}
				if len(f.connects) != 1 || f.connects[0] != tt.connect {
					t.Errorf("Connect calls %q, want [%q]", f.connects, tt.connect)
				}
				return
			}
			if len(f.connects) != 0 {
				t.Errorf("Connect called on bad input: %q", f.connects)
			}
			var got errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got.Status != StatusError || got.Data != nil || !strings.Contains(got.Error, tt.errHas) {
				t.Errorf("body %s, want an ERROR containing %q", rec.Body, tt.errHas)
			}
		})
	}
}

func TestPostPeersConnectFails(t *testing.T) {
	f := newFake()
	f.connect = func(ctx context.Context, host, port string) error {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("Connect context has no deadline")
		}
		return errors.New("connection refused")
	}
	rec := do(t, NewHandler(f, Options{}), "POST", "/peers", `{"host": "0.0.0.0", "port": "9803"}`)
	want := `{"status": "ERROR", "data": false, "error": "connecting to 0.0.0.0:9803: connection refused"}` + "\n"
	if rec.Code != http.StatusBadGateway || rec.Body.String() != want {
		t.Errorf("POST /peers = %d %s, want 502 %s", rec.Code, rec.Body, want)
	}
}

func TestPostPeersSelf(t *testing.T) {
	f := newFake()
	f.connect = func(ctx context.Context, host, port string) error {
		return fmt.Errorf("%w: %s:%s reaches it", ErrSelf, host, port)
	}
	rec := do(t, NewHandler(f, Options{}), "POST", "/peers", `{"host": "localhost", "port": "9803"}`)
	want := `{"status": "ERROR", "data": false, "error": "that is this node: localhost:9803 reaches it"}` + "\n"
	if rec.Code != http.StatusConflict || rec.Body.String() != want {
		t.Errorf("POST /peers = %d %s, want 409 %s", rec.Code, rec.Body, want)
	}
}

func TestGetBlocks(t *testing.T) {
	decodePage := func(t *testing.T, rec *httptest.ResponseRecorder) []block.Block {
		t.Helper()
		var page struct {
			Status string
			Data   []block.Block
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || page.Status != StatusOK || page.Data == nil {
			t.Fatalf("page %s: %v", rec.Body, err)
		}
		return page.Data
	}
	tests := []struct {
		name, target string
		chainLen     int64 // < 0: endless
		first        uint64
		count        int
	}{
		{"defaults", "/blocks", 250, 0, 100},
		{"from", "/blocks?from=240", 250, 240, 10},
		{"from and limit", "/blocks?from=1&limit=3", 250, 1, 3},
		{"limit beyond the tip", "/blocks?limit=999", 250, 0, 250},
		{"from at the tip", "/blocks?from=250", 250, 0, 0},
		{"from far past the tip", "/blocks?from=18446744073709551615", 250, 0, 0},
		{"limit capped", "/blocks?limit=5000", -1, 0, 1000},
		{"limit exactly the cap", "/blocks?from=7&limit=1000", -1, 7, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			var made int64
			f.blocks = generatedChain(tt.chainLen, &made)
			rec := do(t, NewHandler(f, Options{}), "GET", tt.target, "")
			if rec.Code != 200 {
				t.Fatalf("code %d %s", rec.Code, rec.Body)
			}
			page := decodePage(t, rec)
			if len(page) != tt.count {
				t.Fatalf("%d blocks, want %d", len(page), tt.count)
			}
			if tt.count == 0 {
				if !strings.Contains(rec.Body.String(), `"data": []`) {
					t.Errorf("empty page %s, want data []", rec.Body)
				}
				return
			}
			if page[0].Index != tt.first {
				t.Errorf("first index %d, want %d", page[0].Index, tt.first)
			}
			for i := 1; i < len(page); i++ {
				if err := block.CheckNext(page[i-1], page[i]); err != nil {
					t.Fatal(err)
				}
			}
			if tt.chainLen < 0 && made != int64(tt.first)+int64(tt.count) {
				t.Errorf("the generator built %d blocks, want it stopped after the page", made)
			}
		})
	}
}

func TestGetBlocksBadInput(t *testing.T) {
	for _, target := range []string{
		"/blocks?from=x", "/blocks?from=-1", "/blocks?from=1.5", "/blocks?from=18446744073709551616",
		"/blocks?limit=0", "/blocks?limit=-5", "/blocks?limit=ten",
		"/blocks/x", "/blocks/-1", "/blocks/1e3",
	} {
		rec := do(t, NewHandler(newFake(), Options{}), "GET", target, "")
		if rec.Code != 400 || !strings.HasPrefix(rec.Body.String(), `{"status": "ERROR", "error": "`) {
			t.Errorf("GET %s = %d %s, want 400 ERROR", target, rec.Code, rec.Body)
		}
	}
}

func TestGetBlock(t *testing.T) {
	f := newFake()
	f.blocks = generatedChain(250, nil)
	h := NewHandler(f, Options{})

	rec := do(t, h, "GET", "/blocks/0", "")
	want, _ := json.Marshal(okBody{Status: StatusOK, Data: block.Genesis()})
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != pySpaced(string(want)) {
		t.Errorf("GET /blocks/0 = %d %s, want %s", rec.Code, rec.Body, want)
	}
	rec = do(t, h, "GET", "/blocks/249", "")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"index": 249,`) {
		t.Errorf("GET /blocks/249 = %d %s", rec.Code, rec.Body)
	}
	rec = do(t, h, "GET", "/blocks/250", "")
	if rec.Code != 404 || rec.Body.String() != `{"status": "ERROR", "error": "block 250 not found"}`+"\n" {
		t.Errorf("GET /blocks/250 = %d %s", rec.Code, rec.Body)
	}
}

func TestReadErrors(t *testing.T) {
	failing := func(after int) func(uint64) iter.Seq2[block.Block, error] {
		return func(from uint64) iter.Seq2[block.Block, error] {
			return func(yield func(block.Block, error) bool) {
				for b, err := range generatedChain(int64(after), nil)(from) {
					if !yield(b, err) {
						return
					}
				}
				yield(block.Block{}, errDisk)
			}
		}
	}
	for _, target := range []string{"/data", "/blocks", "/blocks/3"} {
		f := newFake()
		f.blocks = failing(0)
		rec := do(t, NewHandler(f, Options{}), "GET", target, "")
		want := `{"status": "ERROR", "error": "reading the chain: disk on fire"}` + "\n"
		if rec.Code != 500 || rec.Body.String() != want {
			t.Errorf("GET %s on a failing store = %d %s, want 500 %s", target, rec.Code, rec.Body, want)
		}
	}
	f := newFake()
	f.blocks = failing(2)
	if rec := do(t, NewHandler(f, Options{}), "GET", "/blocks?limit=10", ""); rec.Code != 500 {
		t.Errorf("GET /blocks failing after 2 blocks = %d %s, want 500", rec.Code, rec.Body)
	}
}

// TestGetDataErrorMidStream checks that a chain read failing after the
// status line went out breaks the response instead of ending it as valid
// JSON.
func TestGetDataErrorMidStream(t *testing.T) {
	f := newFake()
	f.blocks = func(from uint64) iter.Seq2[block.Block, error] {
		return func(yield func(block.Block, error) bool) {
			for b, err := range generatedChain(3*flushEvery, nil)(from) {
				if !yield(b, err) {
					return
				}
			}
			yield(block.Block{}, errDisk)
		}
	}
	srv := httptest.NewServer(NewHandler(f, Options{}))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/data")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d, want 200 (the failure comes after the first flush)", resp.StatusCode)
	}
	body, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Fatalf("read a complete body of %d bytes, want a broken one", len(body))
	}
	if json.Valid(body) {
		t.Fatal("the broken body is valid JSON")
	}
}

// TestGetDataStreams reads 100,000 generated blocks through a real server
// and checks they arrive while the chain is still being produced: the
// generator waits, deep into the chain, until the client has decoded the
// first block, which only a streaming handler allows.
func TestGetDataStreams(t *testing.T) {
	const n = 100_000
	clientSawFirst := make(chan struct{})
	f := newFake()
	f.blocks = func(from uint64) iter.Seq2[block.Block, error] {
		return func(yield func(block.Block, error) bool) {
			for b, err := range generatedChain(n, nil)(from) {
				if b.Index == 4*flushEvery {
					select {
					case <-clientSawFirst:
					case <-time.After(10 * time.Second):
						yield(block.Block{}, errors.New("the client saw nothing: GET /data is not streaming"))
						return
					}
				}
				if !yield(b, err) {
					return
				}
			}
		}
	}
	srv := httptest.NewServer(NewHandler(f, Options{}))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/data")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()

	dec := json.NewDecoder(resp.Body)
	expect := func(want ...any) {
		t.Helper()
		for _, w := range want {
			tok, err := dec.Token()
			if err != nil || tok != w {
				t.Fatalf("token %v (%v), want %v", tok, err, w)
			}
		}
	}
	expect(json.Delim('{'), "status", "OK", "data", json.Delim('['))
	var prev block.Block
	count := 0
	for dec.More() {
		var b block.Block
		if err := dec.Decode(&b); err != nil {
			t.Fatalf("block %d: %v", count, err)
		}
		if count == 0 {
			if err := block.CheckGenesis(b); err != nil {
				t.Fatal(err)
			}
			close(clientSawFirst)
		} else if err := block.CheckNext(prev, b); err != nil {
			t.Fatal(err)
		}
		prev = b
		count++
	}
	expect(json.Delim(']'), json.Delim('}'))
	if _, err := dec.Token(); err != io.EOF {
		t.Errorf("after the object: %v, want EOF", err)
	}
	if count != n {
		t.Errorf("%d blocks, want %d", count, n)
	}
}

// TestGetDataLongChainBytes: a chain long enough to be written in several
// pieces and flushes comes out byte for byte as Python's json.dumps would
// write it: each block as encoding/json (HTML escaping off) writes it,
// re-spaced and with non-ASCII escaped, which cross-checks
// block.AppendPyJSON against appendPyJSON.
func TestGetDataLongChainBytes(t *testing.T) {
	f := newFake()
	values := []string{`"<b>&</b>"`, `"é 😀 \u2028"`, `"line\nbreak\ttab"`, `{"k": [1, 2]}`, `12.5`}
	for i := range 2000 {
		f.chain = append(f.chain, block.Next(f.chain[len(f.chain)-1], values[i%len(values)]))
	}
	f.chain[5].Data = "raw é 😀 \x7f\u2028 <&>" // as a legacy peer might have stored it
	var compact bytes.Buffer
	compact.WriteString(`{"status":"OK","data":[`)
	enc := json.NewEncoder(&compact)
	enc.SetEscapeHTML(false)
	for i, b := range f.chain {
		if i > 0 {
			compact.WriteByte(',')
		}
		if err := enc.Encode(struct {
			Index        uint64 `json:"index"`
			PreviousHash string `json:"previous_hash"`
			Data         string `json:"data"`
			CurrHash     string `json:"curr_hash"`
		}{b.Index, b.PreviousHash, b.Data, b.CurrHash}); err != nil {
			t.Fatal(err)
		}
		compact.Truncate(compact.Len() - 1) // Encode's newline
	}
	compact.WriteString("]}\n")
	want := pySpaced(compact.String())
	rec := do(t, NewHandler(f, Options{}), "GET", "/data", "")
	if rec.Code != http.StatusOK || rec.Body.String() != want {
		t.Fatalf("GET /data of %d blocks: %d, %d bytes, want %d identical bytes", len(f.chain), rec.Code, rec.Body.Len(), len(want))
	}
	if strings.ContainsFunc(want, func(r rune) bool { return r >= 0x7f }) {
		t.Fatal("non-ASCII left in the answer")
	}
}
