package node

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/naivechain/naivechain/internal/api"
	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/clock"
	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/explorer"
	"github.com/naivechain/naivechain/internal/identity"
	"github.com/naivechain/naivechain/internal/logging"
	"github.com/naivechain/naivechain/internal/p2p"
	"github.com/naivechain/naivechain/internal/store"
	"github.com/naivechain/naivechain/internal/transport"
	"github.com/naivechain/naivechain/internal/wire"
)

// Config configures a node.
type Config struct {
	// Key is the node key; nil means the one kept in DataDir (created the
	// first time), or a new one for a node without a data dir. The node
	// id is derived from it (identity.IDFromKey).
	Key ed25519.PrivateKey
	// DataDir holds everything the node owns (its store, chain.db). Empty
	// keeps everything in memory: nothing survives the process.
	DataDir string
	// Store, when set, is used instead of opening one in DataDir (tests
	// inject faulty stores this way). The node closes it when it stops.
	Store store.Store
	// FlushDelay is added to every flush of the store's log in DataDir
	// (store.LoggedOptions.FlushDelay): it plays a slow disk for the
	// robustness suite and benchmarks. Zero in production.
	FlushDelay time.Duration
	// Host is the address the peer port binds; empty means all
	// interfaces.
	Host string
	// Advertise is the host other nodes dial to reach this one.
	Advertise string
	// Port is the WebSocket (peer) port; 0 picks a free one.
	Port int
	// HTTPPort is the HTTP API port; -1 means Port+1, 0 picks a free one.
	HTTPPort int
	// HTTPVHosts lists the host names the HTTP API answers to besides IP
	// addresses and localhost ("*": any); see api.Options.VHosts.
	HTTPVHosts []string
	// HTTPHost is the address the HTTP API binds; empty means 127.0.0.1.
	// The API writes to the chain and joins networks for whoever asks, so
	// it is reachable from this machine only, unless the operator exposes
	// it (as CometBFT's and geth's RPC are).
	HTTPHost string

	// HTTPMaxConns bounds the HTTP API's open connections, and
	// HTTPMaxConnsPerAddr those from one IP address (defaults
	// api.DefaultMaxConns, 512, and api.DefaultMaxConnsPerAddr, 128; 0
	// keeps the default, negative means no bound). A connection past a
	// bound is answered 503 and closed at once (api.LimitListener).
	HTTPMaxConns        int
	HTTPMaxConnsPerAddr int
	// HTTPIdleTimeout is how long a kept-alive connection may wait for
	// its next request, on the HTTP API and on the peer port before a
	// WebSocket upgrade (default 30s).
	HTTPIdleTimeout time.Duration
	// HTTPReadHeaderTimeout bounds reading a request's headers, on both
	// ports (default 5s).
	HTTPReadHeaderTimeout time.Duration
	// HTTPBodyTimeout bounds reading a request's body on the HTTP API
	// (default api.DefaultBodyTimeout, 30s).
	HTTPBodyTimeout time.Duration

	// PeerHost, PeerPort and PeerID name a node of the network to join.
	// With no PeerPort the node starts a network of its own.
	PeerHost string
	PeerPort int
	PeerID   string

	// JoinToken is the token a vote node presents to join the network of
	// PeerID. A node founding a network keeps its own in
	// DataDir/join-token, created the first time.
	JoinToken string

	// WriteTimeout bounds a client write (default 10s).
	WriteTimeout time.Duration
	// Tick is the consensus clock period (default 100ms).
	Tick time.Duration
	// RemoveAfter is how long a member may be unreachable before the
	// majority removes it from the network (default 60s, 0 keeps the
	// default, negative never removes).
	RemoveAfter time.Duration
	// JoinTimeout bounds how long a joining node retries reaching its peer.
	JoinTimeout time.Duration

	// Engine builds the consensus engine (vote.Factory, pow.Factory(...);
	// cmd/naivechain picks one by name). Every node of a network runs the
	// same one. Required.
	Engine consensus.Factory
	// Mine makes a node of an engine whose blocks take work
	// (consensus.Miner) mine; without it the node validates and relays
	// only.
	Mine bool
	// Miners is how many goroutines search nonces (default: one per core
	// but one, at least one, so HTTP and peers keep a core).
	Miners int

	// PprofAddr, when set, is the address (host:port) where the node
	// serves Go's profiler (net/http/pprof, under /debug/pprof/); empty
	// leaves it off. It must be a loopback address unless
	// PprofAllowPublic is set (ErrPprofAddr).
	PprofAddr        string
	PprofAllowPublic bool

	// Transport carries the consensus messages to and from the peers;
	// nil means the peer host's (p2p.Host.Transport), which every
	// running node uses. Tests may give an in-memory one.
	Transport transport.Transport
	// Clock is the node's clock for what it times outside the engine's
	// ticks (the time it started, when peers connected, a pow engine's
	// timestamps); nil means clock.Real.
	Clock clock.Clock

	Logger *slog.Logger
}

