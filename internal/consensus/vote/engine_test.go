package vote

import (
	"encoding/binary"
	"errors"
	"testing"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/store"
)

func newLone(t testing.TB) *Engine {
	t.Helper()
	return newLoneWith(t, "solo", testJoinToken)
}

// newFounderOn makes the engine of node id founding a network with token,
// over a chain on st, before its first Ready.
func newFounderOn(t testing.TB, st store.Store, id, token string) (*Engine, *chain.Chain) {
	t.Helper()
	c, err := chain.New(st)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Config{Self: consensus.Member{ID: id, Host: "127.0.0.1", Port: "15001"}, Bootstrap: true, Chain: c, Store: st, JoinToken: token, Session: 1})
	if err != nil {
		t.Fatal(err)
	}
	return e, c
}

// newLoneWith is newLone for node id with its own network token.
func newLoneWith(t testing.TB, id, token string) *Engine {
	t.Helper()
	e, _ := newFounderOn(t, store.NewMemory(), id, token)
	drive(e)
	e.Tick() // the leader records its token
	drive(e)
	if e.Token() != token {
		t.Fatalf("the founder's token is not recorded: %q", e.Token())
	}
	return e
}

func TestLoneNodeCommitsAlone(t *testing.T) {
	e := newLone(t)
	if st := e.Status(); st.Role != "leader" || st.Leader != "solo" {
		t.Fatalf("lone node status %+v, want leader", st)
	}
	id, err := e.Propose(`"Testing String Again"`)
	if err != nil {
		t.Fatal(err)
	}
	rd := drive(e)
	if len(rd.Results) != 1 || rd.Results[0].ID != id {
		t.Fatalf("results %+v, want one for proposal %d", rd.Results, id)
	}
	if got := rd.Results[0].Block.CurrHash; got != "c8a8924ed4d8c58638b9f4fcbb7609bb0edb4a509d1514246a04ebba680d5a1f" {
		t.Fatalf("block hash %s", got)
	}
	if len(rd.Messages) != 0 {
		t.Fatalf("a lone node sent %d messages", len(rd.Messages))
	}
}

func TestAbandonReportsWhetherSubmitted(t *testing.T) {
	st := store.NewMemory()
	c, _ := chain.New(st)
	// A node waiting to join has no leader: nothing reaches raft.
	e, err := New(Config{Self: consensus.Member{ID: "j", Host: "h", Port: "1"}, Chain: c, Store: st, JoinToken: testJoinToken, Session: 1})
	if err != nil {
		t.Fatal(err)
	}
	id, err := e.Propose(`"x"`)
	if err != nil {
		t.Fatal(err)
	}
	drive(e)
	if e.Abandon(id) {
		t.Fatal("a write never handed to raft reported it may commit")
	}
	if e.Abandon(id) {
		t.Fatal("abandoning twice")
	}
}

