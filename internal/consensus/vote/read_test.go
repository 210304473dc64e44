package vote

import (
	"errors"
	"testing"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/store"
)

// trio is a network of three engines, a (the leader), b and c, whose
// messages the test delivers: each Ready's messages wait in out until
// deliver hands over those a filter lets through.
type trio struct {
	t       testing.TB
	engines map[string]*Engine
	out     []envelope
	reads   map[string][]consensus.ReadResult
}

type envelope struct {
	from string
	msg  consensus.Message
}

func newTrio(t testing.TB) *trio {
	t.Helper()
	n := &trio{t: t, engines: map[string]*Engine{}, reads: map[string][]consensus.ReadResult{}}
	for i, id := range []string{"a", "b", "c"} {
		st := store.NewMemory()
		c, err := chain.New(st)
		if err != nil {
			t.Fatal(err)
		}
		e, err := New(Config{Self: consensus.Member{ID: id, Host: "127.0.0.1", Port: "1"}, Bootstrap: id == "a",
			Chain: c, Store: st, JoinToken: testJoinToken, Session: uint64(i + 1), ReadTicks: 50})
		if err != nil {
			t.Fatal(err)
		}
		n.engines[id] = e
	}
	n.ready()
	n.engines["b"].Join("a")
	n.engines["c"].Join("a")
	voters := func() bool {
		for _, id := range []string{"b", "c"} {
			if n.engines[id].Status().Role != "follower" {
				return false
			}
		}
		return n.engines["a"].Status().Role == "leader"
	}
	for i := 0; i < 400 && !voters(); i++ {
		for _, e := range n.engines {
			e.Tick()
		}
		n.ready()
		n.deliver(nil)
	}
	if !voters() {
		t.Fatal("the three never formed a network")
	}
	return n
}

// ready collects every engine's Ready.
func (n *trio) ready() {
	for _, id := range []string{"a", "b", "c"} {
		rd := drive(n.engines[id])
		for _, m := range rd.Messages {
			n.out = append(n.out, envelope{from: id, msg: m})
		}
		n.reads[id] = append(n.reads[id], rd.Reads...)
	}
}

// deliver steps the waiting messages that keep lets through (all with a
// nil keep) and keeps the others waiting.
func (n *trio) deliver(keep func(from, to string, m raftpb.Message) bool) {
	out := n.out
	n.out = nil
	for _, env := range out {
		rm, _ := raftMessage(env.msg)
		if keep != nil && !keep(env.from, env.msg.To, rm) {
			n.out = append(n.out, env)
			continue
		}
		if err := n.engines[env.msg.To].Step(env.from, env.msg.Payload); err != nil {
			n.t.Fatalf("%s -> %s: %v", env.from, env.msg.To, err)
		}
	}
}

// TestConsistentReadWaitsForTheApply: a write committed by a and c while b
// hears nothing; a consistent read on b gets its read index from the
// leader, and is released only once b's chain holds the write.
func TestConsistentReadWaitsForTheApply(t *testing.T) {
	n := newTrio(t)
	a, b := n.engines["a"], n.engines["b"]
	toB := func(from, to string, m raftpb.Message) bool { return to != "b" && from != "b" }
	if _, err := a.Propose(`"acknowledged"`); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20 && a.chain.Tip().Data != `"acknowledged"`; i++ {
		n.ready()
		n.deliver(toB)
	}
	if got := a.chain.Tip().Data; got != `"acknowledged"` {
		t.Fatalf("the leader's tip is %s: the write was not committed", got)
	}
	if b.chain.Tip().Data == `"acknowledged"` {
		t.Fatal("b holds the write already: the test shows nothing")
	}
	n.out = nil // everything a held for b is lost
	id, err := b.ReadIndex()
	if err != nil {
		t.Fatal(err)
	}
	// Only read traffic and heartbeats reach b: never an append.
	noAppends := func(from, to string, m raftpb.Message) bool {
		return m.Type != raftpb.MsgApp && m.Type != raftpb.MsgSnap
	}
	confirmed := false
	for i := 0; i < 20; i++ {
		n.ready()
		n.deliver(noAppends)
		confirmed = confirmed || len(b.reads.confirmed) > 0
	}
	n.ready()
	if !confirmed {
		t.Fatal("the leader never answered b's read")
	}
	if len(n.reads["b"]) != 0 {
		t.Fatalf("b released its read before holding the write: %+v", n.reads["b"])
	}
	for i := 0; i < 20 && len(n.reads["b"]) == 0; i++ {
		n.deliver(nil)
		n.ready()
	}
	if len(n.reads["b"]) != 1 || n.reads["b"][0].ID != id || n.reads["b"][0].Err != nil {
		t.Fatalf("b's reads: %+v, want %d released", n.reads["b"], id)
	}
	if got := b.chain.Tip().Data; got != `"acknowledged"` {
		t.Fatalf("b released its read with tip %s", got)
	}
}

