package clock

import (
	"sync"
	"time"
)

// Manual is a clock that moves only when Advance or Set moves it: tests
// and simulations decide when every tick happens, so a run never depends
// on the machine's speed. It is safe for concurrent use.
//
// Its tickers behave like time.Ticker: each has a channel of one slot,
// and a tick that finds the slot full is dropped (a slow reader misses
// ticks, it never blocks the clock).
type Manual struct {
	mu      sync.Mutex
	now     time.Time
	tickers []*manualTicker
}

// NewManual returns a Manual clock reading start.
func NewManual(start time.Time) *Manual { return &Manual{now: start} }

// Now returns the clock's time.
func (m *Manual) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now
}

// NewTicker returns a ticker that fires each time the clock passes a
// multiple of d after now. It panics when d <= 0, as time.NewTicker does.
func (m *Manual) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("clock: non-positive interval for NewTicker")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t := &manualTicker{clock: m, every: d, next: m.now.Add(d), c: make(chan time.Time, 1)}
	m.tickers = append(m.tickers, t)
	return t
}

// Advance moves the clock forward by d and fires the tickers due, in the
// order of their due times (ties: in the order they were made). A ticker
// due several times within d fires once per period, each tick dropped
// when its reader has not taken the one before, as a time.Ticker's are.
func (m *Manual) Advance(d time.Duration) {
	if d < 0 {
		panic("clock: Advance by a negative duration")
	}
	m.mu.Lock()
	m.set(m.now.Add(d))
	m.mu.Unlock()
}

// Set moves the clock to t, which must not be before Now, and fires the
// tickers due as Advance does.
func (m *Manual) Set(t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t.Before(m.now) {
		panic("clock: Set to a time before Now")
	}
	m.set(t)
}

// set moves the clock to end, tick by tick. m.mu is held.
func (m *Manual) set(end time.Time) {
	for {
		t := m.due(end)
		if t == nil {
			break
		}
		m.now = t.next
		t.next = t.next.Add(t.every)
		select {
		case t.c <- m.now:
		default:
		}
	}
	m.now = end
}

// due returns the running ticker due first at or before end, nil if none.
func (m *Manual) due(end time.Time) *manualTicker {
	var first *manualTicker
	for _, t := range m.tickers {
		if !t.next.After(end) && (first == nil || t.next.Before(first.next)) {
			first = t
		}
	}
	return first
}

// Tickers returns how many tickers are running: a test can wait until
// the code it drives has made its tickers before advancing the clock.
func (m *Manual) Tickers() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.tickers)
}

type manualTicker struct {
	clock *Manual
	every time.Duration
	next  time.Time // guarded by clock.mu
	c     chan time.Time
}

func (t *manualTicker) C() <-chan time.Time { return t.c }

// Stop stops the ticker; a tick already in its channel stays there, as
// with time.Ticker. Stopping twice is harmless.
func (t *manualTicker) Stop() {
	m := t.clock
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, x := range m.tickers {
		if x == t {
			m.tickers = append(m.tickers[:i], m.tickers[i+1:]...)
			return
		}
	}
}

var (
	_ Clock = Real{}
	_ Clock = (*Manual)(nil)
)
