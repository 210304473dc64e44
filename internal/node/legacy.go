package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/legacy"
	"github.com/naivechain/naivechain/internal/logging"
	"github.com/naivechain/naivechain/internal/wire"
)

// legacyBridge speaks PyNaive Chain's protocol with legacy (Python) peers:
// one JSON message per connection. To a legacy peer this node looks like
// one more original node; among themselves the native nodes agree through
// their consensus engine, into which blocks taken from legacy peers are
// proposed as they are.
type legacyBridge struct {
	n      *Node
	log    *slog.Logger
	server *legacy.Server
	now    func() time.Time // the clock of the quarantine; tests replace it

	// announcements queues the blocks this node committed, in order, for
	// announceLoop to hand to the legacy peers off the write path.
	announcements chan block.Block

	mu    sync.Mutex
	peers map[string]legacy.Peer // id -> address
	// source is, by peer id, the host of the connection that told us of
	// the peer, to bound how many peers one host can add.
	source map[string]string
	// quarantine holds, until when, the ids and addresses of peers
	// dropped for failing, so that they are not added back at once.
	quarantine map[string]time.Time
	// validated holds the hashes of the blocks this node answered ACK
	// to, so that an ADD_BLOCK is taken only for a block it validated.
	validated map[string]struct{}
	// joining is set while this node joins a legacy network: the upload
	// it waits for.
	joining chan legacy.DataUpload

	wg      sync.WaitGroup // background sends
	sends   chan struct{}  // a slot per background send in flight
	uploads chan struct{}  // a slot per upload being built and sent
	stop    chan struct{}
}

// Bounds of what legacy peers, and strangers speaking their protocol, can
// make the bridge remember and do.
const (
	// maxLegacyPeers bounds the legacy peers known at once, and
	// maxLegacyPeersPerSource those added through the connections of
	// one host (its own ADD_PEER and NEW_PEER_JOIN, and the peers its
	// uploads list).
	maxLegacyPeers          = 128
	maxLegacyPeersPerSource = 32
	// legacyQuarantine is how long a legacy peer dropped for failing
	// an exchange cannot be added back, under its id or its address.
	legacyQuarantine = time.Minute
	maxQuarantined   = 1024
	// maxValidatedBlocks bounds the hashes remembered for ADD_BLOCK.
	maxValidatedBlocks = 1024
	// maxAnnouncements bounds the committed blocks waiting to be handed
	// to legacy peers; past it they are not handed (and logged).
	maxAnnouncements = 1024
	// maxLegacySends bounds the background sends in flight (ADD_PEER
	// after an upload, NEW_PEER_JOIN to resync, introductions); past it
	// a send is skipped.
	maxLegacySends = 32
	// maxLegacyUploads bounds the uploads of our chain to joiners being
	// built and sent at once; each holds up to about three times
	// legacy.MaxFrame.
	maxLegacyUploads = 2
)

func newLegacyBridge(n *Node) *legacyBridge {
	lb := &legacyBridge{
		n:             n,
		log:           logging.Actor(n.log, "PROTOCOL_PROCESSOR"),
		now:           n.clock.Now,
		announcements: make(chan block.Block, maxAnnouncements),
		peers:         make(map[string]legacy.Peer),
		source:        make(map[string]string),
		quarantine:    make(map[string]time.Time),
		validated:     make(map[string]struct{}),
		sends:         make(chan struct{}, maxLegacySends),
		uploads:       make(chan struct{}, maxLegacyUploads),
		stop:          make(chan struct{}),
	}
	lb.server = legacy.NewServer(legacy.Limits{}, lb.handle)
	return lb
}

// ServeHTTP serves one legacy connection, within the server's limits.
func (lb *legacyBridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	lb.server.ServeHTTP(w, r)
}

// close stops the bridge's background sends and waits for them.
func (lb *legacyBridge) close() {
	close(lb.stop)
	lb.wg.Wait()
}

