package p2p

// Disconnect closes the connection with peer id, telling the peer why with a
// Reject. The owner calls it when a peer sent a message it must not use. The
// peer stays known and is redialed like any peer that disconnected; see
// Penalize to keep a misbehaving peer away.
func (h *Host) Disconnect(id, reason string) {
	h.mu.Lock()
	c := h.conns[id]
	h.mu.Unlock()
	if c != nil {
		c.stopAndTell(closeProtocol, reason, true)
	}
}
