package p2p

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/naivechain/naivechain/internal/wire"
)

const testGenesis = "71fbc6a1c90d94050b32ab9f9d6a11fc41724f8f954905c120c4c16b71f1f80f"

// testNode is a Host served on a loopback port, with Run going.
type testNode struct {
	t      testing.TB
	id     string
	port   string
	h      *Host
	srv    *http.Server
	ln     net.Listener // the Host's listener, which srv serves
	cancel context.CancelFunc
	ran    chan struct{}
	served chan struct{}
}

// startNode serves a new Host for id on port ("" picks a free one) and runs it.
func startNode(t testing.TB, id, port string, tune func(*Config)) *testNode {
	t.Helper()
	return startNodeOn(t, "127.0.0.1", id, port, tune)
}

// startNodeOn is startNode listening on, and advertising, host.
func startNodeOn(t testing.TB, host, id, port string, tune func(*Config)) *testNode {
	t.Helper()
	if port == "" {
		port = "0"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ = net.SplitHostPort(ln.Addr().String())
	cfg := Config{
		Self:        wire.PeerInfo{ID: id, Host: host, Port: port},
		Key:         keyFor(t, id),
		IDOf:        testIDOf,
		Genesis:     testGenesis,
		Engine:      "vote",
		Heartbeat:   50 * time.Millisecond,
		DeadAfter:   2 * time.Second, // generous: -race on a loaded machine delays heartbeats
		DialTimeout: 2 * time.Second,
		Logger:      testLogger(),
	}
	if tune != nil {
		tune(&cfg)
	}
	n := &testNode{t: t, id: id, port: port, h: New(cfg), ran: make(chan struct{}), served: make(chan struct{})}
	n.srv = &http.Server{Handler: n.h, ReadHeaderTimeout: 5 * time.Second}
	n.ln = n.h.Listener(ln)
	go func() {
		defer close(n.served)
		_ = n.srv.Serve(n.ln)
	}()
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	go func() {
		defer close(n.ran)
		if err := n.h.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(n.stop)
	return n
}

// stop stops Run and the HTTP server and waits for both.
func (n *testNode) stop() {
	n.cancel()
	<-n.ran
	n.srv.Close()
	<-n.served
}

func (n *testNode) info() wire.PeerInfo { return n.h.cfg.Self }

func (n *testNode) connect(t testing.TB, to *testNode) {
	t.Helper()
	if _, err := n.h.Connect(context.Background(), "127.0.0.1", to.port, to.id); err != nil {
		t.Fatalf("%s connect to %s: %v", n.id, to.id, err)
	}
}

func testLogger() *slog.Logger {
	if os.Getenv("P2P_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not a wait for an event
	}
}

func peerIDs(h *Host) []string {
	var ids []string
	for _, p := range h.Peers() {
		ids = append(ids, p.ID)
	}
	return ids
}

func hasPeer(h *Host, id string) bool { return slices.Contains(peerIDs(h), id) }

func TestHandshake(t *testing.T) {
	a := startNode(t, "a", "", nil)
	b := startNode(t, "b", "", nil)
	got, err := b.h.Connect(context.Background(), "127.0.0.1", a.port, "a")
	if err != nil {
		t.Fatal(err)
	}
	if got != a.info() {
		t.Fatalf("Connect returned %+v, want %+v", got, a.info())
	}
	waitFor(t, "a and b connected", func() bool { return hasPeer(a.h, "b") && hasPeer(b.h, "a") }, 10*time.Second)
	if k := a.h.Known(); len(k) != 1 || k[0] != b.info() {
		t.Fatalf("a knows %+v, want b", k)
	}
	// Connecting again to a connected peer keeps the one connection.
	if _, err := b.h.Connect(context.Background(), "127.0.0.1", a.port, ""); err != nil {
		t.Fatal(err)
	}
	if n := b.h.live.Load(); n != 1 {
		t.Fatalf("b has %d connections, want 1", n)
	}
}

func TestConnectWithoutExpectedID(t *testing.T) {
	a := startNode(t, "a", "", nil)
	b := startNode(t, "b", "", nil)
	got, err := b.h.Connect(context.Background(), "localhost", a.port, "")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "a" {
		t.Fatalf("Connect returned %+v", got)
	}
}

func TestConnectIDMismatch(t *testing.T) {
	a := startNode(t, "a", "", nil)
	b := startNode(t, "b", "", nil)
	_, err := b.h.Connect(context.Background(), "127.0.0.1", a.port, "zed")
	if !errors.Is(err, ErrIDMismatch) {
		t.Fatalf("err = %v, want ErrIDMismatch", err)
	}
	want := fmt.Sprintf("peer at 127.0.0.1:%s has id a, not zed", a.port)
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not say %q", err, want)
	}
	if ids := peerIDs(b.h); len(ids) != 0 {
		t.Fatalf("b kept a connection: %v", ids)
	}
	waitFor(t, "a to drop the refused connection", func() bool { return a.h.live.Load() == 0 || hasPeer(a.h, "b") && hasPeer(b.h, "a") }, 10*time.Second)
}

func TestConnectRefusesIncompatible(t *testing.T) {
	tests := []struct {
		name string
		tune func(*Config)
		want string
	}{
		{"genesis", func(c *Config) { c.Genesis = strings.Repeat("0", 64) }, "genesis mismatch"},
		{"engine", func(c *Config) { c.Engine = "pow" }, "engine mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := startNode(t, "a", "", nil)
			b := startNode(t, "b", "", tt.tune)
			_, err := b.h.Connect(context.Background(), "127.0.0.1", a.port, "a")
			if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("b: err = %v, want ErrRejected with %q", err, tt.want)
			}
			_, err = a.h.Connect(context.Background(), "127.0.0.1", b.port, "b")
			if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("a: err = %v, want ErrRejected with %q", err, tt.want)
			}
			if len(a.h.Peers())+len(b.h.Peers()) != 0 {
				t.Fatalf("incompatible peers connected: %v %v", a.h.Peers(), b.h.Peers())
			}
		})
	}
}