// TestConsistentReadsShareARound: the reads a follower asks for while one
// round is out go together in the next round, one MsgReadIndex for all.
func TestConsistentReadsShareARound(t *testing.T) {
	n := newTrio(t)
	b := n.engines["b"]
	asks := func() (k int) {
		for _, env := range n.out {
			if rm, _ := raftMessage(env.msg); env.from == "b" && rm.Type == raftpb.MsgReadIndex {
				k++
			}
		}
		return k
	}
	n.out = nil
	if _, err := b.ReadIndex(); err != nil {
		t.Fatal(err)
	}
	n.ready()
	for range 50 {
		if _, err := b.ReadIndex(); err != nil {
			t.Fatal(err)
		}
		n.ready()
	}
	if k := asks(); k != 1 {
		t.Fatalf("51 reads asked %d rounds while the first was out, want 1", k)
	}
	for i := 0; i < 20 && len(n.reads["b"]) < 51; i++ {
		n.deliver(nil)
		n.ready()
	}
	if len(n.reads["b"]) != 51 {
		t.Fatalf("%d of 51 reads released", len(n.reads["b"]))
	}
	for _, r := range n.reads["b"] {
		if r.Err != nil {
			t.Fatalf("read %d failed: %v", r.ID, r.Err)
		}
	}
}

// TestConsistentReadFailsWithoutLeader: a follower cut off from the others
// loses its leader at the next election timeout; its reads waiting then
// fail with ErrNoLeader, and new ones are refused at once.
func TestConsistentReadFailsWithoutLeader(t *testing.T) {
	n := newTrio(t)
	b := n.engines["b"]
	n.out = nil
	id, err := b.ReadIndex()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100 && len(n.reads["b"]) == 0; i++ {
		b.Tick()
		n.ready()
		n.out = nil // b hears from no one, and no one from b
	}
	if len(n.reads["b"]) != 1 || n.reads["b"][0].ID != id || !errors.Is(n.reads["b"][0].Err, consensus.ErrNoLeader) {
		t.Fatalf("b's reads without a leader: %+v", n.reads["b"])
	}
	if _, err := b.ReadIndex(); !errors.Is(err, consensus.ErrNoLeader) {
		t.Fatalf("a read asked without a leader: err = %v", err)
	}
}

// TestConsistentReadExpires: a read whose round is never answered (the
// leader's answers are lost) fails after ReadTicks with ErrReadTimeout,
// and the round is asked again every readRetryTicks meanwhile.
func TestConsistentReadExpires(t *testing.T) {
	n := newTrio(t)
	b := n.engines["b"]
	n.out = nil
	id, err := b.ReadIndex()
	if err != nil {
		t.Fatal(err)
	}
	rounds := 0
	onlyFromB := func(from, to string, m raftpb.Message) bool {
		if from == "b" && m.Type == raftpb.MsgReadIndex {
			rounds++
		}
		return m.Type != raftpb.MsgReadIndexResp && m.Type != raftpb.MsgReadIndex
	}
	for i := 0; i < 60 && len(n.reads["b"]) == 0; i++ {
		for _, e := range n.engines {
			e.Tick()
		}
		n.ready()
		n.deliver(onlyFromB)
		n.out = nil
	}
	if len(n.reads["b"]) != 1 || n.reads["b"][0].ID != id || !errors.Is(n.reads["b"][0].Err, consensus.ErrReadTimeout) {
		t.Fatalf("b's reads: %+v, want %d expired", n.reads["b"], id)
	}
	if rounds < 50/readRetryTicks {
		t.Fatalf("the unanswered round was asked %d times in 50 ticks, want every %d ticks", rounds, readRetryTicks)
	}
}