// goSend runs f in the background, bounded by the legacy timeout, when
// fewer than maxLegacySends run; otherwise it skips f and reports false.
func (lb *legacyBridge) goSend(f func(ctx context.Context)) bool {
	select {
	case lb.sends <- struct{}{}:
	default:
		return false
	}
	lb.wg.Add(1)
	go func() {
		defer lb.wg.Done()
		defer func() { <-lb.sends }()
		ctx, cancel := context.WithTimeout(context.Background(), legacy.Timeout)
		defer cancel()
		go func() {
			select {
			case <-lb.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		f(ctx)
	}()
	return true
}

// addPeer records a legacy peer that the connection from remoteHost told
// us of, and reports whether it is new. The original always announces host
// "0.0.0.0"; the address the connection came from replaces it. A peer is
// not added past maxLegacyPeers, past maxLegacyPeersPerSource from one
// remoteHost, or while its id or address is in quarantine.
func (lb *legacyBridge) addPeer(p legacy.Peer, remoteHost string) (legacy.Peer, bool) {
	if p.Host == "" || p.Host == "0.0.0.0" || p.Host == "::" || !lb.n.isNativeHost(remoteHost) {
		// The original always announces 0.0.0.0. Any other address is
		// believed only from a native member's host (its introductions):
		// a stranger names at most ports of its own address.
		p.Host = remoteHost
	}
	if p.ID == lb.n.id || lb.n.isNativePeer(p.ID) || lb.n.isNativeAddr(p.Host, p.Port) {
		// A native node speaks the native protocol: a legacy record of it
		// (an ADD_PEER naming its id or address) is never taken.
		return p, false
	}
	addr := net.JoinHostPort(p.Host, p.Port)
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if _, ok := lb.peers[p.ID]; ok {
		return p, false
	}
	now := lb.now()
	for _, key := range []string{p.ID, addr} {
		if until, ok := lb.quarantine[key]; ok {
			if now.Before(until) {
				lb.log.Debug("legacy peer in quarantine; not added", "peer", p.ID, "addr", addr)
				return p, false
			}
			delete(lb.quarantine, key)
		}
	}
	fromSource := 0
	for _, src := range lb.source {
		if src == remoteHost {
			fromSource++
		}
	}
	if len(lb.peers) >= maxLegacyPeers || fromSource >= maxLegacyPeersPerSource {
		lb.log.Warn("too many legacy peers; not added", "peer", p.ID, "addr", addr, "from", remoteHost)
		return p, false
	}
	lb.peers[p.ID] = p
	lb.source[p.ID] = remoteHost
	lb.log.Info("legacy peer added", "peer", p.ID, "addr", addr)
	return p, true
}

// drop forgets a legacy peer that failed an exchange and keeps its id and
// address in quarantine for legacyQuarantine: a peer that stalls or is gone
// would otherwise cost every later round a timeout.
func (lb *legacyBridge) drop(p legacy.Peer, err error) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if known, ok := lb.peers[p.ID]; !ok || known != p {
		return
	}
	delete(lb.peers, p.ID)
	delete(lb.source, p.ID)
	now := lb.now()
	if len(lb.quarantine)+2 > maxQuarantined {
		for key, until := range lb.quarantine {
			if !now.Before(until) || len(lb.quarantine)+2 > maxQuarantined {
				delete(lb.quarantine, key)
			}
		}
	}
	until := now.Add(legacyQuarantine)
	lb.quarantine[p.ID] = until
	lb.quarantine[net.JoinHostPort(p.Host, p.Port)] = until
	lb.log.Warn("legacy peer dropped", "peer", p.ID, "addr", net.JoinHostPort(p.Host, p.Port), "for", legacyQuarantine, "err", err)
}

// isPeer reports whether p is a known legacy peer, at p's address.
func (lb *legacyBridge) isPeer(p legacy.Peer) bool {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	known, ok := lb.peers[p.ID]
	return ok && known == p
}

// forget forgets a legacy peer without quarantine.
func (lb *legacyBridge) forget(p legacy.Peer) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if known, ok := lb.peers[p.ID]; ok && known == p {
		delete(lb.peers, p.ID)
		delete(lb.source, p.ID)
	}
}

