package p2p

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/naivechain/naivechain/internal/identity"
	"github.com/naivechain/naivechain/internal/wire"
)

// hostileDial opens a native connection to the node at addr (host:port)
// without a handshake. It returns the HTTP status of a refusal.
func hostileDial(t *testing.T, addr string) (*rawPeer, int, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// A key of its own, which proves whatever id its Hello claims
	// (testIDOf): a stranger makes as many keys as it likes.
	key, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: clientTLS(t, key)}
	t.Cleanup(tr.CloseIdleConnections)
	ws, resp, err := websocket.Dial(ctx, "wss://"+addr+"/", &websocket.DialOptions{
		HTTPClient: &http.Client{Transport: tr}, Subprotocols: []string{wire.Subprotocol}})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		return nil, status, err
	}
	ws.SetReadLimit(wire.MaxMessageSize)
	t.Cleanup(func() { ws.CloseNow() })
	return &rawPeer{ws: ws, key: key}, 0, nil
}

// hostileHello connects to the node at addr as peer id, announcing
// host:port as its address, and fails the test unless the node answers
// with its Hello. Every hostile peer of these tests that completes a
// handshake is made here.
func hostileHello(t *testing.T, addr, id, host, port string) *rawPeer {
	t.Helper()
	r, status, err := hostileDial(t, addr)
	if err != nil {
		t.Fatalf("%s: dial %s: status %d: %v", id, addr, status, err)
	}
	r.send(t, &wire.Hello{Version: wire.ProtocolVersion, NodeID: id, Host: host, Port: port, Genesis: testGenesis, Engine: "vote"})
	m, err := r.read()
	if err != nil {
		t.Fatalf("%s: handshake with %s: %v", id, addr, err)
	}
	if m.Type() != wire.TypeHello {
		t.Fatalf("%s: handshake with %s answered %+v", id, addr, m)
	}
	return r
}

// refusedWith asserts that a native connection to addr is refused before
// the upgrade with status.
func refusedWith(t *testing.T, addr string, status int) {
	t.Helper()
	if r, got, err := hostileDial(t, addr); err == nil || got != status {
		if r != nil {
			r.ws.CloseNow()
		}
		t.Fatalf("dial %s: status %d, %v; want a refusal %d", addr, got, err, status)
	}
}

func (n *testNode) addr() string { return net.JoinHostPort("127.0.0.1", n.port) }

// serveV6 serves n's Host on [::1] too, or skips the test without IPv6.
func serveV6(t *testing.T, n *testNode) string {
	t.Helper()
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback:", err)
	}
	srv := &http.Server{Handler: n.h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(n.h.Listener(ln))
	}()
	t.Cleanup(func() { srv.Close(); <-done })
	return ln.Addr().String()
}

// countingSink accepts TCP connections, counts them and hangs up: a dial of
// it fails, and the count is how often it was dialed.
type countingSink struct {
	ln       net.Listener
	accepted atomic.Int64
	done     chan struct{}
}

func newCountingSink(t *testing.T) *countingSink {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &countingSink{ln: ln, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-s.done })
	return s
}

func knownIDs(h *Host) []string {
	var ids []string
	for _, p := range h.Known() {
		ids = append(ids, p.ID)
	}
	return ids
}

func dialsInFlight(h *Host) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.dials.inFlight()
}