// TestConsistentReadBounds: past MaxReads a read is refused with
// ErrReadsBusy; a node not in a network refuses reads.
func TestConsistentReadBounds(t *testing.T) {
	e := newLone(t)
	e.cfg.MaxReads = 3
	for range 3 {
		if _, err := e.ReadIndex(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.ReadIndex(); !errors.Is(err, consensus.ErrReadsBusy) {
		t.Fatalf("a fourth read: err = %v, want ErrReadsBusy", err)
	}
	if rd := drive(e); len(rd.Reads) != 3 {
		t.Fatalf("a lone leader released %d of 3 reads", len(rd.Reads))
	}
	if _, err := e.ReadIndex(); err != nil {
		t.Fatalf("after the release: %v", err)
	}

	st := store.NewMemory()
	c, _ := chain.New(st)
	j, err := New(Config{Self: consensus.Member{ID: "j", Host: "h", Port: "1"}, Chain: c, Store: st, JoinToken: testJoinToken, Session: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.ReadIndex(); !errors.Is(err, consensus.ErrNotMember) {
		t.Fatalf("a joining node's read: err = %v, want ErrNotMember", err)
	}
}

// TestReadMessagesChecked: a member's MsgReadIndex without exactly one
// small context is refused before raft (which indexes it unchecked), and
// one member's asks are bounded per tick.
func TestReadMessagesChecked(t *testing.T) {
	n := newTrio(t)
	a, b := n.engines["a"], n.engines["b"]
	payload := func(m raftpb.Message) []byte {
		buf, _ := m.Marshal()
		return append([]byte{kindRaft, 0}, buf...)
	}
	for _, ents := range [][]raftpb.Entry{nil, {{Data: []byte("1")}, {Data: []byte("2")}}, {{Data: make([]byte, maxReadContext+1)}}} {
		m := raftpb.Message{Type: raftpb.MsgReadIndex, From: b.id, To: a.id, Entries: ents}
		if err := a.Step("b", payload(m)); !errors.Is(err, consensus.ErrMalformed) {
			t.Fatalf("MsgReadIndex with %d entries: err = %v", len(ents), err)
		}
	}
	n.out = nil
	for i := range 3 * maxReadAsks {
		m := raftpb.Message{Type: raftpb.MsgReadIndex, From: b.id, To: a.id, Entries: []raftpb.Entry{{Data: []byte{byte(i)}}}}
		if err := a.Step("b", payload(m)); err != nil {
			t.Fatal(err)
		}
	}
	beats := 0
	for _, m := range drive(a).Messages {
		if rm, ok := raftMessage(m); ok && rm.Type == raftpb.MsgHeartbeat && len(rm.Context) > 0 {
			beats++
		}
	}
	if beats != 2*maxReadAsks {
		t.Fatalf("%d asks of one member in a tick made %d heartbeat rounds, want %d", 3*maxReadAsks, beats/2, maxReadAsks)
	}
	// A read message with a term raft would take as newer is dropped: it
	// would depose the leader.
	st := a.Status()
	high := raftpb.Message{Type: raftpb.MsgReadIndex, From: b.id, To: a.id, Term: st.Term + 5, Entries: []raftpb.Entry{{Data: []byte("t")}}}
	if err := a.Step("b", payload(high)); err != nil {
		t.Fatal(err)
	}
	drive(a)
	if got := a.Status(); got.Role != "leader" || got.Term != st.Term {
		t.Fatalf("a MsgReadIndex of term %d made the leader %+v", high.Term, got)
	}
	// A read answer from a member that is not the leader is dropped.
	resp := raftpb.Message{Type: raftpb.MsgReadIndexResp, From: n.engines["c"].id, To: b.id, Term: b.Status().Term, Index: 1 << 40,
		Entries: []raftpb.Entry{{Data: []byte("forged")}}}
	if err := b.Step("c", payload(resp)); err != nil {
		t.Fatal(err)
	}
	if rd := b.rn.Ready(); len(rd.ReadStates) != 0 {
		t.Fatalf("a follower's forged read answer reached raft: %+v", rd.ReadStates)
	}
}

// BenchmarkConsistentRead: a follower's consistent reads, asked 64 at a
// time, through the whole ReadIndex path of three engines (messages
// encoded and stepped, no network). It reports the rounds per read.
func BenchmarkConsistentRead(b *testing.B) {
	n := newTrio(b)
	f := n.engines["b"]
	n.out = nil
	rounds, reads := 0, 0
	for b.Loop() {
		for _, e := range n.engines {
			e.Tick() // a leader takes maxReadAsks rounds of a member per tick
		}
		for range 64 {
			if _, err := f.ReadIndex(); err != nil {
				b.Fatal(err)
			}
		}
		reads += 64
		n.reads["b"] = n.reads["b"][:0]
		for i := 0; i < 20 && len(n.reads["b"]) < 64; i++ {
			n.ready()
			for _, env := range n.out {
				if rm, _ := raftMessage(env.msg); env.from == "b" && rm.Type == raftpb.MsgReadIndex {
					rounds++
				}
			}
			n.deliver(nil)
		}
		if len(n.reads["b"]) != 64 {
			b.Fatalf("%d of 64 reads released", len(n.reads["b"]))
		}
	}
	b.ReportMetric(float64(rounds)/float64(reads), "rounds/read")
}

// FuzzReadMessages steps a member's read messages, with any entries, index
// and term, into the leader and a follower: never a panic, never a change
// of the chain, and the engines go on.
func FuzzReadMessages(f *testing.F) {
	f.Add(true, uint64(5), uint64(1), []byte("ctx"), 1)
	f.Add(false, uint64(1<<62), uint64(0), []byte{}, 0)
	f.Add(true, uint64(0), uint64(9), make([]byte, 80), 3)
	f.Add(true, uint64(3), uint64(52), []byte("0"), 1) // a term raft would take as newer
	f.Fuzz(func(t *testing.T, resp bool, index, term uint64, ctx []byte, entries int) {
		n := newTrio(t)
		a, b := n.engines["a"], n.engines["b"]
		m := raftpb.Message{Type: raftpb.MsgReadIndex, From: b.id, To: a.id, Index: index, Term: term}
		to, from := a, "b"
		if resp {
			m.Type, m.From, m.To, to, from = raftpb.MsgReadIndexResp, a.id, b.id, b, "a"
		}
		for range entries % 4 {
			m.Entries = append(m.Entries, raftpb.Entry{Data: ctx})
		}
		buf, _ := m.Marshal()
		before := to.chain.Tip()
		_ = to.Step(from, append([]byte{kindRaft, 0}, buf...))
		n.ready()
		if to.chain.Tip() != before {
			t.Fatal("a read message changed the chain")
		}
		if _, err := a.Propose(`"after"`); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 100 && a.chain.Tip().Data != `"after"`; i++ {
			for _, e := range n.engines {
				e.Tick()
			}
			n.ready()
			n.deliver(nil)
		}
		if a.chain.Tip().Data != `"after"` {
			t.Fatal("the network commits nothing after a read message")
		}
	})
}

// TestRemovedNodeProposalRefused: a MsgProp is taken as its link's own
// (the forwarding rule), but a node whose raft id was removed is refused
// whatever sender id it claims. Before, the removed-id check ran on the
// claimed id and the attribution after it: a removed node that a member
// still holds as vouched for (the vouch list a joining node keeps) got its
// proposals into the leader's log by claiming any other id.
func TestRemovedNodeProposalRefused(t *testing.T) {
	n := newTrio(t)
	a := n.engines["a"]
	const removed = uint64(0xdead)
	a.vouched[removed] = "z"
	a.mem.forget(removed)
	drive(a)
	prop := func(link string) int {
		m := raftpb.Message{Type: raftpb.MsgProp, From: 0xbeef, To: a.id, Entries: []raftpb.Entry{{}}}
		buf, _ := m.Marshal()
		if err := a.Step(link, append([]byte{kindRaft, 0}, buf...)); err != nil {
			t.Fatal(err)
		}
		return len(a.rn.Ready().Entries)
	}
	if got := prop("z"); got != 0 {
		t.Fatalf("the leader appended %d entries proposed by a removed node", got)
	}
	if got := prop("b"); got == 0 {
		t.Fatal("the leader appended nothing a member proposed")
	}
}