func TestStepRejectsSpoofedSender(t *testing.T) {
	e := newLone(t)
	before := e.Status()
	// A member's raft id (here the node's own) on another node's link.
	m := raftpb.Message{Type: raftpb.MsgHeartbeat, From: e.id, To: e.id, Term: 50}
	buf, _ := m.Marshal()
	if err := e.Step("alice", append([]byte{kindRaft, 0}, buf...)); !errors.Is(err, consensus.ErrMalformed) {
		t.Fatalf("spoofed raft sender: err = %v", err)
	}
	if st := e.Status(); st != before {
		t.Fatalf("spoofed message changed the term: %+v", st)
	}
	// A raft id of no member, from a peer that is no member: never
	// stepped, even an append of a higher term that commits an entry.
	height := e.chain.Len()
	for _, id := range []uint64{RaftID("alice"), RaftIDOf(consensus.Member{ID: "alice", Incarnation: 3})} {
		app := raftpb.Message{Type: raftpb.MsgApp, From: id, To: e.id, Term: before.Term + 5, Index: 0, LogTerm: 0, Commit: 9,
			Entries: []raftpb.Entry{{Term: before.Term + 5, Index: 1, Data: encodeBatch(batch{Session: 9, Low: 1, Items: []item{{Seq: 1, Data: `"forged"`}}})}}}
		buf, _ = app.Marshal()
		if err := e.Step("alice", append([]byte{kindRaft, 0}, buf...)); err != nil {
			t.Fatalf("stranger's raft message: err = %v", err)
		}
		drive(e)
		if st := e.Status(); st != before || e.chain.Len() != height {
			t.Fatalf("a stranger's append changed the node: %+v, %d blocks (was %+v, %d)", st, e.chain.Len(), before, height)
		}
	}
	local := raftpb.Message{Type: raftpb.MsgHup, From: RaftID("alice"), To: e.id}
	buf, _ = local.Marshal()
	if err := e.Step("alice", append([]byte{kindRaft, 0}, buf...)); !errors.Is(err, consensus.ErrMalformed) {
		t.Fatalf("local message type from a peer: err = %v", err)
	}
	bad := raftpb.Message{Type: raftpb.MsgApp, From: RaftID("alice"), To: e.id, Term: 1,
		Entries: []raftpb.Entry{{Type: raftpb.EntryNormal, Index: 2, Term: 1, Data: []byte{9, 9}}}}
	buf, _ = bad.Marshal()
	if err := e.Step("alice", append([]byte{kindRaft, 0}, buf...)); !errors.Is(err, consensus.ErrMalformed) {
		t.Fatalf("undecodable entry: err = %v", err)
	}
}