// The measured attack: Hellos under 500 fake ids, all announcing one
// address, made the nodes dial it 17,306 times in 40 s. Now each node dials
// the address at most once per backoff (5 s once it has failed a few
// times), under whichever id, and only while someone names it; the honest
// mesh is untouched.
func TestAnnouncedAddressDialedBoundedTimes(t *testing.T) {
	clock := newManualClock()
	tune := func(c *Config) {
		c.Now = clock.Now
		c.DeadAfter = 30 * time.Second // hostile peers never ping
	}
	a := startNode(t, "a", "", tune)
	b := startNode(t, "b", "", tune)
	c := startNode(t, "c", "", tune)
	nodes := []*testNode{a, b, c}
	b.connect(t, a)
	c.connect(t, b)
	waitFor(t, "a mesh of 3", func() bool { return len(a.h.Peers()) == 2 && len(c.h.Peers()) == 2 }, 10*time.Second)

	sink := newCountingSink(t)
	_, sinkPort, _ := net.SplitHostPort(sink.ln.Addr().String())
	const fakes, batch = 500, 50
	var held []*rawPeer // the last batch stays connected, and gossiped, for a minute
	for start := 0; start < fakes; start += batch {
		var conns []*rawPeer
		var ids []string
		for i := start; i < start+batch; i++ {
			id := fmt.Sprintf("fake%03d", i)
			ids = append(ids, id)
			conns = append(conns, hostileHello(t, a.addr(), id, "127.0.0.1", sinkPort))
		}
		// Wait until a has gossiped the whole batch to its peers.
		last := conns[len(conns)-1]
		for gossiped, reads := false, 0; !gossiped; reads++ {
			if reads > 10000 {
				t.Fatal("a never gossiped the batch")
			}
			m, err := last.read()
			if err != nil {
				t.Fatal(err)
			}
			if p, ok := m.(*wire.Peers); ok {
				gossiped = !slices.ContainsFunc(ids, func(id string) bool {
					return !slices.ContainsFunc(p.Peers, func(p wire.PeerInfo) bool { return p.ID == id })
				})
			}
		}
		if start+batch >= fakes {
			held = conns
			break
		}
		for _, r := range conns {
			r.ws.CloseNow()
		}
	}

	// Three minutes of the nodes' time, a second at a time; each step lets
	// every node start what dials are due and waits for them to end.
	for step := range 180 {
		if step == 60 {
			for _, r := range held {
				r.ws.CloseNow()
			}
			waitFor(t, "the fakes disconnected", func() bool { return len(a.h.Peers()) == 2 }, 10*time.Second)
		}
		clock.Advance(time.Second)
		for _, n := range nodes {
			n.h.dialDue(clock.Now())
		}
		waitFor(t, "the step's dials", func() bool {
			return dialsInFlight(a.h) == 0 && dialsInFlight(b.h) == 0 && dialsInFlight(c.h) == 0
		}, 10*time.Second)
	}
	dials := sink.accepted.Load()
	t.Logf("the announced address was dialed %d times", dials)
	// With one-second steps the backoff allows about 5 dials in the first
	// 6 s, then one per 5 s. b and c dial it while a gossips the fakes (60
	// s): at most 17 each. a redials it until it forgets the fakes,
	// forgetMetAfter after the last left (120 s): at most 29.
	if dials > 2*17+29 {
		t.Fatalf("the announced address was dialed %d times, want at most %d", dials, 2*17+29)
	}
	// Every hostile connection gave its place back.
	waitFor(t, "a's counts back to its two peers", func() bool {
		conns, hs, _, _ := a.h.limits.load("127.0.0.1")
		a.h.limits.mu.Lock()
		ips := len(a.h.limits.perIP)
		a.h.limits.mu.Unlock()
		return conns == 2 && hs == 0 && ips <= 1
	}, 10*time.Second)
	for _, n := range nodes {
		want := slices.DeleteFunc([]string{"a", "b", "c"}, func(id string) bool { return id == n.id })
		if got := peerIDs(n.h); !slices.Equal(got, want) {
			t.Errorf("%s: Peers() = %v, want %v", n.id, got, want)
		}
		if got := knownIDs(n.h); !slices.Equal(got, want) {
			t.Errorf("%s: Known() = %v, want %v: fake ids kept", n.id, got, want)
		}
	}
}

