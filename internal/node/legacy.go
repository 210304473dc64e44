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

	"naivechain/internal/block"
	"naivechain/internal/consensus"
	"naivechain/internal/legacy"
	"naivechain/internal/logging"
)

// legacyBridge speaks PyNaive Chain's protocol with legacy (Python) peers:
// one JSON message per connection. To a legacy peer this node looks like
// one more original node; among themselves the native nodes agree through
// their consensus engine, into which blocks taken from legacy peers are
// proposed as they are.
type legacyBridge struct {
	n   *Node
	log *slog.Logger

	mu    sync.Mutex
	peers map[string]legacy.Peer // id -> address
	// validated holds the blocks this node answered ACK to, by hash, so
	// that an ADD_BLOCK is taken only for a block it validated.
	validated map[string]block.Block
	// joining is set while this node joins a legacy network: the upload
	// it waits for.
	joining chan legacy.DataUpload

	wg   sync.WaitGroup // background sends
	stop chan struct{}
}

// Bounds of what the bridge remembers.
const (
	maxLegacyPeers     = 256
	maxValidatedBlocks = 1024
)

func newLegacyBridge(n *Node) *legacyBridge {
	return &legacyBridge{
		n:         n,
		log:       logging.Actor(n.log, "PROTOCOL_PROCESSOR"),
		peers:     make(map[string]legacy.Peer),
		validated: make(map[string]block.Block),
		stop:      make(chan struct{}),
	}
}

// ServeHTTP serves one legacy connection.
func (lb *legacyBridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	legacy.Serve(w, r, lb.handle)
}

// close stops the bridge's background sends and waits for them.
func (lb *legacyBridge) close() {
	close(lb.stop)
	lb.wg.Wait()
}

