package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestPercentile(t *testing.T) {
	ms := func(xs ...int) []time.Duration {
		out := make([]time.Duration, len(xs))
		for i, x := range xs {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one p50", ms(7), 50, 7 * time.Millisecond},
		{"one p99", ms(7), 99, 7 * time.Millisecond},
		{"one max", ms(7), 100, 7 * time.Millisecond},
		{"two p50", ms(1, 2), 50, 1 * time.Millisecond},
		{"two p51", ms(1, 2), 51, 2 * time.Millisecond},
		{"four p50", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"four p75", ms(1, 2, 3, 4), 75, 3 * time.Millisecond},
		{"four p90", ms(1, 2, 3, 4), 90, 4 * time.Millisecond},
		{"five p50", ms(1, 2, 3, 4, 5), 50, 3 * time.Millisecond},
		{"hundred p50", hundred, 50, 50 * time.Millisecond},
		{"hundred p90", hundred, 90, 90 * time.Millisecond},
		{"hundred p99", hundred, 99, 99 * time.Millisecond},
		{"hundred max", hundred, 100, 100 * time.Millisecond},
		{"hundred p0.5", hundred, 0.5, 1 * time.Millisecond},
		{"p0 is the min", ms(3, 4), 0, 3 * time.Millisecond},
		{"ten p99", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 100), 99, 100 * time.Millisecond},
		{"ten p90", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 100), 90, 9 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Percentile(tc.sorted, tc.p); got != tc.want {
				t.Errorf("Percentile(%v, %v) = %v, want %v", tc.sorted, tc.p, got, tc.want)
			}
		})
	}
}

// fakeResolver answers from a table and fails the test on any other name.
type fakeResolver struct {
	t     *testing.T
	names map[string][]string
}

func (f fakeResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	ips, ok := f.names[host]
	if !ok {
		return nil, fmt.Errorf("lookup %s: no such host", host)
	}
	var out []net.IPAddr
	for _, s := range ips {
		out = append(out, net.IPAddr{IP: net.ParseIP(s)})
	}
	return out, nil
}

func TestCheckLoopback(t *testing.T) {
	r := fakeResolver{t: t, names: map[string][]string{
		"localhost":   {"127.0.0.1", "::1"},
		"example.org": {"93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"},
		"mixed.test":  {"127.0.0.1", "10.0.0.1"},
	}}
	for _, tc := range []struct {
		target string
		ok     bool
	}{
		{"http://127.0.0.1:15002", true},
		{"http://127.1.2.3:15002", true},
		{"http://[::1]:15002", true},
		{"http://localhost:15002", true},
		{"http://10.0.0.1:15002", false},
		{"http://0.0.0.0:15002", false},
		{"http://[2001:db8::1]:15002", false},
		{"http://example.org:15002", false},
		{"http://mixed.test:15002", false},
		{"http://unknown.test:15002", false},
	} {
		t.Run(tc.target, func(t *testing.T) {
			err := CheckLoopback(context.Background(), r, []string{tc.target})
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok {
				if !errors.Is(err, ErrNotLoopback) {
					t.Fatalf("got %v, want ErrNotLoopback", err)
				}
				if !strings.Contains(err.Error(), "--allow-remote") {
					t.Errorf("error does not say how to proceed: %v", err)
				}
			}
		})
	}
	// One refused target refuses the list.
	if err := CheckLoopback(context.Background(), r, []string{"http://127.0.0.1:1", "http://10.0.0.1:2"}); !errors.Is(err, ErrNotLoopback) {
		t.Errorf("a list with 10.0.0.1: %v", err)
	}
}

// The system resolver says localhost is loopback (no DNS for literals).
func TestCheckLoopbackSystemResolver(t *testing.T) {
	if err := CheckLoopback(context.Background(), nil, []string{"http://localhost:1", "http://127.0.0.1:2", "http://[::1]:3"}); err != nil {
		t.Fatal(err)
	}
	if err := CheckLoopback(context.Background(), nil, []string{"http://10.0.0.1:2"}); !errors.Is(err, ErrNotLoopback) {
		t.Fatalf("10.0.0.1: %v", err)
	}
}