func TestConnectionCaps(t *testing.T) {
	a := startNode(t, "a", "", func(c *Config) {
		c.MaxConnsPerIP = 3
		c.MaxConns = 5
		c.MaxHandshakesPerIP = 2
		c.MaxHandshakes = 3
		c.DeadAfter = 30 * time.Second   // hostile peers never ping
		c.DialTimeout = 30 * time.Second // nor finish their handshakes
	})
	a6 := serveV6(t, a)
	load := func() (int, int) {
		conns, hs, _, _ := a.h.limits.load("")
		return conns, hs
	}

	// Handshakes in progress: two from 127.0.0.1, then the address is
	// full; one more from ::1, then all are.
	s1, _, err := hostileDial(t, a.addr())
	if err != nil {
		t.Fatal(err)
	}
	s2, _, err := hostileDial(t, a.addr())
	if err != nil {
		t.Fatal(err)
	}
	refusedWith(t, a.addr(), http.StatusServiceUnavailable)
	s3, _, err := hostileDial(t, a6)
	if err != nil {
		t.Fatal(err)
	}
	refusedWith(t, a6, http.StatusServiceUnavailable)
	for _, s := range []*rawPeer{s1, s2, s3} {
		s.ws.CloseNow()
	}
	waitFor(t, "the silent handshakes to end", func() bool { c, h := load(); return c == 0 && h == 0 }, 10*time.Second)

	// Connections: three from 127.0.0.1 fill its share; an honest peer on
	// ::1 still connects, and one more stranger there fills the total.
	var xs []*rawPeer
	for i := range 3 {
		xs = append(xs, hostileHello(t, a.addr(), fmt.Sprintf("x%d", i), "127.0.0.1", "1"))
	}
	refusedWith(t, a.addr(), http.StatusServiceUnavailable)
	b := startNodeOn(t, "::1", "b", "", nil)
	if _, err := b.h.Connect(context.Background(), "::1", portOf(a6), "a"); err != nil {
		t.Fatalf("honest b refused while ::1 is under its cap: %v", err)
	}
	hostileHello(t, a6, "y", "::1", "1")
	refusedWith(t, a6, http.StatusServiceUnavailable)
	if conns, _ := load(); conns != 5 {
		t.Fatalf("%d connections counted, want 5", conns)
	}
	if got := a.h.Stats().Refused; got != 4 {
		t.Fatalf("Stats().Refused = %d, want 4", got)
	}

	// A connection that ends gives its place back.
	xs[0].ws.CloseNow()
	waitFor(t, "x0's place given back", func() bool { c, _ := load(); return c == 4 }, 10*time.Second)
	hostileHello(t, a.addr(), "x3", "127.0.0.1", "1")
	if !hasPeer(a.h, "b") || !hasPeer(b.h, "a") {
		t.Fatal("honest b lost its connection")
	}
}

func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

func TestAddressBannedAfterBannedIDs(t *testing.T) {
	clock := newManualClock()
	a := startNode(t, "a", "", func(c *Config) {
		c.Now = clock.Now
		c.AddrBanAfter = 3
		c.BanDuration = 5 * time.Minute
		c.DeadAfter = 30 * time.Second
	})
	a6 := serveV6(t, a)
	for i := range 3 {
		id := fmt.Sprintf("bad%d", i)
		r := hostileHello(t, a.addr(), id, "127.0.0.1", "1")
		r.write(t, websocket.MessageText, []byte("hi"))
		waitFor(t, id+" banned", func() bool { return len(a.h.Bans()) == i+1 }, 10*time.Second)
		if i < 2 {
			// Below the bound, a fresh id from the address is heard.
			hostileHello(t, a.addr(), fmt.Sprintf("fresh%d", i), "127.0.0.1", "1").ws.CloseNow()
		}
	}
	waitFor(t, "the address banned", func() bool {
		_, banned := a.h.limits.addrBanned("127.0.0.1", clock.Now())
		return banned
	}, 10*time.Second)
	// The address is refused before anything is read, whatever the id,
	// honest peers on it included (the peer port's listener closes the
	// connection at once, before TLS); other addresses are not.
	if r, status, err := hostileDial(t, a.addr()); err == nil || status != 0 {
		if r != nil {
			r.ws.CloseNow()
		}
		t.Fatalf("dial from a banned address: status %d, %v; want the connection closed", status, err)
	}
	b := startNode(t, "b", "", nil)
	if _, err := b.h.Connect(context.Background(), "127.0.0.1", a.port, "a"); err == nil {
		t.Fatal("b connected from a banned address")
	}
	hostileHello(t, a6, "other", "::1", "1")

	clock.Advance(5 * time.Minute)
	hostileHello(t, a.addr(), "later", "127.0.0.1", "1")
}

