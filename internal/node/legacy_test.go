package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/naivechain/naivechain/internal/api"
	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/legacy"
)

// fakePython starts a fake original node on loopback.
func fakePython(t *testing.T, id string) *legacy.FakePeer {
	t.Helper()
	f := legacy.NewFakePeer(id)
	if _, err := f.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func pyWrite(t *testing.T, f *legacy.FakePeer, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ok, err := f.Write(ctx, json.RawMessage(strconv.Quote(value)))
	if err != nil || !ok {
		t.Fatalf("write %q on the Python node: %v, %v", value, ok, err)
	}
}

func goWrite(t *testing.T, n *running, value string) {
	t.Helper()
	if _, err := n.Propose(context.Background(), strconv.Quote(value)); err != nil {
		t.Fatalf("write %q on %s: %v", value, n.ID(), err)
	}
}

// sameChains waits until every Go node and every fake Python node hold the
// same chain of want blocks.
func sameChains(t *testing.T, want int, gos []*running, pys []*legacy.FakePeer) []block.Block {
	t.Helper()
	var ref []block.Block
	waitFor(t, fmt.Sprintf("every node to hold the same %d blocks", want), func() bool {
		var chains [][]block.Block
		for _, n := range gos {
			chains = append(chains, chainOf(t, n))
		}
		for _, f := range pys {
			chains = append(chains, f.Chain())
		}
		for _, c := range chains {
			if len(c) != want || !slices.Equal(c, chains[0]) {
				return false
			}
		}
		ref = chains[0]
		return true
	})
	if err := block.CheckChain(ref); err != nil {
		t.Fatal(err)
	}
	return ref
}

// TestGoJoinsPython: a Go node joins a Python network with -pid/-pport,
// takes its chain, and writes flow both ways; a second Go node joins the
// first natively and is part of it too.
func TestGoJoinsPython(t *testing.T) {
	py := fakePython(t, "7a02e5b3-de28-49e5-947f-93a2c15d1d47")
	pyWrite(t, py, "written before the Go node came")
	port, _ := strconv.Atoi(py.Port())
	g1 := start(t, Config{PeerHost: "127.0.0.1", PeerPort: port, PeerID: py.ID()})
	sameChains(t, 2, []*running{g1}, []*legacy.FakePeer{py})
	if _, ok := py.Peers()[g1.ID()]; !ok {
		t.Fatalf("the Python node does not list the Go node: %v", py.Peers())
	}

	goWrite(t, g1, "from go")
	sameChains(t, 3, []*running{g1}, []*legacy.FakePeer{py})
	pyWrite(t, py, "from python")
	sameChains(t, 4, []*running{g1}, []*legacy.FakePeer{py})

	g2 := joiner(t, g1, Config{})
	waitFor(t, "2 voters", func() bool { return voters(g1) == 2 })
	// g1 introduces the Python node and g2 to each other.
	waitFor(t, "g2 and the Python node to know each other", func() bool {
		_, ok := py.Peers()[g2.ID()]
		return ok && slices.ContainsFunc(g2.Peers(), func(p api.Peer) bool { return p.ID == py.ID() })
	})
	goWrite(t, g2, "from the second go node")
	sameChains(t, 5, []*running{g1, g2}, []*legacy.FakePeer{py})
	pyWrite(t, py, "python again, now with two go peers")
	chain := sameChains(t, 6, []*running{g1, g2}, []*legacy.FakePeer{py})
	if chain[1].Data != `"written before the Go node came"` || chain[4].Data != `"from the second go node"` {
		t.Fatalf("chain: %+v", chain)
	}
}

// TestPythonJoinsGo: Python nodes join a Go network (one through the Go
// node, one through the other Python node) and writes on every node reach
// every other, byte for byte.
func TestPythonJoinsGo(t *testing.T) {
	g1 := start(t, Config{})
	g2 := joiner(t, g1, Config{})
	waitFor(t, "2 voters", func() bool { return voters(g1) == 2 })
	goWrite(t, g1, "Testing String Again")

	py1 := fakePython(t, "01cfb470-65a3-4267-a33c-28be309b5887")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := py1.JoinTo(ctx, g1.ID(), "127.0.0.1", strconv.Itoa(g1.Port())); err != nil {
		t.Fatal(err)
	}
	chain := sameChains(t, 2, []*running{g1, g2}, []*legacy.FakePeer{py1})
	if chain[1].CurrHash != "c8a8924ed4d8c58638b9f4fcbb7609bb0edb4a509d1514246a04ebba680d5a1f" {
		t.Fatalf("block 1: %+v", chain[1])
	}
	// The upload listed g2: the Python node told it about itself.
	waitFor(t, "g2 to know the Python node", func() bool {
		return slices.ContainsFunc(g2.Peers(), func(p api.Peer) bool { return p.ID == py1.ID() })
	})

	py2 := fakePython(t, "be809443-c21f-4130-9ba8-b18a8f6e7e56")
	if err := py2.JoinTo(ctx, py1.ID(), "127.0.0.1", py1.Port()); err != nil {
		t.Fatal(err)
	}
	pys := []*legacy.FakePeer{py1, py2}
	sameChains(t, 2, []*running{g1, g2}, pys)

	pyWrite(t, py1, "from python 1")
	sameChains(t, 3, []*running{g1, g2}, pys)
	goWrite(t, g2, "from go 2")
	sameChains(t, 4, []*running{g1, g2}, pys)
	pyWrite(t, py2, "from python 2")
	sameChains(t, 5, []*running{g1, g2}, pys)
	goWrite(t, g1, "from go 1")
	sameChains(t, 6, []*running{g1, g2}, pys)
}

// TestLegacyAddBlockNotValidatedIsRefused: an ADD_BLOCK for a block this
// node never validated is not taken.
func TestLegacyAddBlockNotValidatedIsRefused(t *testing.T) {
	g := start(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	add, err := legacy.NewAddBlock(json.RawMessage(`"sneaked in"`))
	if err != nil {
		t.Fatal(err)
	}
	reply, err := legacy.Send(ctx, "127.0.0.1", strconv.Itoa(g.Port()), add)
	if err != nil || reply != legacy.ReplyACK {
		t.Fatalf("reply %q, %v", reply, err)
	}
	// A validated one is taken.
	next := block.Next(g.Chain().Tip(), `"validated"`)
	if reply, err := legacy.Send(ctx, "127.0.0.1", strconv.Itoa(g.Port()), legacy.Validate{Block: next}); err != nil || reply != legacy.ReplyACK {
		t.Fatalf("validate: %q, %v", reply, err)
	}
	wrong := block.Next(g.Chain().Tip(), `"x"`)
	wrong.CurrHash = block.Hash("no", "pe")
	if reply, _ := legacy.Send(ctx, "127.0.0.1", strconv.Itoa(g.Port()), legacy.Validate{Block: wrong}); reply != legacy.ReplyKCA {
		t.Fatalf("a wrong block was validated: %q", reply)
	}
	add, _ = legacy.NewAddBlock(json.RawMessage(`"validated"`))
	if _, err := legacy.Send(ctx, "127.0.0.1", strconv.Itoa(g.Port()), add); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the validated block", func() bool { return g.Chain().Len() == 2 })
	if g.Chain().Tip() != next {
		t.Fatalf("tip %+v, want %+v", g.Chain().Tip(), next)
	}
	for b := range g.Blocks(0) {
		if b.Data == `"sneaked in"` {
			t.Fatal("an ADD_BLOCK that was never validated was taken")
		}
	}
}

// TestTwoPythonOneGo: a Go node joins a network of two Python nodes;
// writes on each of the three reach all.
func TestTwoPythonOneGo(t *testing.T) {
	py1 := fakePython(t, "11111111-de28-49e5-947f-93a2c15d1d47")
	py2 := fakePython(t, "22222222-de28-49e5-947f-93a2c15d1d47")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := py2.JoinTo(ctx, py1.ID(), "127.0.0.1", py1.Port()); err != nil {
		t.Fatal(err)
	}
	pyWrite(t, py1, "python 1 alone with python 2")
	port, _ := strconv.Atoi(py1.Port())
	g := start(t, Config{PeerHost: "127.0.0.1", PeerPort: port, PeerID: py1.ID()})
	pys := []*legacy.FakePeer{py1, py2}
	sameChains(t, 2, []*running{g}, pys)
	waitFor(t, "the Python nodes to know the Go node", func() bool {
		_, ok1 := py1.Peers()[g.ID()]
		_, ok2 := py2.Peers()[g.ID()]
		return ok1 && ok2
	})
	goWrite(t, g, "from go")
	sameChains(t, 3, []*running{g}, pys)
	pyWrite(t, py2, "from python 2")
	sameChains(t, 4, []*running{g}, pys)
	pyWrite(t, py1, "from python 1")
	sameChains(t, 5, []*running{g}, pys)
}

// TestLegacyOddFramesChangeNothing: PING, an object without CMD (the bare
// block an original writer sends after ADD_BLOCK) and a malformed frame get
// the original's answers, and the chain and peers stay as they are.
func TestLegacyOddFramesChangeNothing(t *testing.T) {
	g := start(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	port := strconv.Itoa(g.Port())
	if reply, err := legacy.Send(ctx, "127.0.0.1", port, legacy.Ping{}); err != nil || reply != legacy.ReplyPONG {
		t.Fatalf("PING: %q, %v", reply, err)
	}
	b := block.Next(g.Chain().Tip(), `"bare"`)
	if reply, err := legacy.Send(ctx, "127.0.0.1", port, legacy.Other{Block: &b}); err != nil || reply != legacy.ReplyACK {
		t.Fatalf("bare block: %q, %v", reply, err)
	}
	if reply, err := sendRawLegacy(ctx, port, `{"CMD": "ADD_PEER", "peer_id": "bad id"}`); err != nil || reply != legacy.ReplyKCA {
		t.Fatalf("malformed ADD_PEER: %q, %v", reply, err)
	}
	if g.Chain().Len() != 1 || len(g.Peers()) != 0 {
		t.Fatalf("odd frames changed the node: %d blocks, peers %v", g.Chain().Len(), g.Peers())
	}
}

// sendRawLegacy sends one text frame as an original node would and
// returns the reply.
func sendRawLegacy(ctx context.Context, port, frame string) (string, error) {
	ws, _, err := websocket.Dial(ctx, "ws://127.0.0.1:"+port+"/", nil)
	if err != nil {
		return "", err
	}
	defer ws.CloseNow()
	if err := ws.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
		return "", err
	}
	_, reply, err := ws.Read(ctx)
	return string(reply), err
}

// blackHole accepts TCP connections and never answers them until released.
type blackHole struct {
	ln       net.Listener
	accepted atomic.Int32
	release  chan struct{}
	done     chan struct{}
}

func newBlackHole(t *testing.T) *blackHole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &blackHole{ln: ln, release: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			h.accepted.Add(1)
		}
	}()
	t.Cleanup(h.Release)
	return h
}

