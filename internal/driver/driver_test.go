package driver

import (
	"errors"
	"slices"
	"testing"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/store"
)

// TestResults: each proposal's done is called once, with all its blocks
// (a lone Block stands for one), its error, or not at all when the result
// names no proposal waiting.
func TestResults(t *testing.T) {
	e := &fakeEngine{}
	d := New(Config{Engine: e})
	got := outcomes{}
	for i := range 3 {
		if id, err := d.Propose([]string{"x"}, 0, got.done(i)); err != nil || id != uint64(i+1) {
			t.Fatalf("Propose = %d, %v", id, err)
		}
	}
	b1, b2 := block.Next(block.Genesis(), "a"), block.Next(block.Genesis(), "b")
	fail := &consensus.WriteError{Cause: errors.New("left")}
	e.push(consensus.Ready{Results: []consensus.Result{
		{ID: 1, Block: b1, Blocks: []block.Block{b1, b2}},
		{ID: 2, Block: b2},
		{ID: 3, Err: fail},
		{ID: 9, Block: b1}, // no such proposal
	}})
	if err := d.Process(); err != nil {
		t.Fatal(err)
	}
	if o := got[0]; o == nil || o.Err != nil || !slices.Equal(o.Blocks, []block.Block{b1, b2}) {
		t.Fatalf("group outcome %+v", o)
	}
	if o := got[1]; o == nil || o.Err != nil || !slices.Equal(o.Blocks, []block.Block{b2}) {
		t.Fatalf("lone outcome %+v", o)
	}
	if o := got[2]; o == nil || o.Err != fail {
		t.Fatalf("failed outcome %+v", o)
	}
	if w, r := d.Waiting(); w != 0 || r != 0 {
		t.Fatalf("Waiting = %d, %d", w, r)
	}
	e.proposeErr = consensus.ErrBusy
	if _, err := d.Propose([]string{"y"}, 0, got.done(3)); !errors.Is(err, consensus.ErrBusy) || got[3] != nil {
		t.Fatalf("refused Propose = %v, outcome %+v", err, got[3])
	}
}

// TestAbandon: an abandoned write is never answered and the engine says
// whether it may still commit; abandoning one already answered (or
// unknown) asks the engine nothing.
func TestAbandon(t *testing.T) {
	e := &fakeEngine{mayCommit: true}
	d := New(Config{Engine: e})
	got := outcomes{}
	id, _ := d.Propose([]string{"x"}, 0, got.done(0))
	if may, waited := d.Abandon(id); !may || !waited {
		t.Fatalf("Abandon = %v, %v", may, waited)
	}
	e.push(consensus.Ready{Results: []consensus.Result{{ID: id}}})
	if err := d.Process(); err != nil {
		t.Fatal(err)
	}
	if got[0] != nil {
		t.Fatalf("abandoned write answered: %+v", got[0])
	}
	if may, waited := d.Abandon(id); may || waited || len(e.abandoned) != 1 {
		t.Fatalf("second Abandon = %v, %v; engine asked %v", may, waited, e.abandoned)
	}
}

// TestExpire: a write with a timeout is abandoned by the Expire of the
// tick its timeout ends, and answered a WriteError caused by ErrTimeout
// that carries the engine's mayCommit; one with none waits on.
func TestExpire(t *testing.T) {
	e := &fakeEngine{mayCommit: true}
	d := New(Config{Engine: e})
	got := outcomes{}
	d.Propose([]string{"x"}, 3, got.done(0))
	d.Propose([]string{"y"}, 0, got.done(1))
	for i := range 3 {
		if got[0] != nil {
			t.Fatalf("expired after %d ticks of 3", i)
		}
		d.Tick()
		d.Expire()
	}
	var we *consensus.WriteError
	if o := got[0]; o == nil || !errors.As(o.Err, &we) || !we.MayCommit || !errors.Is(o.Err, ErrTimeout) {
		t.Fatalf("expired outcome %+v", o)
	}
	if !slices.Equal(e.abandoned, []uint64{1}) || got[1] != nil {
		t.Fatalf("abandoned %v, untimed outcome %+v", e.abandoned, got[1])
	}
}