func TestDialer(t *testing.T) {
	t0 := time.Unix(1000, 0)
	d := newDialer(1, 2, func() float64 { return 0.5 })
	if !d.start("h:1", false, t0) || !d.start("h:2", false, t0) {
		t.Fatal("the burst was refused")
	}
	if d.start("h:3", false, t0) {
		t.Fatal("a dial past the burst was allowed")
	}
	if !d.start("h:3", true, t0) {
		t.Fatal("a peer the owner gave waits for a token")
	}
	if d.start("h:1", true, t0.Add(time.Hour)) {
		t.Fatal("two dials of one address in flight")
	}
	if !d.start("h:4", false, t0.Add(time.Second)) || d.start("h:5", false, t0.Add(time.Second)) {
		t.Fatal("the bucket does not refill at the rate")
	}
	if got := d.inFlight(); got != 4 {
		t.Fatalf("%d dials in flight, want 4", got)
	}

	// A failure holds the address back by the backoff, under any id;
	// the backoff grows while failures are recent.
	now := t0.Add(10 * time.Second)
	d.done("h:1", false, now)
	if !d.held("h:1", now) || d.start("h:1", true, now.Add(backoffMin-time.Millisecond)) {
		t.Fatal("a failed address is not held back")
	}
	now = now.Add(backoffMin)
	if d.held("h:1", now) || !d.start("h:1", true, now) {
		t.Fatal("a failed address is held back past its backoff")
	}
	d.done("h:1", false, now)
	if d.start("h:1", true, now.Add(2*backoffMin-time.Millisecond)) {
		t.Fatal("the backoff did not grow")
	}
	// Failures older than failedAddrMemory are forgotten.
	now = now.Add(failedAddrMemory)
	if d.failedRecently("h:1", now) || !d.start("h:1", true, now) {
		t.Fatal("a failure remembered past failedAddrMemory")
	}
	d.done("h:1", false, now)
	if !d.start("h:1", true, now.Add(backoffMin)) {
		t.Fatal("the backoff did not start again")
	}
	d.done("h:1", true, now)
	if d.failedRecently("h:1", now) || d.held("h:1", now) {
		t.Fatal("a success did not clear the failure")
	}
}

func TestLimitsAdmit(t *testing.T) {
	cfg := Config{MaxConnsPerIP: 2, MaxConns: 3, MaxHandshakesPerIP: 1, MaxHandshakes: 2}
	l := newLimits(&cfg)
	s1, why := l.admitInbound("ip1")
	if s1 == nil {
		t.Fatal(why)
	}
	if s, why := l.admitInbound("ip1"); s != nil || why != "too many handshakes in progress from this address" {
		t.Fatalf("second handshake from ip1: %q", why)
	}
	s1.adopt()
	s1.handshakeOver() // adopted: still a connection
	s2, _ := l.admitInbound("ip1")
	if s2 == nil {
		t.Fatal("a second connection from ip1 refused")
	}
	s2.handshakeOver() // not adopted: released
	s2, _ = l.admitInbound("ip1")
	s2.adopt()
	s2.handshakeOver()
	if s, why := l.admitInbound("ip1"); s != nil || why != "too many connections from this address" {
		t.Fatalf("third connection from ip1: %q", why)
	}
	out := l.outbound()
	if s, why := l.admitInbound("ip2"); s != nil || why != "too many connections" {
		t.Fatalf("a connection past the total: %q", why)
	}
	out.release()
	out.release() // once only
	s3, _ := l.admitInbound("ip2")
	if s3 == nil {
		t.Fatal("refused below the total")
	}
	for _, s := range []*slot{s1, s2, s3} {
		s.handshakeOver()
		s.release()
	}
	if c, h, _, _ := l.load("ip1"); c != 0 || h != 0 || len(l.perIP) != 0 {
		t.Fatalf("after every release: %d connections, %d handshakes, %d addresses", c, h, len(l.perIP))
	}
	// A connection may end before its handshake is counted out.
	s4, _ := l.admitInbound("ip3")
	s4.adopt()
	s4.release()
	s4.handshakeOver()
	if len(l.perIP) != 0 {
		t.Fatalf("%d addresses kept after every release", len(l.perIP))
	}
	var nilSlot *slot
	nilSlot.adopt()
	nilSlot.handshakeOver()
	nilSlot.release()
}

