package p2p

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/naivechain/naivechain/internal/identity"
	"github.com/naivechain/naivechain/internal/transport"
	"github.com/naivechain/naivechain/internal/wire"
)

// Config configures a Host. Zero durations and lengths take the defaults
// documented on each field.
type Config struct {
	Self wire.PeerInfo // our id and the address others dial to reach us
	// Key is the node's key: Self.ID must be IDOf its public half. Every
	// native link is TLS 1.3 with a certificate of this key, and a peer's
	// id is the one its certificate proves.
	Key ed25519.PrivateKey
	// IDOf derives a node id from a public key (default
	// identity.IDFromKey, what nodes use).
	IDOf identity.IDFunc

	Genesis string       // hash of block 0; peers must share it
	Engine  string       // consensus engine name; peers must share it
	Logger  *slog.Logger // nil discards

	Heartbeat   time.Duration // default 500ms: period of Ping, gossip and redial
	DeadAfter   time.Duration // default 3s: a connection silent this long is closed
	DialTimeout time.Duration // default 3s: bounds a dial, a handshake and every write
	ForgetAfter time.Duration // default 10m: a known peer failing to connect this long is forgotten
	QueueLen    int           // default 1024: outbound messages queued per peer; more are dropped
	// QueueBytes bounds the bytes of the messages queued per peer (default
	// 16 MiB): a peer that asks for large answers (blocks) and does not
	// read them holds no more than this.
	QueueBytes int
	// QueueBytesTotal bounds the bytes queued for all peers together
	// (default 256 MiB).
	QueueBytesTotal int
	// Legacy, when set, serves WebSocket connections that do not offer
	// the native subprotocol (the original's one-message-per-connection
	// protocol). Without it they are refused.
	Legacy     http.Handler
	InboundLen int // default 4096: messages queued for the owner; beyond it they are dropped

	BanDuration time.Duration // default 10m: how long a peer that reached BanThreshold is refused
	// Now is the clock of ban scores, bans, redials and the dial rate
	// (default time.Now); tests drive it to end a ban, decay a score or
	// refill the dial bucket.
	Now func() time.Time

	// Bounds on what strangers can cost (limits.go, dialer.go). The
	// connection bounds count native connections only; past one, a
	// connection is refused with HTTP 503 before the WebSocket upgrade.
	// Their defaults keep devnets of up to 64 nodes on 127.0.0.1 clear of
	// them.
	MaxConnsPerIP      int // default 128: inbound connections from one IP, handshakes included
	MaxConns           int // default 512: connections in total, both directions, handshakes included
	MaxHandshakesPerIP int // default 64: inbound handshakes in progress from one IP
	MaxHandshakes      int // default 128: inbound handshakes in progress in total
	// AddrBanAfter (default 16): when that many distinct ids that
	// connected from one IP are banned within BanDuration, the IP itself
	// is refused (HTTP 403, nothing read) for BanDuration. Loopback is not
	// exempt.
	AddrBanAfter int
	MaxKnown     int     // default 1024: known peers; peers learned from gossip beyond it are ignored
	DialRate     float64 // default 4: dials per second of peers the owner did not give (a token bucket)
	DialBurst    int     // default 8: the bucket's size
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Heartbeat, 500*time.Millisecond)
	def(&c.DeadAfter, 3*time.Second)
	def(&c.DialTimeout, 3*time.Second)
	def(&c.ForgetAfter, 10*time.Minute)
	def(&c.BanDuration, 10*time.Minute)
	if c.QueueLen <= 0 {
		c.QueueLen = 1024
	}
	if c.QueueBytes <= 0 {
		c.QueueBytes = 16 << 20
	}
	if c.QueueBytesTotal <= 0 {
		c.QueueBytesTotal = 256 << 20
	}
	if c.InboundLen <= 0 {
		c.InboundLen = 4096
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.IDOf == nil {
		c.IDOf = identity.IDFromKey
	}
	c.setLimitDefaults()
}

// Inbound is a message for the owner of the Host, with the peer it came from.
type Inbound struct {
	From wire.PeerInfo
	Msg  wire.Message
}

// Stats counts messages dropped because a queue was full.
type Stats struct {
	DroppedOutbound uint64 // not sent: the peer's outbound queue was full
	DroppedInbound  uint64 // not delivered: Inbound was full
	Refused         uint64 // inbound connections refused past a connection bound or from a banned address
}

