package p2p

import (
	"math/rand/v2"
	"time"

	"github.com/naivechain/naivechain/internal/wire"
)

// Redial backoff bounds.
const (
	backoffMin = 200 * time.Millisecond
	backoffMax = 5 * time.Second
)

// backoff is the wait before redial attempt n (0 for the first after a
// disconnection): backoffMin doubled n times, capped at backoffMax, then
// scaled by a jitter factor in [0.8, 1.2) taken from r in [0, 1), and capped
// again.
func backoff(n int, r float64) time.Duration {
	d := backoffMax
	if n < 10 {
		d = min(backoffMin<<n, backoffMax)
	}
	return min(time.Duration(float64(d)*(0.8+0.4*r)), backoffMax)
}

// origin is how the table came to know a peer; it decides how long the
// peer is kept while it cannot be reached.
type origin uint8

const (
	learned origin = iota // named by gossip, never connected: forgotten at its first failed dial
	met                   // connected once, not given by the owner: forgotten forgetMetAfter after it left
	owned                 // given by the owner (AddKnown): forgotten after ForgetAfter of failures
)

// peerRecord is what the table knows of one peer.
type peerRecord struct {
	info         wire.PeerInfo
	origin       origin
	failures     int       // failed dials since the last connection
	failingSince time.Time // first failed dial since the last connection; zero if none
	nextDial     time.Time
	dialing      bool
}

// peerTable holds every known peer, connected or not. It is not safe for
// concurrent use: the Host guards it with its mutex. Times come from the
// caller, so tests drive them.
type peerTable struct {
	self        string
	forgetAfter time.Duration
	max         int // learned peers beyond it are ignored
	jitter      func() float64
	// gate, when set, has the last word on whether a due peer is dialed
	// (the Host's dialer); a peer it refuses stays due.
	gate func(p wire.PeerInfo, owned bool) bool
	recs map[string]*peerRecord
}

func newPeerTable(self string, forgetAfter time.Duration, max int) *peerTable {
	return &peerTable{self: self, forgetAfter: forgetAfter, max: max, jitter: rand.Float64, recs: make(map[string]*peerRecord)}
}

// learn adds p if its id is unknown and the table has room, to be dialed at
// once. A known id keeps its address: only the peer itself (its Hello) or
// the owner may change it.
func (t *peerTable) learn(p wire.PeerInfo, now time.Time) bool {
	if p.ID == t.self || len(t.recs) >= t.max {
		return false
	}
	if _, ok := t.recs[p.ID]; ok {
		return false
	}
	t.recs[p.ID] = &peerRecord{info: p, origin: learned, nextDial: now}
	return true
}

// dropLearnedAt forgets the learned peers announced at host:port, whose
// dial just failed under some id: other ids naming it are no more likely
// to answer there.
func (t *peerTable) dropLearnedAt(host, port string) (n int) {
	for id, r := range t.recs {
		if r.origin == learned && r.info.Host == host && r.info.Port == port {
			delete(t.recs, id)
			n++
		}
	}
	return n
}

// put adds p or replaces the address of a known peer, to be dialed at once.
func (t *peerTable) put(p wire.PeerInfo, now time.Time) {
	r, ok := t.recs[p.ID]
	if !ok {
		t.recs[p.ID] = &peerRecord{info: p, origin: owned, nextDial: now}
		return
	}
	if r.origin != owned {
		// Its time away so far counted against a shorter bound.
		r.origin = owned
		r.failingSince = time.Time{}
	}
	r.info = p
	r.nextDial = now
}

// own marks a known peer as given by the owner.
func (t *peerTable) own(id string) {
	if r, ok := t.recs[id]; ok {
		r.origin = owned
	}
}

// connected records p, from its own Hello, as connected.
func (t *peerTable) connected(p wire.PeerInfo, now time.Time) {
	r, ok := t.recs[p.ID]
	if !ok {
		r = &peerRecord{origin: met}
		t.recs[p.ID] = r
	}
	r.origin = max(r.origin, met)
	r.info = p
	r.failures = 0
	r.failingSince = time.Time{}
	r.nextDial = now
}

// disconnected schedules the first redial of a peer that was connected. A
// peer the owner did not give is forgotten at once when the table is over
// its bound, and otherwise once it has been away for forgetMetAfter.
func (t *peerTable) disconnected(id string, now time.Time) {
	r, ok := t.recs[id]
	if !ok {
		return
	}
	if r.origin != owned && len(t.recs) > t.max {
		delete(t.recs, id)
		return
	}
	r.failures = 0
	r.failingSince = time.Time{}
	if r.origin != owned {
		r.failingSince = now
	}
	r.nextDial = now.Add(backoff(0, t.jitter()))
}

// forgetMet is how long a peer met but not given by the owner may fail.
func (t *peerTable) forgetMet() time.Duration { return min(forgetMetAfter, t.forgetAfter) }

// due returns the peers to dial now, neither being dialed nor skipped (the
// owner skips connected peers) nor held back by the gate, and marks them as
// being dialed. It forgets the met peers away for too long.
func (t *peerTable) due(now time.Time, skip func(id string) bool) []wire.PeerInfo {
	var out []wire.PeerInfo
	for id, r := range t.recs {
		if r.origin == met && !r.dialing && !r.failingSince.IsZero() && now.Sub(r.failingSince) >= t.forgetMet() {
			delete(t.recs, id)
			continue
		}
		if r.dialing || now.Before(r.nextDial) || skip(id) {
			continue
		}
		if t.gate != nil && !t.gate(r.info, r.origin == owned) {
			continue
		}
		r.dialing = true
		out = append(out, r.info)
	}
	return out
}

// dialDone records the outcome of a dial of id. A learned peer is
// forgotten at its first failure, a met one once it has been away for
// forgetMetAfter, one the owner gave after failing for forgetAfter;
// dialDone reports whether the peer was forgotten.
func (t *peerTable) dialDone(id string, ok bool, now time.Time) (forgotten bool) {
	r, found := t.recs[id]
	if !found {
		return false
	}
	r.dialing = false
	if ok {
		r.failures = 0
		r.failingSince = time.Time{}
		return false
	}
	if r.failingSince.IsZero() {
		r.failingSince = now
	}
	limit := t.forgetAfter
	if r.origin == met {
		limit = t.forgetMet()
	}
	if r.origin == learned || now.Sub(r.failingSince) >= limit {
		delete(t.recs, id)
		return true
	}
	r.nextDial = now.Add(backoff(r.failures, t.jitter()))
	r.failures++
	return false
}

// all returns every record, sorted by id.
func (t *peerTable) all() []wire.PeerInfo {
	out := make([]wire.PeerInfo, 0, len(t.recs))
	for _, r := range t.recs {
		out = append(out, r.info)
	}
	sortPeers(out)
	return out
}