func TestAddrBan(t *testing.T) {
	t0 := time.Unix(1000, 0)
	cfg := Config{AddrBanAfter: 3, BanDuration: time.Minute}
	l := newLimits(&cfg)
	l.noteBan("ip", "a", t0)
	l.noteBan("ip", "a", t0) // one id counts once
	l.noteBan("ip", "b", t0)
	l.noteBan("other", "c", t0)
	if _, banned := l.addrBanned("ip", t0); banned {
		t.Fatal("banned below the bound")
	}
	// A ban older than the window no longer counts.
	if _, fresh := l.noteBan("ip", "c", t0.Add(time.Minute)); fresh {
		t.Fatal("a ban outside the window counted")
	}
	at := t0.Add(time.Minute + time.Second)
	if _, fresh := l.noteBan("ip", "d", at); fresh {
		t.Fatal("banned at the second id in the window")
	}
	until, fresh := l.noteBan("ip", "e", at)
	if !fresh || !until.Equal(at.Add(time.Minute)) {
		t.Fatalf("noteBan = %v, %v; want a fresh ban until %v", until, fresh, at.Add(time.Minute))
	}
	if _, banned := l.addrBanned("ip", until.Add(-time.Nanosecond)); !banned {
		t.Fatal("not banned during the ban")
	}
	if _, banned := l.addrBanned("ip", until); banned {
		t.Fatal("banned after the ban")
	}
	if _, banned := l.addrBanned("other", at); banned {
		t.Fatal("another address banned")
	}
}

func TestAddrBansBounded(t *testing.T) {
	t0 := time.Unix(1000, 0)
	cfg := Config{AddrBanAfter: 1, BanDuration: time.Minute}
	l := newLimits(&cfg)
	for i := range maxAddrStandings + 10 {
		l.noteBan(fmt.Sprint("ip", i), "x", t0.Add(time.Duration(i)))
	}
	if len(l.addrs) != maxAddrStandings {
		t.Fatalf("%d addresses remembered, want %d", len(l.addrs), maxAddrStandings)
	}
	if _, banned := l.addrBanned(fmt.Sprint("ip", maxAddrStandings+9), t0); !banned {
		t.Fatal("the newest ban was forgotten")
	}
}

func TestPeerTableOrigins(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tab := newPeerTable("self", 10*time.Minute, 3)
	tab.jitter = func() float64 { return 0.5 }
	none := func(string) bool { return false }
	p := func(id, port string) wire.PeerInfo { return wire.PeerInfo{ID: id, Host: "h", Port: port} }

	// A learned peer is forgotten at its first failure.
	tab.learn(p("l", "1"), t0)
	tab.due(t0, none)
	if !tab.dialDone("l", false, t0) {
		t.Fatal("a learned peer survived a failed dial")
	}
	// Learned peers at a failed address are dropped; others stay.
	tab.learn(p("l1", "1"), t0)
	tab.learn(p("l2", "1"), t0)
	tab.put(p("o", "1"), t0)
	if n := tab.dropLearnedAt("h", "1"); n != 2 || len(tab.all()) != 1 {
		t.Fatalf("dropLearnedAt dropped %d, left %v", n, tab.all())
	}
	// The table is bounded for learned peers.
	tab.learn(p("l3", "2"), t0)
	tab.learn(p("l4", "2"), t0)
	if tab.learn(p("l5", "2"), t0) || len(tab.all()) != 3 {
		t.Fatalf("learned past the bound: %v", tab.all())
	}
	// A met peer that leaves is redialed, and forgotten forgetMetAfter
	// after it left.
	tab.dropLearnedAt("h", "2")
	tab.connected(p("m", "3"), t0)
	tab.disconnected("m", t0)
	if due := tab.due(t0.Add(time.Second), func(id string) bool { return id != "m" }); len(due) != 1 {
		t.Fatalf("met peer not redialed: %v", due)
	}
	if tab.dialDone("m", false, t0.Add(time.Second)) {
		t.Fatal("met peer forgotten at its first failure")
	}
	tab.due(t0.Add(forgetMetAfter), none)
	if slices.ContainsFunc(tab.all(), func(q wire.PeerInfo) bool { return q.ID == "m" }) {
		t.Fatal("met peer kept past forgetMetAfter")
	}
	// A met peer the owner then gives is kept like one it gave.
	tab.connected(p("m1", "3"), t0)
	tab.own("m1")
	tab.disconnected("m1", t0)
	tab.due(t0.Add(forgetMetAfter), none)
	if !slices.ContainsFunc(tab.all(), func(q wire.PeerInfo) bool { return q.ID == "m1" }) {
		t.Fatal("a peer the owner gave forgotten after forgetMetAfter")
	}
	tab.dialDone("m1", false, t0.Add(forgetMetAfter))
	// One the owner gave survives failures up to ForgetAfter.
	tab.due(t0.Add(forgetMetAfter), none)
	if tab.dialDone("o", false, t0.Add(forgetMetAfter)) || tab.dialDone("o", false, t0.Add(5*time.Minute)) {
		t.Fatal("an owner's peer forgotten before ForgetAfter")
	}
	// Past the bound, a met peer that leaves is forgotten at once.
	tab.connected(p("m2", "5"), t0)
	tab.connected(p("m3", "6"), t0)
	tab.disconnected("m3", t0)
	if slices.ContainsFunc(tab.all(), func(q wire.PeerInfo) bool { return q.ID == "m3" }) {
		t.Fatal("met peer kept past the bound")
	}
}

