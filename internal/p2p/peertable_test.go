package p2p

import (
	"testing"
	"time"

	"github.com/naivechain/naivechain/internal/wire"
)

func TestBackoff(t *testing.T) {
	tests := []struct {
		n    int
		r    float64
		want time.Duration
	}{
		{0, 0.5, 200 * time.Millisecond},
		{0, 0, 160 * time.Millisecond},
		{1, 0.5, 400 * time.Millisecond},
		{2, 0.5, 800 * time.Millisecond},
		{4, 0.5, 3200 * time.Millisecond},
		{5, 0.5, 5 * time.Second},
		{5, 0, 4 * time.Second},
		{5, 0.99, 5 * time.Second},
		{60, 0.5, 5 * time.Second},
		{1000, 0, 4 * time.Second},
	}
	for _, tt := range tests {
		if got := backoff(tt.n, tt.r); got != tt.want {
			t.Errorf("backoff(%d, %v) = %v, want %v", tt.n, tt.r, got, tt.want)
		}
	}
}

func TestPeerTable(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tab := newPeerTable("self", 10*time.Minute, 100)
	tab.jitter = func() float64 { return 0.5 }
	none := func(string) bool { return false }
	a := wire.PeerInfo{ID: "a", Host: "h", Port: "1"}

	if tab.learn(wire.PeerInfo{ID: "self", Host: "h", Port: "2"}, t0) {
		t.Fatal("learnt our own id")
	}
	if !tab.learn(a, t0) {
		t.Fatal("did not learn a new peer")
	}
	if tab.learn(wire.PeerInfo{ID: "a", Host: "other", Port: "9"}, t0) || tab.all()[0].Host != "h" {
		t.Fatal("a third party changed a known address")
	}
	// The owner gives it: kept through ForgetAfter of failures.
	tab.put(a, t0)
	if due := tab.due(t0, none); len(due) != 1 {
		t.Fatalf("due = %v, want a", due)
	}
	if due := tab.due(t0, none); len(due) != 0 {
		t.Fatalf("a peer being dialed is due again: %v", due)
	}
	// Failures back off exponentially.
	now := t0
	for i, wait := range []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond} {
		if tab.dialDone("a", false, now) {
			t.Fatal("forgotten too early")
		}
		if due := tab.due(now.Add(wait-time.Millisecond), none); len(due) != 0 {
			t.Fatalf("attempt %d: due before its backoff", i)
		}
		now = now.Add(wait)
		if due := tab.due(now, none); len(due) != 1 {
			t.Fatalf("attempt %d: not due after its backoff", i)
		}
	}
	// A connected peer is never due; the peer's own Hello updates its address.
	tab.connected(wire.PeerInfo{ID: "a", Host: "new", Port: "3"}, now)
	tab.dialDone("a", true, now)
	if due := tab.due(now, func(string) bool { return true }); len(due) != 0 {
		t.Fatal("a connected peer is due")
	}
	if got := tab.all()[0]; got.Host != "new" || got.Port != "3" {
		t.Fatalf("address not updated from Hello: %+v", got)
	}
	tab.disconnected("a", now)
	if due := tab.due(now.Add(200*time.Millisecond), none); len(due) != 1 {
		t.Fatal("not redialed after a disconnection")
	}
	// Failing for ForgetAfter forgets the peer.
	if tab.dialDone("a", false, now) {
		t.Fatal("forgotten at the first failure")
	}
	if !tab.dialDone("a", false, now.Add(10*time.Minute)) {
		t.Fatal("not forgotten after ForgetAfter")
	}
	if len(tab.all()) != 0 {
		t.Fatal("forgotten peer still listed")
	}
}
