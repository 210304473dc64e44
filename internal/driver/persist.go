package driver

import (
	"errors"
	"fmt"
	"sync"

	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/consensus"
)

// errNoChain fails the store writes of a driver given no chain.
var errNoChain = errors.New("driver: no chain to apply the engine's store writes to")

// persistQueue applies an engine's store writes and hands their
// completions back to the owner's goroutine, in the order of the writes.
//
// The store calls a write's completion on its own goroutine; it only
// queues it (under mu) and wakes the owner. The queue never holds more
// than the writes in flight, each completing once, so it is bounded by
// what the engine hands out (vote bounds its writes in flight).
type persistQueue struct {
	wake func()
	// pending are the writes applied and not yet told Durable, oldest
	// first; the first has sequence number base.
	pending []pendingWrite
	base    uint64
	// failed, once a write failed, refuses every later one: each depends
	// on the writes before it.
	failed error

	mu      sync.Mutex
	done    []completion // completions the store reported, not taken yet
	stopped bool
}

type pendingWrite struct {
	token    uint64
	complete bool
	err      error
	told     bool // the engine heard already (a write refused outright)
}

type completion struct {
	seq uint64
	err error
}

// apply writes each batch through c.WriteAsync, in order. A write refused
// outright is told to e at once, out of order: the chain lacks it, and the
// engine must know before its next Ready, which would take every write
// handed out as applied (vote releases reads by it), not once the writes
// before it are durable.
func (q *persistQueue) apply(e consensus.Engine, c *chain.Chain, ps []consensus.Persist) {
	for _, p := range ps {
		seq := q.base + uint64(len(q.pending))
		q.pending = append(q.pending, pendingWrite{token: p.Token})
		if q.failed != nil {
			q.settle(seq, fmt.Errorf("store write not applied: an earlier one failed: %w", q.failed))
			continue
		}
		err := errNoChain
		if c != nil {
			err = c.WriteAsync(p.Batch, q.completer(seq))
		}
		if err != nil {
			// Nothing applied, and no completion will come.
			q.failed = err
			q.settle(seq, err)
			q.pending[seq-q.base].told = true
			e.Durable(p.Token, err)
		}
	}
}

// completer returns the store's completion callback of write seq.
func (q *persistQueue) completer(seq uint64) func(error) {
	return func(err error) {
		q.mu.Lock()
		if q.stopped {
			q.mu.Unlock()
			return
		}
		q.done = append(q.done, completion{seq: seq, err: err})
		q.mu.Unlock()
		if q.wake != nil {
			q.wake()
		}
	}
}

// settle marks write seq complete with err.
func (q *persistQueue) settle(seq uint64, err error) {
	i := seq - q.base
	if i >= uint64(len(q.pending)) {
		return // a completion told twice: the store broke its contract
	}
	q.pending[i].complete, q.pending[i].err = true, err
	if err != nil && q.failed == nil {
		q.failed = err
	}
}

// take moves the store's completions into pending.
func (q *persistQueue) take() {
	q.mu.Lock()
	done := q.done
	q.done = nil
	q.mu.Unlock()
	for _, c := range done {
		q.settle(c.seq, c.err)
	}
}

// deliverable reports whether a Durable is ready to be told.
func (q *persistQueue) deliverable() bool {
	q.take()
	return len(q.pending) > 0 && q.pending[0].complete
}

// deliver tells the engine, in the order of the writes, of each one
// complete with no earlier write still in flight.
func (q *persistQueue) deliver(e consensus.Engine) {
	q.take()
	n := 0
	for n < len(q.pending) && q.pending[n].complete {
		if !q.pending[n].told {
			e.Durable(q.pending[n].token, q.pending[n].err)
		}
		n++
	}
	q.pending = q.pending[n:]
	q.base += uint64(n)
}

// stop drops every later completion.
func (q *persistQueue) stop() {
	q.mu.Lock()
	q.stopped = true
	q.done = nil
	q.mu.Unlock()
}