func (lb *legacyBridge) peerList() []legacy.Peer {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	out := make([]legacy.Peer, 0, len(lb.peers))
	for _, p := range lb.peers {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b legacy.Peer) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// self is how this node introduces itself to legacy peers.
func (lb *legacyBridge) self() legacy.Peer {
	return legacy.Peer{ID: lb.n.id, Host: lb.n.cfg.Advertise, Port: strconv.Itoa(lb.n.cfg.Port)}
}

// handle answers one legacy message.
func (lb *legacyBridge) handle(remoteHost string, m legacy.Message) string {
	switch m := m.(type) {
	case legacy.Join:
		lb.log.Info("NEW_PEER_JOIN recieved", "peer", m.PeerID)
		p, added := lb.addPeer(legacy.Peer{ID: m.PeerID, Host: m.PeerHost, Port: m.PeerPort}, remoteHost)
		if !added && !lb.isPeer(p) {
			// In quarantine, past a bound, or ourselves: no upload.
			return legacy.ReplyKCA
		}
		// The original uploads before it answers; so do we. A Python
		// joiner sends its join before its own server listens: retry
		// briefly, well within the joiner's 10 s wait for our answer.
		ctx, cancel := context.WithTimeout(context.Background(), legacy.Timeout/2)
		defer cancel()
		wait := 50 * time.Millisecond // doubled before each retry: 5 dials in 5 s at most
		for {
			err := lb.upload(ctx, p)
			if err == nil {
				break
			}
			if errors.Is(err, errUploadRefused) {
				lb.log.Warn("no data upload to legacy peer", "peer", p.ID, "err", err)
				if added {
					lb.forget(p)
				}
				return legacy.ReplyKCA
			}
			wait = min(2*wait, time.Second)
			select {
			case <-ctx.Done():
				if added {
					// Never reached: not a peer to write to, and not to
					// be dialed again for a while.
					lb.drop(p, fmt.Errorf("data upload: %w", err))
				}
				return legacy.ReplyACK
			case <-lb.stop:
				return legacy.ReplyACK
			case <-time.After(wait):
			}
		}
		return legacy.ReplyACK
	case legacy.DataUpload:
		lb.log.Info("NEW_PEER_JOIN_DATA_UPLOAD recieved", "peers", len(m.Peers), "blocks", len(m.Blocks))
		lb.takeUpload(remoteHost, m)
		return legacy.ReplyACK
	case legacy.AddPeer:
		_, _ = lb.addPeer(legacy.Peer{ID: m.PeerID, Host: m.PeerHost, Port: m.PeerPort}, remoteHost)
		return legacy.ReplyACK
	case legacy.Validate:
		// The original's rule: the hash of json.dumps(json.loads(data))
		// on our tip.
		data, err := block.EncodeData(json.RawMessage(m.Block.Data))
		if err != nil {
			return legacy.ReplyKCA
		}
		tip := lb.n.chain.Tip()
		mine := block.Next(tip, data)
		if m.Block.CurrHash != mine.CurrHash {
			lb.log.Info("VALIDATE_BLOCK refused", "index", m.Block.Index, "tip", tip.Index)
			return legacy.ReplyKCA
		}
		lb.mu.Lock()
		if len(lb.validated) >= maxValidatedBlocks {
			clear(lb.validated)
		}
		lb.validated[mine.CurrHash] = struct{}{}
		lb.mu.Unlock()
		return legacy.ReplyACK
	case legacy.AddBlock:
		lb.takeBlock(remoteHost, m.Value)
		return legacy.ReplyACK
	case legacy.Ping:
		return legacy.ReplyPONG
	default:
		// The original answers ACK to anything else, and its writers send
		// the bare block after ADD_BLOCK: answer the same, change nothing.
		return legacy.ReplyACK
	}
}

// takeBlock takes an ADD_BLOCK: only the block this node validated, built
// on its tip, is proposed to the native network, as it is.
func (lb *legacyBridge) takeBlock(remoteHost string, value json.RawMessage) {
	data, err := block.EncodeData(value)
	if err != nil {
		lb.log.Warn("ADD_BLOCK with invalid data", "err", err)
		return
	}
	b := block.Next(lb.n.chain.Tip(), data)
	lb.mu.Lock()
	_, ok := lb.validated[b.CurrHash]
	delete(lb.validated, b.CurrHash)
	lb.mu.Unlock()
	if !ok {
		lb.log.Warn("ADD_BLOCK for a block not validated here; asking the legacy network for its chain", "index", b.Index)
		lb.resync(remoteHost)
		return
	}
	if err := lb.n.proposeBlocks([]block.Block{b}); err != nil {
		lb.log.Warn("cannot propose the legacy block", "err", err)
	}
}

// resync asks the legacy peers for their chain again (a NEW_PEER_JOIN
// makes the original upload it), to catch up with blocks we missed.
func (lb *legacyBridge) resync(remoteHost string) {
	for _, p := range lb.peerList() {
		if p.Host != remoteHost {
			continue
		}
		if !lb.goSend(func(ctx context.Context) {
			self := lb.self()
			if _, err := legacy.Send(ctx, p.Host, p.Port, legacy.Join{PeerID: self.ID, PeerHost: self.Host, PeerPort: self.Port}); err != nil {
				lb.drop(p, err)
			}
		}) {
			lb.log.Warn("too many legacy sends in flight; no resync", "peer", p.ID)
		}
	}
}

// takeUpload takes a legacy peer's peers and chain: the chain is checked
// whole, and the blocks our chain lacks are proposed to the native network
// when our chain is a prefix of it.
func (lb *legacyBridge) takeUpload(remoteHost string, up legacy.DataUpload) {
	lb.mu.Lock()
	if lb.joining != nil {
		select {
		case lb.joining <- up:
		default:
		}
	}
	lb.mu.Unlock()
	for _, p := range up.Peers {
		if lb.n.isNativePeer(p.ID) {
			continue
		}
		p, added := lb.addPeer(p, remoteHost)
		if !added {
			continue
		}
		if !lb.goSend(func(ctx context.Context) {
			self := lb.self()
			if _, err := legacy.Send(ctx, p.Host, p.Port, legacy.AddPeer{PeerID: self.ID, PeerHost: self.Host, PeerPort: self.Port}); err != nil {
				lb.drop(p, fmt.Errorf("ADD_PEER: %w", err))
			}
		}) {
			lb.log.Warn("too many legacy sends in flight; no ADD_PEER", "peer", p.ID)
		}
	}
	if err := block.CheckChain(up.Blocks); err != nil {
		lb.log.Warn("uploaded chain refused", "err", err)
		return
	}
	tip := lb.n.chain.Tip()
	if uint64(len(up.Blocks)) <= tip.Index+1 {
		return // nothing we lack
	}
	if up.Blocks[tip.Index] != tip {
		lb.log.Warn("uploaded chain forks from ours; not taken", "at", tip.Index)
		return
	}
	if err := lb.n.proposeBlocks(up.Blocks[tip.Index+1:]); err != nil {
		lb.log.Warn("cannot propose the uploaded blocks", "err", err)
	}
}

// errUploadRefused reports an upload this node will not send: its chain
// does not fit in one legacy frame, or too many uploads are in flight.
var errUploadRefused = errors.New("node: legacy upload refused")

// uploadOverhead bounds the bytes of one block's encoding in an upload
// beyond its escaped data: the keys, the index and the two hashes.
const uploadOverhead = 256

// upload sends a joining legacy peer our peers and our whole chain. A chain
// whose upload could not fit in legacy.MaxFrame is not sent: no receiver
// would take it.
func (lb *legacyBridge) upload(ctx context.Context, to legacy.Peer) error {
	select {
	case lb.uploads <- struct{}{}:
		defer func() { <-lb.uploads }()
	default:
		return fmt.Errorf("%w: %d uploads in flight", errUploadRefused, maxLegacyUploads)
	}
	up := legacy.DataUpload{}
	// Members only, at their addresses in the membership: the joiner
	// dials every peer listed, and a stranger's announced address must
	// never be one.
	for _, p := range lb.introducible(ctx, nil) {
		up.Peers = append(up.Peers, legacy.Peer{ID: p.ID, Host: p.Host, Port: p.Port})
	}
	for _, p := range lb.peerList() {
		if p.ID != to.ID {
			up.Peers = append(up.Peers, p)
		}
	}
	size := 0
	for b, err := range lb.n.chain.Blocks(0) {
		if err != nil {
			return err
		}
		// The data's escapes at most double it.
		if size += 2*len(b.Data) + uploadOverhead; size > legacy.MaxFrame {
			return fmt.Errorf("%w: the chain is longer than one legacy frame (%d bytes)", errUploadRefused, legacy.MaxFrame)
		}
		up.Blocks = append(up.Blocks, b)
	}
	reply, err := legacy.Send(ctx, to.Host, to.Port, up)
	if err != nil {
		return err
	}
	if reply != legacy.ReplyACK {
		return fmt.Errorf("legacy peer answered %q", reply)
	}
	return nil
}

// join joins a legacy network through the peer at host:port: this node
// forms its own native network, sends NEW_PEER_JOIN and takes the chain
// the peer uploads.
func (lb *legacyBridge) join(ctx context.Context, host, port, id string) error {
	up := make(chan legacy.DataUpload, 1)
	lb.mu.Lock()
	lb.joining = up
	lb.mu.Unlock()
	defer func() {
		lb.mu.Lock()
		lb.joining = nil
		lb.mu.Unlock()
	}()
	// The node founds a network of its own, which the original's nodes
	// join only through it: it keeps a join token like any founder.
	token, err := founderToken(lb.n.cfg.DataDir, true, lb.n.cfg.JoinToken)
	if err != nil {
		return err
	}
	lb.n.joinToken.Store(&token)
	if err := lb.n.call(ctx, func() {
		if adm, ok := lb.n.engine.(consensus.Admission); ok {
			adm.UseToken(token)
		}
		if j, ok := lb.n.engine.(consensus.Joiner); ok {
			if err := j.Found(); err != nil {
				lb.log.Error("cannot form a network", "err", err)
			}
		}
	}); err != nil {
		return err
	}
	if id != "" {
		_, _ = lb.addPeer(legacy.Peer{ID: id, Host: host, Port: port}, host)
	}
	self := lb.self()
	ctx, cancel := context.WithTimeout(ctx, legacy.Timeout)
	defer cancel()
	reply, err := legacy.Send(ctx, host, port, legacy.Join{PeerID: self.ID, PeerHost: self.Host, PeerPort: self.Port})
	if err != nil {
		return fmt.Errorf("legacy join: %w", err)
	}
	if reply != legacy.ReplyACK {
		return fmt.Errorf("legacy join: peer answered %q", reply)
	}
	select {
	case <-up:
		lb.log.Info("Saving data from remote peer")
		return nil
	case <-ctx.Done():
		return errors.New("legacy join: the peer sent no data upload")
	}
}

// announce queues blocks this node's network committed, in order, for
// announceLoop to hand to the legacy peers. It never waits: a write's
// answer does not depend on legacy peers, which the original's rule could
// not make refuse it anyway. Past maxAnnouncements waiting, blocks are not
// handed (legacy peers then refuse the later ones until they rejoin).
func (lb *legacyBridge) announce(blocks []block.Block) {
	for _, b := range blocks {
		select {
		case lb.announcements <- b:
		default:
			lb.log.Warn("too many blocks waiting for the legacy peers; not handed to them", "index", b.Index)
		}
	}
}

// announceLoop hands the queued blocks to the legacy peers, one at a time
// and in order, until ctx ends.
func (lb *legacyBridge) announceLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case b := <-lb.announcements:
			lb.handOver(ctx, b)
		}
	}
}