// Node is a running naivechain node.
type Node struct {
	cfg     Config
	store   store.Store
	log     *slog.Logger
	chainL  *slog.Logger
	id      string
	started time.Time
	clock   clock.Clock
	chain   *chain.Chain
	engine  consensus.Engine
	host    *p2p.Host
	tr      transport.Transport

	// restarted is set when the store already held this node's
	// consensus state: it rejoins its network without asking.
	restarted bool

	legacy *legacyBridge

	wsLn, httpLn net.Listener
	wsSrv        *http.Server
	httpSrv      *http.Server
	// pprofLn and pprofSrv serve the profiler; nil when it is off.
	pprofLn  net.Listener
	pprofSrv *http.Server

	writes   chan writeReq
	reads    chan chan error // consistent reads' barriers, answered on the channel
	abandons chan abandonReq
	calls    chan func()
	// wake tells the loop that a store write of the engine became durable.
	wake chan struct{}

	// miner is set for engines that mine (pow with Mine).
	miner *miner

	metrics *metrics

	// joinToken is the token of the network this node founded.
	joinToken atomic.Pointer[string]

	mu      sync.Mutex
	running bool
	closed  bool        // by Close, before any Run
	failed  atomic.Bool // the engine's store failed: read-only from then on

	// reach is what the loop saw of its peers' connections (GET /status,
	// GET /ready).
	reach *reachability
}

type writeReq struct {
	data  []string
	reply chan writeResult // buffered: the loop never blocks on it
	id    chan uint64      // the proposal id, or 0 on error (then reply holds it)
}

type writeResult struct {
	blocks []block.Block
	err    error
}

type abandonReq struct {
	id    uint64
	reply chan bool
}

// ErrNoEngine is returned by New for a Config without an Engine.
var ErrNoEngine = errors.New("node: no consensus engine (Config.Engine)")

// ErrClosed is returned by Run on a node that was closed.
var ErrClosed = errors.New("node: closed")

// ErrPeerMismatch is returned when the node at the given address has
// another id than the one asked for.
var ErrPeerMismatch = errors.New("peer id mismatch")

