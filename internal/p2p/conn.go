package p2p

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/naivechain/naivechain/internal/wire"
)

// Close codes and the longest a close handshake may take before the
// connection is cut.
const (
	closeShutdown  = websocket.StatusGoingAway
	closeDuplicate = websocket.StatusNormalClosure
	closeProtocol  = websocket.StatusPolicyViolation
	closeTextFrame = websocket.StatusUnsupportedData
	closeLost      = websocket.StatusGoingAway

	closeGrace = time.Second
)

// conn is one established connection: handshake done, registered with the
// Host. Its reader keeps reading until the connection ends, so that the
// WebSocket library answers control frames and the close handshake; its
// writer is the only one to write, and the one to close.
type conn struct {
	h        *Host
	ws       *websocket.Conn
	peer     wire.PeerInfo // from the peer's own Hello
	dialer   string        // id of the end that dialed
	outbound bool          // we dialed
	addr     string        // remote address, for logs
	slot     *slot         // its count in the connection bounds; nil until registered if outbound

	send    chan []byte  // encoded messages, bounded
	queued  atomic.Int64 // bytes in send, bounded by Config.QueueBytes
	queueMu sync.Mutex   // orders enqueue with drain
	drained bool         // the writer is gone: nothing more is queued

	killCtx context.Context // cancelling it cuts the connection at once
	kill    context.CancelFunc

	stopOnce    sync.Once
	done        chan struct{} // closed by stop
	closeCode   websocket.StatusCode
	closeReason string
	tell        bool // send a Reject with closeReason before closing
}

func newConn(h *Host, ws *websocket.Conn, peer wire.PeerInfo, outbound bool, addr string) *conn {
	c := &conn{h: h, ws: ws, peer: peer, outbound: outbound, addr: addr,
		send: make(chan []byte, h.cfg.QueueLen), done: make(chan struct{})}
	c.dialer = peer.ID
	if outbound {
		c.dialer = h.cfg.Self.ID
	}
	c.killCtx, c.kill = context.WithCancel(context.Background())
	return c
}

// enqueue queues b without blocking; a full queue, in messages or in
// bytes (this peer's or every peer's), drops b.
func (c *conn) enqueue(b []byte) bool {
	c.queueMu.Lock()
	defer c.queueMu.Unlock()
	if c.drained {
		return false
	}
	n := int64(len(b))
	over := c.queued.Add(n) > int64(c.h.cfg.QueueBytes)
	overAll := c.h.queued.Add(n) > int64(c.h.cfg.QueueBytesTotal)
	if !over && !overAll {
		select {
		case c.send <- b:
			return true
		default:
		}
	}
	c.unqueue(n)
	c.h.droppedOut.Add(1)
	return false
}

// unqueue takes n bytes off the queue counts.
func (c *conn) unqueue(n int64) {
	c.queued.Add(-n)
	c.h.queued.Add(-n)
}

// drain empties the queue of a connection that ends, so that what it held
// leaves the Host's count, and refuses every later message.
func (c *conn) drain() {
	c.queueMu.Lock()
	defer c.queueMu.Unlock()
	c.drained = true
	for {
		select {
		case b := <-c.send:
			c.unqueue(int64(len(b)))
		default:
			return
		}
	}
}

// stop ends the connection: it leaves the Host's table now and the writer
// closes it with code. Only the first call counts.
func (c *conn) stop(code websocket.StatusCode, reason string) {
	c.stopAndTell(code, reason, false)
}

// stopAndTell is stop that, when tell is set, first sends the peer a Reject
// with reason so that its logs say why.
func (c *conn) stopAndTell(code websocket.StatusCode, reason string, tell bool) {
	c.stopOnce.Do(func() {
		c.closeCode, c.closeReason, c.tell = code, reason, tell
		close(c.done)
		c.h.connStopped(c, reason)
	})
}