func TestParseTargets(t *testing.T) {
	got, err := ParseTargets(" http://127.0.0.1:1/, http://[::1]:2 ,")
	if err != nil || strings.Join(got, " ") != "http://127.0.0.1:1 http://[::1]:2" {
		t.Fatalf("got %q, %v", got, err)
	}
	for _, bad := range []string{"", ",", "127.0.0.1:1", "ftp://127.0.0.1:1", "http://127.0.0.1:1/data", "http://:1", "http://u@127.0.0.1:1"} {
		if got, err := ParseTargets(bad); err == nil {
			t.Errorf("ParseTargets(%q) = %q, want an error", bad, got)
		}
	}
}

// The transport refuses to connect to anything but loopback unless told.
func TestTransportLoopbackOnly(t *testing.T) {
	tr := NewTransport(1, false)
	defer tr.CloseIdleConnections()
	_, err := tr.DialContext(context.Background(), "tcp", "10.0.0.1:9") // refused before connecting
	if !errors.Is(err, ErrNotLoopback) {
		t.Fatalf("dial 10.0.0.1: %v, want ErrNotLoopback", err)
	}
}

// fakeNode answers POST /data: request n (from 1) gets 503 if n%10 == 0,
// 400 if n == 13, 200 {"data": false} if n == 7, else OK. It records the
// data strings it received.
type fakeNode struct {
	n    atomic.Int64
	mu   sync.Mutex
	data map[string]int
}

func (f *fakeNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Data string `json:"data"`
	}
	if r.Method != http.MethodPost || r.URL.Path != "/data" || json.NewDecoder(r.Body).Decode(&body) != nil {
		http.Error(w, "bad request", http.StatusTeapot)
		return
	}
	f.mu.Lock()
	f.data[body.Data]++
	f.mu.Unlock()
	n := f.n.Add(1)
	w.Header().Set("Content-Type", "application/json")
	switch {
	case n%10 == 0:
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"status": "ERROR", "data": false, "error": "no majority"}`)
	case n == 13:
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"status": "ERROR", "error": "bad"}`)
	case n == 7:
		io.WriteString(w, `{"status": "OK", "data": false}`)
	default:
		io.WriteString(w, `{"status": "OK", "data": true}`)
	}
}