// handOver hands a block to the legacy peers as an original node would:
// VALIDATE_BLOCK to all, and ADD_BLOCK to all when a majority of them
// answered ACK. It reports whether they took it. A peer that fails an
// exchange is dropped, so it costs one round legacy.Timeout at most, and
// the majority is counted among the peers that answered: a dropped peer is
// no peer, and counting it as a refusal would let one stranger's black
// hole refuse every block to the others.
func (lb *legacyBridge) handOver(ctx context.Context, b block.Block) bool {
	peers := lb.peerList()
	if len(peers) == 0 {
		return true
	}
	acks, answered := lb.sendAll(ctx, peers, legacy.Validate{Block: b})
	if len(answered) == 0 || !legacy.Majority(acks, len(answered)) {
		lb.log.Warn("legacy peers refused the block", "index", b.Index, "acks", acks, "answered", len(answered), "peers", len(peers))
		return false
	}
	add, err := legacy.NewAddBlock(json.RawMessage(b.Data))
	if err != nil {
		lb.log.Warn("block data is not a JSON value; legacy peers cannot take it", "index", b.Index, "err", err)
		return false
	}
	lb.sendAll(ctx, answered, add)
	return true
}

// sendAll sends m to every peer at once, each exchange bounded by
// legacy.Timeout, drops those that fail, and returns the number of ACKs and
// the peers that answered.
func (lb *legacyBridge) sendAll(ctx context.Context, peers []legacy.Peer, m legacy.Message) (acks int, answered []legacy.Peer) {
	ctx, cancel := context.WithTimeout(ctx, legacy.Timeout)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, p := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reply, err := legacy.Send(ctx, p.Host, p.Port, m)
			if err != nil {
				if ctx.Err() == nil || errors.Is(ctx.Err(), context.DeadlineExceeded) {
					lb.drop(p, err)
				}
				return
			}
			mu.Lock()
			defer mu.Unlock()
			answered = append(answered, p)
			if reply == legacy.ReplyACK {
				acks++
			}
		}()
	}
	wg.Wait()
	return acks, answered
}