// ErrClosed is returned by a Host that has been closed.
var ErrClosed = errors.New("p2p: host closed")

// Host owns every peer connection of one node. Its methods are safe for
// concurrent use.
type Host struct {
	cfg       Config
	log       *slog.Logger
	cert      tls.Certificate
	serverTLS *tls.Config
	transport *http.Transport
	client    *http.Client
	inbound   chan Inbound
	kick      chan struct{} // asks Run to dial due peers now
	// tr is the Host as a transport.Transport (Transport), and trIn its
	// channel, which the readers use once it is set.
	tr   transportState
	trIn atomic.Pointer[chan transport.Message]

	ctx    context.Context // cancelled by Close; every network wait derives from it
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the Host starts, and every call in flight

	closeOnce  sync.Once
	droppedOut atomic.Uint64
	droppedIn  atomic.Uint64
	live       atomic.Int64 // registered conns whose reader has not returned
	queued     atomic.Int64 // bytes queued for every peer together
	refused    atomic.Uint64
	limits     *limits

	// logMu guards the window of logInbound.
	logMu              sync.Mutex
	logWindow          time.Time
	logCount, logQuiet int

	mu     sync.Mutex
	closed bool
	conns  map[string]*conn // peer id → the one connection kept with it
	table  *peerTable
	bans   *banTable
	dials  *dialer
	// listenAddrs are the addresses of the listeners given to Listener,
	// for the cheap check that a dial does not name this node.
	listenAddrs []netip.AddrPort
}

// New returns a Host for cfg. It accepts connections through ServeHTTP at
// once; gossip, heartbeats and redialing run while Run does. cfg.Self must
// pass wire.ValidatePeerInfo, and Genesis and Engine must be valid Hello
// fields: otherwise every handshake fails (New logs why).
func New(cfg Config) *Host {
	cfg.setDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	tr := http.DefaultTransport.(*http.Transport).Clone()
	h := &Host{
		cfg:       cfg,
		log:       cfg.Logger.With("actor", "RPC_SERVER"),
		transport: tr,
		client:    &http.Client{Transport: tr},
		inbound:   make(chan Inbound, cfg.InboundLen),
		kick:      make(chan struct{}, 1),
		ctx:       ctx,
		cancel:    cancel,
		conns:     make(map[string]*conn),
		table:     newPeerTable(cfg.Self.ID, cfg.ForgetAfter, cfg.MaxKnown),
		bans:      newBanTable(cfg.BanDuration, maxStandings),
	}
	h.limits = newLimits(&h.cfg)
	h.dials = newDialer(cfg.DialRate, cfg.DialBurst, h.table.jitter)
	h.table.gate = h.gateDial
	if _, err := wire.Encode(h.hello()); err != nil {
		h.log.Error("invalid p2p configuration: every handshake will fail", "err", err)
	}
	if err := h.setKey(); err != nil {
		h.log.Error("invalid p2p configuration: every handshake will fail", "err", err)
	}
	return h
}

// setKey makes the certificate of the node key. Without a valid key, or
// with one that does not derive Self.ID, the Host presents a certificate of
// a throwaway key, which no peer expecting Self.ID accepts.
func (h *Host) setKey() error {
	key, err := h.cfg.Key, error(nil)
	switch {
	case len(key) != ed25519.PrivateKeySize:
		err = errors.New("p2p: no node key")
	case h.cfg.IDOf(identity.Public(key)) != h.cfg.Self.ID:
		err = fmt.Errorf("p2p: node key derives id %s, not %s", h.cfg.IDOf(identity.Public(key)), h.cfg.Self.ID)
	}
	if err != nil {
		if key, _ = identity.Generate(); key == nil {
			key = ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
		}
	}
	cert, cerr := identity.Certificate(key)
	if cerr != nil {
		return cerr
	}
	h.cert = cert
	h.serverTLS = identity.ServerConfig(cert, h.cfg.IDOf)
	return err
}

// enter registers a call or goroutine that Close must wait for. It reports
// false once the Host is closed.
func (h *Host) enter() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.wg.Add(1)
	return true
}

// spawn runs f in a goroutine that Close waits for, unless the Host is closed.
func (h *Host) spawn(f func()) bool {
	if !h.enter() {
		return false
	}
	go func() {
		defer h.wg.Done()
		f()
	}()
	return true
}

