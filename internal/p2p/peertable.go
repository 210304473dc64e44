package p2p

import (
	"math/rand/v2"
	"time"

	"naivechain/internal/wire"
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

// peerRecord is what the table knows of one peer.
type peerRecord struct {
	info         wire.PeerInfo
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
	jitter      func() float64
	recs        map[string]*peerRecord
}

func newPeerTable(self string, forgetAfter time.Duration) *peerTable {
	return &peerTable{self: self, forgetAfter: forgetAfter, jitter: rand.Float64, recs: make(map[string]*peerRecord)}
}

// learn adds p if its id is unknown, to be dialed at once. A known id keeps
// its address: only the peer itself (its Hello) or the owner may change it.
func (t *peerTable) learn(p wire.PeerInfo, now time.Time) bool {
	if p.ID == t.self {
		return false
	}
	if _, ok := t.recs[p.ID]; ok {
		return false
	}
	t.recs[p.ID] = &peerRecord{info: p, nextDial: now}
	return true
}

// put adds p or replaces the address of a known peer, to be dialed at once.
func (t *peerTable) put(p wire.PeerInfo, now time.Time) {
	r, ok := t.recs[p.ID]
	if !ok {
		t.recs[p.ID] = &peerRecord{info: p, nextDial: now}
		return
	}
	r.info = p
	r.nextDial = now
}

// connected records p, from its own Hello, as connected.
func (t *peerTable) connected(p wire.PeerInfo, now time.Time) {
	r, ok := t.recs[p.ID]
	if !ok {
		r = &peerRecord{}
		t.recs[p.ID] = r
	}
	r.info = p
	r.failures = 0
	r.failingSince = time.Time{}
	r.nextDial = now
}

// disconnected schedules the first redial of a peer that was connected.
func (t *peerTable) disconnected(id string, now time.Time) {
	if r, ok := t.recs[id]; ok {
		r.failures = 0
		r.failingSince = time.Time{}
		r.nextDial = now.Add(backoff(0, t.jitter()))
	}
}

// due returns the peers to dial now, neither being dialed nor skipped (the
// owner skips connected peers), and marks them as being dialed.
func (t *peerTable) due(now time.Time, skip func(id string) bool) []wire.PeerInfo {
	var out []wire.PeerInfo
	for id, r := range t.recs {
		if r.dialing || now.Before(r.nextDial) || skip(id) {
			continue
		}
		r.dialing = true
		out = append(out, r.info)
	}
	return out
}

// dialDone records the outcome of a dial of id. After failing for
// forgetAfter, the peer is forgotten; dialDone reports whether it was.
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
	if now.Sub(r.failingSince) >= t.forgetAfter {
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
