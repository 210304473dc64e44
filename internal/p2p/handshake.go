package p2p

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/naivechain/naivechain/internal/identity"
	"github.com/naivechain/naivechain/internal/wire"
)

// Handshake errors. Connect wraps one of them, with the peer's address, so a
// caller can tell a wrong address from an incompatible or refusing peer.
var (
	ErrIDMismatch   = errors.New("p2p: unexpected peer id")
	ErrIncompatible = errors.New("p2p: incompatible peer")
	ErrRejected     = errors.New("p2p: refused by peer")
	ErrSelf         = errors.New("p2p: connection to self")
	ErrHandshake    = errors.New("p2p: handshake failed")
	// ErrLegacy reports a WebSocket server that did not agree our
	// subprotocol: a node speaking only the original's protocol.
	ErrLegacy = errors.New("p2p: peer does not speak the native protocol")
)

func (h *Host) hello() *wire.Hello {
	s := h.cfg.Self
	return &wire.Hello{Version: wire.ProtocolVersion, NodeID: s.ID, Host: s.Host, Port: s.Port,
		HTTPPort: s.HTTPPort, Genesis: h.cfg.Genesis, Engine: h.cfg.Engine}
}

// compatible reports why a peer announcing m cannot join us, or nil.
func (h *Host) compatible(m *wire.Hello) error {
	switch {
	case m.NodeID == h.cfg.Self.ID:
		return fmt.Errorf("%w: node id %s is our own", ErrSelf, m.NodeID)
	case m.Version != wire.ProtocolVersion:
		return fmt.Errorf("%w: protocol version mismatch: %s speaks %d, %s speaks %d", ErrIncompatible, h.cfg.Self.ID, wire.ProtocolVersion, m.NodeID, m.Version)
	case m.Genesis != h.cfg.Genesis:
		return fmt.Errorf("%w: genesis mismatch: %s has %s, %s has %s", ErrIncompatible, h.cfg.Self.ID, h.cfg.Genesis, m.NodeID, m.Genesis)
	case m.Engine != h.cfg.Engine:
		return fmt.Errorf("%w: engine mismatch: %s runs %s, %s runs %s", ErrIncompatible, h.cfg.Self.ID, h.cfg.Engine, m.NodeID, m.Engine)
	}
	return nil
}