func TestRunCountsErrorsByKind(t *testing.T) {
	fn := &fakeNode{data: map[string]int{}}
	srv := httptest.NewServer(fn)
	defer srv.Close()
	srv2 := httptest.NewServer(fn) // two targets, one backend
	defer srv2.Close()
	res, err := Run(context.Background(), Config{
		Targets: []string{srv.URL, srv2.URL}, Clients: 8, Count: 100, Duration: time.Hour, Size: 40,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := fn.n.Load(); got != 100 {
		t.Errorf("the server got %d writes, want 100 (the count)", got)
	}
	if res.Sent != 100 || res.Acknowledged != 88 || res.ErrorsTotal != 12 || res.StoppedBy != StoppedByCount {
		t.Errorf("sent %d acknowledged %d errors %d stopped by %s; want 100 88 12 count", res.Sent, res.Acknowledged, res.ErrorsTotal, res.StoppedBy)
	}
	want := map[string]int64{"http_503": 10, "http_400": 1, KindDataFalse: 1}
	if fmt.Sprint(res.Errors) != fmt.Sprint(want) {
		t.Errorf("errors %v, want %v", res.Errors, want)
	}
	if len(fn.data) != 100 {
		t.Errorf("%d distinct data strings, want 100", len(fn.data))
	}
	for d := range fn.data {
		if len(d) != 40 {
			t.Errorf("data %q is %d bytes, want 40", d, len(d))
			break
		}
	}
	l := res.LatencyMs
	if !(0 < l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.Max) || res.WritesPerS <= 0 {
		t.Errorf("latencies %+v, writes/s %v", l, res.WritesPerS)
	}
}

// fakeClock advances by step at every reading.
type fakeClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(c.step)
	return c.t
}

func TestRunDurationBound(t *testing.T) {
	fn := &fakeNode{data: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fn.n.Add(1)
		io.WriteString(w, `{"status": "OK", "data": true}`)
	}))
	defer srv.Close()
	// One client; each write reads the clock 3 times (check, start, end)
	// and the run's start once: writes start at 2, 5, 8 ms; the check at
	// 11 ms finds the 10 ms up.
	clock := &fakeClock{t: time.Unix(0, 0), step: time.Millisecond}
	res, err := Run(context.Background(), Config{
		Targets: []string{srv.URL}, Clients: 1, Count: 1000, Duration: 10 * time.Millisecond, Size: 8, Now: clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.StoppedBy != StoppedByDuration || res.Sent != 3 || fn.n.Load() != 3 || res.Acknowledged != 3 {
		t.Fatalf("stopped by %s after %d writes (server saw %d, %d acknowledged); want duration after 3", res.StoppedBy, res.Sent, fn.n.Load(), res.Acknowledged)
	}
	if res.LatencyMs.Max != 1 || res.WallS != 0.011 {
		t.Errorf("latency max %v ms, wall %v s; want 1 ms and 0.011 s on the fake clock", res.LatencyMs.Max, res.WallS)
	}

	// A real tiny duration with many clients stops too, well before the count.
	res, err = Run(context.Background(), Config{
		Targets: []string{srv.URL}, Clients: 4, Count: 1 << 30 / 64, Duration: time.Millisecond, Size: 8,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.StoppedBy != StoppedByDuration || res.Sent >= 1<<30/64 {
		t.Fatalf("stopped by %s after %d writes", res.StoppedBy, res.Sent)
	}
}

func TestRunTimeoutsAndConnectionErrors(t *testing.T) {
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // then the server notices the client leave
		select {
		case <-r.Context().Done(): // the client gave up
		case <-release:
		}
	}))
	defer hang.Close()
	defer close(release)
	res, err := Run(context.Background(), Config{
		Targets: []string{hang.URL}, Clients: 2, Count: 4, Duration: time.Hour, Size: 8, RequestTimeout: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors[KindTimeout] != 4 || res.Acknowledged != 0 || res.LatencyMs.Max != 0 {
		t.Errorf("errors %v, acknowledged %d, latencies %+v; want 4 timeouts", res.Errors, res.Acknowledged, res.LatencyMs)
	}

	closed := httptest.NewServer(http.NotFoundHandler())
	url := closed.URL
	closed.Close()
	res, err = Run(context.Background(), Config{Targets: []string{url}, Clients: 2, Count: 5, Duration: time.Hour, Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors[KindConnection] != 5 || res.Sent != 5 {
		t.Errorf("errors %v, sent %d; want 5 connection errors", res.Errors, res.Sent)
	}

	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html>") }))
	defer bad.Close()
	res, err = Run(context.Background(), Config{Targets: []string{bad.URL}, Clients: 1, Count: 2, Duration: time.Hour, Size: 8})
	if err != nil || res.Errors[KindBadResponse] != 2 {
		t.Errorf("errors %v, %v; want 2 bad responses", res.Errors, err)
	}
}

func TestRunInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 5 {
			cancel()
		}
		io.WriteString(w, `{"status": "OK", "data": true}`)
	}))
	defer srv.Close()
	res, err := Run(ctx, Config{Targets: []string{srv.URL}, Clients: 1, Count: 100, Duration: time.Hour, Size: 8})
	if !errors.Is(err, context.Canceled) || res == nil || res.StoppedBy != StoppedByInterrupted || res.Sent > 5 || res.ErrorsTotal != 0 {
		t.Fatalf("Run: %+v, %v", res, err)
	}
}

// startFloor serves the floor until the test ends.
func startFloor(t *testing.T) string {
	t.Helper()
	url, stop, err := StartFloor(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	return url
}

func TestFloorAndJSON(t *testing.T) {
	url := startFloor(t)
	res, err := Run(context.Background(), Config{Targets: []string{url}, Clients: 4, Count: 300, Duration: time.Minute, Size: 32})
	if err != nil {
		t.Fatal(err)
	}
	if res.Acknowledged != 300 || res.ErrorsTotal != 0 {
		t.Fatalf("floor: %+v", res)
	}
	res.Mode = "floor"
	var buf bytes.Buffer
	if err := res.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	for _, k := range []string{"mode", "nodes", "targets", "clients", "count", "duration_s", "size", "stopped_by", "sent",
		"acknowledged", "errors_total", "errors", "wall_s", "writes_per_s", "latency_ms", "lag"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON has no %q: %s", k, buf.String())
		}
	}
	var back Result
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil || back.Acknowledged != 300 || back.LatencyMs != res.LatencyMs || back.Lag != nil {
		t.Errorf("decoded %+v, %v", back, err)
	}
	buf.Reset()
	if err := res.WriteTable(&buf); err != nil || !strings.Contains(buf.String(), "writes/s") {
		t.Errorf("table: %v\n%s", err, buf.String())
	}

	// The floor refuses what does not decode.
	resp, err := http.Post(url, "application/json", strings.NewReader(`{"data": `))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad body: %d", resp.StatusCode)
	}
	http.DefaultClient.CloseIdleConnections()
}

