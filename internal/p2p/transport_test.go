package p2p

import (
	"slices"
	"testing"
	"time"

	"github.com/naivechain/naivechain/internal/wire"
)

// TestTransport: the Host as a transport carries consensus payloads from
// the authenticated peer, lists its peers, penalises through the ban
// table, and closes its Inbound with the Host.
func TestTransport(t *testing.T) {
	a := startNode(t, "a", "", nil)
	b := startNode(t, "b", "", nil)
	ta, tb := a.h.Transport(), b.h.Transport()
	if ta != a.h.Transport() {
		t.Fatal("a second call made another transport")
	}
	b.connect(t, a)
	waitFor(t, "connected", func() bool { return slices.Equal(ta.Peers(), []string{"b"}) }, 10*time.Second)
	for i := range 5 {
		ta.Send("b", []byte{byte(i)})
	}
	a.h.Broadcast(&wire.Ping{}) // the Host's own business: never reaches the transport
	timeout := time.After(10 * time.Second)
	for i := range 5 {
		select {
		case m := <-tb.Inbound():
			if m.From != "a" || len(m.Payload) != 1 || m.Payload[0] != byte(i) {
				t.Fatalf("message %d = %+v", i, m)
			}
		case <-timeout:
			t.Fatalf("message %d not delivered", i)
		}
	}
	select {
	case in := <-b.h.Inbound():
		t.Fatalf("the Host's Inbound got %+v while a transport exists", in)
	default:
	}
	if !tb.Penalize("a", BanThreshold, "test") {
		t.Fatal("not banned at the threshold")
	}
	if bans := b.h.Bans(); len(bans) != 1 || bans[0].ID != "a" {
		t.Fatalf("bans %+v", bans)
	}
	waitFor(t, "a cut off", func() bool { return len(tb.Peers()) == 0 }, 10*time.Second)
	b.stop()
	for range tb.Inbound() {
	}
	if late := b.h.Transport(); late != tb {
		t.Fatal("Transport after Close made another")
	}
}

// TestTransportOfClosedHost: a transport asked for after Close has its
// Inbound closed at once.
func TestTransportOfClosedHost(t *testing.T) {
	h := New(Config{Self: wire.PeerInfo{ID: "a", Host: "127.0.0.1", Port: "1"}, Key: keyFor(t, "a"),
		IDOf: testIDOf, Genesis: testGenesis, Engine: "vote", Logger: testLogger()})
	h.Close()
	if _, ok := <-h.Transport().Inbound(); ok {
		t.Fatal("Inbound open after Close")
	}
}