// handshakeContext bounds a handshake by DialTimeout and by the Host's life.
func (h *Host) handshakeContext(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(parent, h.cfg.DialTimeout)
	stop := context.AfterFunc(h.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

func writeMessage(ctx context.Context, ws *websocket.Conn, m wire.Message) error {
	b, err := wire.Encode(m)
	if err != nil {
		return err
	}
	return ws.Write(ctx, websocket.MessageBinary, b)
}

func readMessage(ctx context.Context, ws *websocket.Conn) (wire.Message, error) {
	typ, b, err := ws.Read(ctx)
	if err != nil {
		return nil, err
	}
	if typ != websocket.MessageBinary {
		return nil, fmt.Errorf("%w: text frame", wire.ErrMalformed)
	}
	return wire.Decode(b)
}

// reject tells the peer why, then closes the connection.
func reject(ctx context.Context, ws *websocket.Conn, reason string) {
	if len(reason) > wire.MaxReasonLen {
		reason = reason[:wire.MaxReasonLen]
	}
	_ = writeMessage(ctx, ws, &wire.Reject{Reason: reason})
	_ = ws.Close(closeProtocol, "rejected")
}

// ServeHTTP accepts a WebSocket connection from a peer and runs the
// acceptor side of the handshake: read the peer's Hello, answer with ours or
// with a Reject. Mount it at "/" of the WebSocket port, served through
// Listener. A native peer comes over TLS 1.3 (its certificate proves its
// id) and offers subprotocol wire.Subprotocol; a plain connection is the
// original's protocol and goes to Config.Legacy, unless it offers a native
// subprotocol, which is refused: native links are never plain.
func (h *Host) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.enter() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	defer h.wg.Done()
	native := r.TLS != nil
	if !native && offersNative(r) {
		h.log.Debug("peer refused", "addr", r.RemoteAddr, "reason", "native protocol without TLS")
		w.Header().Set("Upgrade", "TLS/1.3")
		http.Error(w, "naivechain peers must connect with TLS 1.3 (protocol "+strconv.Itoa(wire.ProtocolVersion)+")", http.StatusUpgradeRequired)
		return
	}
	if !native && h.cfg.Legacy == nil {
		http.Error(w, "no plain WebSocket service here", http.StatusForbidden)
		return
	}
	s, ok := h.admit(w, r, native)
	if !ok {
		return
	}
	defer s.handshakeOver()
	if !native {
		// The original's protocol, one message per connection. The
		// owner speaks it.
		h.cfg.Legacy.ServeHTTP(w, r)
		return
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{wire.Subprotocol}})
	if err != nil {
		h.log.Debug("websocket accept failed", "addr", r.RemoteAddr, "err", err)
		return
	}
	addr := r.RemoteAddr
	if ws.Subprotocol() != wire.Subprotocol {
		h.logInbound(slog.LevelWarn, "peer refused", "addr", addr, "reason", "no subprotocol "+wire.Subprotocol)
		_ = ws.Close(closeProtocol, "subprotocol "+wire.Subprotocol+" required")
		return
	}
	ws.SetReadLimit(wire.MaxMessageSize)
	ctx, cancel := h.handshakeContext(r.Context())
	defer cancel()

	m, err := readMessage(ctx, ws)
	if err != nil {
		h.logInbound(slog.LevelWarn, "handshake failed", "addr", addr, "err", err)
		if errors.Is(err, wire.ErrMalformed) {
			reject(ctx, ws, err.Error())
		} else {
			ws.CloseNow()
		}
		return
	}
	hello, ok := m.(*wire.Hello)
	if !ok {
		h.logInbound(slog.LevelWarn, "handshake failed", "addr", addr, "err", "first message is "+m.Type().String()+", not Hello")
		reject(ctx, ws, "expected Hello, got "+m.Type().String())
		return
	}
	proven, err := identity.ConnID(*r.TLS, h.cfg.IDOf)
	if err != nil {
		h.logInbound(slog.LevelWarn, "handshake failed", "addr", addr, "err", err)
		reject(ctx, ws, err.Error())
		return
	}
	if hello.NodeID != proven {
		h.logInbound(slog.LevelWarn, "peer refused", "id", proven, "addr", addr, "reason", "Hello claims id "+hello.NodeID)
		reject(ctx, ws, fmt.Sprintf("Hello claims id %s, the certificate proves %s", hello.NodeID, proven))
		return
	}
	if err := h.compatible(hello); err != nil {
		h.logInbound(slog.LevelWarn, "peer refused", "id", hello.NodeID, "addr", addr, "reason", err)
		reject(ctx, ws, err.Error())
		return
	}
	if why := h.refusal(hello.NodeID); why != "" {
		h.logInbound(slog.LevelInfo, "banned peer refused", "id", hello.NodeID, "addr", addr, "reason", why)
		reject(ctx, ws, why)
		return
	}
	if err := writeMessage(ctx, ws, h.hello()); err != nil {
		h.logInbound(slog.LevelWarn, "handshake failed", "id", hello.NodeID, "addr", addr, "err", err)
		ws.CloseNow()
		return
	}
	c := newConn(h, ws, hello.PeerInfo(), false, addr)
	c.slot = s
	_, _ = h.register(c)
}