func TestBusyWhenTooManyPending(t *testing.T) {
	st := store.NewMemory()
	c, _ := chain.New(st)
	e, _ := New(Config{Self: consensus.Member{ID: "j", Host: "h", Port: "1"}, Chain: c, Store: st, JoinToken: testJoinToken, Session: 1, MaxPending: 2})
	for i := 0; i < 2; i++ {
		if _, err := e.Propose("1"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Propose("1"); !errors.Is(err, consensus.ErrBusy) {
		t.Fatalf("err = %v, want ErrBusy", err)
	}
}

// FuzzStep feeds arbitrary payloads to a running engine: it must never
// panic, and a rejected payload must leave the chain as it was.
func FuzzStep(f *testing.F) {
	hb := raftpb.Message{Type: raftpb.MsgHeartbeat, From: RaftID("peer"), To: RaftID("solo"), Term: 1}
	buf, _ := hb.Marshal()
	f.Add(append([]byte{kindRaft, 0}, buf...))
	app := raftpb.Message{Type: raftpb.MsgApp, From: RaftID("peer"), To: RaftID("solo"), Term: 3, Index: 1, LogTerm: 1, Commit: 5,
		Entries: []raftpb.Entry{{Type: raftpb.EntryNormal, Term: 3, Index: 2, Data: encodeBatch(batch{Session: 9, Low: 1, Items: []item{{Seq: 1, Data: "1"}}})}}}
	buf, _ = app.Marshal()
	f.Add(append([]byte{kindRaft, 0}, buf...))
	for _, typ := range []raftpb.MessageType{raftpb.MsgReadIndex, raftpb.MsgReadIndexResp} {
		rm := raftpb.Message{Type: typ, From: RaftID("peer"), To: RaftID("solo"), Term: 1, Index: 9, Entries: []raftpb.Entry{{Data: []byte("ctx")}}}
		buf, _ = rm.Marshal()
		f.Add(append([]byte{kindRaft, 0}, buf...))
	}
	f.Add(append([]byte{kindJoin}, `{"id":"peer","host":"h","port":"1"}`...))
	f.Add([]byte{kindJoinRefuse, 'n', 'o'})
	f.Add(append([]byte{kindRemoved}, binary.AppendUvarint(nil, RaftID("solo"))...))
	f.Add(append([]byte{kindAnnounce}, encodeAnnounce(announce{Cluster: 1, Height: 9, Tip: block.GenesisHash})...))
	f.Add(append([]byte{kindLocate}, encodeLocator([]chain.LocatorEntry{{Index: 0, Hash: block.GenesisHash}})...))
	f.Add(append([]byte{kindJoin}, encodeJoin(consensus.Member{ID: "peer", Host: "h", Port: "1"}, testJoinToken)...))
	f.Add(append([]byte{kindVouch}, encodeVouch(map[uint64]consensus.Member{RaftID("peer"): {ID: "peer"}})...))
	f.Add(append([]byte{kindJoinDenied}, "wrong join token"...))
	f.Add(append([]byte{kindConsent}, encodeConsent(testJoinToken, "their-network-token-0123456789")...))
	f.Add(append([]byte{kindHostRequest}, encodeHostRequest(announce{Cluster: 1, Height: 1, Tip: block.GenesisHash}, testJoinToken, "")...))
	f.Fuzz(func(t *testing.T, payload []byte) {
		e := newLone(t)
		before := e.chain.Tip()
		_ = e.Step("peer", payload)
		rd := drive(e)
		if rd.Err != nil {
			t.Fatalf("engine failed: %v", rd.Err)
		}
		// "peer" is no member: nothing it sends may make a block.
		if e.chain.Tip() != before {
			t.Fatal("a stranger's payload changed the chain")
		}
		if !e.chain.Healthy() {
			t.Fatal("chain unhealthy")
		}
	})
}

func TestProposeBlocksAppliesOnlyWhatLinks(t *testing.T) {
	e := newLone(t)
	g := e.chain.Tip()
	b1 := block.Next(g, `"from a legacy peer"`)
	b2 := block.Next(b1, `"and its successor"`)
	if err := e.ProposeBlocks([]block.Block{b1, b2}); err != nil {
		t.Fatal(err)
	}
	drive(e)
	drive(e)
	if e.chain.Tip() != b2 {
		t.Fatalf("tip %+v, want %+v", e.chain.Tip(), b2)
	}
	// The same blocks again no longer link: nothing changes.
	if err := e.ProposeBlocks([]block.Block{b1}); err != nil {
		t.Fatal(err)
	}
	drive(e)
	drive(e)
	if e.chain.Len() != 3 {
		t.Fatalf("chain has %d blocks, want 3", e.chain.Len())
	}
	// A block whose hash does not match its contents is never taken.
	bad := block.Next(b2, `"x"`)
	bad.CurrHash = block.Hash("a", "b")
	if err := e.ProposeBlocks([]block.Block{bad}); err != nil {
		t.Fatal(err)
	}
	drive(e)
	drive(e)
	if e.chain.Len() != 3 {
		t.Fatalf("a bad block was taken: %d blocks", e.chain.Len())
	}
}

// TestProposeBlocksRefusesPoW: blocks holding a proof-of-work block are
// refused whole, before anything reaches raft.
func TestProposeBlocksRefusesPoW(t *testing.T) {
	e := newLone(t)
	g := e.chain.Tip()
	b1 := block.Next(g, `"classic"`)
	pow := powBlockOn(t, b1)
	// Past one entry's worth, so that a refusal in a later entry must
	// not leave the earlier ones proposed.
	blocks := make([]block.Block, maxEntryBlocks+1, maxEntryBlocks+2)
	for i := range blocks {
		blocks[i] = b1
	}
	blocks = append(blocks, pow)
	for _, bs := range [][]block.Block{{pow}, {b1, pow}, blocks} {
		if err := e.ProposeBlocks(bs); !errors.Is(err, ErrPoWBlock) {
			t.Fatalf("ProposeBlocks of %d blocks with a PoW one: err = %v, want ErrPoWBlock", len(bs), err)
		}
		drive(e)
		drive(e)
		if e.chain.Len() != 1 {
			t.Fatalf("a refused proposal changed the chain: %d blocks", e.chain.Len())
		}
	}
	if err := e.ProposeBlocks([]block.Block{b1}); err != nil {
		t.Fatal(err)
	}
	drive(e)
	drive(e)
	if e.chain.Tip() != b1 {
		t.Fatalf("tip %+v, want %+v", e.chain.Tip(), b1)
	}
}

// TestFetchStopsBeforeAPoWBlock: a chain that somehow holds a
// proof-of-work block serves the classic blocks before it, and never the
// PoW block stripped of its fields (an empty answer from it on).
func TestFetchStopsBeforeAPoWBlock(t *testing.T) {
	e := newLone(t)
	b1 := block.Next(e.chain.Tip(), `"classic"`)
	pow := minePoW(t, b1)
	if err := e.chain.Append(b1, pow, block.Next(pow, `"after"`)); err != nil {
		t.Fatal(err)
	}
	drive(e)
	for _, c := range []struct {
		from, want uint64
	}{{0, 2}, {1, 1}, {2, 0}, {3, 1}} {
		e.Tick() // a stranger gets two answers a tick
		drive(e)
		req := binary.AppendUvarint(binary.AppendUvarint([]byte{kindFetch}, c.from), 10)
		if err := e.Step("peer", req); err != nil {
			t.Fatal(err)
		}
		var answers int
		for _, m := range drive(e).Messages {
			if m.To != "peer" || m.Payload[0] != kindBlocks {
				continue
			}
			answers++
			start, blocks, err := decodeBlocks(m.Payload[1:])
			if err != nil || start != c.from || uint64(len(blocks)) != c.want {
				t.Fatalf("fetch from %d: start %d, %d blocks, %v; want %d blocks", c.from, start, len(blocks), err, c.want)
			}
			for _, b := range blocks {
				if b.Index == pow.Index {
					t.Fatalf("fetch from %d served the PoW block as %+v", c.from, b)
				}
			}
		}
		if answers != 1 {
			t.Fatalf("fetch from %d: %d answers", c.from, answers)
		}
	}
}

// minePoW returns a valid proof-of-work block on prev at the least
// difficulty (about 256 tries; everything but the nonce is fixed).
func minePoW(t testing.TB, prev block.Block) block.Block {
	t.Helper()
	b, err := block.Mine(block.NewPoW(prev, []string{`"mined"`}, 1_700_000_000_000, block.MinDifficulty), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestProposeAllIsOneResultOfConsecutiveBlocks(t *testing.T) {
	e := newLone(t)
	single, _ := e.Propose(`"before"`)
	id, err := e.ProposeAll([]string{`"a"`, `"b"`, `"c"`})
	if err != nil {
		t.Fatal(err)
	}
	rd := drive(e)
	if len(rd.Results) != 2 || rd.Results[0].ID != single || rd.Results[1].ID != id {
		t.Fatalf("results %+v", rd.Results)
	}
	bs := rd.Results[1].Blocks
	if len(bs) != 3 || bs[0].Index != 2 || bs[2].Index != 4 || bs[1].Data != `"b"` || rd.Results[1].Block != bs[0] {
		t.Fatalf("group blocks %+v", bs)
	}
	if _, err := e.ProposeAll(nil); err == nil {
		t.Fatal("an empty group was accepted")
	}
	if _, err := e.ProposeAll(make([]string, consensus.MaxGroup+1)); err == nil {
		t.Fatal("an oversized group was accepted")
	}
}

// TestFetchesBoundedPerTick: a peer that is no member gets two block
// answers a tick, however many it asks for; the next tick it gets two more.
func TestFetchesBoundedPerTick(t *testing.T) {
	e := newLone(t)
	answers := func() (n int) {
		for _, m := range drive(e).Messages {
			if m.To == "peer" && m.Payload[0] == kindBlocks {
				n++
			}
		}
		return n
	}
	req := binary.AppendUvarint(binary.AppendUvarint([]byte{kindFetch}, 0), 10)
	for round := range 2 {
		e.Tick()
		drive(e)
		for range 10 {
			if err := e.Step("peer", req); err != nil {
				t.Fatal(err)
			}
		}
		if n := answers(); n != maxServesPerTickStranger {
			t.Fatalf("round %d: %d answers to 10 fetches, want %d", round, n, maxServesPerTickStranger)
		}
	}
	// Locators too, which cost a search of the chain before any answer.
	e.Tick()
	drive(e)
	loc := append([]byte{kindLocate}, encodeLocator([]chain.LocatorEntry{{Index: 0, Hash: block.GenesisHash}})...)
	for range 10 {
		if err := e.Step("peer", loc); err != nil {
			t.Fatal(err)
		}
	}
	if n := answers(); n != maxServesPerTickStranger {
		t.Fatalf("%d answers to 10 locators, want %d", n, maxServesPerTickStranger)
	}
}