// New creates a node and binds its ports; Run starts it.
func New(cfg Config) (n *Node, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Engine == nil {
		return nil, ErrNoEngine
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.PprofAddr != "" {
		if err := checkPprofAddr(cfg.PprofAddr, cfg.PprofAllowPublic); err != nil {
			return nil, err
		}
	}
	m := newMetrics()
	st := cfg.Store
	if st == nil {
		if st, err = openStore(cfg.DataDir, cfg.Logger, cfg.FlushDelay, m.observeFlush); err != nil {
			return nil, err
		}
	}
	defer func() {
		if err != nil {
			st.Close()
		}
	}()
	// The chain first: it refuses a store of another network before
	// anything is written to it.
	c, err := chain.New(st)
	if err != nil {
		return nil, err
	}
	key, id, formerID, err := Identity(st, cfg.DataDir, cfg.Key)
	if err != nil {
		return nil, err
	}
	if formerID != "" {
		// A data dir made before node keys: the membership was bound to
		// the old id, so the node enters a network anew on its chain (the
		// engine forgets it: consensus.Env.Rekeyed).
		logging.Actor(cfg.Logger, "BLOCKCHAIN").Warn("upgraded a data dir made before node keys: the node id changed and the node enters a network anew, keeping its chain",
			"old_id", formerID, "new_id", id, "key", filepath.Join(cfg.DataDir, identity.KeyFile))
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	if cfg.Tick <= 0 {
		cfg.Tick = 100 * time.Millisecond
	}
	if cfg.RemoveAfter == 0 {
		cfg.RemoveAfter = 60 * time.Second
	}
	if cfg.JoinTimeout <= 0 {
		cfg.JoinTimeout = 30 * time.Second
	}
	if cfg.PeerHost == "" {
		cfg.PeerHost = "127.0.0.1"
	}
	if cfg.HTTPHost == "" {
		cfg.HTTPHost = "127.0.0.1"
	}
	if cfg.HTTPIdleTimeout <= 0 {
		cfg.HTTPIdleTimeout = 30 * time.Second
	}
	if cfg.HTTPReadHeaderTimeout <= 0 {
		cfg.HTTPReadHeaderTimeout = 5 * time.Second
	}
	if cfg.HTTPMaxConns == 0 {
		cfg.HTTPMaxConns = api.DefaultMaxConns
	}
	if cfg.HTTPMaxConnsPerAddr == 0 {
		cfg.HTTPMaxConnsPerAddr = api.DefaultMaxConnsPerAddr
	}
	now := cfg.Clock.Now()
	n = &Node{
		reach:    newReachability(now),
		cfg:      cfg,
		store:    st,
		log:      cfg.Logger,
		chainL:   logging.Actor(cfg.Logger, "BLOCKCHAIN"),
		id:       id,
		started:  now,
		clock:    cfg.Clock,
		writes:   make(chan writeReq, 4096),
		reads:    make(chan chan error, maxQueuedReads),
		abandons: make(chan abandonReq, 64),
		calls:    make(chan func()),
		wake:     make(chan struct{}, 1),
		metrics:  m,
	}
	dataDir := cfg.DataDir
	if dataDir == "" {
		dataDir = "(none: in memory)"
	}
	n.chainL.Info("Setting up naive chain server", "data_dir", dataDir)

	n.wsLn, err = net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)))
	if err != nil {
		return nil, fmt.Errorf("listen on peer port: %w", err)
	}
	wsPort := n.wsLn.Addr().(*net.TCPAddr).Port
	httpPort := cfg.HTTPPort
	if httpPort < 0 {
		httpPort = wsPort + 1
	}
	httpLn, err := net.Listen("tcp", net.JoinHostPort(cfg.HTTPHost, strconv.Itoa(httpPort)))
	if err != nil {
		n.wsLn.Close()
		return nil, fmt.Errorf("listen on HTTP port: %w", err)
	}
	if cfg.PprofAddr != "" {
		if n.pprofLn, err = net.Listen("tcp", cfg.PprofAddr); err != nil {
			n.wsLn.Close()
			httpLn.Close()
			return nil, fmt.Errorf("listen on pprof address: %w", err)
		}
		if err := checkPprofBound(n.pprofLn.Addr(), cfg.PprofAllowPublic); err != nil {
			n.pprofLn.Close()
			n.wsLn.Close()
			httpLn.Close()
			return nil, err
		}
		n.pprofSrv = newPprofServer(cfg.HTTPReadHeaderTimeout)
	}
	n.httpLn = api.LimitListener(httpLn, api.ConnLimits{
		Max: cfg.HTTPMaxConns, PerAddr: cfg.HTTPMaxConnsPerAddr, Logger: logging.Actor(cfg.Logger, "HTTP_SERVER"),
	})
	n.cfg.Port = wsPort
	n.cfg.HTTPPort = n.httpLn.Addr().(*net.TCPAddr).Port
	if n.cfg.Advertise == "" {
		n.cfg.Advertise = defaultAdvertise(cfg.Host)
	}

	n.chain = c
	self := consensus.Member{ID: n.id, Host: n.cfg.Advertise, Port: strconv.Itoa(wsPort),
		Key: base64.StdEncoding.EncodeToString(identity.Public(key))}
	if peersReach(n.cfg.HTTPHost, n.cfg.Advertise) {
		self.HTTPPort = strconv.Itoa(n.cfg.HTTPPort)
	}
	via := ""
	if cfg.PeerPort != 0 {
		via = cfg.PeerID
	}
	n.engine, err = cfg.Engine(consensus.Env{
		Self:         self,
		Chain:        n.chain,
		Store:        st,
		Bootstrap:    cfg.PeerPort == 0,
		JoinVia:      via,
		Rekeyed:      formerID != "",
		JoinToken:    cfg.JoinToken,
		FounderToken: n.founderToken,
		Session:      randomSession(),
		Tick:         n.cfg.Tick,
		RemoveAfter:  n.cfg.RemoveAfter,
		WriteTimeout: n.cfg.WriteTimeout,
		Now:          n.clock.Now,
		Mine:         cfg.Mine,
		Logger:       logging.Actor(cfg.Logger, "CONSENSUS"),
	})
	if err != nil {
		n.closeListeners()
		return nil, err
	}
	if _, ok := n.engine.(consensus.Miner); ok && cfg.Mine {
		n.miner = newMiner(cfg.Miners)
	}
	rules := n.engine.Name()
	if r, ok := n.engine.(consensus.Ruler); ok {
		rules = r.Rules()
	}
	if j, ok := n.engine.(consensus.Joiner); ok {
		n.restarted = j.Resumed()
	}
	n.legacy = newLegacyBridge(n)
	var legacyHandler http.Handler = n.legacy
	if !n.importsBlocks() {
		// The original's peers speak classic blocks, which only an
		// engine that takes whole blocks from outside can use.
		legacyHandler = nil
	}
	n.host = p2p.New(p2p.Config{
		Legacy:  legacyHandler,
		Self:    wire.PeerInfo{ID: n.id, Host: self.Host, Port: self.Port, HTTPPort: self.HTTPPort},
		Key:     key,
		Genesis: block.GenesisHash,
		Engine:  rules,
		Logger:  cfg.Logger,
	})
	n.tr = cfg.Transport
	if n.tr == nil {
		n.tr = n.host.Transport()
	}
	peers, err := loadPeers(st)
	if err != nil {
		n.chainL.Warn("ignoring the stored peer list", "err", err)
	}
	for _, p := range peers {
		n.host.AddKnown(p)
	}
	m.reg.MustRegister(nodeCollector{n})
	// Neither server has a ReadTimeout or a WriteTimeout: they would end
	// WebSocket links, event streams and writes waiting for their block.
	// The API bounds bodies and answers itself (api.Options).
	n.wsSrv = &http.Server{Handler: n.host, ReadHeaderTimeout: cfg.HTTPReadHeaderTimeout, IdleTimeout: cfg.HTTPIdleTimeout}
	n.httpSrv = &http.Server{
		Handler: api.NewHandler(n, api.Options{
			Logger: cfg.Logger, WriteTimeout: cfg.WriteTimeout, BodyTimeout: cfg.HTTPBodyTimeout,
			Metrics: m.handler, ObserveRequest: m.observeRequest, VHosts: cfg.HTTPVHosts,
			Root: explorer.Handler(),
		}),
		ReadHeaderTimeout: cfg.HTTPReadHeaderTimeout,
		IdleTimeout:       cfg.HTTPIdleTimeout,
	}
	return n, nil
}

