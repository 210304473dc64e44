package p2p

import (
	"sync"

	"github.com/naivechain/naivechain/internal/transport"
	"github.com/naivechain/naivechain/internal/wire"
)

// hostTransport is a Host seen as a transport.Transport: payloads travel
// as wire.Consensus messages. It needs no goroutine of its own: once it
// exists, the connections' readers hand consensus payloads to its channel
// instead of the Host's Inbound. Every other message type is the Host's
// business (pings, gossip) or a fault it penalises itself (conn.handle),
// so only consensus payloads ever reach the owner.
type hostTransport struct {
	h  *Host
	in chan transport.Message
}

// transportState guards the Host's transport: made once, closed by Close.
type transportState struct {
	mu     sync.Mutex
	t      *hostTransport
	closed bool
}

// Transport returns the Host as a transport.Transport carrying consensus
// payloads. From the first call on, consensus messages are delivered to
// the transport's Inbound, never to the Host's: a Host has one reader of
// consensus messages: call it before Run. The transport's Inbound is
// closed when the Host is closed.
func (h *Host) Transport() transport.Transport {
	s := &h.tr
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.t == nil {
		t := &hostTransport{h: h, in: make(chan transport.Message, h.cfg.InboundLen)}
		if s.closed {
			close(t.in)
		}
		s.t = t
		h.trIn.Store(&t.in)
	}
	return s.t
}

// closeTransport closes the transport's Inbound once no reader goroutine
// can send on it (Close calls it after waiting for them).
func (h *Host) closeTransport() {
	s := &h.tr
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed && s.t != nil {
		close(s.t.in)
	}
	s.closed = true
}

// deliver hands a consensus message from peer to the owner without
// blocking: to the transport when there is one, else to Inbound. A full
// channel drops it (counted), which consensus tolerates.
func (h *Host) deliver(peer wire.PeerInfo, m *wire.Consensus) {
	if in := h.trIn.Load(); in != nil {
		select {
		case *in <- transport.Message{From: peer.ID, Payload: m.Payload}:
		default:
			h.droppedIn.Add(1)
		}
		return
	}
	select {
	case h.inbound <- Inbound{From: peer, Msg: m}:
	default:
		h.droppedIn.Add(1)
	}
}

// Send queues payload for the peer to without blocking (Host.Send).
func (t *hostTransport) Send(to string, payload []byte) {
	t.h.Send(to, &wire.Consensus{Payload: payload})
}

// Peers returns the ids of the connected peers, sorted.
func (t *hostTransport) Peers() []string {
	ps := t.h.Peers()
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	return ids
}

func (t *hostTransport) Inbound() <-chan transport.Message { return t.in }

// Penalize is Host.Penalize: the connection is closed, and the peer
// banned once its score reaches BanThreshold.
func (t *hostTransport) Penalize(peer string, score int, reason string) bool {
	return t.h.Penalize(peer, score, reason)
}