// goSend runs f in the background, bounded by the legacy timeout.
func (lb *legacyBridge) goSend(f func(ctx context.Context)) {
	lb.wg.Add(1)
	go func() {
		defer lb.wg.Done()
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
}

// addPeer records a legacy peer. The original always announces host
// "0.0.0.0"; the address the connection came from replaces it.
func (lb *legacyBridge) addPeer(p legacy.Peer, remoteHost string) legacy.Peer {
	if p.Host == "" || p.Host == "0.0.0.0" || p.Host == "::" {
		p.Host = remoteHost
	}
	if p.ID == lb.n.id {
		return p
	}
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if _, ok := lb.peers[p.ID]; !ok && len(lb.peers) < maxLegacyPeers {
		lb.peers[p.ID] = p
		lb.log.Info("legacy peer added", "peer", p.ID, "addr", net.JoinHostPort(p.Host, p.Port))
	}
	return p
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
		p := lb.addPeer(legacy.Peer{ID: m.PeerID, Host: m.PeerHost, Port: m.PeerPort}, remoteHost)
		// The original uploads before it answers; so do we. A Python
		// joiner sends its join before its own server listens: retry
		// briefly, well within the joiner's 10 s wait for our answer.
		ctx, cancel := context.WithTimeout(context.Background(), legacy.Timeout/2)
		defer cancel()
		for {
			err := lb.upload(ctx, p)
			if err == nil {
				break
			}
			select {
			case <-ctx.Done():
				lb.log.Warn("data upload to legacy peer failed", "peer", p.ID, "err", err)
				return legacy.ReplyACK
			case <-lb.stop:
				return legacy.ReplyACK
			case <-time.After(100 * time.Millisecond):
			}
		}
		return legacy.ReplyACK
	case legacy.DataUpload:
		lb.log.Info("NEW_PEER_JOIN_DATA_UPLOAD recieved", "peers", len(m.Peers), "blocks", len(m.Blocks))
		lb.takeUpload(remoteHost, m)
		return legacy.ReplyACK
	case legacy.AddPeer:
		lb.addPeer(legacy.Peer{ID: m.PeerID, Host: m.PeerHost, Port: m.PeerPort}, remoteHost)
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
		lb.validated[mine.CurrHash] = mine
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
		lb.goSend(func(ctx context.Context) {
			self := lb.self()
			_, _ = legacy.Send(ctx, p.Host, p.Port, legacy.Join{PeerID: self.ID, PeerHost: self.Host, PeerPort: self.Port})
		})
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
		p = lb.addPeer(p, remoteHost)
		lb.goSend(func(ctx context.Context) {
			self := lb.self()
			if _, err := legacy.Send(ctx, p.Host, p.Port, legacy.AddPeer{PeerID: self.ID, PeerHost: self.Host, PeerPort: self.Port}); err != nil {
				lb.log.Warn("ADD_PEER to legacy peer failed", "peer", p.ID, "err", err)
			}
		})
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

// upload sends a joining legacy peer our peers and our whole chain.
func (lb *legacyBridge) upload(ctx context.Context, to legacy.Peer) error {
	up := legacy.DataUpload{}
	for _, p := range lb.n.host.Peers() {
		up.Peers = append(up.Peers, legacy.Peer{ID: p.ID, Host: p.Host, Port: p.Port})
	}
	for _, p := range lb.peerList() {
		if p.ID != to.ID {
			up.Peers = append(up.Peers, p)
		}
	}
	for b, err := range lb.n.chain.Blocks(0) {
		if err != nil {
			return err
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
	token, err := founderToken(lb.n.cfg.DataDir, true)
	if err != nil {
		return err
	}
	lb.n.joinToken.Store(&token)
	if err := lb.n.call(ctx, func() {
		if adm, ok := lb.n.engine.(consensus.Admission); ok {
			adm.UseToken(token)
		}
		if err := lb.n.engine.Found(); err != nil {
			lb.log.Error("cannot form a network", "err", err)
		}
	}); err != nil {
		return err
	}
	if id != "" {
		lb.addPeer(legacy.Peer{ID: id, Host: host, Port: port}, host)
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

// announce hands a block this node's network committed to the legacy
// peers, as an original node would: VALIDATE_BLOCK to all, and ADD_BLOCK to
// all when a majority of them answered ACK. It reports whether they took it.
func (lb *legacyBridge) announce(ctx context.Context, b block.Block) bool {
	peers := lb.peerList()
	if len(peers) == 0 {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, legacy.Timeout)
	defer cancel()
	acks := lb.sendAll(ctx, peers, legacy.Validate{Block: b})
	if acks*2 <= len(peers) {
		lb.log.Warn("legacy peers refused the block", "index", b.Index, "acks", acks, "peers", len(peers))
		return false
	}
	add, err := legacy.NewAddBlock(json.RawMessage(b.Data))
	if err != nil {
		lb.log.Warn("block data is not a JSON value; legacy peers cannot take it", "index", b.Index, "err", err)
		return false
	}
	lb.sendAll(ctx, peers, add)
	return true
}

// sendAll sends m to every peer at once and counts the ACKs.
func (lb *legacyBridge) sendAll(ctx context.Context, peers []legacy.Peer, m legacy.Message) int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	acks := 0
	for _, p := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reply, err := legacy.Send(ctx, p.Host, p.Port, m)
			if err != nil {
				lb.log.Warn("legacy peer unreachable", "peer", p.ID, "err", err)
				return
			}
			if reply == legacy.ReplyACK {
				mu.Lock()
				acks++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return acks
}

// legacyRetry bounds how long the node retries proposing blocks while its
// network has no leader.
const legacyRetry = 5 * time.Second

// proposeBlocks proposes blocks taken from a legacy peer to the native
// network, retrying while no leader is known.
func (n *Node) proposeBlocks(blocks []block.Block) error {
	ctx, cancel := context.WithTimeout(context.Background(), legacyRetry)
	defer cancel()
	for {
		var err error
		if cerr := n.call(ctx, func() { err = n.engine.ProposeBlocks(blocks) }); cerr != nil {
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

// introduceEvery is how often the bridge introduces native and legacy
// peers to each other.
const introduceEvery = time.Second

// run introduces every native peer to every legacy peer and back, with
// ADD_PEER messages, until ctx ends. A legacy peer learns only the native
// node it joined; this lets all of them write to each other.
func (lb *legacyBridge) run(ctx context.Context) {
	t := time.NewTicker(introduceEvery)
	defer t.Stop()
	introduced := make(map[[2]string]bool)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		legacies := lb.peerList()
		if len(legacies) == 0 {
			continue
		}
		for _, nat := range lb.n.host.Peers() {
			for _, leg := range legacies {
				key := [2]string{nat.ID, leg.ID}
				if introduced[key] || nat.ID == leg.ID {
					continue
				}
				sctx, cancel := context.WithTimeout(ctx, legacy.Timeout)
				_, err1 := legacy.Send(sctx, nat.Host, nat.Port, legacy.AddPeer{PeerID: leg.ID, PeerHost: leg.Host, PeerPort: leg.Port})
				_, err2 := legacy.Send(sctx, leg.Host, leg.Port, legacy.AddPeer{PeerID: nat.ID, PeerHost: nat.Host, PeerPort: nat.Port})
				cancel()
				if err1 == nil && err2 == nil {
					introduced[key] = true
				}
			}
		}
	}
}
