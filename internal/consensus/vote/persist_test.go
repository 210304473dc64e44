package vote

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/store"
)

func TestSessionRoundTrip(t *testing.T) {
	s := &session{floor: 7, above: map[uint64]struct{}{9: {}, 12: {}}}
	got, err := decodeSession(s.encode())
	if err != nil || !reflect.DeepEqual(got, s) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for _, bad := range [][]byte{nil, {7, 1, 3}, {7, 1}, {1, 0, 0}} {
		if _, err := decodeSession(bad); err == nil {
			t.Errorf("decodeSession(%v) accepted", bad)
		}
	}
}

func TestAppliedRoundTrip(t *testing.T) {
	a := appliedState{Index: 1 << 40, Height: 12}
	got, err := decodeApplied(a.encode())
	if err != nil || got != a {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	if _, err := decodeApplied([]byte{1, 2, 3}); err == nil {
		t.Fatal("short applied state accepted")
	}
}

// TestRestartFromStore stops a lone engine and starts another over the
// same store: chain, membership and leadership come back, and writes go on.
func TestRestartFromStore(t *testing.T) {
	st := store.NewMemory()
	self := consensus.Member{ID: "solo", Host: "127.0.0.1", Port: "15001"}
	open := func(bootstrap bool) *Engine {
		c, err := chain.New(st)
		if err != nil {
			t.Fatal(err)
		}
		e, err := New(Config{Self: self, Bootstrap: bootstrap, Chain: c, Store: st, JoinToken: testJoinToken, Session: uint64(st.Len()), SnapshotEntries: 3, KeepEntries: 1})
		if err != nil {
			t.Fatal(err)
		}
		drive(e)
		return e
	}
	e := open(true)
	for i := 0; i < 10; i++ {
		if _, err := e.Propose(`"x"`); err != nil {
			t.Fatal(err)
		}
		if rd := drive(e); len(rd.Results) != 1 {
			t.Fatalf("write %d: %+v", i, rd)
		}
	}
	if e.snapIndex == 0 {
		t.Fatal("no snapshot was taken")
	}
	e2 := open(true) // Bootstrap is ignored: the store holds a network.
	if !e2.Resumed() || e2.chain.Len() != 11 {
		t.Fatalf("resumed %v, chain %d blocks", e2.Resumed(), e2.chain.Len())
	}
	for i := 0; i < 30 && e2.Status().Role != "leader"; i++ {
		e2.Tick()
		drive(e2)
	}
	if st := e2.Status(); st.Role != "leader" || len(e2.Members()) != 1 {
		t.Fatalf("after restart: %+v members %v", st, e2.Members())
	}
	if _, err := e2.Propose(`"y"`); err != nil {
		t.Fatal(err)
	}
	if rd := drive(e2); len(rd.Results) != 1 || rd.Results[0].Block.Index != 11 {
		t.Fatalf("write after restart: %+v", rd)
	}
}

// TestRestartDropsUnfinishedCatchup: blocks beyond the applied height
// (fetched for a snapshot that was never installed) are dropped on start.
func TestRestartDropsUnfinishedCatchup(t *testing.T) {
	st := store.NewMemory()
	c, _ := chain.New(st)
	self := consensus.Member{ID: "solo", Host: "h", Port: "1"}
	e, err := New(Config{Self: self, Bootstrap: true, Chain: c, Store: st, JoinToken: testJoinToken, Session: 1})
	if err != nil {
		t.Fatal(err)
	}
	drive(e)
	if _, err := c.Extend(`"fetched"`, `"but never applied"`); err != nil {
		t.Fatal(err)
	}
	c2, _ := chain.New(st)
	if _, err := New(Config{Self: self, Chain: c2, Store: st, Session: 2}); err != nil {
		t.Fatal(err)
	}
	if c2.Len() != 1 {
		t.Fatalf("chain has %d blocks after restart, want the applied 1", c2.Len())
	}
}

func FuzzDecodeSession(f *testing.F) {
	f.Add((&session{floor: 3, above: map[uint64]struct{}{5: {}}}).encode())
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := decodeSession(in)
		if err != nil {
			return
		}
		again, err := decodeSession(s.encode())
		if err != nil || !reflect.DeepEqual(again, s) {
			t.Fatalf("re-encoding changed %+v to %+v (%v)", s, again, err)
		}
	})
}