func (n *Node) closeListeners() {
	n.wsLn.Close()
	if n.httpLn != nil {
		n.httpLn.Close()
	}
	if n.pprofLn != nil {
		n.pprofLn.Close()
	}
}

func randomSession() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return binary.LittleEndian.Uint64(b[:])
}

// defaultAdvertise picks the host peers should dial when none is given:
// the bind address if it is a specific one, else this machine's first
// non-loopback address, else loopback.
func defaultAdvertise(bind string) string {
	if ip := net.ParseIP(bind); bind != "" && (ip == nil || !ip.IsUnspecified()) {
		return bind
	}
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil && ipn.IP.IsGlobalUnicast() {
				return ipn.IP.String()
			}
		}
	}
	return "127.0.0.1"
}

// ID returns the node id.
func (n *Node) ID() string { return n.id }

// Port returns the WebSocket (peer) port.
func (n *Node) Port() int { return n.cfg.Port }

// HTTPAddr returns the address the HTTP API listens on.
func (n *Node) HTTPAddr() string { return n.httpLn.Addr().String() }

// HTTPURL returns a URL of the HTTP API: on the address it binds, or on
// the advertised host when it binds every interface.
func (n *Node) HTTPURL() string {
	return "http://" + net.JoinHostPort(httpURLHost(n.cfg.HTTPHost, n.cfg.Advertise), strconv.Itoa(n.cfg.HTTPPort))
}

