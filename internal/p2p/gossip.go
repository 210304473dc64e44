package p2p

import (
	"errors"
	"net"
	"time"

	"github.com/naivechain/naivechain/internal/wire"
)

// heartbeat sends every connected peer a Ping and a Peers message listing
// us and every peer we are connected to. Receiving Peers from all neighbours
// every period makes discovery transitive, whatever the order of joins.
func (h *Host) heartbeat() {
	conns := h.connected()
	if len(conns) == 0 {
		return
	}
	list := make([]wire.PeerInfo, 0, len(conns)+1)
	for _, c := range conns {
		list = append(list, c.peer)
	}
	sortPeers(list)
	list = append([]wire.PeerInfo{h.cfg.Self}, list...)
	if len(list) > wire.MaxPeers {
		list = list[:wire.MaxPeers]
	}
	ping, err := wire.Encode(&wire.Ping{})
	if err != nil {
		panic(err) // a Ping always encodes
	}
	peers, err := wire.Encode(&wire.Peers{Peers: list})
	if err != nil {
		h.log.Error("cannot encode gossip", "err", err)
		peers = nil
	}
	for _, c := range conns {
		c.enqueue(ping)
		if peers != nil {
			c.enqueue(peers)
		}
	}
}

// learn adds the unknown peers of a gossip message to the known table and
// dials them as soon as the dial bounds allow. Addresses waiting out the
// backoff of a failed dial are not believed.
func (h *Host) learn(ps []wire.PeerInfo) {
	now := h.cfg.Now()
	added := false
	h.mu.Lock()
	for _, p := range ps {
		if h.dials.held(net.JoinHostPort(p.Host, p.Port), now) {
			continue
		}
		if h.table.learn(p, now) {
			added = true
			h.log.Debug("peer learnt", "id", p.ID, "host", p.Host, "port", p.Port)
		}
	}
	h.mu.Unlock()
	if added {
		h.wake()
	}
}

// dialDue starts a dial of every known peer that is due.
func (h *Host) dialDue(now time.Time) {
	h.mu.Lock()
	due := h.table.due(now, h.skipDial)
	h.mu.Unlock()
	for _, p := range due {
		if !h.spawn(func() { h.dial(p) }) {
			return
		}
	}
}

// skipDial reports whether peer id must not be dialed: it is connected,
// or banned. h.mu must be held.
func (h *Host) skipDial(id string) bool {
	if _, connected := h.conns[id]; connected {
		return true
	}
	_, banned := h.bans.ban(id, h.cfg.Now())
	return banned
}

// gateDial is the peer table's gate: the dialer's bounds. h.mu is held.
func (h *Host) gateDial(p wire.PeerInfo, owned bool) bool {
	return h.dials.start(net.JoinHostPort(p.Host, p.Port), owned, h.cfg.Now())
}

// dial connects to a known peer and records the outcome. A failure drops
// every learned peer announced at the same address.
func (h *Host) dial(p wire.PeerInfo) {
	addr := net.JoinHostPort(p.Host, p.Port)
	_, err := h.Connect(h.ctx, p.Host, p.Port, p.ID)
	now := h.cfg.Now()
	h.mu.Lock()
	h.dials.done(addr, err == nil, now)
	if errors.Is(err, ErrClosed) || h.ctx.Err() != nil {
		h.mu.Unlock()
		return
	}
	forgotten := h.table.dialDone(p.ID, err == nil, now)
	dropped := 0
	if err != nil {
		dropped = h.table.dropLearnedAt(p.Host, p.Port)
	}
	h.mu.Unlock()
	if dropped > 0 {
		h.log.Debug("learned peers dropped", "host", p.Host, "port", p.Port, "count", dropped)
	}
	switch {
	case forgotten:
		h.log.Info("peer forgotten", "id", p.ID, "host", p.Host, "port", p.Port, "err", err)
	case err != nil:
		h.log.Debug("dial failed", "id", p.ID, "host", p.Host, "port", p.Port, "err", err)
	}
}