func TestConnectToSelfRefused(t *testing.T) {
	a := startNode(t, "a", "", nil)
	if _, err := a.h.Connect(context.Background(), "127.0.0.1", a.port, ""); err == nil {
		t.Fatal("connected to itself")
	}
	if _, err := a.h.Connect(context.Background(), "127.0.0.1", a.port, "a"); !errors.Is(err, ErrSelf) {
		t.Fatalf("err = %v, want ErrSelf", err)
	}
	if len(a.h.Peers()) != 0 {
		t.Fatalf("a lists itself: %v", a.h.Peers())
	}
}

func TestSimultaneousDialKeepsOneConnection(t *testing.T) {
	for i := range 10 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			a := startNode(t, "a", "", nil)
			b := startNode(t, "b", "", nil)
			errs := make(chan error, 2)
			go func() { _, err := a.h.Connect(context.Background(), "127.0.0.1", b.port, "b"); errs <- err }()
			go func() { _, err := b.h.Connect(context.Background(), "127.0.0.1", a.port, "a"); errs <- err }()
			for range 2 {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			dialer := func(h *Host, peer string) string {
				h.mu.Lock()
				defer h.mu.Unlock()
				if c := h.conns[peer]; c != nil {
					return c.dialer
				}
				return ""
			}
			var state string
			defer func() {
				if t.Failed() {
					t.Log("last state:", state)
				}
			}()
			// Both ends keep the same single connection: the one dialed by
			// a when both dials got through, or the only one when a Connect
			// found the other's connection already up.
			waitFor(t, "one connection, the same on both sides", func() bool {
				state = fmt.Sprintf("live a=%d b=%d, dialer a→b=%q b→a=%q", a.h.live.Load(), b.h.live.Load(), dialer(a.h, "b"), dialer(b.h, "a"))
				d := dialer(a.h, "b")
				return a.h.live.Load() == 1 && b.h.live.Load() == 1 && d != "" && d == dialer(b.h, "a")
			}, 10*time.Second)
		})
	}
}