func TestMeasureLag(t *testing.T) {
	var mu sync.Mutex
	counts := []uint64{10, 7, 9}
	polls := 0
	srvs := make([]*httptest.Server, len(counts))
	targets := make([]string, len(counts))
	for i := range counts {
		srvs[i] = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			if i == 0 {
				polls++
				if polls == 3 { // the followers catch up after the second poll
					counts[1], counts[2] = 10, 10
				}
			}
			fmt.Fprintf(w, `{"status": "OK", "data": {"peer_id": "x", "data_count": %d, "health": true}}`, counts[i])
		}))
		defer srvs[i].Close()
		targets[i] = srvs[i].URL
	}
	tr := NewTransport(3, false)
	defer tr.CloseIdleConnections()
	l := MeasureLag(context.Background(), &http.Client{Transport: tr}, targets, time.Millisecond, time.Minute)
	if !l.Converged || l.MaxDiffAtEnd != 3 || fmt.Sprint(l.DataCounts) != "[10 10 10]" || l.Error != "" {
		t.Fatalf("lag %+v", l)
	}

	// A target that never catches up: not converged at the deadline.
	mu.Lock()
	counts[2] = 4
	mu.Unlock()
	l = MeasureLag(context.Background(), &http.Client{Transport: tr}, targets, time.Millisecond, 30*time.Millisecond)
	if l.Converged || l.MaxDiffAtEnd != 6 {
		t.Fatalf("lag %+v", l)
	}
}