// legacyRetry bounds how long the node retries proposing blocks while its
// network has no leader.
const legacyRetry = 5 * time.Second

// proposeBlocks proposes blocks taken from a legacy peer to the native
// network, retrying while no leader is known.
func (n *Node) proposeBlocks(blocks []block.Block) error {
	im, ok := n.engine.(consensus.Importer)
	if !ok {
		return fmt.Errorf("the %s engine takes no blocks from legacy peers", n.engine.Name())
	}
	ctx, cancel := context.WithTimeout(context.Background(), legacyRetry)
	defer cancel()
	for {
		var err error
		if cerr := n.call(ctx, func() { err = im.ProposeBlocks(blocks) }); cerr != nil {
			return cerr
		}
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(n.cfg.Tick):
		}
	}
}

// isNativePeer reports whether id is a node speaking the native protocol.
func (n *Node) isNativePeer(id string) bool {
	for _, p := range n.host.Peers() {
		if p.ID == id {
			return true
		}
	}
	return false
}

// introducible returns the native peers to introduce to legacy peers:
// the connected members of this node's network, whose addresses are in
// its replicated membership, never a stranger's announced address, and
// none whose address failed an introduction within legacyQuarantine.
func (lb *legacyBridge) introducible(ctx context.Context, failed map[string]time.Time) []wire.PeerInfo {
	ms, err := lb.n.Members(ctx)
	if err != nil {
		return nil
	}
	now := lb.now()
	for addr, until := range failed {
		if !now.Before(until) {
			delete(failed, addr)
		}
	}
	var out []wire.PeerInfo
	for _, p := range lb.n.host.Peers() {
		for _, m := range ms {
			if m.ID == p.ID && m.ID != lb.n.id {
				p.Host, p.Port = m.Host, m.Port
				if _, bad := failed[net.JoinHostPort(p.Host, p.Port)]; !bad {
					out = append(out, p)
				}
			}
		}
	}
	return out
}