// TestListenerBoundsOpenConnections: the peer port's listener closes a
// connection past its bounds before any byte is read, so TLS handshakes,
// which the http.Server runs before the Host's caps see them, are bounded
// too; a closed connection gives its place back.
func TestListenerBoundsOpenConnections(t *testing.T) {
	a := startNode(t, "a", "", func(c *Config) { c.MaxConnsPerIP, c.MaxHandshakesPerIP = 1, 1 })
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", a.addr())
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	extra, err := net.Dial("tcp", a.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	_ = extra.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := extra.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the connection past the bound was not closed: %v", err)
	}
	l := a.ln.(*sniffListener)
	open := func() int {
		l.openMu.Lock()
		defer l.openMu.Unlock()
		return l.open
	}
	for _, c := range held {
		c.Close()
	}
	waitFor(t, "places given back", func() bool { return open() == 0 }, 10*time.Second)
	// A connection past the bound is closed without being counted: one
	// counted open was taken.
	c, err := net.Dial("tcp", a.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitFor(t, "a new connection taken", func() bool { return open() == 1 }, 10*time.Second)
}

// TestAnnouncedAddressIsNotTakenForAConnection: a stranger announcing
// another node's address does not stand in for it: connecting to that
// address dials it and finds the node that holds it.
func TestAnnouncedAddressIsNotTakenForAConnection(t *testing.T) {
	a := startNode(t, "a", "", nil)
	b := startNode(t, "b", "", nil)
	hostileHello(t, a.addr(), "impostor", "127.0.0.1", b.port)
	waitFor(t, "the impostor connected", func() bool { return hasPeer(a.h, "impostor") }, 10*time.Second)
	got, err := a.h.Connect(context.Background(), "127.0.0.1", b.port, "")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "b" {
		t.Fatalf("connecting to b's address returned %+v, want b", got)
	}
}

// TestSilentConnectionsDoNotKeepOthersOut: when every place for
// connections that have not spoken is held, silently, from many
// addresses, a new connection still gets in: the one waiting longest
// makes room, and an honest peer speaks at once.
func TestSilentConnectionsDoNotKeepOthersOut(t *testing.T) {
	a := startNode(t, "a", "", func(c *Config) { c.DialTimeout = time.Minute }) // silent ones would wait long
	b := startNode(t, "b", "", nil)
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for ip := 0; len(held) < maxSniffing; ip++ {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(10+ip))}, Timeout: 5 * time.Second}
		for range maxSniffingPerIP {
			c, err := d.Dial("tcp", a.addr())
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, c)
		}
	}
	if _, err := b.h.Connect(context.Background(), "127.0.0.1", a.port, "a"); err != nil {
		t.Fatalf("an honest peer was kept out by %d silent connections: %v", len(held), err)
	}
}

// TestInboundLogsBounded: inbound handshakes, which anyone can start, write
// at most inboundLogsPerSecond lines a second; the next line let through
// says how many were not written.
func TestInboundLogsBounded(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	clock := newManualClock()
	h := New(Config{Self: wire.PeerInfo{ID: "a", Host: "127.0.0.1", Port: "1"}, Key: keyFor(t, "a"), IDOf: testIDOf,
		Genesis: testGenesis, Engine: "vote", Now: clock.Now,
		Logger: slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			return buf.Write(p)
		}), nil))})
	defer h.Close()
	for range 20 {
		h.logInbound(slog.LevelWarn, "handshake failed")
	}
	clock.Advance(time.Second)
	h.logInbound(slog.LevelWarn, "handshake failed")
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if n := strings.Count(out, "handshake failed"); n != inboundLogsPerSecond+1 {
		t.Fatalf("%d lines written, want %d:\n%s", n, inboundLogsPerSecond+1, out)
	}
	if !strings.Contains(out, "not_logged_before=15") {
		t.Fatalf("the count of lines not written is missing:\n%s", out)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