func TestWins(t *testing.T) {
	tests := []struct {
		self, peer         string
		newDialer, oldDial string
		want               bool
	}{
		{"a", "b", "a", "b", true},  // dialed by the smaller id wins
		{"a", "b", "b", "a", false}, // ...and the other loses
		{"b", "a", "a", "b", true},  // the same choice on the other end
		{"b", "a", "b", "a", false},
		{"a", "b", "b", "b", true}, // same dialer: the newer wins (restart)
		{"a", "b", "a", "a", true},
	}
	for _, tt := range tests {
		h := &Host{cfg: Config{Self: wire.PeerInfo{ID: tt.self}}}
		c := &conn{h: h, peer: wire.PeerInfo{ID: tt.peer}, dialer: tt.newDialer}
		old := &conn{h: h, peer: wire.PeerInfo{ID: tt.peer}, dialer: tt.oldDial}
		if got := c.wins(old); got != tt.want {
			t.Errorf("self %s peer %s: new by %s wins over old by %s = %v, want %v", tt.self, tt.peer, tt.newDialer, tt.oldDial, got, tt.want)
		}
	}
}

func TestGossipChain(t *testing.T) {
	const n = 5
	var nodes []*testNode
	for i := range n {
		nodes = append(nodes, startNode(t, fmt.Sprintf("n%d", i), "", nil))
		if i > 0 {
			nodes[i].connect(t, nodes[i-1])
		}
	}
	// Replaced duplicate connections may take a moment to finish closing.
	waitFor(t, "a full mesh, one connection per pair", func() bool {
		for _, x := range nodes {
			if len(x.h.Peers()) != n-1 || x.h.live.Load() != n-1 {
				return false
			}
		}
		return true
	}, 10*time.Second)
	for _, x := range nodes {
		if ids := peerIDs(x.h); slices.Contains(ids, x.id) || !slices.IsSorted(ids) {
			t.Errorf("%s: Peers() = %v", x.id, ids)
		}
	}
}

func TestStoppedPeerLeavesAndComesBack(t *testing.T) {
	a := startNode(t, "a", "", nil)
	b := startNode(t, "b", "", nil)
	c := startNode(t, "c", "", nil)
	b.connect(t, a)
	c.connect(t, b)
	waitFor(t, "mesh of 3", func() bool { return hasPeer(a.h, "c") && hasPeer(c.h, "a") }, 10*time.Second)

	c.stop()
	waitFor(t, "c gone from a and b", func() bool { return !hasPeer(a.h, "c") && !hasPeer(b.h, "c") }, 10*time.Second)
	if !slices.ContainsFunc(a.h.Known(), func(p wire.PeerInfo) bool { return p.ID == "c" }) {
		t.Fatal("a forgot c at once")
	}

	// c restarts on the same port with the same id and knows nobody: a and
	// b redial it.
	startNode(t, "c", c.port, nil)
	waitFor(t, "c back in a and b", func() bool { return hasPeer(a.h, "c") && hasPeer(b.h, "c") }, 10*time.Second)
}

// rawPeer is a hand-driven client of the protocol.
// It holds a key of its own, which proves whatever id its first Hello
// claims (testIDOf): a peer that owns the id it announces.
type rawPeer struct {
	ws  *websocket.Conn
	key ed25519.PrivateKey
}

func dialRaw(t *testing.T, port string) *rawPeer {
	t.Helper()
	r, status, err := hostileDial(t, "127.0.0.1:"+port)
	if err != nil {
		t.Fatalf("dial: status %d: %v", status, err)
	}
	return r
}

func (r *rawPeer) write(t *testing.T, typ websocket.MessageType, b []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.ws.Write(ctx, typ, b); err != nil {
		t.Fatal(err)
	}
}

func (r *rawPeer) send(t *testing.T, m wire.Message) {
	t.Helper()
	if h, ok := m.(*wire.Hello); ok && r.key != nil {
		nameKey(r.key, h.NodeID)
		r.key = nil
	}
	b, err := wire.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	r.write(t, websocket.MessageBinary, b)
}

