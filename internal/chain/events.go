package chain

import (
	"errors"
	"slices"

	"github.com/naivechain/naivechain/internal/block"
)

// Reasons a subscription's channel was closed, as Subscription.Err reports.
var (
	// ErrLagged reports a subscriber whose buffer was full when an event
	// was published: it missed events and must re-read the chain.
	ErrLagged = errors.New("chain: subscriber fell behind")
	// ErrUnsubscribed reports a subscription ended by its own Close.
	ErrUnsubscribed = errors.New("chain: subscription closed")
)

// EventKind says what happened to a block of the best chain.
type EventKind uint8

// Event kinds. The zero value is no event.
const (
	// BlockConnected: the block became part of the best chain.
	BlockConnected EventKind = iota + 1
	// BlockDisconnected: the block left the best chain (a reorg or a
	// rollback detached it).
	BlockDisconnected
)

func (k EventKind) String() string {
	switch k {
	case BlockConnected:
		return "connected"
	case BlockDisconnected:
		return "disconnected"
	}
	return "unknown"
}

// Event is one change to the best chain.
type Event struct {
	Kind  EventKind
	Block block.Block
}

// Subscription receives the chain's events. Publishing never waits for a
// subscriber: one whose buffer is full is dropped with ErrLagged, so a slow
// reader costs the writer nothing.
type Subscription struct {
	c   *Chain
	ch  chan Event
	tip block.Block

	// Guarded by c.subMu, which also orders every send on ch before its
	// close.
	closed bool
	err    error
}

// Subscribe returns a subscription to the events of every write after the
// tip it reports (Subscription.Tip). It waits for a write in progress to
// finish, so that no write is seen in part. buffer is the number of events
// the subscriber may fall behind by (at least 1); a single write publishes
// one event per block it detaches or appends, so it should hold the
// largest write the caller expects.
func (c *Chain) Subscribe(buffer int) *Subscription {
	s := &Subscription{c: c, ch: make(chan Event, max(buffer, 1))}
	// c.mu orders the subscription between two writes; subMu, below it,
	// guards the list that publish walks.
	c.mu.RLock()
	defer c.mu.RUnlock()
	s.tip = c.tip
	c.subMu.Lock()
	defer c.subMu.Unlock()
	// Copy on write: a writer keeps the slice it took without a lock.
	c.subs = append(slices.Clip(c.subs), s)
	return s
}

// Tip returns the tip of the chain when the subscription began: the first
// event applies to it.
func (s *Subscription) Tip() block.Block { return s.tip }

// C returns the channel of events. It is closed when the subscription ends;
// Err then says why. Events buffered before the end are still delivered.
func (s *Subscription) C() <-chan Event { return s.ch }

// Err returns why C was closed, or nil while it is open.
func (s *Subscription) Err() error {
	s.c.subMu.Lock()
	defer s.c.subMu.Unlock()
	return s.err
}

// Close ends the subscription with ErrUnsubscribed. It is safe to call more
// than once and after the subscription was dropped for lagging, whose error
// it keeps.
func (s *Subscription) Close() {
	s.c.subMu.Lock()
	defer s.c.subMu.Unlock()
	s.closeLocked(ErrUnsubscribed)
}

func (s *Subscription) closeLocked(err error) {
	if s.closed {
		return
	}
	s.closed, s.err = true, err
	close(s.ch)
	c := s.c
	i := slices.Index(c.subs, s)
	// A new slice, not an in-place delete: writers may hold the old one.
	c.subs = slices.Concat(c.subs[:i], c.subs[i+1:])
}

// subscribers returns the current subscribers; the slice is never modified
// in place.
func (c *Chain) subscribers() []*Subscription {
	c.subMu.Lock()
	defer c.subMu.Unlock()
	return c.subs
}

// publish sends the events of one write to subs: the detached blocks
// (oldest first in detached) from the highest index down, then the attached
// blocks in order. It never blocks.
func (c *Chain) publish(subs []*Subscription, detached, attached []block.Block) {
	if len(subs) == 0 {
		return
	}
	c.subMu.Lock()
	defer c.subMu.Unlock()
	for _, s := range subs {
		s.deliver(detached, attached)
	}
}

// deliver sends the events to s, dropping s at the first that does not fit
// its buffer. The caller holds c.subMu.
func (s *Subscription) deliver(detached, attached []block.Block) {
	send := func(ev Event) bool {
		if s.closed {
			return false
		}
		select {
		case s.ch <- ev:
			return true
		default:
			s.closeLocked(ErrLagged)
			return false
		}
	}
	for i := len(detached) - 1; i >= 0; i-- {
		if !send(Event{Kind: BlockDisconnected, Block: detached[i]}) {
			return
		}
	}
	for _, b := range attached {
		if !send(Event{Kind: BlockConnected, Block: b}) {
			return
		}
	}
}