// Run sends heartbeats and gossip, and dials known peers that are not
// connected, until ctx is done or the Host is closed. It then closes the
// Host: every connection is closed and every goroutine has returned when Run
// returns.
func (h *Host) Run(ctx context.Context) error {
	if !h.enter() {
		return ErrClosed
	}
	t := time.NewTicker(h.cfg.Heartbeat)
	h.dialDue(h.cfg.Now())
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-h.ctx.Done():
			break loop
		case <-t.C:
			h.heartbeat()
			h.dialDue(h.cfg.Now())
		case <-h.kick:
			h.dialDue(h.cfg.Now())
		}
	}
	t.Stop()
	h.wg.Done()
	h.Close()
	return nil
}

// Close closes every connection, waits for every goroutine of the Host and
// closes the Inbound channel. It is safe to call more than once.
func (h *Host) Close() error {
	h.closeOnce.Do(func() {
		h.mu.Lock()
		h.closed = true
		conns := make([]*conn, 0, len(h.conns))
		for _, c := range h.conns {
			conns = append(conns, c)
		}
		h.mu.Unlock()
		h.cancel()
		for _, c := range conns {
			c.stop(closeShutdown, "host shutting down")
		}
		h.wg.Wait()
		h.transport.CloseIdleConnections()
		close(h.inbound)
		h.closeTransport()
	})
	return nil
}

// Inbound returns the messages for the owner, which are only Consensus
// messages, until Transport is called: from then on they go to the
// transport's Inbound. It is closed when the Host is closed.
func (h *Host) Inbound() <-chan Inbound { return h.inbound }

// Stats returns the drop counters.
func (h *Host) Stats() Stats {
	return Stats{DroppedOutbound: h.droppedOut.Load(), DroppedInbound: h.droppedIn.Load(), Refused: h.refused.Load()}
}

// Peers returns the connected peers (handshake done, not silent for
// DeadAfter), sorted by id. The record of each is the one from its own Hello.
func (h *Host) Peers() []wire.PeerInfo {
	h.mu.Lock()
	out := make([]wire.PeerInfo, 0, len(h.conns))
	for _, c := range h.conns {
		out = append(out, c.peer)
	}
	h.mu.Unlock()
	sortPeers(out)
	return out
}

// Known returns every peer record the Host knows, connected or not, sorted
// by id, e.g. for the owner to persist.
func (h *Host) Known() []wire.PeerInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.table.all()
}

// AddKnown adds p to the known peers, to be dialed by Run. For a known peer
// that is not connected it replaces the address; a connected peer keeps the
// address of its own Hello. Either way the peer counts as given by the
// owner: it is kept through ForgetAfter of failed dials, where a peer only
// met or learned is forgotten sooner. Invalid records and our own id are
// ignored.
func (h *Host) AddKnown(p wire.PeerInfo) {
	if wire.ValidatePeerInfo(p) != nil || p.ID == h.cfg.Self.ID {
		return
	}
	h.mu.Lock()
	if _, connected := h.conns[p.ID]; connected {
		h.table.own(p.ID)
	} else {
		h.table.put(p, h.cfg.Now())
	}
	h.mu.Unlock()
	h.wake()
}

// wake asks Run to dial due peers now rather than at the next heartbeat.
func (h *Host) wake() {
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// Send queues m for the peer with id peerID without blocking. It reports
// false when the peer is not connected, its queue is full (the message is
// dropped and counted) or m cannot be encoded.
func (h *Host) Send(peerID string, m wire.Message) bool {
	b, err := wire.Encode(m)
	if err != nil {
		h.log.Error("cannot encode message", "type", fmt.Sprintf("%T", m), "err", err)
		return false
	}
	h.mu.Lock()
	c := h.conns[peerID]
	h.mu.Unlock()
	return c != nil && c.enqueue(b)
}

// Broadcast queues m for every connected peer without blocking.
func (h *Host) Broadcast(m wire.Message) {
	b, err := wire.Encode(m)
	if err != nil {
		h.log.Error("cannot encode message", "type", fmt.Sprintf("%T", m), "err", err)
		return
	}
	for _, c := range h.connected() {
		c.enqueue(b)
	}
}

// connected returns the current connections.
func (h *Host) connected() []*conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*conn, 0, len(h.conns))
	for _, c := range h.conns {
		out = append(out, c)
	}
	return out
}

func sortPeers(ps []wire.PeerInfo) {
	slices.SortFunc(ps, func(a, b wire.PeerInfo) int { return strings.Compare(a.ID, b.ID) })
}