// handshake sends a Hello for id and reads the answer.
func (r *rawPeer) handshake(t *testing.T, id string) wire.Message {
	t.Helper()
	r.send(t, &wire.Hello{Version: wire.ProtocolVersion, NodeID: id, Host: "127.0.0.1", Port: "1", Genesis: testGenesis, Engine: "vote"})
	m, err := r.read()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (r *rawPeer) read() (wire.Message, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, b, err := r.ws.Read(ctx)
	if err != nil {
		return nil, err
	}
	return wire.Decode(b)
}

// readUntilClosed reads until the connection ends and returns its error.
func (r *rawPeer) readUntilClosed(t *testing.T) error {
	t.Helper()
	for {
		if _, err := r.read(); err != nil && !errors.Is(err, wire.ErrMalformed) {
			return err
		}
	}
}

func TestMalformedFramesDisconnect(t *testing.T) {
	bad := []struct {
		name string
		typ  websocket.MessageType
		b    []byte
	}{
		{"unknown type", websocket.MessageBinary, []byte{0xff}},
		{"bad json", websocket.MessageBinary, []byte{byte(wire.TypePeers), '{'}},
		{"invalid peer", websocket.MessageBinary, append([]byte{byte(wire.TypePeers)}, `{"peers":[{"id":"x y","host":"h","port":"1"}]}`...)},
		{"text frame", websocket.MessageText, []byte(`{"CMD":"PING"}`)},
		{"second hello", websocket.MessageBinary, mustEncode(t, &wire.Hello{Version: wire.ProtocolVersion, NodeID: "raw", Host: "127.0.0.1", Port: "1", Genesis: testGenesis, Engine: "vote"})},
	}
	a := startNode(t, "a", "", nil)
	for i, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			id := fmt.Sprintf("raw-%d", i) // each is banned after its message
			r := dialRaw(t, a.port)
			if m := r.handshake(t, id); m.Type() != wire.TypeHello {
				t.Fatalf("handshake answer %v", m.Type())
			}
			waitFor(t, id+" connected", func() bool { return hasPeer(a.h, id) }, 10*time.Second)
			r.write(t, tt.typ, tt.b)
			var rej *wire.Reject
			for rej == nil {
				m, err := r.read()
				if err != nil {
					t.Fatalf("closed without a Reject: %v", err)
				}
				rej, _ = m.(*wire.Reject)
			}
			t.Logf("reject reason: %s", rej.Reason)
			err := r.readUntilClosed(t)
			if s := websocket.CloseStatus(err); s != websocket.StatusPolicyViolation && s != websocket.StatusUnsupportedData {
				t.Fatalf("connection ended with %v, want a policy close", err)
			}
			waitFor(t, id+" dropped", func() bool { return !hasPeer(a.h, id) }, 10*time.Second)
			if !slices.ContainsFunc(a.h.Bans(), func(b Ban) bool { return b.ID == id }) {
				t.Fatalf("%s not banned after a malformed message: %+v", id, a.h.Bans())
			}
			if m := dialRaw(t, a.port).handshake(t, id); m.Type() != wire.TypeReject {
				t.Fatalf("handshake of the banned %s answered %v, want Reject", id, m.Type())
			}
		})
	}
	t.Run("garbage instead of hello", func(t *testing.T) {
		r := dialRaw(t, a.port)
		r.write(t, websocket.MessageBinary, []byte{byte(wire.TypeHello), 'x'})
		m, err := r.read()
		if err != nil {
			t.Fatal(err)
		}
		if rej, ok := m.(*wire.Reject); !ok || !strings.Contains(rej.Reason, "malformed") {
			t.Fatalf("answer %+v, want a Reject saying malformed", m)
		}
	})
	// The host still works.
	b := startNode(t, "b", "", nil)
	b.connect(t, a)
}

func TestSilentPeerDropped(t *testing.T) {
	a := startNode(t, "a", "", func(c *Config) { c.DeadAfter = 300 * time.Millisecond })
	r := dialRaw(t, a.port)
	r.handshake(t, "mute")
	waitFor(t, "mute connected", func() bool { return hasPeer(a.h, "mute") }, 10*time.Second)
	// The raw peer never writes again: a must drop it after DeadAfter.
	waitFor(t, "mute dropped", func() bool { return !hasPeer(a.h, "mute") }, 30*time.Second)
}

