package api

import (
	"context"
	"errors"
	"io"
	"iter"
	"net/http"
	"net/http/httptest"
	"sync"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/store"
)

// fakeBackend is a Backend over a slice, building blocks with block.Next.
type fakeBackend struct {
	mu       sync.Mutex
	chain    []block.Block
	proposed []string
	connects [][2]string

	// Optional behaviours; nil means the slice-backed default.
	propose   func(ctx context.Context, data string) error
	blocks    func(from uint64) iter.Seq2[block.Block, error]
	connect   func(ctx context.Context, host, port string) error
	info      NodeInfo
	peers     []Peer
	status    Status
	notReady  error // Readiness's answer
	statusErr error
	subscribe func(buffer int) *chain.Subscription
	submit    func(ctx context.Context, data []string) ([]string, error)
	entry     func(ctx context.Context, id string) (EntryState, error)
	barrier   func(ctx context.Context) error
	barriers  int // ReadBarrier calls

	// events is a real chain kept in step with the slice, whose events
	// Subscribe hands out; tests may also write to it directly.
	events *chain.Chain
}

func newFake() *fakeBackend {
	c, err := chain.New(store.NewMemory())
	if err != nil {
		panic(err)
	}
	return &fakeBackend{chain: []block.Block{block.Genesis()}, events: c}
}

func (f *fakeBackend) ReadBarrier(ctx context.Context) error {
	f.mu.Lock()
	f.barriers++
	hook := f.barrier
	f.mu.Unlock()
	if hook != nil {
		return hook(ctx)
	}
	return nil
}

func (f *fakeBackend) Subscribe(buffer int) *chain.Subscription {
	if f.subscribe != nil {
		return f.subscribe(buffer)
	}
	return f.events.Subscribe(buffer)
}

func (f *fakeBackend) Propose(ctx context.Context, data string) (block.Block, error) {
	f.mu.Lock()
	f.proposed = append(f.proposed, data)
	hook := f.propose
	f.mu.Unlock()
	if hook != nil {
		if err := hook(ctx, data); err != nil {
			return block.Block{}, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	b := block.Next(f.chain[len(f.chain)-1], data)
	if _, err := f.events.Extend(data); err != nil {
		return block.Block{}, err
	}
	f.chain = append(f.chain, b)
	return b, nil
}

// ProposeAll adds the data atomically: the first failing hook call
// leaves the chain unchanged.
func (f *fakeBackend) ProposeAll(ctx context.Context, data []string) ([]block.Block, error) {
	f.mu.Lock()
	f.proposed = append(f.proposed, data...)
	hook := f.propose
	f.mu.Unlock()
	if hook != nil {
		for _, d := range data {
			if err := hook(ctx, d); err != nil {
				return nil, err
			}
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]block.Block, len(data))
	prev := f.chain[len(f.chain)-1]
	for i, d := range data {
		out[i] = block.Next(prev, d)
		prev = out[i]
	}
	if _, err := f.events.Extend(data...); err != nil {
		return nil, err
	}
	f.chain = append(f.chain, out...)
	return out, nil
}

func (f *fakeBackend) Blocks(from uint64) iter.Seq2[block.Block, error] {
	if f.blocks != nil {
		return f.blocks(from)
	}
	return func(yield func(block.Block, error) bool) {
		f.mu.Lock()
		chain := f.chain
		f.mu.Unlock()
		for i := from; i < uint64(len(chain)); i++ {
			if !yield(chain[i], nil) {
				return
			}
		}
	}
}

func (f *fakeBackend) Status(ctx context.Context) (Status, error) { return f.status, f.statusErr }

func (f *fakeBackend) Readiness(ctx context.Context) error { return f.notReady }

func (f *fakeBackend) Info() NodeInfo { return f.info }
func (f *fakeBackend) Peers() []Peer  { return f.peers }

func (f *fakeBackend) Connect(ctx context.Context, host, port, _ string) error {
	f.mu.Lock()
	f.connects = append(f.connects, [2]string{host, port})
	f.mu.Unlock()
	if f.connect != nil {
		return f.connect(ctx, host, port)
	}
	return nil
}

func (f *fakeBackend) proposals() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.proposed...)
}

// generatedChain yields a chain of n blocks (n < 0: without end) built on
// the fly, never held in memory. made counts the blocks built.
func generatedChain(n int64, made *int64) func(from uint64) iter.Seq2[block.Block, error] {
	return func(from uint64) iter.Seq2[block.Block, error] {
		return func(yield func(block.Block, error) bool) {
			b := block.Genesis()
			for i := int64(0); n < 0 || i < n; i++ {
				if i > 0 {
					b = block.Next(b, `"generated"`)
				}
				if made != nil {
					*made++
				}
				if uint64(i) >= from && !yield(b, nil) {
					return
				}
			}
		}
	}
}

// uncertainErr is a Propose error implementing UncertainWrite.
type uncertainErr struct {
	may bool
	msg string
}

func (e *uncertainErr) Error() string        { return e.msg }
func (e *uncertainErr) MayStillCommit() bool { return e.may }

var errDisk = errors.New("disk on fire")

func (f *fakeBackend) Submit(ctx context.Context, data []string) ([]string, error) {
	if f.submit != nil {
		return f.submit(ctx, data)
	}
	return nil, ErrUnsupported
}

func (f *fakeBackend) Entry(ctx context.Context, id string) (EntryState, error) {
	if f.entry != nil {
		return f.entry(ctx, id)
	}
	return EntryState{}, ErrUnsupported
}

// loopbackRequest is httptest.NewRequest addressed as a client of a local
// node addresses it (httptest's Host, example.com, is a name the API
// refuses: TestGuarded).
func loopbackRequest(method, target string, body io.Reader) *http.Request {
	r := httptest.NewRequest(method, target, body)
	r.Host = "127.0.0.1:15002"
	return r
}
