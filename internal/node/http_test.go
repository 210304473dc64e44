package node

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/naivechain/naivechain/internal/api"
)

// idleConn dials the node's API, sends one keep-alive request and reads
// its answer, leaving the connection idle.
func idleConn(t *testing.T, n *running) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", n.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, "GET /node HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /node: %s", resp.Status)
	}
	return c
}

// closedByServer waits, within a deadline, for the server to close c.
func closedByServer(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	var b [1]byte
	if _, err := c.Read(b[:]); !errors.Is(err, io.EOF) {
		t.Fatalf("idle connection: read %v, want EOF from the server's close", err)
	}
}

func getNode(url string) (int, error) {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	resp, err := c.Get(url + "/node")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// Idle keep-alive connections are closed after the idle timeout, and
// their slots serve new clients; an event stream open all along, which is
// never idle, still gets its events.
func TestHTTPIdleConnectionsAreClosed(t *testing.T) {
	const conns = 64
	n := start(t, Config{HTTPIdleTimeout: 50 * time.Millisecond, HTTPMaxConns: conns + 1})
	events, err := http.Get(n.HTTPURL() + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer events.Body.Close()
	stream := bufio.NewReader(events.Body)
	readEvent(t, stream, "tip")

	idle := make([]net.Conn, conns)
	for i := range idle {
		idle[i] = idleConn(t, n)
	}
	for _, c := range idle {
		closedByServer(t, c)
	}
	lim := n.httpLn.(*api.LimitedListener)
	waitFor(t, "the idle connections' slots to be free", func() bool { return lim.Open() == 1 })
	if code, err := getNode(n.HTTPURL()); err != nil || code != http.StatusOK {
		t.Fatalf("a new client after the idle ones were closed: %d %v", code, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := n.Propose(ctx, `"after idle"`); err != nil {
		t.Fatal(err)
	}
	readEvent(t, stream, "connected")
}

// readEvent reads the stream up to the next event and checks its name.
func readEvent(t *testing.T, r *bufio.Reader, want string) {
	t.Helper()
	for range 100 {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("event stream: %v", err)
		}
		if name, ok := strings.CutPrefix(line, "event: "); ok {
			if name = strings.TrimSpace(name); name != want {
				t.Fatalf("event %q, want %q", name, want)
			}
			return
		}
	}
	t.Fatalf("no event %q in 100 lines", want)
}

// The connection past the cap is answered 503 and closed, and a slot is
// free again once a client leaves.
func TestHTTPConnectionCap(t *testing.T) {
	n := start(t, Config{HTTPMaxConns: 4})
	idle := []net.Conn{idleConn(t, n), idleConn(t, n), idleConn(t, n), idleConn(t, n)}
	if code, err := getNode(n.HTTPURL()); err != nil || code != http.StatusServiceUnavailable {
		t.Fatalf("fifth connection: %d %v, want 503", code, err)
	}
	for _, c := range idle {
		c.Close()
	}
	waitFor(t, "a request to succeed once the idle clients left", func() bool {
		code, err := getNode(n.HTTPURL())
		return err == nil && code == http.StatusOK
	})
}

// A node with the default configuration serves its API on 127.0.0.1 only,
// even when its peer port binds every interface.
func TestHTTPBindsLoopbackByDefault(t *testing.T) {
	n, err := newNode(Config{Host: "0.0.0.0", HTTPPort: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer n.store.Close()
	defer n.closeListeners()
	if ip := n.httpLn.Addr().(*net.TCPAddr).IP; !ip.Equal(net.IPv4(127, 0, 0, 1)) {
		t.Errorf("HTTP API bound to %v, want 127.0.0.1", ip)
	}
	if ip := n.wsLn.Addr().(*net.TCPAddr).IP; !ip.IsUnspecified() {
		t.Errorf("peer port bound to %v, want every interface", ip)
	}
	if want := "http://" + n.HTTPAddr(); n.HTTPURL() != want {
		t.Errorf("HTTPURL %q, want %q", n.HTTPURL(), want)
	}
}

func TestHTTPURLHost(t *testing.T) {
	tests := []struct{ bind, advertise, want string }{
		{"127.0.0.1", "192.0.2.7", "127.0.0.1"},
		{"0.0.0.0", "192.0.2.7", "192.0.2.7"},
		{"::", "node1.example.org", "node1.example.org"},
		{"192.0.2.8", "192.0.2.7", "192.0.2.8"},
	}
	for _, tc := range tests {
		if got := httpURLHost(tc.bind, tc.advertise); got != tc.want {
			t.Errorf("httpURLHost(%q, %q) = %q, want %q", tc.bind, tc.advertise, got, tc.want)
		}
	}
}

func TestPeersReach(t *testing.T) {
	tests := []struct {
		bind, advertise string
		want            bool
	}{
		{"127.0.0.1", "127.0.0.1", true}, // a devnet: peers on this machine
		{"127.0.0.1", "192.0.2.7", false},
		{"::1", "localhost", true},
		{"0.0.0.0", "192.0.2.7", true},
		{"192.0.2.7", "192.0.2.7", true},
	}
	for _, tc := range tests {
		if got := peersReach(tc.bind, tc.advertise); got != tc.want {
			t.Errorf("peersReach(%q, %q) = %v, want %v", tc.bind, tc.advertise, got, tc.want)
		}
	}
}

// TestPostPeersSelf asks a node to connect to itself, by its address and
// by other spellings of it: each is refused with 409, saying so, and the
// node lists no peer.
func TestPostPeersSelf(t *testing.T) {
	n := start(t, Config{})
	c := &http.Client{Timeout: 30 * time.Second}
	for _, host := range []string{"127.0.0.1", "localhost", "0.0.0.0", "::ffff:127.0.0.1"} {
		body := `{"host": "` + host + `", "port": ` + strconv.Itoa(n.Port()) + `}`
		resp, err := c.Post("http://"+n.HTTPAddr()+"/peers", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusConflict || !strings.Contains(string(b), `"error": "that is this node: `) {
			t.Errorf("POST /peers %s: %s %s, want 409 saying that is this node", body, resp.Status, b)
		}
	}
	if p := n.Peers(); len(p) != 0 {
		t.Fatalf("the node lists peers: %v", p)
	}
}
