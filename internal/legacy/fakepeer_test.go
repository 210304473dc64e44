package legacy

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/naivechain/naivechain/internal/block"
)

const loopback = "127.0.0.1"

func newFakePeer(t *testing.T, id string) *FakePeer {
	t.Helper()
	f := NewFakePeer(id)
	if _, err := f.Listen(loopback + ":0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*Timeout)
	t.Cleanup(cancel)
	return ctx
}

func join(t *testing.T, joiner, to *FakePeer) {
	t.Helper()
	if err := joiner.JoinTo(testContext(t), to.ID(), loopback, to.Port()); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, f *FakePeer, value string) bool {
	t.Helper()
	ok, err := f.Write(testContext(t), json.RawMessage(value))
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func sameChains(t *testing.T, want []block.Block, peers ...*FakePeer) {
	t.Helper()
	if err := block.CheckChain(want); err != nil {
		t.Fatalf("chain %v: %v", want, err)
	}
	for _, f := range peers {
		if got := f.Chain(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s chain = %+v\nwant %+v", f.ID(), got, want)
		}
	}
}

func peerIDs(f *FakePeer) []string {
	var ids []string
	for id := range f.Peers() {
		ids = append(ids, id)
	}
	return ids
}

func TestFakePeersJoinAndWrite(t *testing.T) {
	a := newFakePeer(t, "node-a")
	b := newFakePeer(t, "node-b")

	// A node alone adds alone.
	if !write(t, a, `"Testing String Again"`) {
		t.Fatal("a lone node refused a write")
	}
	sameChains(t, []block.Block{block.Genesis(), testingStringAgain}, a)

	join(t, b, a)
	sameChains(t, []block.Block{block.Genesis(), testingStringAgain}, a, b)
	if got, want := a.Peers(), map[string]Peer{"node-b": {ID: "node-b", Host: loopback, Port: b.Port()}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("a peers = %v, want %v", got, want)
	}
	if got, want := b.Peers(), map[string]Peer{"node-a": {ID: "node-a", Host: loopback, Port: a.Port()}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("b peers = %v, want %v", got, want)
	}
	wantJoin := `{"CMD": "NEW_PEER_JOIN", "peer_id": "node-b", "peer_host": "0.0.0.0", "peer_port": "` + b.Port() + `"}`
	if got := a.Frames(); !reflect.DeepEqual(got, []string{wantJoin}) {
		t.Fatalf("a received %q, want %q", got, wantJoin)
	}
	wantUpload := `{"CMD": "NEW_JOIN_DATA_UPLOAD", "peer_list": [], "data_list": [{"index": 0, "previous_hash": "ioiiiuasyi891qbduquiuqwiqwiupwe", "data": "\"random\"", "curr_hash": "71fbc6a1c90d94050b32ab9f9d6a11fc41724f8f954905c120c4c16b71f1f80f"}, {"index": 1, "previous_hash": "71fbc6a1c90d94050b32ab9f9d6a11fc41724f8f954905c120c4c16b71f1f80f", "data": "\"Testing String Again\"", "curr_hash": "c8a8924ed4d8c58638b9f4fcbb7609bb0edb4a509d1514246a04ebba680d5a1f"}]}`
	if got := b.Frames(); !reflect.DeepEqual(got, []string{wantUpload}) {
		t.Fatalf("b received %q, want %q", got, wantUpload)
	}

	// A write on each side reaches the other, in the original's three steps.
	if !write(t, b, `"x"`) {
		t.Fatal("write on b refused")
	}
	bx := block.Next(testingStringAgain, `"x"`)
	if !write(t, a, `{"é": [1, null]}`) {
		t.Fatal("write on a refused")
	}
	ay := block.Next(bx, `{"\u00e9": [1, null]}`)
	sameChains(t, []block.Block{block.Genesis(), testingStringAgain, bx, ay}, a, b)

	wantA := []string{
		wantJoin,
		`{"CMD": "VALIDATE_BLOCK", "block_data": {"index": 2, "previous_hash": "c8a8924ed4d8c58638b9f4fcbb7609bb0edb4a509d1514246a04ebba680d5a1f", "data": "\"x\"", "curr_hash": "` + bx.CurrHash + `"}}`,
		`{"CMD": "ADD_BLOCK", "data": "x"}`,
		`{"index": 2, "previous_hash": "c8a8924ed4d8c58638b9f4fcbb7609bb0edb4a509d1514246a04ebba680d5a1f", "data": "\"x\"", "curr_hash": "` + bx.CurrHash + `"}`,
	}
	if got := a.Frames(); !reflect.DeepEqual(got, wantA) {
		t.Fatalf("a received\n%q\nwant\n%q", got, wantA)
	}
	wantB := []string{
		wantUpload,
		`{"CMD": "VALIDATE_BLOCK", "block_data": {"index": 3, "previous_hash": "` + bx.CurrHash + `", "data": "{\"\\u00e9\": [1, null]}", "curr_hash": "` + ay.CurrHash + `"}}`,
		`{"CMD": "ADD_BLOCK", "data": {"\u00e9": [1, null]}}`,
		`{"index": 3, "previous_hash": "` + bx.CurrHash + `", "data": "{\"\\u00e9\": [1, null]}", "curr_hash": "` + ay.CurrHash + `"}`,
	}
	if got := b.Frames(); !reflect.DeepEqual(got, wantB) {
		t.Fatalf("b received\n%q\nwant\n%q", got, wantB)
	}
}

func TestThirdPeerJoinsTheSecond(t *testing.T) {
	a := newFakePeer(t, "node-a")
	b := newFakePeer(t, "node-b")
	c := newFakePeer(t, "node-c")
	join(t, b, a)
	write(t, a, `"one"`)
	join(t, c, b)

	for _, f := range []*FakePeer{a, b, c} {
		want := map[string]Peer{}
		for _, p := range []*FakePeer{a, b, c} {
			if p != f {
				want[p.ID()] = Peer{ID: p.ID(), Host: loopback, Port: p.Port()}
			}
		}
		if got := f.Peers(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s peers = %v, want %v", f.ID(), got, want)
		}
	}
	wantAddPeer := `{"CMD": "ADD_PEER", "peer_id": "node-c", "peer_host": "0.0.0.0", "peer_port": "` + c.Port() + `"}`
	if frames := a.Frames(); frames[len(frames)-1] != wantAddPeer {
		t.Errorf("a's last frame = %q, want %q", frames[len(frames)-1], wantAddPeer)
	}

	if !write(t, c, `"two"`) {
		t.Fatal("write on c refused")
	}
	one := block.Next(block.Genesis(), `"one"`)
	sameChains(t, []block.Block{block.Genesis(), one, block.Next(one, `"two"`)}, a, b, c)
}

func TestMajority(t *testing.T) {
	cases := []struct {
		acks, n int
		want    bool
	}{
		{0, 0, true},
		{0, 1, false}, {1, 1, true},
		{1, 2, false}, {2, 2, true},
		{1, 3, false}, {2, 3, true},
		{2, 4, false}, {3, 4, true},
	}
	for _, c := range cases {
		if got := Majority(c.acks, c.n); got != c.want {
			t.Errorf("Majority(%d, %d) = %v, want %v", c.acks, c.n, got, c.want)
		}
	}
}

func TestWriteNeedsAMajority(t *testing.T) {
	x := newFakePeer(t, "node-x")
	y := newFakePeer(t, "node-y")
	z := newFakePeer(t, "node-z")
	join(t, y, x)
	join(t, z, x)
	if len(x.Peers()) != 2 || len(z.Peers()) != 2 {
		t.Fatalf("peers: x %v, z %v", peerIDs(x), peerIDs(z))
	}

	// z forks: it alone takes a block, so it refuses blocks built on genesis.
	reply, err := Send(testContext(t), loopback, z.Port(), AddBlock{Value: json.RawMessage(`"fork"`)})
	if err != nil || reply != ReplyACK {
		t.Fatalf("ADD_BLOCK to z: %q, %v", reply, err)
	}
	if write(t, x, `"refused"`) {
		t.Fatal("a write with one ACK out of two peers was accepted")
	}
	genesis := []block.Block{block.Genesis()}
	sameChains(t, genesis, x, y)
	sameChains(t, append(genesis, block.Next(block.Genesis(), `"fork"`)), z)

	// An unreachable peer counts as a refusal.
	z.Close()
	if write(t, x, `"refused"`) {
		t.Fatal("a write with one ACK and one unreachable peer was accepted")
	}
	sameChains(t, genesis, x, y)
}

func TestValidateRule(t *testing.T) {
	f := newFakePeer(t, "node-f")
	ctx := testContext(t)
	good := block.Next(block.Genesis(), `"v"`)
	cases := []struct {
		name string
		b    block.Block
		want string
	}{
		{"next block", good, ReplyACK},
		// The original re-encodes data with json.dumps(json.loads(data)).
		{"data Python re-encodes", block.Block{Index: 1, PreviousHash: block.GenesisHash, Data: `"\u00e9"`, CurrHash: block.Hash(block.GenesisHash, `"\u00e9"`)}, ReplyACK},
		{"index and link unchecked, as in the original", block.Block{Index: 9, PreviousHash: "x", Data: `"v"`, CurrHash: good.CurrHash}, ReplyACK},
		{"wrong hash", block.Block{Index: 1, PreviousHash: block.GenesisHash, Data: `"v"`, CurrHash: block.GenesisHash}, ReplyKCA},
		{"not on the tip", block.Next(good, `"w"`), ReplyKCA},
		{"data not JSON", block.Next(block.Genesis(), `v`), ReplyKCA},
	}
	for _, c := range cases {
		reply, err := Send(ctx, loopback, f.Port(), Validate{Block: c.b})
		if err != nil {
			t.Fatal(err)
		}
		if reply != c.want {
			t.Errorf("%s: reply %q, want %q", c.name, reply, c.want)
		}
	}
	sameChains(t, []block.Block{block.Genesis()}, f)
}

func TestFakePeerRepliesLikeTheOriginal(t *testing.T) {
	f := newFakePeer(t, "node-f")
	ctx := testContext(t)
	b := block.Next(block.Genesis(), `"v"`)
	for _, c := range []struct {
		m    Message
		want string
	}{
		{Ping{}, ReplyPONG},
		{Other{Block: &b}, ReplyACK},
		{Other{}, ReplyACK},
	} {
		if reply, err := Send(ctx, loopback, f.Port(), c.m); err != nil || reply != c.want {
			t.Errorf("%#v: reply %q, %v; want %q", c.m, reply, err, c.want)
		}
	}
	sameChains(t, []block.Block{block.Genesis()}, f)
}

func TestFakePeerRefusesMalformedFrames(t *testing.T) {
	f := newFakePeer(t, "node-f")
	addr := loopback + ":" + f.Port()
	frames := []string{
		`{"CMD": "ADD_BLOCK"}`,
		`{"CMD": "ADD_PEER", "peer_id": "p", "peer_host": "h", "peer_port": "0"}`,
		`{"CMD": "NEW_JOIN_DATA_UPLOAD", "peer_list": [{"peer": "p", "host": "h", "port": "1"}], "data_list": [{"index": "0"}]}`,
		`{"CMD": "NEW_PEER_JOIN"`,
	}
	for _, frame := range frames {
		if reply := exchange(t, addr, websocket.MessageText, frame); reply != ReplyKCA {
			t.Errorf("reply to %s = %q, want KCA", frame, reply)
		}
	}
	// Well-formed, but a chain that does not check.
	forged := block.Next(block.Genesis(), `"v"`)
	forged.Data = `"w"`
	upload := DataUpload{Peers: []Peer{{ID: "p", Host: loopback, Port: "1"}}, Blocks: []block.Block{block.Genesis(), forged}}
	if reply, err := Send(testContext(t), loopback, f.Port(), upload); err != nil || reply != ReplyKCA {
		t.Errorf("reply to a forged upload = %q, %v; want KCA", reply, err)
	}
	sameChains(t, []block.Block{block.Genesis()}, f)
	if len(f.Peers()) != 0 {
		t.Fatalf("peers = %v", f.Peers())
	}
	if got := f.Frames(); !reflect.DeepEqual(got, append(frames, string(Encode(upload)))) {
		t.Fatalf("frames = %q", got)
	}
}

func TestJoinRefusedWhenTheJoinerIsUnreachable(t *testing.T) {
	a := newFakePeer(t, "node-a")
	reply, err := Send(testContext(t), loopback, a.Port(), Join{PeerID: "ghost", PeerHost: OriginalHost, PeerPort: "1"})
	if err != nil || reply != ReplyKCA {
		t.Fatalf("reply = %q, %v; want KCA", reply, err)
	}
	if len(a.Peers()) != 0 {
		t.Fatalf("peers = %v", a.Peers())
	}
}

// TestCloseEndsExchangesInFlight checks that Close does not wait for a
// sender that never sends. The server would wait an hour for the frame, so
// a Close that waited for it would never return: the deadline below only
// turns that hang into a failure, it measures nothing.
func TestCloseEndsExchangesInFlight(t *testing.T) {
	f := NewFakePeer("node-f")
	f.server.readTimeout = time.Hour
	port, err := f.Listen(loopback + ":0")
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	ws, _, err := websocket.Dial(ctx, "ws://"+loopback+":"+port+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	waitForCond(t, "the exchange in flight", func() bool { return f.server.Stats().Conns == 1 })
	closed := make(chan error, 1)
	go func() { closed <- f.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("Close waits for a sender that never sends")
	}
	if _, err := f.Listen(loopback + ":0"); err == nil {
		t.Fatal("Listen after Close succeeded")
	}
}

func TestJoinToAnUnreachableNodeForgetsIt(t *testing.T) {
	b := newFakePeer(t, "node-b")
	if err := b.JoinTo(testContext(t), "node-a", loopback, "1"); err == nil {
		t.Fatal("join to a closed port succeeded")
	}
	if err := b.JoinTo(testContext(t), "a b", loopback, "1"); err == nil {
		t.Fatal("join with an invalid id succeeded")
	}
	if len(b.Peers()) != 0 {
		t.Fatalf("peers = %v", b.Peers())
	}
	if err := NewFakePeer("node-c").JoinTo(testContext(t), "node-b", loopback, b.Port()); err == nil {
		t.Fatal("JoinTo before Listen succeeded")
	}
}
