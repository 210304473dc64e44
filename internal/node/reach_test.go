package node

import (
	"testing"
	"time"

	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/wire"
)

// TestReachability drives the record with an injected clock: a member is
// unreachable since the start until it connects, reachable since it
// connected, shown at the address of its last Hello, unreachable since it
// left; a peer that is not a member is forgotten once it leaves.
func TestReachability(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	members := []consensus.Member{{ID: "self", Voter: true}, {ID: "b", Host: "h", Port: "1", Voter: true}}
	r := newReachability(t0)
	check := func(when string, up bool, since time.Time, port string) {
		t.Helper()
		m := r.member(members[1], "self")
		if m.Reachable != up || !m.Since.Equal(since) || m.Port != port {
			t.Fatalf("%s: %+v, want reachable %v since %v at port %s", when, m, up, since, port)
		}
	}
	check("never connected", false, t0, "1")
	if self := r.member(members[0], "self"); !self.Reachable || !self.Since.Equal(t0) {
		t.Fatalf("self: %+v", self)
	}
	r.update([]wire.PeerInfo{{ID: "b", Host: "h", Port: "2"}, {ID: "stranger", Host: "s", Port: "9"}}, members, at(5))
	check("connected from port 2", true, at(5), "2")
	r.update([]wire.PeerInfo{{ID: "b", Host: "h", Port: "2"}}, members, at(7))
	check("still connected", true, at(5), "2")
	if _, kept := r.peers["stranger"]; kept {
		t.Fatal("a peer that is not a member is kept after it left")
	}
	r.update(nil, members, at(9))
	check("gone", false, at(9), "2")
	if r.up("b") {
		t.Fatal("up after it left")
	}
}
