package p2p

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/coder/websocket"
)

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

// leaveReason says in an operator's words why a connection ended with err,
// instead of the WebSocket library's text: "closed by peer", "timed out",
// "protocol error: ...", "connection reset by peer"; anything else is
// "connection lost: " and the error.
func leaveReason(err error) string {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		switch ce.Code {
		case websocket.StatusGoingAway:
			return "closed by peer"
		case websocket.StatusNormalClosure:
			if ce.Reason != "" {
				return "closed by peer: " + ce.Reason
			}
			return "closed by peer"
		case websocket.StatusPolicyViolation, websocket.StatusProtocolError, websocket.StatusUnsupportedData,
			websocket.StatusInvalidFramePayloadData, websocket.StatusMessageTooBig:
			if ce.Reason != "" {
				return "protocol error: " + ce.Reason
			}
			return "protocol error: " + ce.Code.String()
		default:
			if ce.Reason != "" {
				return "closed by peer: " + ce.Code.String() + ": " + ce.Reason
			}
			return "closed by peer: " + ce.Code.String()
		}
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return "timed out"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		// The peer's end closed without a close frame: killed, or its
		// machine dropped the connection.
		return "closed by peer without a goodbye"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset by peer"
	}
	return "connection lost: " + err.Error()
}