// httpURLHost is the host of a URL of an API bound to bind.
func httpURLHost(bind, advertise string) string {
	if ip := net.ParseIP(bind); ip != nil && ip.IsUnspecified() {
		return advertise
	}
	return bind
}

// peersReach reports whether other nodes, which dial advertise, can reach
// an API bound to bind: the HTTP port is told to peers only then.
func peersReach(bind, advertise string) bool {
	return !isLoopback(bind) || isLoopback(advertise)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ChainView is what callers outside the node may do with its chain:
// read it and follow its events. Only the engine writes to it.
type ChainView interface {
	Tip() block.Block
	Len() uint64
	Block(index uint64) (block.Block, error)
	Blocks(from uint64) iter.Seq2[block.Block, error]
	Subscribe(buffer int) *chain.Subscription
	Healthy() bool
}

// Chain returns a read-only view of the node's chain: a value that holds
// the chain without being it, so that no type assertion gets the writable
// chain back.
func (n *Node) Chain() ChainView { return chainView{n.chain} }

// chainView is ChainView over a chain.
type chainView struct{ c *chain.Chain }

func (v chainView) Tip() block.Block                                 { return v.c.Tip() }
func (v chainView) Len() uint64                                      { return v.c.Len() }
func (v chainView) Block(i uint64) (block.Block, error)              { return v.c.Block(i) }
func (v chainView) Blocks(from uint64) iter.Seq2[block.Block, error] { return v.c.Blocks(from) }
func (v chainView) Subscribe(buffer int) *chain.Subscription         { return v.c.Subscribe(buffer) }
func (v chainView) Healthy() bool                                    { return v.c.Healthy() }

// importsBlocks reports whether the engine takes whole blocks from
// outside its network (consensus.Importer), as a legacy peer's chain
// needs.
func (n *Node) importsBlocks() bool {
	_, ok := n.engine.(consensus.Importer)
	return ok
}

// Close releases what New took when Run was never called: the ports and
// the store (and its goroutines). Once Run has started, Run owns them and
// releases them when it returns; Close then does nothing. Closing twice
// is harmless; Run after Close returns ErrClosed.
func (n *Node) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.running || n.closed {
		return nil
	}
	n.closed = true
	n.closeListeners()
	_ = n.host.Close()
	n.legacy.close()
	return n.store.Close()
}

