package api

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestConnCounts(t *testing.T) {
	type step struct {
		release bool
		key     string
		refused string // "" when admitted
	}
	tests := []struct {
		name         string
		max, perAddr int
		steps        []step
	}{
		{"no bounds", 0, 0, []step{{false, "a", ""}, {false, "a", ""}, {false, "b", ""}}},
		{"total", 2, 0, []step{{false, "a", ""}, {false, "b", ""}, {false, "c", "too many connections (limit 2)"},
			{true, "a", ""}, {false, "c", ""}}},
		{"per address", 0, 2, []step{{false, "a", ""}, {false, "a", ""},
			{false, "a", "too many connections from one address (limit 2)"}, {false, "b", ""}, {true, "a", ""}, {false, "a", ""}}},
		{"total before per address", 2, 1, []step{{false, "a", ""}, {false, "b", ""}, {false, "a", "too many connections (limit 2)"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cc := newConnCounts(tc.max, tc.perAddr)
			for i, s := range tc.steps {
				if s.release {
					cc.release(s.key)
					continue
				}
				if got := cc.admit(s.key); got != s.refused {
					t.Fatalf("step %d: admit(%q) = %q, want %q", i, s.key, got, s.refused)
				}
			}
		})
	}
	cc := newConnCounts(0, 0)
	cc.admit("a")
	cc.release("a")
	if len(cc.byAddr) != 0 || cc.open() != 0 {
		t.Errorf("after release: %d open, %d addresses kept; want none", cc.open(), len(cc.byAddr))
	}
}

// limitedServer serves h on a loopback listener behind LimitListener.
func limitedServer(t *testing.T, h http.Handler, l ConnLimits) (*httptest.Server, *LimitedListener) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lim := LimitListener(ln, l)
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = lim
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, lim
}

// openIdle dials addr, sends one keep-alive request and reads its answer,
// leaving the connection open and idle on the server.
func openIdle(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if resp := roundTrip(t, c, "GET /node HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /node: %s", resp.Status)
	}
	return c
}

// roundTrip writes req on c and reads one answer, body included.
func roundTrip(t *testing.T, c net.Conn, req string) *http.Response {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// expectRefused sends a request to addr on a new connection and checks
// that the server answers 503 with reason in the body and closes the
// connection.
func expectRefused(t *testing.T, addr, reason string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, "GET /node HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c) // to the server's close
	if err != nil {
		t.Fatalf("reading the refusal: %v (read %q)", err, got)
	}
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(string(got))), nil)
	if err != nil {
		t.Fatalf("refusal %q: %v", got, err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || !resp.Close || !strings.Contains(string(body), reason) {
		t.Errorf("refusal: %s, close %v, body %q; want 503, Connection: close, %q", resp.Status, resp.Close, body, reason)
	}
}

func waitOpen(t *testing.T, l *LimitedListener, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for l.Open() != want {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections open, want %d", l.Open(), want)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not a wait for an outcome
	}
}

// The connection past the cap is answered 503 and closed at once, the
// others keep working, and a slot freed by a closed connection is taken
// again.
func TestLimitListenerRefusesPastTheCap(t *testing.T) {
	srv, lim := limitedServer(t, NewHandler(newFake(), Options{}), ConnLimits{Max: 3})
	addr := srv.Listener.Addr().String()
	idle := []net.Conn{openIdle(t, addr), openIdle(t, addr), openIdle(t, addr)}
	if lim.Open() != 3 {
		t.Fatalf("%d connections open, want 3", lim.Open())
	}
	expectRefused(t, addr, "too many connections (limit 3)")
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	defer client.CloseIdleConnections()
	resp, err := client.Get(srv.URL + "/node")
	if err != nil {
		t.Fatalf("a Go client past the cap: %v; want a 503", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a Go client past the cap: %s, want 503", resp.Status)
	}
	if resp := roundTrip(t, idle[1], "GET /node HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); resp.StatusCode != http.StatusOK {
		t.Errorf("an admitted connection after the refusal: %s", resp.Status)
	}

	idle[0].Close()
	waitOpen(t, lim, 2)
	openIdle(t, addr)
	expectRefused(t, addr, "too many connections (limit 3)")
}

func TestLimitListenerPerAddress(t *testing.T) {
	srv, lim := limitedServer(t, NewHandler(newFake(), Options{}), ConnLimits{Max: 10, PerAddr: 2})
	addr := srv.Listener.Addr().String()
	openIdle(t, addr)
	openIdle(t, addr)
	expectRefused(t, addr, "too many connections from one address (limit 2)")
	if lim.Open() != 2 {
		t.Errorf("%d connections open, want 2", lim.Open())
	}
}

// A body that does not arrive in time is answered 408 and proposes
// nothing.
func TestSlowBodyTimesOut(t *testing.T) {
	f := newFake()
	srv, _ := limitedServer(t, NewHandler(f, Options{BodyTimeout: 50 * time.Millisecond}), ConnLimits{})
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp := roundTrip(t, c, "POST /data HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"da")
	if resp.StatusCode != http.StatusRequestTimeout || !resp.Close {
		t.Errorf("slow body: %s, close %v; want 408 and Connection: close", resp.Status, resp.Close)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.proposed) != 0 {
		t.Errorf("proposed %q for a body that never came", f.proposed)
	}
}

// The body's deadline ends with the body: a write that waits for its
// block longer than the body may take is not cut by it.
func TestBodyTimeoutSparesTheWait(t *testing.T) {
	f := newFake()
	const bodyTimeout = 20 * time.Millisecond
	f.propose = func(ctx context.Context, data string) error {
		// The fake backend takes longer than the body deadline; a
		// deadline left on the connection would cancel ctx meanwhile.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * bodyTimeout):
			return nil
		}
	}
	srv, _ := limitedServer(t, NewHandler(f, Options{BodyTimeout: bodyTimeout}), ConnLimits{})
	resp, err := srv.Client().Post(srv.URL+"/data", "application/json", strings.NewReader(`{"data": "x"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("write: %s %s; want 200", resp.Status, body)
	}
}

// A client that asks for the chain and never reads the answer loses its
// connection once the answer's write deadline passes, instead of holding
// it forever.
func TestUnreadAnswerTimesOut(t *testing.T) {
	f := newFake()
	done := make(chan error, 1)
	for i := range 4000 {
		if _, err := f.Propose(context.Background(), block4k(i)); err != nil {
			t.Fatal(err)
		}
	}
	h := NewHandler(f, Options{WriteTimeout: time.Millisecond, ResponseTimeout: 20 * time.Millisecond})
	srv, lim := limitedServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		done <- nil
	}), ConnLimits{})
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096) // so that the server's writes fill up
	}
	if _, err := io.WriteString(c, "GET /data HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("GET /data to a client that does not read is still being written")
	}
	waitOpen(t, lim, 0)
}

// block4k is a 4 KiB value, so that a few thousand blocks are more than
// the socket buffers hold.
func block4k(i int) string {
	return `"` + strings.Repeat(string(rune('a'+i%26)), 4000) + `"`
}