// isNativeAddr reports whether host:port is this node's or a connected
// native peer's advertised address (IP literals compared as IPs, and
// "localhost" as loopback; names are not resolved).
func (n *Node) isNativeAddr(host, port string) bool {
	if sameHost(host, n.cfg.Advertise) && port == strconv.Itoa(n.cfg.Port) {
		return true
	}
	for _, p := range n.host.Peers() {
		if sameHost(p.Host, host) && p.Port == port {
			return true
		}
	}
	return false
}

// isNativeHost reports whether host is a connected native peer's host,
// the very address (not any loopback one).
func (n *Node) isNativeHost(host string) bool {
	for _, p := range n.host.Peers() {
		if sameHost(p.Host, host) && (!isLoopback(host) || sameIP(p.Host, host)) {
			return true
		}
	}
	return false
}

func sameIP(a, b string) bool {
	x, y := net.ParseIP(a), net.ParseIP(b)
	return x != nil && y != nil && x.Equal(y)
}

// sameHost compares two hosts as IPs when both are IP literals (or
// "localhost", taken as loopback), else as names.
func sameHost(a, b string) bool {
	ip := func(h string) net.IP {
		if strings.EqualFold(h, "localhost") {
			return net.IPv4(127, 0, 0, 1)
		}
		return net.ParseIP(h)
	}
	x, y := ip(a), ip(b)
	if x != nil && y != nil {
		return x.Equal(y) || x.IsLoopback() && y.IsLoopback()
	}
	return strings.EqualFold(a, b)
}

