package clock

import (
	"testing"
	"time"
)

var epoch = time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)

// tick takes a tick from t if there is one, without waiting.
func tick(t Ticker) (time.Time, bool) {
	select {
	case v := <-t.C():
		return v, true
	default:
		return time.Time{}, false
	}
}

// TestManualAdvance: a ticker fires when the clock reaches its period, not
// before, and carries the time it was due.
func TestManualAdvance(t *testing.T) {
	m := NewManual(epoch)
	tk := m.NewTicker(100 * time.Millisecond)
	defer tk.Stop()
	m.Advance(99 * time.Millisecond)
	if _, ok := tick(tk); ok {
		t.Fatal("ticked before its period")
	}
	m.Advance(time.Millisecond)
	v, ok := tick(tk)
	if !ok || !v.Equal(epoch.Add(100*time.Millisecond)) {
		t.Fatalf("tick %v %v, want one at +100ms", v, ok)
	}
	if got := m.Now(); !got.Equal(epoch.Add(100 * time.Millisecond)) {
		t.Fatalf("Now %v", got)
	}
}

// TestManualDropsUnread: a reader that did not take a tick misses the
// next ones (a one-slot channel, as time.Ticker), and the clock never
// blocks on it.
func TestManualDropsUnread(t *testing.T) {
	m := NewManual(epoch)
	tk := m.NewTicker(time.Second)
	defer tk.Stop()
	m.Advance(10 * time.Second)
	v, ok := tick(tk)
	if !ok || !v.Equal(epoch.Add(time.Second)) {
		t.Fatalf("first tick %v %v, want the one at +1s", v, ok)
	}
	if _, ok := tick(tk); ok {
		t.Fatal("more than one tick kept")
	}
	m.Advance(time.Second)
	if v, ok := tick(tk); !ok || !v.Equal(epoch.Add(11*time.Second)) {
		t.Fatalf("tick after catching up %v %v, want +11s", v, ok)
	}
}

// TestManualOrder: within one Advance, tickers fire in the order of their
// due times, and the clock reads each tick's time while it fires.
func TestManualOrder(t *testing.T) {
	m := NewManual(epoch)
	slow := m.NewTicker(3 * time.Second)
	fast := m.NewTicker(2 * time.Second)
	defer slow.Stop()
	defer fast.Stop()
	m.Advance(3 * time.Second)
	f, okF := tick(fast)
	s, okS := tick(slow)
	if !okF || !okS || !f.Before(s) {
		t.Fatalf("fast %v %v, slow %v %v", f, okF, s, okS)
	}
}

// TestManualStop: a stopped ticker never fires again and is no longer
// counted.
func TestManualStop(t *testing.T) {
	m := NewManual(epoch)
	tk := m.NewTicker(time.Second)
	if m.Tickers() != 1 {
		t.Fatalf("Tickers %d", m.Tickers())
	}
	tk.Stop()
	tk.Stop()
	m.Advance(5 * time.Second)
	if _, ok := tick(tk); ok {
		t.Fatal("stopped ticker fired")
	}
	if m.Tickers() != 0 {
		t.Fatalf("Tickers %d after Stop", m.Tickers())
	}
}

// TestManualSetBackwards: the clock never goes back.
func TestManualSetBackwards(t *testing.T) {
	m := NewManual(epoch)
	defer func() {
		if recover() == nil {
			t.Fatal("Set to the past did not panic")
		}
	}()
	m.Set(epoch.Add(-time.Second))
}

// TestReal: the real clock's ticker is a working time.Ticker.
func TestReal(t *testing.T) {
	var c Clock = Real{}
	tk := c.NewTicker(time.Millisecond)
	defer tk.Stop()
	select {
	case <-tk.C():
	case <-time.After(10 * time.Second):
		t.Fatal("no tick from the real clock")
	}
	if c.Now().IsZero() {
		t.Fatal("zero Now")
	}
}