func TestProgressLine(t *testing.T) {
	for _, tc := range []struct {
		sent, count       int64
		elapsed, duration time.Duration
		want              string
	}{
		{0, 100, 0, time.Minute, "[----------] 0/100 writes 5/s"},
		{50, 100, 0, time.Minute, "[#####-----] 50/100 writes 5/s"},
		{10, 100, 45 * time.Second, time.Minute, "[#######---] 10/100 writes 5/s"},
		{100, 100, time.Second, time.Minute, "[##########] 100/100 writes 5/s"},
		{10, 100, 2 * time.Minute, time.Minute, "[##########] 10/100 writes 5/s"},
	} {
		if got := ProgressLine(tc.sent, tc.count, tc.elapsed, tc.duration, 5, 10); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

// The bar is drawn on the given writer and ends with a newline.
func TestRunProgress(t *testing.T) {
	srv := httptest.NewServer(FloorHandler())
	defer srv.Close()
	var buf syncBuf
	_, err := Run(context.Background(), Config{Targets: []string{srv.URL}, Clients: 2, Count: 20, Duration: time.Minute, Size: 8, Progress: &buf})
	if err != nil {
		t.Fatal(err)
	}
	if s := buf.String(); !strings.Contains(s, "] 20/20 writes") || !strings.HasSuffix(s, "\n") {
		t.Errorf("progress %q", s)
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestRunBatch: with Batch, every request is a POST /entries of Batch
// unique values of Size bytes; an answer whose count is neither the batch
// nor one block is not counted as acknowledged.
func TestRunBatch(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]bool{}
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var values []string
		if r.Method != http.MethodPost || r.URL.Path != "/entries" || json.NewDecoder(r.Body).Decode(&values) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, v := range values {
			if len(v) != 32 || seen[v] {
				t.Errorf("value %q: %d bytes (want 32), or seen before", v, len(v))
			}
			seen[v] = true
		}
		mu.Unlock()
		count := len(values)
		if requests.Add(1) == 3 {
			count-- // a short answer: not an acknowledgement
		}
		fmt.Fprintf(w, `{"status": "OK", "data": {"first": 7, "count": %d}}`, count)
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Config{Targets: []string{srv.URL}, Clients: 3, Count: 30, Duration: time.Hour, Size: 32, Batch: 5})
	if err != nil {
		t.Fatal(err)
	}
	if res.Acknowledged != 29 || res.Errors[KindBadResponse] != 1 || res.Batch != 5 {
		t.Fatalf("acknowledged %d, errors %v, batch %d; want 29, one bad_response, 5", res.Acknowledged, res.Errors, res.Batch)
	}
	if len(seen) != 150 {
		t.Errorf("%d distinct values, want 150", len(seen))
	}
	if res.EntriesPerS != 5*res.WritesPerS || res.EntriesPerS <= 0 {
		t.Errorf("entries/s %v, requests/s %v", res.EntriesPerS, res.WritesPerS)
	}
	var buf bytes.Buffer
	if err := res.WriteTable(&buf); err != nil || !strings.Contains(buf.String(), "entries/s") || !strings.Contains(buf.String(), "POST /entries of 5") {
		t.Errorf("table: %v\n%s", err, buf.String())
	}
}

// TestFloorBatch: the floor answers POST /entries as a node does.
func TestFloorBatch(t *testing.T) {
	url := startFloor(t)
	res, err := Run(context.Background(), Config{Targets: []string{url}, Clients: 2, Count: 40, Duration: time.Minute, Size: 8, Batch: 10})
	if err != nil {
		t.Fatal(err)
	}
	if res.Acknowledged != 40 || res.ErrorsTotal != 0 {
		t.Fatalf("floor batch: %+v", res)
	}
	for _, body := range []string{`[]`, `{"data": 1}`, `[1,`} {
		resp, err := http.Post(url+"/entries", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("POST /entries %s: %d, want 400", body, resp.StatusCode)
		}
	}
}

// TestCompareFloor: the floor's figure and the ratio to it reach the JSON
// and the table.
func TestCompareFloor(t *testing.T) {
	r := &Result{WritesPerS: 3000}
	r.CompareFloor(&Result{WritesPerS: 20000, LatencyMs: Latencies{P99: 5}})
	if r.Floor == nil || r.Floor.Ratio != 0.15 || r.Floor.WritesPerS != 20000 {
		t.Fatalf("floor %+v", r.Floor)
	}
	var buf bytes.Buffer
	if err := r.WriteTable(&buf); err != nil || !strings.Contains(buf.String(), "ratio to the floor  0.15") {
		t.Errorf("table: %v\n%s", err, buf.String())
	}
	buf.Reset()
	if err := r.WriteJSON(&buf); err != nil || !strings.Contains(buf.String(), `"ratio":0.15`) {
		t.Errorf("json: %v\n%s", err, buf.String())
	}
	r.CompareFloor(&Result{})
	if r.Floor.Ratio != 0 {
		t.Errorf("ratio to a floor that acknowledged nothing: %v", r.Floor.Ratio)
	}
	if r.Floor.RatioEqualCPU != 0 || strings.Contains(buf.String(), "equal cpu") {
		t.Errorf("a ratio at equal CPU without CPU figures: %v\n%s", r.Floor.RatioEqualCPU, buf.String())
	}
}

// TestSetCPU: the CPU a load used becomes µs per write and cores busy,
// and with the floor's, the ratio at equal CPU, in the JSON and the table.
func TestSetCPU(t *testing.T) {
	r := &Result{Acknowledged: 4000, WritesPerS: 2000}
	r.SetCPU(800*time.Millisecond, 2*time.Second, ScopeDevnet)
	if c := r.CPU; c == nil || c.PerWriteUs != 200 || c.Cores != 0.4 || c.Scope != ScopeDevnet {
		t.Fatalf("cpu %+v, want 200 µs per write, 0.4 cores", r.CPU)
	}
	f := &Result{Acknowledged: 10000, WritesPerS: 10000}
	f.SetCPU(500*time.Millisecond, time.Second, ScopeFloor)
	r.CompareFloor(f)
	if r.Floor.RatioEqualCPU != 0.25 || r.Floor.Ratio != 0.2 {
		t.Errorf("ratio %v, at equal cpu %v; want 0.2 and 50/200 = 0.25", r.Floor.Ratio, r.Floor.RatioEqualCPU)
	}
	var buf bytes.Buffer
	if err := r.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"200 µs per write, 0.40 cores busy (this process: nodes, servers and clients)",
		"floor cpu           50 µs per write, 0.50 cores busy", "ratio at equal cpu  0.25"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("table has no %q:\n%s", want, buf.String())
		}
	}
	buf.Reset()
	if err := r.WriteJSON(&buf); err != nil || !strings.Contains(buf.String(), `"cpu":{"us_per_write":200,"cores":0.4,"scope":"nodes, servers and clients"}`) ||
		!strings.Contains(buf.String(), `"ratio_equal_cpu":0.25`) {
		t.Errorf("json: %v\n%s", err, buf.String())
	}
	none := &Result{}
	none.SetCPU(time.Second, time.Second, ScopeFloor)
	if none.CPU != nil {
		t.Errorf("cpu per write of a load that acknowledged nothing: %+v", none.CPU)
	}
}