// TestSendToFullQueueDoesNotBlock: Send to a peer that reads nothing
// returns, dropping what does not fit, while that peer is still held. The
// peer reads nothing until every Send has returned, so a Send that waited
// for it would never return: the deadline below only turns that hang into
// a failure, it measures nothing.
func TestSendToFullQueueDoesNotBlock(t *testing.T) {
	a := startNode(t, "a", "", func(c *Config) {
		c.QueueLen = 2
		// The writer stalls on the full socket: it must not give up
		// and close the link while the test runs, however slow the
		// machine.
		c.DeadAfter, c.DialTimeout = time.Hour, time.Hour
	})
	r := dialRaw(t, a.port)
	r.handshake(t, "slow")
	waitFor(t, "slow connected", func() bool { return hasPeer(a.h, "slow") }, 10*time.Second)
	// 200 messages of 256 KiB: far more than the queue and the socket's
	// buffers hold.
	big := &wire.Consensus{Payload: make([]byte, 256<<10)}
	sent := make(chan int, 1)
	go func() {
		dropped := 0
		for range 200 {
			if !a.h.Send("slow", big) {
				dropped++
			}
		}
		sent <- dropped
	}()
	var dropped int
	select {
	case dropped = <-sent:
	case <-time.After(2 * time.Minute):
		t.Fatal("Send waits for a peer that does not read")
	}
	if !hasPeer(a.h, "slow") {
		t.Fatal("the peer was dropped: the test did not hold a full queue")
	}
	if dropped == 0 || a.h.Stats().DroppedOutbound < uint64(dropped) {
		t.Fatalf("dropped %d, stats %+v: want drops, each counted (pings dropped count too)", dropped, a.h.Stats())
	}
	if a.h.Send("nobody", &wire.Ping{}) {
		t.Fatal("Send to an unknown peer succeeded")
	}
}

func TestInboundConsensus(t *testing.T) {
	a := startNode(t, "a", "", nil)
	b := startNode(t, "b", "", nil)
	b.connect(t, a)
	waitFor(t, "connected", func() bool { return hasPeer(a.h, "b") }, 10*time.Second)
	for i := range 10 {
		if !a.h.Send("b", &wire.Consensus{Payload: []byte{byte(i)}}) {
			t.Fatal("Send failed")
		}
	}
	a.h.Broadcast(&wire.Consensus{Payload: []byte{10}})
	timeout := time.After(5 * time.Second)
	for i := range 11 {
		select {
		case in := <-b.h.Inbound():
			if in.From != a.info() {
				t.Fatalf("From = %+v, want a", in.From)
			}
			c, ok := in.Msg.(*wire.Consensus)
			if !ok || len(c.Payload) != 1 || c.Payload[0] != byte(i) {
				t.Fatalf("message %d = %+v", i, in.Msg)
			}
		case <-timeout:
			t.Fatalf("message %d not delivered", i)
		}
	}
}

func TestInboundFullDropsConsensus(t *testing.T) {
	a := startNode(t, "a", "", nil)
	b := startNode(t, "b", "", func(c *Config) { c.InboundLen = 1 })
	b.connect(t, a)
	waitFor(t, "connected", func() bool { return hasPeer(a.h, "b") }, 10*time.Second)
	for range 5 {
		a.h.Send("b", &wire.Consensus{Payload: []byte{1}})
	}
	waitFor(t, "drops counted", func() bool { return b.h.Stats().DroppedInbound == 4 }, 10*time.Second)
	if !hasPeer(b.h, "a") {
		t.Fatal("b dropped a")
	}
}

func TestAddKnownDials(t *testing.T) {
	a := startNode(t, "a", "", nil)
	b := startNode(t, "b", "", nil)
	b.h.AddKnown(a.info())
	b.h.AddKnown(b.info()) // ignored
	waitFor(t, "b dialed a", func() bool { return hasPeer(a.h, "b") && hasPeer(b.h, "a") }, 10*time.Second)
}

func TestIPv6(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback:", err)
	}
	ln.Close()
	a := startNodeOn(t, "::1", "a", "", nil)
	b := startNodeOn(t, "::1", "b", "", nil)
	c := startNode(t, "c", "", nil)
	if _, err := b.h.Connect(context.Background(), "::1", a.port, "a"); err != nil {
		t.Fatal(err)
	}
	// c learns a and b from the table and gossip, and dials their IPv6
	// addresses itself.
	c.h.AddKnown(b.info())
	waitFor(t, "c connected to a and b over IPv6", func() bool { return hasPeer(c.h, "a") && hasPeer(c.h, "b") }, 10*time.Second)
}

