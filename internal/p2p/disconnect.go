package p2p

// Disconnect closes the connection with peer id, telling the peer why. The
// owner calls it when a peer sent a message it must not use. The peer stays
// known and may be dialed again later.
func (h *Host) Disconnect(id, reason string) {
	h.mu.Lock()
	c := h.conns[id]
	h.mu.Unlock()
	if c != nil {
		c.stop(closeProtocol, reason)
	}
}
