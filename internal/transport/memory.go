package transport

import (
	"slices"
	"sync"
)

// DefaultQueue is the inbound queue of a Memory endpoint when the network
// is made with none: a full queue drops, as a real link's does.
const DefaultQueue = 1024

// DefaultBanScore is the total penalty that bans a peer on a Memory
// network (p2p.BanThreshold for real links).
const DefaultBanScore = 100

// Network is an in-memory network of transports, for tests and
// simulations that build clusters without sockets (memberlist's
// MockNetwork). Endpoints are made by node id; links between them are
// made and cut at will. It starts no goroutine and reads no clock:
// delivery is a non-blocking send on the receiver's bounded queue, so
// a message is either queued at once or dropped (and counted).
type Network struct {
	queue    int
	banScore int

	mu        sync.Mutex
	endpoints map[string]*Memory
	links     map[link]bool
	dropped   uint64
}

// link is an undirected link, its ids in order.
type link struct{ a, b string }

func newLink(a, b string) link {
	if b < a {
		a, b = b, a
	}
	return link{a, b}
}

// NewNetwork returns an empty network whose endpoints queue at most queue
// inbound messages (DefaultQueue when queue <= 0) and ban a peer once its
// penalties add up to DefaultBanScore.
func NewNetwork(queue int) *Network {
	if queue <= 0 {
		queue = DefaultQueue
	}
	return &Network{queue: queue, banScore: DefaultBanScore, endpoints: make(map[string]*Memory), links: make(map[link]bool)}
}

// Endpoint returns the transport of node id, making it on first use. An
// endpoint that was closed stays closed: a node restarted under the same
// id gets a new one only after Remove.
func (n *Network) Endpoint(id string) *Memory {
	n.mu.Lock()
	defer n.mu.Unlock()
	if e, ok := n.endpoints[id]; ok {
		return e
	}
	e := &Memory{net: n, id: id, inbound: make(chan Message, n.queue), scores: make(map[string]int)}
	n.endpoints[id] = e
	return e
}

// Remove closes the endpoint of id (if any) and forgets it with its links,
// so that Endpoint(id) makes a fresh one (a restarted node).
func (n *Network) Remove(id string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if e, ok := n.endpoints[id]; ok {
		e.closeLocked()
		delete(n.endpoints, id)
	}
}

// Connect links a and b both ways. It reports false, and links nothing,
// when either endpoint is missing or closed, when a == b, or when either
// has banned the other.
func (n *Network) Connect(a, b string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	ea, eb := n.endpoints[a], n.endpoints[b]
	if a == b || ea == nil || eb == nil || ea.closed || eb.closed || ea.banned[b] || eb.banned[a] {
		return false
	}
	n.links[newLink(a, b)] = true
	return true
}

// Disconnect cuts the link between a and b, if any. Messages already
// queued at either end stay queued.
func (n *Network) Disconnect(a, b string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.links, newLink(a, b))
}

// Isolate cuts every link of id.
func (n *Network) Isolate(id string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.isolateLocked(id)
}

func (n *Network) isolateLocked(id string) {
	for l := range n.links {
		if l.a == id || l.b == id {
			delete(n.links, l)
		}
	}
}

// Linked reports whether a and b have a link.
func (n *Network) Linked(a, b string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.links[newLink(a, b)]
}

// Dropped returns how many messages were dropped because the receiver's
// queue was full.
func (n *Network) Dropped() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.dropped
}

// Penalty is one Penalize call an endpoint recorded.
type Penalty struct {
	Peer   string
	Score  int
	Reason string
	Banned bool
}

// Memory is one node's endpoint on a Network; it implements Transport.
type Memory struct {
	net     *Network
	id      string
	inbound chan Message

	// Guarded by net.mu.
	closed    bool
	scores    map[string]int
	banned    map[string]bool
	penalties []Penalty
}

// ID returns the node id of the endpoint.
func (m *Memory) ID() string { return m.id }

// Send queues payload on to's inbound queue when m and to have a link and
// both are open; otherwise, or when that queue is full, it drops it. It
// never blocks. The payload is copied: the sender may reuse its buffer.
func (m *Memory) Send(to string, payload []byte) {
	n := m.net
	n.mu.Lock()
	defer n.mu.Unlock()
	dst := n.endpoints[to]
	if m.closed || dst == nil || dst.closed || !n.links[newLink(m.id, to)] {
		return
	}
	select {
	case dst.inbound <- Message{From: m.id, Payload: slices.Clone(payload)}:
	default:
		n.dropped++
	}
}

// Peers returns the ids of the open endpoints m has a link with, sorted.
func (m *Memory) Peers() []string {
	n := m.net
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	if m.closed {
		return out
	}
	for l := range n.links {
		other := ""
		switch m.id {
		case l.a:
			other = l.b
		case l.b:
			other = l.a
		default:
			continue
		}
		if e := n.endpoints[other]; e != nil && !e.closed {
			out = append(out, other)
		}
	}
	slices.Sort(out)
	return out
}

// Inbound returns the messages sent to m; it is closed by Close.
func (m *Memory) Inbound() <-chan Message { return m.inbound }

// Penalize records the penalty and cuts the link with peer, as a real
// transport closes the connection of a peer that misbehaved. Once the
// peer's scores add up to the network's ban score it is banned: Connect
// refuses to link the two again. Scores never decay (a test's run is
// short; p2p halves them every minute).
func (m *Memory) Penalize(peer string, score int, reason string) (banned bool) {
	n := m.net
	n.mu.Lock()
	defer n.mu.Unlock()
	if peer == m.id {
		return false
	}
	m.scores[peer] += score
	banned = m.banned[peer] || m.scores[peer] >= n.banScore
	if banned {
		if m.banned == nil {
			m.banned = make(map[string]bool)
		}
		m.banned[peer] = true
	}
	m.penalties = append(m.penalties, Penalty{Peer: peer, Score: score, Reason: reason, Banned: banned})
	delete(n.links, newLink(m.id, peer))
	return banned
}

// Penalties returns the penalties m recorded, oldest first.
func (m *Memory) Penalties() []Penalty {
	m.net.mu.Lock()
	defer m.net.mu.Unlock()
	return slices.Clone(m.penalties)
}

// Close cuts m's links and closes its Inbound; messages already queued
// can still be read. Closing twice is harmless.
func (m *Memory) Close() error {
	m.net.mu.Lock()
	defer m.net.mu.Unlock()
	m.closeLocked()
	return nil
}

func (m *Memory) closeLocked() {
	if m.closed {
		return
	}
	m.closed = true
	m.net.isolateLocked(m.id)
	close(m.inbound)
}

var _ Transport = (*Memory)(nil)