// introduceEvery is how often the bridge introduces native and legacy
// peers to each other.
const introduceEvery = time.Second

// run hands committed blocks to the legacy peers and introduces native and
// legacy peers to each other, until ctx ends.
func (lb *legacyBridge) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		lb.announceLoop(ctx)
	}()
	lb.introduceLoop(ctx)
	wg.Wait()
}

// introduceLoop introduces every native peer to every legacy peer and
// back, with ADD_PEER messages, until ctx ends. A legacy peer learns only
// the native node it joined; this lets all of them write to each other.
// The introductions of one tick run at once, at most maxLegacySends of
// them; a legacy peer that fails one is dropped.
func (lb *legacyBridge) introduceLoop(ctx context.Context) {
	t := lb.n.clock.NewTicker(introduceEvery)
	defer t.Stop()
	introduced := make(map[[2]string]bool)
	failed := make(map[string]time.Time) // native addresses that failed an ADD_PEER, until
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		legacies := lb.peerList()
		if len(legacies) == 0 {
			continue
		}
		natives := lb.introducible(ctx, failed)
		current := make(map[[2]string]bool)
		var mu sync.Mutex
		var wg sync.WaitGroup
		slots := make(chan struct{}, maxLegacySends)
		for _, nat := range natives {
			for _, leg := range legacies {
				key := [2]string{nat.ID, leg.ID}
				if nat.ID == leg.ID {
					continue
				}
				if introduced[key] {
					current[key] = true
					continue
				}
				select {
				case slots <- struct{}{}:
				default:
					continue // next tick
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer func() { <-slots }()
					sctx, cancel := context.WithTimeout(ctx, legacy.Timeout)
					defer cancel()
					_, err1 := legacy.Send(sctx, nat.Host, nat.Port, legacy.AddPeer{PeerID: leg.ID, PeerHost: leg.Host, PeerPort: leg.Port})
					_, err2 := legacy.Send(sctx, leg.Host, leg.Port, legacy.AddPeer{PeerID: nat.ID, PeerHost: nat.Host, PeerPort: nat.Port})
					if err2 != nil && ctx.Err() == nil {
						lb.drop(leg, fmt.Errorf("ADD_PEER: %w", err2))
					}
					if err1 != nil && ctx.Err() == nil {
						mu.Lock()
						failed[net.JoinHostPort(nat.Host, nat.Port)] = lb.now().Add(legacyQuarantine)
						mu.Unlock()
					}
					if err1 == nil && err2 == nil {
						mu.Lock()
						current[key] = true
						mu.Unlock()
					}
				}()
			}
		}
		wg.Wait()
		// Only pairs still present are kept: peers come and go.
		introduced = current
	}
}
