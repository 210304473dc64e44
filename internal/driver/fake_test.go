package driver

import (
	"sync"
	"testing"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/store"
)

// fakeEngine is an engine whose Readies a test writes: each Ready hands
// out the next of readies (or nothing), and every call is recorded.
type fakeEngine struct {
	readies   []consensus.Ready
	readyHook func(call int) consensus.Ready // when set, makes every Ready
	readyCall int
	nextID    uint64
	proposed  [][]string
	proposeErr,
	stepErr error
	abandoned []uint64
	mayCommit bool
	durable   []durableCall
	greets    [][]string
	ticks     int
	members   []consensus.Member
	log       []string // the order of Ready and Durable calls
}

type durableCall struct {
	token uint64
	err   error
}

func (e *fakeEngine) Name() string { return "fake" }
func (e *fakeEngine) Tick()        { e.ticks++ }
func (e *fakeEngine) Step(string, []byte) error {
	return e.stepErr
}
func (e *fakeEngine) Propose(data string) (uint64, error) { return e.ProposeAll([]string{data}) }
func (e *fakeEngine) ProposeAll(data []string) (uint64, error) {
	if e.proposeErr != nil {
		return 0, e.proposeErr
	}
	e.nextID++
	e.proposed = append(e.proposed, data)
	return e.nextID, nil
}
func (e *fakeEngine) Abandon(id uint64) bool {
	e.abandoned = append(e.abandoned, id)
	return e.mayCommit
}
func (e *fakeEngine) Ready() consensus.Ready {
	e.readyCall++
	e.log = append(e.log, "ready")
	if e.readyHook != nil {
		return e.readyHook(e.readyCall)
	}
	if len(e.readies) == 0 {
		return consensus.Ready{}
	}
	rd := e.readies[0]
	e.readies = e.readies[1:]
	return rd
}
func (e *fakeEngine) Durable(token uint64, err error) {
	e.durable = append(e.durable, durableCall{token, err})
	e.log = append(e.log, "durable")
}
func (e *fakeEngine) Status() consensus.Status    { return consensus.Status{} }
func (e *fakeEngine) Members() []consensus.Member { return e.members }
func (e *fakeEngine) Greet(peers []string)        { e.greets = append(e.greets, peers) }
func (e *fakeEngine) push(rds ...consensus.Ready) { e.readies = append(e.readies, rds...) }
func (e *fakeEngine) tokens() (ts []uint64)       { return tokensOf(e.durable) }
func tokensOf(ds []durableCall) (ts []uint64) {
	for _, d := range ds {
		ts = append(ts, d.token)
	}
	return ts
}

// fakeReader is a fakeEngine that serves read barriers.
type fakeReader struct {
	*fakeEngine
	nextRead uint64
	readErr  error
}

func (e *fakeReader) ReadIndex() (uint64, error) {
	if e.readErr != nil {
		return 0, e.readErr
	}
	e.nextRead++
	return e.nextRead, nil
}

// fakeMiner is a fakeEngine that mines.
type fakeMiner struct {
	*fakeEngine
	gen    uint64
	idle   bool
	header [block.HeaderLen]byte
	mined  [][2]uint64
}

func (e *fakeMiner) Mining() (uint64, [block.HeaderLen]byte, uint8, bool) {
	return e.gen, e.header, 7, !e.idle
}
func (e *fakeMiner) Mined(gen, nonce uint64) { e.mined = append(e.mined, [2]uint64{gen, nonce}) }

// fakeLinks records what is sent and names the peers a test sets.
type fakeLinks struct {
	sent     []consensus.Message
	peers    []string
	peerAsks int
}

func (l *fakeLinks) Send(to string, p []byte) {
	l.sent = append(l.sent, consensus.Message{To: to, Payload: p})
}
func (l *fakeLinks) Peers() []string { l.peerAsks++; return l.peers }

// asyncDisk is an in-memory store whose asynchronous writes complete
// only when the test says so (complete), as a disk's flush would.
type asyncDisk struct {
	*store.Memory
	mu   sync.Mutex
	done []func(error)
}

func (d *asyncDisk) WriteAsync(b store.Batch, done func(error)) error {
	if err := d.Memory.Write(b); err != nil {
		return err
	}
	d.mu.Lock()
	d.done = append(d.done, done)
	d.mu.Unlock()
	return nil
}

// complete reports write i (in the order of WriteAsync) done with err.
func (d *asyncDisk) complete(i int, err error) {
	d.mu.Lock()
	f := d.done[i]
	d.mu.Unlock()
	f(err)
}

func newChain(t *testing.T, st store.Store) *chain.Chain {
	t.Helper()
	c, err := chain.New(st)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// put is a store write of one record.
func put(key string) store.Batch {
	return store.Batch{Puts: []store.Put{{Bucket: "fake", Key: []byte(key), Value: []byte("v")}}}
}

// outcomes collects the outcomes of proposals by their index.
type outcomes map[int]*Outcome

func (o outcomes) done(i int) func(Outcome) {
	return func(out Outcome) {
		if o[i] != nil {
			panic("an outcome told twice")
		}
		o[i] = &out
	}
}
