package node

import (
	"fmt"
	"slices"
	"time"

	"github.com/naivechain/naivechain/internal/api"
	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/wire"
)

// reachability remembers, for each peer that is a member or connected,
// whether this node has an authenticated connection to it now and since
// when, and the address its last Hello gave (a member restarted on
// another port proves its identity there; the raft configuration keeps
// the address it joined with). Only the loop touches it.
type reachability struct {
	started time.Time // peers never connected are unreachable since then
	peers   map[string]*reachRecord
	last    []string // the connected ids of the last observe, sorted
}

type reachRecord struct {
	up    bool
	since time.Time
	addr  wire.PeerInfo // from its Hello; zero until it connected
}

func newReachability(started time.Time) *reachability {
	return &reachability{started: started, peers: make(map[string]*reachRecord)}
}

// update records the connected peers at now. A record of a peer that is
// neither connected nor a member is forgotten, which bounds the map by the
// connections and the members.
func (r *reachability) update(connected []wire.PeerInfo, members []consensus.Member, now time.Time) {
	for _, p := range connected {
		rec, ok := r.peers[p.ID]
		if !ok {
			rec = &reachRecord{}
			r.peers[p.ID] = rec
		}
		if !rec.up {
			rec.up, rec.since = true, now
		}
		if p.Port != "" { // else the host has not told it: keep the last
			rec.addr = p
		}
	}
	for id, rec := range r.peers {
		if !rec.up || slices.ContainsFunc(connected, func(p wire.PeerInfo) bool { return p.ID == id }) {
			continue
		}
		rec.up, rec.since = false, now
	}
	for id, rec := range r.peers {
		if !rec.up && !slices.ContainsFunc(members, func(m consensus.Member) bool { return m.ID == id }) {
			delete(r.peers, id)
		}
	}
}

// observePeers takes in the peers the node's transport links it with
// when they changed since the last call, and returns their ids, sorted.
// Those links, which consensus crosses, are what a member's reachability
// means; they are the host's own unless Config.Transport is another
// (in memory), and the host tells the addresses it knows.
func (n *Node) observePeers() []string {
	ids := n.tr.Peers()
	if slices.Equal(ids, n.reach.last) {
		return ids
	}
	addrs := make(map[string]wire.PeerInfo)
	for _, p := range n.host.Peers() {
		addrs[p.ID] = p
	}
	ps := make([]wire.PeerInfo, len(ids))
	for i, id := range ids {
		if p, ok := addrs[id]; ok {
			ps[i] = p
		} else {
			ps[i] = wire.PeerInfo{ID: id}
		}
	}
	n.reach.update(ps, n.engine.Members(), n.clock.Now())
	n.reach.last = ids
	return ids
}

// member returns m as GET /status shows it, seen from the node self.
func (r *reachability) member(m consensus.Member, self string) api.Member {
	out := api.Member{ID: m.ID, Host: m.Host, Port: m.Port, Voter: m.Voter, Since: r.started.UTC()}
	if m.ID == self {
		out.Reachable = true
		return out
	}
	if rec, ok := r.peers[m.ID]; ok {
		out.Reachable, out.Since = rec.up, rec.since.UTC()
		if rec.addr.Port != "" {
			out.Host, out.Port = rec.addr.Host, rec.addr.Port
		}
	}
	return out
}

// up reports whether the peer id is connected now.
func (r *reachability) up(id string) bool {
	rec, ok := r.peers[id]
	return ok && rec.up
}

// readiness says why the node cannot take a write now, or nil when it can
// (GET /ready; PROTOCOL.md, "Readiness"). It runs on the loop.
func (n *Node) readiness() error {
	if n.failed.Load() {
		return fmt.Errorf("storage failed: the node serves reads only until it is restarted")
	}
	if s, ok := n.engine.(consensus.Syncer); ok {
		return n.syncReadiness(s)
	}
	es := n.engine.Status()
	switch es.Role {
	case "leader", "follower", "candidate":
	case "learner":
		return fmt.Errorf("catching up: learner, not yet a voter (the leader promotes it once its log matches)")
	default:
		return fmt.Errorf("not a member: %s", es.Role)
	}
	voters, reachable := 0, 0
	for _, m := range n.engine.Members() {
		if !m.Voter {
			continue
		}
		voters++
		if m.ID == n.id || n.reach.up(m.ID) {
			reachable++
		}
	}
	quorum := voters/2 + 1
	switch {
	case es.Leader == "" && reachable < quorum:
		return fmt.Errorf("no leader; no quorum: %d of %d voters reachable, %d needed", reachable, voters, quorum)
	case es.Leader == "":
		return fmt.Errorf("no leader: an election is under way; %d of %d voters reachable, %d needed", reachable, voters, quorum)
	case es.Leader == n.id && reachable < quorum:
		return fmt.Errorf("no quorum: %d of %d voters reachable, %d needed", reachable, voters, quorum)
	case es.Leader != n.id && !n.reach.up(es.Leader):
		return fmt.Errorf("leader %s unreachable; %d of %d voters reachable, %d needed", es.Leader, reachable, voters, quorum)
	}
	return nil
}

// syncReadiness: a node of an engine that follows the best chain its
// peers announce (pow) can take a write when no connected peer claims a
// better chain (it is not still syncing) and, for blocks that take work,
// some node can mine the write: this one, or a peer its entries reach
// (over the transport, which is the host's unless Config.Transport).
func (n *Node) syncReadiness(s consensus.Syncer) error {
	if id, ok := s.Behind(); ok {
		return fmt.Errorf("syncing: peer %s has more work", id)
	}
	if _, mined := n.engine.(consensus.Miner); mined && n.miner == nil && len(n.tr.Peers()) == 0 {
		return fmt.Errorf("no peers and not mining: a write would wait for a block nobody mines")
	}
	return nil
}
