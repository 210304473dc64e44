package pow

import (
	"strings"
	"testing"
	"time"
)

// TestLyingPeerDoesNotKeepTheNodeBehind: a connected peer (in pow, anyone)
// that claims more work and never sends a block must not hold the node
// "syncing" for good: GET /ready answers 503 while Behind reports it, so
// one stranger's connection takes a node out of a load balancer. After
// the peer ignored several getblocks, its claim should no longer count.
func TestLyingPeerDoesNotKeepTheNodeBehind(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	e := newEngine(t, func() time.Time { return now }, nil)
	e.Greet([]string{"liar"})
	claim := encode(kindStatus, statusMsg{Height: 1 << 40, Hash: strings.Repeat("ab", 32), Work: "ffffffffffffffffffff"})
	if err := e.Step("liar", claim); err != nil {
		t.Fatal(err)
	}
	if _, behind := e.Behind(); !behind {
		t.Fatal("a fresh claim of more work is not reported at all")
	}
	for range 10 * syncRetryTicks { // ten getblocks unanswered
		e.Tick()
	}
	if id, behind := e.Behind(); behind {
		t.Fatalf("after %d ticks without a block, still behind %s: /ready says syncing forever", 10*syncRetryTicks, id)
	}
}