// Connect dials ws://host:port/ and runs the dialer side of the handshake.
// When expectID is not empty and the peer has another id, the connection is
// refused and the error says "peer at host:port has id X, not Y". It returns
// the peer's record from its Hello. Connecting to a peer already connected
// at that address returns at once.
func (h *Host) Connect(ctx context.Context, host, port, expectID string) (wire.PeerInfo, error) {
	addr := net.JoinHostPort(host, port)
	if err := wire.ValidateHost(host); err != nil {
		return wire.PeerInfo{}, fmt.Errorf("p2p: connect to %s: %w", addr, err)
	}
	if err := wire.ValidatePort(port); err != nil {
		return wire.PeerInfo{}, fmt.Errorf("p2p: connect to %s: %w", addr, err)
	}
	if expectID != "" && expectID == h.cfg.Self.ID {
		return wire.PeerInfo{}, fmt.Errorf("%w: %s is our own id", ErrSelf, expectID)
	}
	if !h.enter() {
		return wire.PeerInfo{}, ErrClosed
	}
	defer h.wg.Done()
	if h.isSelfAddr(host, port) {
		return wire.PeerInfo{}, &SelfError{Addr: addr, Why: "it is one of its own addresses"}
	}
	if p, ok := h.connectedAt(host, port, expectID); ok {
		return p, nil
	}
	if expectID != "" {
		if why := h.refusal(expectID); why != "" {
			return wire.PeerInfo{}, bannedError(addr, expectID, why)
		}
	}

	ctx, cancel := h.handshakeContext(ctx)
	defer cancel()
	ws, proven, err := h.dialTLS(ctx, addr, expectID)
	if err != nil {
		return wire.PeerInfo{}, err
	}
	if proven == h.cfg.Self.ID {
		// Whatever the address's spelling (a name, a NAT, a proxy), the
		// certificate proves this node's own key.
		_ = ws.Close(websocket.StatusNormalClosure, "")
		return wire.PeerInfo{}, &SelfError{Addr: addr, Why: "the node answering there proves this node's own id"}
	}
	ws.SetReadLimit(wire.MaxMessageSize)
	if err := writeMessage(ctx, ws, h.hello()); err != nil {
		ws.CloseNow()
		return wire.PeerInfo{}, fmt.Errorf("%w: send Hello to %s: %v", ErrHandshake, addr, err)
	}
	m, err := readMessage(ctx, ws)
	if err != nil {
		ws.CloseNow()
		return wire.PeerInfo{}, fmt.Errorf("%w: read Hello from %s: %v", ErrHandshake, addr, err)
	}
	var hello *wire.Hello
	switch m := m.(type) {
	case *wire.Reject:
		ws.CloseNow()
		return wire.PeerInfo{}, fmt.Errorf("%w: peer at %s: %s", ErrRejected, addr, m.Reason)
	case *wire.Hello:
		hello = m
	default:
		reject(ctx, ws, "expected Hello, got "+m.Type().String())
		return wire.PeerInfo{}, fmt.Errorf("%w: peer at %s sent %v instead of Hello", ErrHandshake, addr, m.Type())
	}
	peer := hello.PeerInfo()
	if peer.ID != proven {
		reject(ctx, ws, fmt.Sprintf("Hello claims id %s, the certificate proves %s", peer.ID, proven))
		return wire.PeerInfo{}, fmt.Errorf("%w: peer at %s claims id %s, its certificate proves %s", ErrHandshake, addr, peer.ID, proven)
	}
	if expectID != "" && peer.ID != expectID {
		reject(ctx, ws, fmt.Sprintf("dialed %s expecting id %s, found %s", addr, expectID, peer.ID))
		return wire.PeerInfo{}, fmt.Errorf("%w: peer at %s has id %s, not %s", ErrIDMismatch, addr, peer.ID, expectID)
	}
	if err := h.compatible(hello); err != nil {
		reject(ctx, ws, err.Error())
		return wire.PeerInfo{}, fmt.Errorf("peer at %s: %w", addr, err)
	}
	if why := h.refusal(peer.ID); why != "" {
		reject(ctx, ws, why)
		return wire.PeerInfo{}, bannedError(addr, peer.ID, why)
	}
	if _, err := h.register(newConn(h, ws, peer, true, addr)); err != nil {
		return wire.PeerInfo{}, err
	}
	return peer, nil
}

// connectedAt returns the peer already connected at host:port: with id
// expectID when not empty (its certificate proved it), else only a
// connection this node dialed to that address. An address a peer
// announces proves nothing: a stranger could announce another node's.
func (h *Host) connectedAt(host, port, expectID string) (wire.PeerInfo, bool) {
	addr := net.JoinHostPort(host, port)
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.conns {
		p := c.peer
		switch {
		case expectID != "" && p.ID == expectID && p.Host == host && p.Port == port:
			return p, true
		case expectID == "" && c.outbound && c.addr == addr:
			return p, true
		}
	}
	return wire.PeerInfo{}, false
}

// offersNative reports whether a WebSocket upgrade request offers a native
// subprotocol, of this version or another ("naivechain.v1", ...).
func offersNative(r *http.Request) bool {
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); len(p) >= 11 && strings.EqualFold(p[:11], "naivechain.") {
				return true
			}
		}
	}
	return false
}