func (h *blackHole) port() string {
	_, port, _ := net.SplitHostPort(h.ln.Addr().String())
	return port
}

// Release closes the black hole and every connection it holds.
func (h *blackHole) Release() {
	select {
	case <-h.release:
		return
	default:
	}
	close(h.release)
	h.ln.Close()
	<-h.done
}

func (h *blackHole) released() bool {
	select {
	case <-h.release:
		return true
	default:
		return false
	}
}

func hasPeer(n *running, id string) bool {
	return slices.ContainsFunc(n.Peers(), func(p api.Peer) bool { return p.ID == id })
}

// TestLegacyBlackHoleDoesNotSlowWrites: a stranger's ADD_PEER pointing at a
// port that accepts and never answers does not make a write wait for it:
// writes are answered while the black hole still holds the node's
// connection; the black hole is then dropped and not taken back, and the
// Python peer gets every block.
func TestLegacyBlackHoleDoesNotSlowWrites(t *testing.T) {
	g := start(t, Config{})
	py := fakePython(t, "01cfb470-65a3-4267-a33c-28be309b5887")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := py.JoinTo(ctx, g.ID(), "127.0.0.1", strconv.Itoa(g.Port())); err != nil {
		t.Fatal(err)
	}
	hole := newBlackHole(t)
	const holeID = "black-hole"
	addHole := legacy.AddPeer{PeerID: holeID, PeerHost: "127.0.0.1", PeerPort: hole.port()}
	if reply, err := legacy.Send(ctx, "127.0.0.1", strconv.Itoa(g.Port()), addHole); err != nil || reply != legacy.ReplyACK {
		t.Fatalf("ADD_PEER: %q, %v", reply, err)
	}
	if !hasPeer(g, holeID) {
		t.Fatalf("the black hole was not added: %v", g.Peers())
	}

	goWrite(t, g, "first")
	waitFor(t, "the node to dial the black hole", func() bool { return hole.accepted.Load() > 0 })
	goWrite(t, g, "second while the black hole holds the node")
	if hole.released() {
		t.Fatal("the black hole was released before the write's answer")
	}

	waitFor(t, "the black hole to be dropped", func() bool { return !hasPeer(g, holeID) })
	sameChains(t, 3, []*running{g}, []*legacy.FakePeer{py})
	// In quarantine: the same ADD_PEER does not add it back.
	if reply, err := legacy.Send(ctx, "127.0.0.1", strconv.Itoa(g.Port()), addHole); err != nil || reply != legacy.ReplyACK {
		t.Fatalf("ADD_PEER again: %q, %v", reply, err)
	}
	if hasPeer(g, holeID) {
		t.Fatal("a dropped peer was added back at once")
	}
	goWrite(t, g, "third")
	sameChains(t, 4, []*running{g}, []*legacy.FakePeer{py})
}