func (c *conn) stopped() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// readLoop reads until the connection ends. A message that arrives after
// stop is discarded.
func (c *conn) readLoop() {
	defer c.h.wg.Done()
	defer c.h.live.Add(-1)
	defer c.slot.release()
	d := newDeadline(c.killCtx)
	defer func() { d.release() }()
	for {
		d.arm(c.h.cfg.DeadAfter)
		typ, b, err := c.ws.Read(d.ctx)
		live := d.disarm()
		if err != nil {
			if d.expired.Load() {
				c.stop(closeLost, "timed out: no message for "+c.h.cfg.DeadAfter.String())
			} else {
				c.stop(closeLost, leaveReason(err))
			}
			return
		}
		if !live {
			// The bound ran out just as the message came: the next read
			// gets a fresh one, as it would have had it come earlier.
			d.release()
			d = newDeadline(c.killCtx)
		}
		if c.stopped() {
			continue
		}
		if typ != websocket.MessageBinary {
			c.h.Penalize(c.peer.ID, BanThreshold, "malformed message: text frame")
			c.stopAndTell(closeTextFrame, "malformed message: text frame", true)
			continue
		}
		m, err := wire.Decode(b)
		if err != nil {
			// A peer that speaks our protocol never sends one: banned.
			c.h.Penalize(c.peer.ID, BanThreshold, err.Error())
			c.stopAndTell(closeProtocol, err.Error(), true)
			continue
		}
		c.handle(m)
	}
}

// handle acts on one valid message.
func (c *conn) handle(m wire.Message) {
	switch m := m.(type) {
	case *wire.Ping:
		// Receiving it was the point.
	case *wire.Peers:
		c.h.learn(m.Peers)
	case *wire.Consensus:
		// Consensus tolerates loss; the reader must never stall on it.
		c.h.deliver(c.peer, m)
	case *wire.Reject:
		c.stop(closeProtocol, "peer refused us: "+m.Reason)
	default:
		c.h.Penalize(c.peer.ID, BanThreshold, "unexpected "+m.Type().String()+" after the handshake")
		c.stopAndTell(closeProtocol, "unexpected "+m.Type().String()+" after the handshake", true)
	}
}

// writeLoop sends queued messages, each with a deadline, until stop; then it
// closes the connection.
func (c *conn) writeLoop() {
	defer c.h.wg.Done()
	d := newDeadline(c.killCtx)
	defer func() { d.release() }()
	for {
		select {
		case <-c.done:
			c.closeWS()
			c.drain()
			return
		case b := <-c.send:
			c.unqueue(int64(len(b)))
			d.arm(c.h.cfg.DialTimeout)
			err := c.ws.Write(d.ctx, websocket.MessageBinary, b)
			live := d.disarm()
			if err != nil {
				reason := "write failed: " + leaveReason(err)
				if d.expired.Load() {
					reason = "write failed: timed out after " + c.h.cfg.DialTimeout.String() + ": " + err.Error()
				}
				c.stop(closeLost, reason)
			} else if !live {
				// The bound ran out just as the write ended: the next
				// write gets a fresh one.
				d.release()
				d = newDeadline(c.killCtx)
			}
		}
	}
}

// deadline bounds a series of operations, one at a time, each in time:
// a context that a timer cancels, armed before each operation and disarmed
// after it, so that an operation costs two timer calls rather than a new
// context and a new timer. Once the timer has fired, the context is done
// for good and the deadline is spent: its owner takes a new one.
type deadline struct {
	ctx     context.Context
	cancel  context.CancelFunc
	timer   *time.Timer
	expired atomic.Bool // set before the timer cancels ctx
}

func newDeadline(parent context.Context) *deadline {
	d := &deadline{}
	d.ctx, d.cancel = context.WithCancel(parent)
	d.timer = time.AfterFunc(time.Hour, func() {
		d.expired.Store(true)
		d.cancel()
	})
	d.timer.Stop()
	return d
}

// arm bounds the next operation to after from now.
func (d *deadline) arm(after time.Duration) { d.timer.Reset(after) }

// disarm ends the bound of the operation; it reports false if the timer
// fired first, which leaves the deadline spent.
func (d *deadline) disarm() bool { return d.timer.Stop() }