// TestReads: a read barrier is answered when the engine resolves it; an
// engine that serves no reads, or refuses one, answers at once and done
// is never called.
func TestReads(t *testing.T) {
	e := &fakeReader{fakeEngine: &fakeEngine{}}
	d := New(Config{Engine: e})
	var answers []error
	done := func(err error) { answers = append(answers, err) }
	d.ReadIndex(done)
	d.ReadIndex(done)
	e.push(consensus.Ready{Reads: []consensus.ReadResult{{ID: 2, Err: consensus.ErrReadTimeout}, {ID: 1}, {ID: 7}}})
	if err := d.Process(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(answers, []error{consensus.ErrReadTimeout, nil}) {
		t.Fatalf("answers %v", answers)
	}
	e.readErr = consensus.ErrNoLeader
	if err := d.ReadIndex(done); err != consensus.ErrNoLeader || len(answers) != 2 {
		t.Fatalf("refused ReadIndex = %v (answers %v)", err, answers)
	}
	if err := New(Config{Engine: &fakeEngine{}}).ReadIndex(done); err != ErrNoReads {
		t.Fatalf("ReadIndex of an engine without reads = %v", err)
	}
}

// TestFatal: on Ready.Err the results of that Ready are answered first,
// then every other waiting write fails with a WriteError that may commit
// and every read with the error; Process returns it.
func TestFatal(t *testing.T) {
	e := &fakeReader{fakeEngine: &fakeEngine{}}
	d := New(Config{Engine: e})
	got := outcomes{}
	d.Propose([]string{"x"}, 0, got.done(0))
	d.Propose([]string{"y"}, 0, got.done(1))
	var readErr error
	d.ReadIndex(func(err error) { readErr = err })
	disk := errors.New("disk full")
	b := block.Next(block.Genesis(), "x")
	e.push(consensus.Ready{Results: []consensus.Result{{ID: 1, Block: b}}, Err: disk})
	if err := d.Process(); err != disk {
		t.Fatalf("Process = %v", err)
	}
	var we *consensus.WriteError
	if o := got[0]; o == nil || o.Err != nil {
		t.Fatalf("resolved write %+v", o)
	}
	if o := got[1]; o == nil || !errors.As(o.Err, &we) || !we.MayCommit || !errors.Is(o.Err, disk) {
		t.Fatalf("failed write %+v", o)
	}
	if !errors.Is(readErr, disk) {
		t.Fatalf("read answered %v", readErr)
	}
}

// TestStop: Stop answers every write and read waiting with its cause
// (ErrStopped by default); Process then touches the engine no more.
func TestStop(t *testing.T) {
	for _, cause := range []error{nil, errors.New("crashed")} {
		e := &fakeReader{fakeEngine: &fakeEngine{}}
		d := New(Config{Engine: e})
		got := outcomes{}
		d.Propose([]string{"x"}, 0, got.done(0))
		var readErr error
		d.ReadIndex(func(err error) { readErr = err })
		d.Stop(cause)
		want := cause
		if want == nil {
			want = consensus.ErrStopped
		}
		if got[0] == nil || got[0].Err != want || readErr != want {
			t.Fatalf("after Stop(%v): write %+v, read %v", cause, got[0], readErr)
		}
		if err := d.Process(); err != consensus.ErrStopped || e.readyCall != 0 {
			t.Fatalf("Process after Stop = %v, %d Ready calls", err, e.readyCall)
		}
	}
}

// TestMessagesAndMembers: the messages go out through Links in the
// engine's order (and are dropped without Links); a change of members is
// reported with the engine's members.
func TestMessagesAndMembers(t *testing.T) {
	members := []consensus.Member{{ID: "a"}, {ID: "b"}}
	e := &fakeEngine{members: members}
	links := &fakeLinks{}
	var heard [][]consensus.Member
	d := New(Config{Engine: e, Links: links, MembersChanged: func(ms []consensus.Member) { heard = append(heard, ms) }})
	msgs := []consensus.Message{{To: "b", Payload: []byte("1")}, {To: "c", Payload: []byte("2")}}
	e.push(consensus.Ready{Messages: msgs, MembersChanged: true}, consensus.Ready{Messages: msgs})
	d.Process()
	d.Process()
	if len(links.sent) != 4 || links.sent[0].To != "b" || string(links.sent[1].Payload) != "2" {
		t.Fatalf("sent %+v", links.sent)
	}
	if len(heard) != 1 || !slices.Equal(heard[0], members) {
		t.Fatalf("members heard %v", heard)
	}
	e.push(consensus.Ready{Messages: msgs, MembersChanged: true})
	if err := New(Config{Engine: e}).Process(); err != nil {
		t.Fatal(err)
	}
}

// TestGreet: the engine is greeted with the peers at the first tick after
// they changed and every GreetEvery ticks; without GreetEvery never, and
// the peers are not even asked for.
func TestGreet(t *testing.T) {
	e := &fakeEngine{}
	links := &fakeLinks{}
	d := New(Config{Engine: e, Links: links, GreetEvery: 3})
	steps := []struct {
		peers []string
		greet bool
	}{
		{nil, false},          // tick 1: none before, none now
		{[]string{"b"}, true}, // tick 2: changed
		{[]string{"b"}, true}, // tick 3: every 3
		{[]string{"b"}, false},
		{[]string{"b"}, false},
		{[]string{"b"}, true}, // tick 6
		{[]string{"b", "c"}, true},
		{[]string{"c"}, true},
	}
	for i, s := range steps {
		links.peers = s.peers
		n := len(e.greets)
		d.Tick()
		if greeted := len(e.greets) > n; greeted != s.greet {
			t.Fatalf("tick %d: greeted %v, want %v", i+1, greeted, s.greet)
		}
		if s.greet && !slices.Equal(e.greets[len(e.greets)-1], s.peers) {
			t.Fatalf("tick %d: greeted with %v", i+1, e.greets[len(e.greets)-1])
		}
	}
	if e.ticks != len(steps) || d.Ticks() != len(steps) {
		t.Fatalf("engine ticked %d, driver %d", e.ticks, d.Ticks())
	}
	quiet := &fakeLinks{peers: []string{"b"}}
	d = New(Config{Engine: e, Links: quiet})
	for range 10 {
		d.Tick()
	}
	if quiet.peerAsks != 0 {
		t.Fatalf("peers asked %d times without GreetEvery", quiet.peerAsks)
	}
}

// TestMining: the driver hands out the engine's work as of the last
// Process, follows its generation, and passes found nonces back; an
// engine that mines not has no work.
func TestMining(t *testing.T) {
	e := &fakeMiner{fakeEngine: &fakeEngine{}, gen: 1}
	e.header[0] = 0xab
	d := New(Config{Engine: e})
	if _, ok := d.Mining(); ok {
		t.Fatal("work before the first Process")
	}
	d.Process()
	w, ok := d.Mining()
	if !ok || w.Gen != 1 || w.Header[0] != 0xab || w.Difficulty != 7 {
		t.Fatalf("Mining = %+v, %v", w, ok)
	}
	d.Mined(1, 42)
	e.gen = 2
	d.Process()
	if w, _ := d.Mining(); w.Gen != 2 {
		t.Fatalf("generation %d after the engine's moved to 2", w.Gen)
	}
	e.idle = true
	d.Process()
	if _, ok := d.Mining(); ok {
		t.Fatal("work while the engine has none")
	}
	if !slices.Equal(e.mined, [][2]uint64{{1, 42}}) {
		t.Fatalf("mined %v", e.mined)
	}
	plain := New(Config{Engine: &fakeEngine{}})
	plain.Process()
	plain.Mined(1, 1) // no miner: ignored
	if _, ok := plain.Mining(); ok {
		t.Fatal("work from an engine that mines not")
	}
}

// TestPersistSync: on a store that is durable at once, each write is
// visible in the chain before the next Ready, and the engine hears
// Durable, in order, before that Ready.
func TestPersistSync(t *testing.T) {
	st := store.NewMemory()
	e := &fakeEngine{}
	d := New(Config{Engine: e, Chain: newChain(t, st)})
	e.push(consensus.Ready{Persist: []consensus.Persist{{Token: 1, Batch: put("a")}, {Token: 2, Batch: put("b")}}})
	if err := d.Process(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(e.tokens(), []uint64{1, 2}) || !slices.Equal(e.log, []string{"ready", "durable", "durable", "ready"}) {
		t.Fatalf("durable %v, calls %v", e.tokens(), e.log)
	}
	if v, err := st.Get("fake", []byte("b")); err != nil || string(v) != "v" {
		t.Fatalf("record b = %q, %v", v, err)
	}
	if d.Inflight() != 0 {
		t.Fatalf("Inflight = %d", d.Inflight())
	}
}

// TestPersistAsync: a write is visible at once and Durable only once its
// completion came, from the store's goroutine (which wakes the owner),
// and in the order of the writes whatever the order of completions.
func TestPersistAsync(t *testing.T) {
	disk := &asyncDisk{Memory: store.NewMemory()}
	e := &fakeEngine{}
	wake := make(chan struct{}, 1)
	d := New(Config{Engine: e, Chain: newChain(t, disk), Wake: func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}})
	e.push(consensus.Ready{Persist: []consensus.Persist{{Token: 10, Batch: put("a")}, {Token: 11, Batch: put("b")}}},
		consensus.Ready{Persist: []consensus.Persist{{Token: 12, Batch: put("c")}}})
	d.Process()
	d.Process()
	if v, err := disk.Get("fake", []byte("c")); err != nil || string(v) != "v" || d.Inflight() != 3 || len(e.durable) != 0 {
		t.Fatalf("record c = %q, %v; inflight %d; durable %v", v, err, d.Inflight(), e.durable)
	}
	stored := make(chan struct{})
	go func() { // the store's goroutine
		defer close(stored)
		disk.complete(1, nil)
	}()
	<-stored
	<-wake
	d.Process()
	if len(e.durable) != 0 {
		t.Fatalf("durable %v before the first write was", e.durable)
	}
	disk.complete(0, nil)
	d.Process()
	if !slices.Equal(e.tokens(), []uint64{10, 11}) || d.Inflight() != 1 {
		t.Fatalf("durable %v, inflight %d", e.tokens(), d.Inflight())
	}
	disk.complete(2, nil)
	d.Process()
	if !slices.Equal(e.tokens(), []uint64{10, 11, 12}) {
		t.Fatalf("durable %v", e.tokens())
	}
}

// TestPersistErrors: a write the store failed later is told Durable with
// its error; one the chain refused at once (nothing applied) too, at once,
// ahead of the writes before it still in flight (the engine must not take
// it as applied at its next Ready); every later write is then refused, not
// applied.
func TestPersistErrors(t *testing.T) {
	t.Run("async", func(t *testing.T) {
		disk := &asyncDisk{Memory: store.NewMemory()}
		e := &fakeEngine{}
		d := New(Config{Engine: e, Chain: newChain(t, disk)})
		e.push(consensus.Ready{Persist: []consensus.Persist{{Token: 1, Batch: put("a")}}})
		d.Process()
		flush := errors.New("flush failed")
		disk.complete(0, flush)
		e.push(consensus.Ready{Persist: []consensus.Persist{{Token: 2, Batch: put("b")}}})
		d.Process() // Durable(1) then the Ready with write 2
		d.Process()
		if len(e.durable) != 2 || e.durable[0].err != flush || !errors.Is(e.durable[1].err, flush) {
			t.Fatalf("durable %+v", e.durable)
		}
		if _, err := disk.Get("fake", []byte("b")); err == nil {
			t.Fatal("a write after a failed one was applied")
		}
	})
	t.Run("refused", func(t *testing.T) {
		st := store.NewMemory()
		e := &fakeEngine{}
		d := New(Config{Engine: e, Chain: newChain(t, st)})
		bad := store.Batch{Blocks: []block.Block{{Index: 7}}} // links to nothing
		e.push(consensus.Ready{Persist: []consensus.Persist{{Token: 1, Batch: put("a")}, {Token: 2, Batch: bad}, {Token: 3, Batch: put("c")}}})
		d.Process()
		if !slices.Equal(e.tokens(), []uint64{2, 1, 3}) || e.durable[0].err == nil || e.durable[1].err != nil || e.durable[2].err == nil {
			t.Fatalf("durable %+v", e.durable)
		}
		if !slices.Equal(e.log, []string{"ready", "durable", "durable", "durable", "ready"}) {
			t.Fatalf("calls %v", e.log)
		}
		if _, err := st.Get("fake", []byte("c")); err == nil {
			t.Fatal("a write after a refused one was applied")
		}
	})
	t.Run("no chain", func(t *testing.T) {
		e := &fakeEngine{}
		d := New(Config{Engine: e})
		e.push(consensus.Ready{Persist: []consensus.Persist{{Token: 1, Batch: put("a")}}})
		d.Process()
		if len(e.durable) != 1 || !errors.Is(e.durable[0].err, errNoChain) {
			t.Fatalf("durable %+v", e.durable)
		}
	})
}

// TestMore: while the engine sets More, Process applies its writes and
// calls Ready again; an engine that never stops is cut off after
// maxRounds and the owner woken to come back.
func TestMore(t *testing.T) {
	disk := &asyncDisk{Memory: store.NewMemory()}
	e := &fakeEngine{}
	d := New(Config{Engine: e, Chain: newChain(t, disk)})
	e.push(consensus.Ready{Persist: []consensus.Persist{{Token: 1, Batch: put("a")}}, More: true},
		consensus.Ready{Persist: []consensus.Persist{{Token: 2, Batch: put("b")}}, More: true},
		consensus.Ready{})
	d.Process()
	if e.readyCall != 3 || d.Inflight() != 2 {
		t.Fatalf("%d Ready calls, %d in flight", e.readyCall, d.Inflight())
	}
	woken := 0
	e.readyHook = func(int) consensus.Ready { return consensus.Ready{More: true} }
	e.readyCall = 0
	d = New(Config{Engine: e, Chain: newChain(t, store.NewMemory()), Wake: func() { woken++ }})
	d.Process()
	if e.readyCall != maxRounds || woken != 1 {
		t.Fatalf("an endless More: %d Ready calls, woken %d", e.readyCall, woken)
	}
}

// stepWriter is a fakeEngine whose every Step hands out a write (as pow's
// blocks do) and records whether the writes of the Steps before it were
// applied when it was called.
type stepWriter struct {
	*fakeEngine
	st    store.Store
	steps int
	saw   []bool // per Step: the record of every earlier Step was there
	eager bool
}

func (e *stepWriter) WritesOnStep() bool { return e.eager }

func (e *stepWriter) Step(string, []byte) error {
	all := true
	for i := range e.steps {
		if _, err := e.st.Get("fake", []byte{byte('a' + i)}); err != nil {
			all = false
		}
	}
	e.saw = append(e.saw, all)
	e.push(consensus.Ready{Persist: []consensus.Persist{{Token: uint64(e.steps + 1), Batch: put(string(rune('a' + e.steps)))}}})
	e.steps++
	return nil
}

// TestStepWriterStepsSeeEarlierWrites: for an engine whose Step hands out
// writes (consensus.StepWriter), the driver carries out the Ready after
// each Step, so that the next Step finds the chain with the writes before
// it applied; an engine that writes only in Ready is left to the owner's
// Process.
func TestStepWriterStepsSeeEarlierWrites(t *testing.T) {
	for _, eager := range []bool{true, false} {
		st := store.NewMemory()
		e := &stepWriter{fakeEngine: &fakeEngine{}, st: st, eager: eager}
		d := New(Config{Engine: e, Chain: newChain(t, st)})
		for range 3 {
			if err := d.Step("peer", nil); err != nil {
				t.Fatal(err)
			}
		}
		want := []bool{true, true, true}
		if !eager {
			want = []bool{true, false, false}
		}
		// An eager driver asks for Readies after each Step (two each
		// here: the write completes at once, which asks for one more).
		if !slices.Equal(e.saw, want) || (e.readyCall >= 3) != eager {
			t.Fatalf("eager %v: Steps saw the earlier writes %v, want %v; %d Readies", eager, e.saw, want, e.readyCall)
		}
	}
}