func FuzzDecodeDescriptor(f *testing.F) {
	d := descriptor{Height: 3, Tip: block.GenesisHash, Members: []consensus.Member{{ID: "a", Host: "h", Port: "1"}}, Voters: []string{"a"},
		Sessions: []sessionRecord{{ID: 1, Data: (&session{floor: 1, above: map[uint64]struct{}{}}).encode()}}}
	b, _ := json.Marshal(d)
	f.Add(b)
	f.Add([]byte(`{"height":1}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		d, err := decodeDescriptor(in)
		if err != nil {
			return
		}
		b, _ := json.Marshal(d)
		if _, err := decodeDescriptor(b); err != nil {
			t.Fatalf("re-encoded descriptor refused: %v", err)
		}
	})
}

func FuzzDecodeBlocks(f *testing.F) {
	g := block.Genesis()
	b1 := block.Next(g, `"a"`)
	body := appendString(appendString(appendString([]byte{1, 1}, b1.PreviousHash), b1.Data), b1.CurrHash)
	f.Add(body)
	f.Fuzz(func(t *testing.T, in []byte) {
		start, blocks, err := decodeBlocks(in)
		if err != nil {
			return
		}
		for i, b := range blocks {
			if b.Index != start+uint64(i) {
				t.Fatalf("block %d has index %d", i, b.Index)
			}
		}
	})
}

// FuzzLoad feeds arbitrary bytes as the engine's stored records: load
// either refuses them with an error or returns state an engine can start
// from, never panics.
func FuzzLoad(f *testing.F) {
	hs, _ := (&raftpb.HardState{Term: 2, Commit: 3}).Marshal()
	ent, _ := (&raftpb.Entry{Index: 1, Term: 1}).Marshal()
	f.Add(hs, ent, appliedState{Index: 1, Height: 1}.encode(), []byte{})
	f.Fuzz(func(t *testing.T, hard, entry, applied, snap []byte) {
		st := store.NewMemory()
		puts := []store.Put{
			{Bucket: bucketState, Key: keyHardState, Value: hard},
			{Bucket: bucketLog, Key: indexKey(1), Value: entry},
			{Bucket: bucketState, Key: keyApplied, Value: applied},
		}
		if len(snap) > 0 {
			puts = append(puts, store.Put{Bucket: bucketState, Key: keySnapshot, Value: snap})
		}
		if err := st.Write(store.Batch{Puts: puts}); err != nil {
			t.Skip()
		}
		c, err := chain.New(st)
		if err != nil {
			t.Fatal(err)
		}
		e, err := New(Config{Self: consensus.Member{ID: "n", Host: "h", Port: "1"}, Chain: c, Store: st, JoinToken: testJoinToken, Session: 1})
		if err != nil {
			return
		}
		for i := 0; i < 3; i++ {
			e.Tick()
			drive(e)
		}
	})
}

// TestLoadDamageIsCorrupt: stored raft state that does not decode or fit
// together refuses the engine with store.ErrCorrupt, as the store refuses
// its own damage (the node then exits with code 2, not 1).
func TestLoadDamageIsCorrupt(t *testing.T) {
	hs, _ := (&raftpb.HardState{Term: 2, Commit: 2}).Marshal()
	ent := func(i uint64) []byte {
		v, _ := (&raftpb.Entry{Index: i, Term: 1}).Marshal()
		return v
	}
	for _, tc := range []struct {
		name string
		puts []store.Put
	}{
		{"hard state", []store.Put{{Bucket: bucketState, Key: keyHardState, Value: []byte{0xff}}}},
		{"entry", []store.Put{
			{Bucket: bucketState, Key: keyHardState, Value: hs},
			{Bucket: bucketLog, Key: indexKey(1), Value: []byte{0xff, 0xff}},
		}},
		{"entry key", []store.Put{
			{Bucket: bucketState, Key: keyHardState, Value: hs},
			{Bucket: bucketLog, Key: indexKey(1), Value: ent(1)},
			{Bucket: bucketLog, Key: append(indexKey(1), 0), Value: ent(2)},
		}},
		{"commit beyond the log", []store.Put{
			{Bucket: bucketState, Key: keyHardState, Value: hs},
			{Bucket: bucketLog, Key: indexKey(1), Value: ent(1)},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := store.NewMemory()
			if err := st.Write(store.Batch{Puts: tc.puts}); err != nil {
				t.Fatal(err)
			}
			_, err := load(st)
			if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), "vote: stored") {
				t.Fatalf("load: %v; want store.ErrCorrupt saying what is stored wrong", err)
			}
		})
	}
}