// TestLegacyQuarantineEnds: a dropped legacy peer can be added back once
// legacyQuarantine has passed, by the bridge's clock.
func TestLegacyQuarantineEnds(t *testing.T) {
	g := start(t, Config{})
	lb := g.legacy
	now := time.Unix(1e9, 0)
	lb.mu.Lock()
	lb.now = func() time.Time { return now }
	lb.mu.Unlock()
	p := legacy.Peer{ID: "gone", Host: "127.0.0.1", Port: "1"}
	if _, added := lb.addPeer(p, "127.0.0.1"); !added {
		t.Fatal("not added")
	}
	lb.drop(p, errors.New("test"))
	for _, q := range []legacy.Peer{p, {ID: "new-id-same-addr", Host: p.Host, Port: p.Port}} {
		if _, added := lb.addPeer(q, "127.0.0.1"); added {
			t.Fatalf("%+v added during the quarantine", q)
		}
	}
	lb.mu.Lock()
	now = now.Add(legacyQuarantine)
	lb.mu.Unlock()
	if _, added := lb.addPeer(p, "127.0.0.1"); !added {
		t.Fatal("not added back after the quarantine")
	}
}

// TestLegacyStrangerAddsBoundedPeers: ADD_PEERs from one host add at most
// maxLegacyPeersPerSource legacy peers.
func TestLegacyStrangerAddsBoundedPeers(t *testing.T) {
	g := start(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range maxLegacyPeersPerSource + 5 {
		m := legacy.AddPeer{PeerID: fmt.Sprintf("stranger-%d", i), PeerHost: "127.0.0.1", PeerPort: strconv.Itoa(1000 + i)}
		if reply, err := legacy.Send(ctx, "127.0.0.1", strconv.Itoa(g.Port()), m); err != nil || reply != legacy.ReplyACK {
			t.Fatalf("ADD_PEER %d: %q, %v", i, reply, err)
		}
	}
	if got := len(g.legacy.peerList()); got != maxLegacyPeersPerSource {
		t.Fatalf("%d legacy peers, want %d", got, maxLegacyPeersPerSource)
	}
}

// TestLegacyLargeFramesAreBounded: many connections sending large legacy
// frames at once (past the frame cap, and just under it) never make the
// node hold more than its memory bound for them; the chain and the peers do
// not change, and a Python node joins and writes as usual afterwards.
func TestLegacyLargeFramesAreBounded(t *testing.T) {
	g := start(t, Config{})
	huge := []byte(`{"x": "` + strings.Repeat("a", 60<<20) + `"}`)
	large := []byte(`{"x": "` + strings.Repeat("a", legacy.MaxFrame-100) + `"}`)
	const conns = 20
	var wg sync.WaitGroup
	for i := range conns {
		frame := large
		if i%2 == 0 {
			frame = huge
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			ws, _, err := websocket.Dial(ctx, "ws://127.0.0.1:"+strconv.Itoa(g.Port())+"/", nil)
			if err != nil {
				return // turned away at the connection cap
			}
			defer ws.CloseNow()
			if ws.Write(ctx, websocket.MessageText, frame) == nil {
				_, _, _ = ws.Read(ctx)
			}
		}()
	}
	wg.Wait()
	srv := g.legacy.server
	waitFor(t, "the legacy connections to end", func() bool { return srv.Stats().Conns == 0 })
	st := srv.Stats()
	limits := srv.Limits()
	t.Logf("%d connections of 60 MiB and 4 MiB frames: %+v, bound %d bytes", conns, st, limits.Memory)
	if st.PeakMemory > limits.Memory || st.PeakConns > limits.Conns {
		t.Fatalf("held up to %d bytes on %d connections, bound %d on %d", st.PeakMemory, st.PeakConns, limits.Memory, limits.Conns)
	}
	if st.Memory != 0 {
		t.Fatalf("%d bytes still held", st.Memory)
	}
	if g.Chain().Len() != 1 || len(g.Peers()) != 0 {
		t.Fatalf("large frames changed the node: %d blocks, peers %v", g.Chain().Len(), g.Peers())
	}

	py := fakePython(t, "be809443-c21f-4130-9ba8-b18a8f6e7e56")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := py.JoinTo(ctx, g.ID(), "127.0.0.1", strconv.Itoa(g.Port())); err != nil {
		t.Fatal(err)
	}
	goWrite(t, g, "after the flood")
	sameChains(t, 2, []*running{g}, []*legacy.FakePeer{py})
	pyWrite(t, py, "python after the flood")
	sameChains(t, 3, []*running{g}, []*legacy.FakePeer{py})
}

// TestLegacyNeverRecordsANativeNode: an ADD_PEER naming a native member,
// by its id or under another id at its address, is not taken: members
// never talk the unauthenticated legacy protocol to each other.
func TestLegacyNeverRecordsANativeNode(t *testing.T) {
	a := start(t, Config{})
	b := joiner(t, a, Config{})
	waitFor(t, "2 voters", func() bool { return voters(a) == 2 })
	waitFor(t, "a and b connected", func() bool { return hasPeer(a, b.ID()) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, m := range []legacy.AddPeer{
		{PeerID: "fake-legacy-1", PeerHost: "127.0.0.1", PeerPort: strconv.Itoa(b.Port())},
		{PeerID: b.ID(), PeerHost: "127.0.0.1", PeerPort: "1"},
		{PeerID: "fake-legacy-2", PeerHost: "127.0.0.1", PeerPort: strconv.Itoa(a.Port())},
	} {
		if reply, err := legacy.Send(ctx, "127.0.0.1", strconv.Itoa(a.Port()), m); err != nil || reply != legacy.ReplyACK {
			t.Fatalf("ADD_PEER %+v: %q, %v", m, reply, err)
		}
	}
	if got := a.legacy.peerList(); len(got) != 0 {
		t.Fatalf("legacy peers %+v, want none", got)
	}
}

// TestLegacyIntroductionsDialOnlyMembers: the bridge introduces legacy
// peers to the members of its network only, never to a stranger's
// announced address: a connected stranger announcing a counting listener
// never gets a legacy exchange, while the Python node is introduced to the
// member.
func TestLegacyIntroductionsDialOnlyMembers(t *testing.T) {
	a := start(t, Config{})
	b := joiner(t, a, Config{})
	waitFor(t, "2 voters", func() bool { return voters(a) == 2 })
	sink, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var dials atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := sink.Accept()
			if err != nil {
				return
			}
			// Gossip may make b dial it natively, once (TLS: 0x16); a
			// legacy exchange starts with a plain HTTP request.
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			first := make([]byte, 1)
			if _, err := c.Read(first); err == nil && first[0] != 0x16 {
				dials.Add(1)
			}
			c.Close()
		}
	}()
	defer func() { sink.Close(); <-done }()
	_, sinkPort, _ := net.SplitHostPort(sink.Addr().String())
	m := newMalloryAt(t, "announcer", "vote", sinkPort)
	if err := m.connect(a); err != nil {
		t.Fatal(err)
	}
	py := fakePython(t, "01cfb470-65a3-4267-a33c-28be309b5887")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := py.JoinTo(ctx, a.ID(), "127.0.0.1", strconv.Itoa(a.Port())); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the Python node introduced to b", func() bool { _, ok := py.Peers()[b.ID()]; return ok })
	waitFor(t, "b introduced to the Python node", func() bool { return hasPeer(b, py.ID()) })
	if n := dials.Load(); n != 0 {
		t.Fatalf("the stranger's announced address got %d legacy exchanges", n)
	}
}

// TestLegacyPeerAddressesFromStrangers: an address named in a legacy
// message is believed only from a native member's host; from any other
// source the peer is recorded at the source's address, so a stranger names
// at most ports of its own. A native node's address is refused under any
// spelling of its host.
func TestLegacyPeerAddressesFromStrangers(t *testing.T) {
	a := start(t, Config{})
	b := joiner(t, a, Config{})
	waitFor(t, "a and b connected", func() bool { return hasPeer(a, b.ID()) })
	p, added := a.legacy.addPeer(legacy.Peer{ID: "named-elsewhere", Host: "10.1.2.3", Port: "9"}, "127.0.0.2")
	if !added || p.Host != "127.0.0.2" {
		t.Fatalf("a stranger's third-party address: %+v added %v, want it at 127.0.0.2", p, added)
	}
	p, added = a.legacy.addPeer(legacy.Peer{ID: "introduced", Host: "127.0.0.5", Port: "9"}, "127.0.0.1")
	if !added || p.Host != "127.0.0.5" {
		t.Fatalf("an introduction from a member's host: %+v added %v, want 127.0.0.5", p, added)
	}
	for _, host := range []string{"localhost", "127.0.0.1", "::1"} {
		if _, added := a.legacy.addPeer(legacy.Peer{ID: "alias-" + host, Host: host, Port: strconv.Itoa(b.Port())}, "127.0.0.1"); added {
			t.Fatalf("b's address spelled %s was taken as a legacy peer", host)
		}
	}
}

func TestSameHost(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"127.0.0.1", "localhost", true}, {"127.0.0.1", "::1", true}, {"10.0.0.1", "10.0.0.1", true},
		{"::ffff:10.0.0.1", "10.0.0.1", true}, {"10.0.0.1", "10.0.0.2", false},
		{"Node1.example.org", "node1.example.org", true}, {"node1.example.org", "10.0.0.1", false},
	} {
		if got := sameHost(c.a, c.b); got != c.want {
			t.Errorf("sameHost(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
