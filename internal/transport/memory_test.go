package transport

import (
	"fmt"
	"slices"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recv takes the next queued message of e, without waiting.
func recv(t *testing.T, e *Memory) (Message, bool) {
	t.Helper()
	select {
	case m, ok := <-e.Inbound():
		return m, ok
	default:
		return Message{}, false
	}
}

// TestMemorySend: a message crosses a link, from the sender's id, with a
// payload the sender may reuse; without a link it is dropped.
func TestMemorySend(t *testing.T) {
	n := NewNetwork(4)
	a, b := n.Endpoint("a"), n.Endpoint("b")
	a.Send("b", []byte("lost"))
	if _, ok := recv(t, b); ok {
		t.Fatal("delivered without a link")
	}
	if !n.Connect("a", "b") {
		t.Fatal("Connect refused")
	}
	buf := []byte("hello")
	a.Send("b", buf)
	buf[0] = 'j'
	m, ok := recv(t, b)
	if !ok || m.From != "a" || string(m.Payload) != "hello" {
		t.Fatalf("got %+v %v", m, ok)
	}
	b.Send("a", []byte("back"))
	if m, ok := recv(t, a); !ok || m.From != "b" {
		t.Fatalf("reply %+v %v", m, ok)
	}
	n.Disconnect("b", "a")
	a.Send("b", []byte("cut"))
	if _, ok := recv(t, b); ok {
		t.Fatal("delivered after Disconnect")
	}
}

// TestMemoryQueueBound: a full queue drops and counts, and never blocks
// the sender.
func TestMemoryQueueBound(t *testing.T) {
	n := NewNetwork(3)
	a, b := n.Endpoint("a"), n.Endpoint("b")
	n.Connect("a", "b")
	for i := range 10 {
		a.Send("b", []byte(fmt.Sprint(i)))
	}
	if got := n.Dropped(); got != 7 {
		t.Fatalf("dropped %d, want 7", got)
	}
	for i := range 3 {
		if m, ok := recv(t, b); !ok || string(m.Payload) != fmt.Sprint(i) {
			t.Fatalf("message %d: %+v %v", i, m, ok)
		}
	}
}

// TestMemoryPeers: Peers lists the open endpoints linked, sorted.
func TestMemoryPeers(t *testing.T) {
	n := NewNetwork(0)
	for _, id := range []string{"c", "a", "b", "d"} {
		n.Endpoint(id)
	}
	n.Connect("a", "d")
	n.Connect("a", "b")
	n.Connect("c", "a")
	if got := n.Endpoint("a").Peers(); !slices.Equal(got, []string{"b", "c", "d"}) {
		t.Fatalf("peers %v", got)
	}
	n.Isolate("c")
	n.Endpoint("d").Close()
	if got := n.Endpoint("a").Peers(); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("peers after isolate and close %v", got)
	}
	if n.Connect("a", "a") || n.Connect("a", "nobody") || n.Connect("a", "d") {
		t.Fatal("Connect linked itself, a missing or a closed endpoint")
	}
}

// TestMemoryClose: Close closes Inbound after the queued messages, cuts
// the links, and a second Close is harmless; Remove makes room for a new
// endpoint under the same id.
func TestMemoryClose(t *testing.T) {
	n := NewNetwork(0)
	a, b := n.Endpoint("a"), n.Endpoint("b")
	n.Connect("a", "b")
	a.Send("b", []byte("x"))
	b.Close()
	b.Close()
	if m, ok := recv(t, b); !ok || string(m.Payload) != "x" {
		t.Fatalf("queued message lost: %+v %v", m, ok)
	}
	if _, ok := <-b.Inbound(); ok {
		t.Fatal("Inbound not closed")
	}
	a.Send("b", []byte("y")) // no panic on a closed endpoint
	if len(a.Peers()) != 0 {
		t.Fatalf("peers of a %v", a.Peers())
	}
	n.Remove("b")
	b2 := n.Endpoint("b")
	if b2 == b || !n.Connect("a", "b") {
		t.Fatal("no fresh endpoint after Remove")
	}
}

// TestMemoryPenalize: a penalty is recorded and cuts the link; penalties
// that add up to the ban score ban the peer, and a banned peer cannot be
// linked again.
func TestMemoryPenalize(t *testing.T) {
	n := NewNetwork(0)
	a := n.Endpoint("a")
	n.Endpoint("b")
	n.Connect("a", "b")
	if a.Penalize("b", 60, "refused") {
		t.Fatal("banned below the score")
	}
	if n.Linked("a", "b") {
		t.Fatal("link kept after a penalty")
	}
	if !n.Connect("a", "b") {
		t.Fatal("reconnect refused before a ban")
	}
	if !a.Penalize("b", 40, "refused again") {
		t.Fatal("not banned at the score")
	}
	if n.Connect("b", "a") {
		t.Fatal("banned peer linked again")
	}
	want := []Penalty{{"b", 60, "refused", false}, {"b", 40, "refused again", true}}
	if got := a.Penalties(); !slices.Equal(got, want) {
		t.Fatalf("penalties %+v", got)
	}
	if a.Penalize("a", 100, "self") {
		t.Fatal("banned itself")
	}
}