// dialTLS opens the WebSocket of a native link to addr over TLS 1.3 and
// returns it with the id the peer's certificate proves. When expectID is
// not empty, a peer that does not prove it fails the TLS handshake.
//
// A peer that does not speak TLS is probed in plain text to say what it
// is: the original's node (ErrLegacy), unless expectID is a key-derived
// id, which only a TLS peer can prove, or a native node of an older
// protocol (ErrIncompatible).
func (h *Host) dialTLS(ctx context.Context, addr, expectID string) (*websocket.Conn, string, error) {
	tr := h.transport.Clone()
	tr.TLSClientConfig = identity.ClientConfig(h.cert, expectID, h.cfg.IDOf)
	tr.ForceAttemptHTTP2 = false
	defer tr.CloseIdleConnections()
	ws, resp, err := websocket.Dial(ctx, "wss://"+addr+"/", &websocket.DialOptions{
		HTTPClient:   &http.Client{Transport: tr},
		Subprotocols: []string{wire.Subprotocol},
	})
	var rec tls.RecordHeaderError
	var mismatch *identity.IDMismatchError
	switch {
	case errors.As(err, &rec) || err != nil && strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		// Not a TLS server: net/http says so in text only.
		return nil, "", h.probePlain(ctx, addr, expectID)
	case errors.As(err, &mismatch):
		return nil, "", fmt.Errorf("%w: peer at %s has id %s, not %s", ErrIDMismatch, addr, mismatch.Proven, mismatch.Want)
	case err != nil:
		return nil, "", fmt.Errorf("p2p: dial %s: %w", addr, err)
	}
	if ws.Subprotocol() != wire.Subprotocol {
		_ = ws.Close(closeProtocol, "subprotocol "+wire.Subprotocol+" required")
		return nil, "", fmt.Errorf("%w: %s does not speak %s", ErrIncompatible, addr, wire.Subprotocol)
	}
	if resp == nil || resp.TLS == nil {
		ws.CloseNow()
		return nil, "", fmt.Errorf("%w: %s: no TLS state", ErrHandshake, addr)
	}
	proven, err := identity.ConnID(*resp.TLS, h.cfg.IDOf)
	if err != nil {
		ws.CloseNow()
		return nil, "", fmt.Errorf("%w: %s: %v", ErrHandshake, addr, err)
	}
	return ws, proven, nil
}

// probePlain asks a peer that does not speak TLS, in plain text, whether it
// speaks a native subprotocol, and returns why it cannot be a native link.
func (h *Host) probePlain(ctx context.Context, addr, expectID string) error {
	ws, resp, err := websocket.Dial(ctx, "ws://"+addr+"/", &websocket.DialOptions{
		HTTPClient:   h.client,
		Subprotocols: []string{wire.Subprotocol, "naivechain.v1"},
	})
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusUpgradeRequired {
			return fmt.Errorf("%w: %s asks for TLS but did not complete a TLS handshake", ErrHandshake, addr)
		}
		return fmt.Errorf("p2p: dial %s: %w", addr, err)
	}
	sub := ws.Subprotocol()
	_ = ws.Close(closeProtocol, "native links need TLS")
	switch {
	case sub != "":
		return fmt.Errorf("%w: %s speaks %s without TLS: upgrade it", ErrIncompatible, addr, sub)
	case identity.IsKeyID(expectID):
		// The original's nodes have no keys: the node expected is not
		// the one answering, whatever it is.
		return fmt.Errorf("%w: peer at %s speaks no TLS, so it cannot prove id %s", ErrIDMismatch, addr, expectID)
	}
	return fmt.Errorf("%w: %s does not speak %s", ErrLegacy, addr, wire.Subprotocol)
}

// inboundLogsPerSecond bounds the log lines that inbound handshakes, which
// anyone can start, write per second; the rest are counted and the count
// is written with the next line let through.
const inboundLogsPerSecond = 5

// logInbound writes a log line about an inbound handshake, within
// inboundLogsPerSecond.
func (h *Host) logInbound(level slog.Level, msg string, args ...any) {
	now := h.cfg.Now()
	h.logMu.Lock()
	if now.Sub(h.logWindow) >= time.Second {
		h.logWindow, h.logCount = now, 0
	}
	h.logCount++
	if h.logCount > inboundLogsPerSecond {
		h.logQuiet++
		h.logMu.Unlock()
		return
	}
	if h.logQuiet > 0 {
		args = append(args, "not_logged_before", h.logQuiet)
		h.logQuiet = 0
	}
	h.logMu.Unlock()
	h.log.Log(context.Background(), level, msg, args...)
}