// release stops the timer and cancels the context.
func (d *deadline) release() {
	d.timer.Stop()
	d.cancel()
}

// closeWS runs the close handshake, cutting the connection if the peer does
// not answer within closeGrace.
func (c *conn) closeWS() {
	fired := make(chan struct{})
	t := time.AfterFunc(closeGrace, func() {
		c.kill()
		close(fired)
	})
	if c.tell {
		reason := c.closeReason
		if len(reason) > wire.MaxReasonLen {
			reason = reason[:wire.MaxReasonLen]
		}
		if b, err := wire.Encode(&wire.Reject{Reason: reason}); err == nil {
			_ = c.ws.Write(c.killCtx, websocket.MessageBinary, b)
		}
	}
	_ = c.ws.Close(c.closeCode, closeFrameReason(c.closeCode))
	if !t.Stop() {
		<-fired
	}
	c.kill()
}

// closeFrameReason is the short, fixed text of a close frame (at most 123
// bytes are allowed); the detailed reason goes to the log.
func closeFrameReason(code websocket.StatusCode) string {
	switch code {
	case closeShutdown:
		return "going away"
	case closeDuplicate:
		return "duplicate connection"
	case closeTextFrame:
		return "binary messages only"
	default:
		return "protocol violation"
	}
}

// wins reports whether c should be kept rather than old, another connection
// with the same peer. Both ends decide alike: between connections dialed by
// different ends, keep the one dialed by the smaller id; between two dialed
// by the same end, keep the newer one (the peer may have restarted).
func (c *conn) wins(old *conn) bool {
	if c.dialer == old.dialer {
		return true
	}
	return c.dialer == min(c.h.cfg.Self.ID, c.peer.ID)
}

// register makes c the connection with its peer and starts its goroutines,
// unless the Host is closed or an existing connection wins over c. It
// reports whether c was kept; a conn not kept is closed.
func (h *Host) register(c *conn) (bool, error) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		c.ws.CloseNow()
		return false, ErrClosed
	}
	if _, banned := h.bans.ban(c.peer.ID, h.cfg.Now()); banned {
		// Banned while its handshake was under way.
		h.mu.Unlock()
		_ = c.ws.Close(closeProtocol, closeFrameReason(closeProtocol))
		return false, fmt.Errorf("%w: %s", ErrBanned, c.peer.ID)
	}
	old := h.conns[c.peer.ID]
	if old != nil && !c.wins(old) {
		h.mu.Unlock()
		h.log.Debug("duplicate connection closed", "id", c.peer.ID, "addr", c.addr, "dialer", c.dialer)
		_ = c.ws.Close(closeDuplicate, closeFrameReason(closeDuplicate))
		return false, nil
	}
	h.conns[c.peer.ID] = c
	h.table.connected(c.peer, h.cfg.Now())
	if c.outbound {
		c.slot = h.limits.outbound()
	}
	c.slot.adopt()
	h.live.Add(1)
	h.wg.Add(2)
	h.mu.Unlock()
	if old != nil {
		old.stop(closeDuplicate, "replaced by a connection dialed by "+c.dialer)
	}
	go c.readLoop()
	go c.writeLoop()
	dir := "in"
	if c.outbound {
		dir = "out"
	}
	h.log.Info("peer connected", "id", c.peer.ID, "addr", c.addr, "dir", dir)
	return true, nil
}

// connStopped removes c from the connections if it is the current one and
// schedules a redial of its peer.
func (h *Host) connStopped(c *conn, reason string) {
	h.mu.Lock()
	current := h.conns[c.peer.ID] == c
	if current {
		delete(h.conns, c.peer.ID)
		if !h.closed {
			h.table.disconnected(c.peer.ID, h.cfg.Now())
		}
	}
	h.mu.Unlock()
	if current {
		h.log.Info("peer disconnected", "id", c.peer.ID, "addr", c.addr, "reason", reason)
	} else {
		h.log.Debug("connection closed", "id", c.peer.ID, "addr", c.addr, "reason", reason)
	}
}