// Run serves until ctx is cancelled, then stops everything it started.
// A node that cannot join its peer returns the error.
func (n *Node) Run(ctx context.Context) error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return ErrClosed
	}
	if n.running {
		n.mu.Unlock()
		return errors.New("node: already running")
	}
	n.running = true
	n.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 8) // room for every goroutine that may fail, and join
	goRun := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil {
				errc <- err
				cancel()
			}
		}()
	}
	rpcL := logging.Actor(n.log, "RPC_SERVER")
	rpcL.Info("Starting RPC server on port " + n.bindAddr(n.cfg.Port))
	wsLn := n.host.Listener(n.wsLn) // before any POST /peers can ask whether an address is ours
	goRun(func() error { return serve(n.wsSrv, wsLn) })
	goRun(func() error { return n.host.Run(ctx) })
	goRun(func() error { n.loop(ctx); return nil })
	goRun(func() error { n.legacy.run(ctx); return nil })
	if n.miner != nil {
		n.miner.start(ctx, &wg)
	}
	n.chainL.Info(fmt.Sprintf("Node %s live on %s", n.id, n.bindAddr(n.cfg.Port)))
	if t := n.JoinToken(); t != "" {
		n.chainL.Info(fmt.Sprintf("Other nodes join this network with: naivechain -p <port> -pid %s -phost %s -pport %d --join-token %s",
			n.id, n.cfg.Advertise, n.cfg.Port, t), "token_file", filepath.Join(n.cfg.DataDir, TokenFile))
	}

	switch {
	case n.restarted:
		n.chainL.Info("Restarted from the data dir", "blocks", n.chain.Len())
		if n.cfg.PeerPort != 0 {
			// Already a member: the peer is one more address to dial.
			goRun(func() error {
				if info, err := n.host.Connect(ctx, n.cfg.PeerHost, strconv.Itoa(n.cfg.PeerPort), ""); err == nil {
					n.host.AddKnown(info) // the operator gave it
				}
				return nil
			})
		}
	case n.cfg.PeerPort != 0:
		n.chainL.Info("Peer Discovered")
		if err := n.join(ctx); err != nil {
			errc <- err
			cancel()
		}
	default:
		n.chainL.Info("No Peer Specified. Intializing genesis block for standalone operation")
	}
	goRun(func() error { return serve(n.httpSrv, n.httpLn) })
	if n.pprofSrv != nil {
		goRun(func() error { return serve(n.pprofSrv, n.pprofLn) })
		logging.Actor(n.log, "HTTP_SERVER").Info("Serving the profiler on http://"+n.PprofAddr()+"/debug/pprof/", "pprof_addr", n.PprofAddr())
	}
	logging.Actor(n.log, "HTTP_SERVER").Info(fmt.Sprintf("Running on http://%s/ (Press CTRL+C to quit)", net.JoinHostPort(n.cfg.HTTPHost, strconv.Itoa(n.cfg.HTTPPort))))

	<-ctx.Done()
	shutdownCtx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	_ = n.httpSrv.Shutdown(shutdownCtx)
	if n.pprofSrv != nil {
		stopServer(shutdownCtx, n.pprofSrv)
	}
	_ = n.host.Close()
	_ = n.wsSrv.Shutdown(shutdownCtx)
	wg.Wait()
	n.legacy.close()
	if err := savePeers(n.store, n.host.Known()); err != nil {
		n.chainL.Warn("cannot keep the peer list", "err", err)
	}
	if err := n.store.Close(); err != nil {
		n.chainL.Warn("closing the store", "err", err)
	}
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// bindAddr is host:port as the user gave it (0.0.0.0 when no host was
// given), for log lines in the original's style.
func (n *Node) bindAddr(port int) string {
	host := n.cfg.Host
	if host == "" {
		host = "0.0.0.0"
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

func serve(srv *http.Server, ln net.Listener) error {
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// join connects to the configured peer (checking its id) and asks it to
// admit this node. Admission itself proceeds in the engine.
func (n *Node) join(ctx context.Context) error {
	n.chainL.Info("Joining remote peer", "host", n.cfg.PeerHost, "port", n.cfg.PeerPort)
	deadline := n.clock.Now().Add(n.cfg.JoinTimeout)
	var last error
	for attempt := 0; ; attempt++ {
		info, err := n.host.Connect(ctx, n.cfg.PeerHost, strconv.Itoa(n.cfg.PeerPort), n.cfg.PeerID)
		if err == nil {
			n.host.AddKnown(info) // the operator gave it
			n.chainL.Info("Intializing data sync peer", "peer", info.ID)
			if err := n.call(ctx, func() {
				if j, ok := n.engine.(consensus.Joiner); ok {
					j.Join(info.ID)
				}
			}); err != nil {
				return err
			}
			return n.awaitAdmission(ctx, info.ID, deadline)
		}
		if errors.Is(err, p2p.ErrLegacy) && !n.importsBlocks() {
			return fmt.Errorf("cannot join %s:%d: it speaks the original protocol, which has no proof of work", n.cfg.PeerHost, n.cfg.PeerPort)
		}
		if errors.Is(err, p2p.ErrLegacy) {
			n.chainL.Info("Peer speaks the original protocol; joining its network as a legacy peer")
			return n.legacy.join(ctx, n.cfg.PeerHost, strconv.Itoa(n.cfg.PeerPort), n.cfg.PeerID)
		}
		if errors.Is(err, p2p.ErrIDMismatch) || errors.Is(err, p2p.ErrRejected) || errors.Is(err, p2p.ErrIncompatible) || errors.Is(err, p2p.ErrSelf) {
			return fmt.Errorf("cannot join %s:%d: %w", n.cfg.PeerHost, n.cfg.PeerPort, err)
		}
		last = err
		if ctx.Err() != nil {
			return ctx.Err() // told to stop: the dial failed for that, say nothing of it
		}
		if n.clock.Now().After(deadline) {
			return fmt.Errorf("cannot reach peer %s:%d: %w", n.cfg.PeerHost, n.cfg.PeerPort, last)
		}
		if attempt%10 == 0 {
			n.chainL.Warn("peer not reachable yet, retrying", "err", err)
		}
		// The wait between dials is on the node's clock, as the deadline is.
		t := n.clock.NewTicker(min(time.Duration(attempt+1)*200*time.Millisecond, 2*time.Second))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C():
		}
		t.Stop()
	}
}

// founderToken is consensus.Env.FounderToken: the join token of the
// network this node founds (or founded), the one in its data dir, created
// when create is set (the store holds no network yet; the one the node
// was given, if any). A member restarted without one has none: its
// network's token is in the replicated state.
func (n *Node) founderToken(create bool) (string, error) {
	t, err := founderToken(n.cfg.DataDir, create, n.cfg.JoinToken)
	if err != nil {
		return "", err
	}
	n.joinToken.Store(&t)
	return t, nil
}

// JoinToken returns the join token of the network this node founded, ""
// if it founded none.
func (n *Node) JoinToken() string {
	if t := n.joinToken.Load(); t != nil {
		return *t
	}
	return ""
}

// NetworkToken returns the join token of this node's network as far as the
// node knows it: its own if it founded the network, else the one in the
// network's replicated state ("" until applied here).
func (n *Node) NetworkToken(ctx context.Context) (string, error) {
	if t := n.JoinToken(); t != "" {
		return t, nil
	}
	adm, ok := n.engine.(consensus.Admission)
	if !ok {
		return "", nil
	}
	var t string
	err := n.call(ctx, func() { t = adm.Token() })
	return t, err
}

// awaitAdmission waits until the member asked admits this node or refuses
// it for its token (ErrJoinRefused), at most until deadline; past it the
// engine goes on asking while the node runs.
func (n *Node) awaitAdmission(ctx context.Context, via string, deadline time.Time) error {
	adm, ok := n.engine.(consensus.Admission)
	if !ok {
		return nil
	}
	t := n.clock.NewTicker(n.cfg.Tick)
	defer t.Stop()
	for {
		var admitted bool
		var denied string
		if err := n.call(ctx, func() { admitted, denied = adm.JoinState() }); err != nil {
			return err
		}
		switch {
		case denied != "":
			return fmt.Errorf("%w: %s", ErrJoinRefused, denied)
		case admitted:
			n.chainL.Info("Admitted by the network", "via", via)
			return nil
		case n.clock.Now().After(deadline):
			n.chainL.Warn("not admitted yet; still asking", "via", via)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C():
		}
	}
}
