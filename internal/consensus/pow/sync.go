package pow

import (
	"maps"
	"math/big"
	"slices"
)

// syncRetryTicks is how long a request for blocks may go unanswered before
// the engine asks again.
const syncRetryTicks = 20

// ignoreClaimsAfter is how many getblocks a peer may leave unanswered
// before Behind stops believing its claim of more work.
const ignoreClaimsAfter = 3

// peer is what sync knows of a connected peer: the tip it claims and the
// getblocks it has out.
type peer struct {
	work   *big.Int
	height uint64
	hash   string
	asked  int // tick of the last getblocks sent to it, -1 when none is out
	// unanswered counts the getblocks it let time out since it last gave
	// a block we added: past ignoreClaimsAfter, its claim of more work no
	// longer makes this node behind (Behind), as anyone can claim work.
	unanswered int
}

// syncer tracks the peers' claimed tips and the getblocks asked of them:
// who to ask for blocks, when to ask again, and whether this node is
// behind. It sends nothing itself; the engine does.
type syncer struct {
	known map[string]*peer
}

func newSyncer() *syncer { return &syncer{known: make(map[string]*peer)} }

// peer returns what is known of id, made empty on first use.
func (y *syncer) peer(id string) *peer {
	p := y.known[id]
	if p == nil {
		p = &peer{work: new(big.Int), asked: -1}
		y.known[id] = p
	}
	return p
}

// claim records the tip id says it has. ahead tells whether that tip
// beats ours: when it does not, no blocks are expected from id.
func (y *syncer) claim(id string, work *big.Int, height uint64, hash string, ahead bool) {
	p := y.peer(id)
	p.work, p.height, p.hash = work, height, hash
	if !ahead {
		p.asked = -1
	}
}

// ask records a getblocks sent to id at tick now.
func (y *syncer) ask(id string, now int) { y.peer(id).asked = now }

// answered records blocks from id that this node added: its claims are
// believed again.
func (y *syncer) answered(id string) {
	if p := y.known[id]; p != nil {
		p.unanswered = 0
	}
}

// finished records that id has no more blocks to give.
func (y *syncer) finished(id string) {
	if p := y.known[id]; p != nil {
		p.asked = -1
	}
}

// expired returns the peers whose getblocks timed out at tick now, in
// sorted order so that a simulation's messages come in a reproducible
// order, and counts the timeout against each.
func (y *syncer) expired(now int) []string {
	var out []string
	for _, id := range slices.Sorted(maps.Keys(y.known)) {
		if p := y.known[id]; p.asked >= 0 && now-p.asked >= syncRetryTicks {
			p.asked = -1
			p.unanswered++
			out = append(out, id)
		}
	}
	return out
}

// idle returns the claimed tip of id when it may be asked for blocks: it
// is known and no getblocks is out to it.
func (y *syncer) idle(id string) (*peer, bool) {
	p := y.known[id]
	if p == nil || p.asked >= 0 || p.work == nil {
		return nil, false
	}
	return p, true
}

// keep forgets the peers not in peers (disconnected).
func (y *syncer) keep(peers []string) {
	for id := range y.known {
		if !slices.Contains(peers, id) {
			delete(y.known, id)
		}
	}
}

// behind returns the first peer, in id order, whose believed claim beats
// a tip of work w and hash h.
func (y *syncer) behind(w *big.Int, h string) (string, bool) {
	for _, id := range slices.Sorted(maps.Keys(y.known)) {
		if p := y.known[id]; p.work != nil && p.unanswered < ignoreClaimsAfter && better(p.work, p.hash, w, h) {
			return id, true
		}
	}
	return "", false
}