func TestCloseWithoutRun(t *testing.T) {
	h := New(Config{Self: wire.PeerInfo{ID: "x", Host: "127.0.0.1", Port: "1"}, Genesis: testGenesis, Engine: "vote"})
	h.Close()
	h.Close()
	if err := h.Run(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Run after Close = %v", err)
	}
	if _, err := h.Connect(context.Background(), "127.0.0.1", "1", ""); !errors.Is(err, ErrClosed) {
		t.Fatalf("Connect after Close = %v", err)
	}
	if _, ok := <-h.Inbound(); ok {
		t.Fatal("Inbound not closed")
	}
}

func mustEncode(t *testing.T, m wire.Message) []byte {
	t.Helper()
	b, err := wire.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// lockedBuffer is a log sink the test can read while the Host writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestLogsConnectionEvents(t *testing.T) {
	var logs lockedBuffer
	a := startNode(t, "a", "", func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	b := startNode(t, "b", "", nil)
	b.connect(t, a)
	waitFor(t, "connection logged", func() bool {
		return strings.Contains(logs.String(), `msg="peer connected" actor=RPC_SERVER id=b`)
	}, 10*time.Second)
	b.stop()
	waitFor(t, "disconnection logged", func() bool {
		return strings.Contains(logs.String(), `msg="peer disconnected" actor=RPC_SERVER id=b`)
	}, 10*time.Second)
}

func TestDisconnectTellsWhy(t *testing.T) {
	a := startNode(t, "a", "", nil)
	r := dialRaw(t, a.port)
	r.handshake(t, "raw")
	waitFor(t, "raw connected", func() bool { return hasPeer(a.h, "raw") }, 10*time.Second)
	a.h.Disconnect("raw", "invalid consensus message")
	for {
		m, err := r.read()
		if err != nil {
			t.Fatalf("connection closed without a Reject: %v", err)
		}
		if rej, ok := m.(*wire.Reject); ok {
			if rej.Reason != "invalid consensus message" {
				t.Fatalf("Reject reason %q", rej.Reason)
			}
			break
		}
	}
	if err := r.readUntilClosed(t); websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
		t.Fatalf("closed with %v, want a policy close", err)
	}
	if hasPeer(a.h, "raw") {
		t.Fatal("raw still listed")
	}
}

// TestQueueBoundedInBytes: a peer that does not read is queued no more
// than QueueBytes, however few messages that is.
func TestQueueBoundedInBytes(t *testing.T) {
	a := startNode(t, "a", "", func(c *Config) {
		c.QueueBytes = 4 << 20
		// The hoarder neither reads nor writes: it must stay
		// connected (no write deadline, no silence limit reached)
		// while the test runs, however slow the machine.
		c.DeadAfter, c.DialTimeout = time.Hour, time.Hour
	})
	r := dialRaw(t, a.port)
	r.handshake(t, "hoarder")
	waitFor(t, "hoarder connected", func() bool { return hasPeer(a.h, "hoarder") }, 10*time.Second)
	big := &wire.Consensus{Payload: make([]byte, 1<<20)}
	for range 64 {
		a.h.Send("hoarder", big)
	}
	a.h.mu.Lock()
	c := a.h.conns["hoarder"]
	a.h.mu.Unlock()
	if c == nil {
		t.Fatal("hoarder not connected")
	}
	if q := c.queued.Load(); q > 4<<20 {
		t.Fatalf("%d bytes queued, more than the 4 MiB bound", q)
	}
	if a.h.Stats().DroppedOutbound == 0 {
		t.Fatal("nothing dropped")
	}
	// Once the connection ends, what it held leaves the Host's count.
	// The hoarder ends it: a's writer, stalled without a deadline,
	// fails at once on the reset.
	r.ws.CloseNow()
	waitFor(t, "the queue given back", func() bool { return a.h.queued.Load() == 0 }, 30*time.Second)
}
