package legacy

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"

	"github.com/naivechain/naivechain/internal/block"
)

// FakePeer is an in-memory PyNaive Chain node, for tests that must talk to
// the original without Python. It follows the original's protocol message for
// message (see the package documentation), and is correct where the original
// is trivially wrong: it validates uploaded chains, counts an unreachable
// peer as a refusal instead of crashing, answers PING, and replaces the
// "0.0.0.0" a sender announces with the address it sees.
//
// A FakePeer serves one WebSocket port, opened by Listen and closed by Close.
// Its methods are safe for concurrent use.
type FakePeer struct {
	id string

	ctx    context.Context // ends at Close; bounds every exchange
	cancel context.CancelFunc

	writeMu sync.Mutex // serialises Write, as one original node handles one POST at a time
	server  *Server

	mu       sync.Mutex
	port     string
	chain    []block.Block
	peers    map[string]Peer
	frames   []string
	closed   bool
	srv      *http.Server
	handlers sync.WaitGroup // ServeHTTP calls and the server loop
}

// NewFakePeer returns a node with id id, a chain holding block.Genesis() and
// no peers. It serves nothing until Listen.
func NewFakePeer(id string) *FakePeer {
	ctx, cancel := context.WithCancel(context.Background())
	f := &FakePeer{
		id:     id,
		ctx:    ctx,
		cancel: cancel,
		chain:  []block.Block{block.Genesis()},
		peers:  make(map[string]Peer),
	}
	f.server = NewServer(Limits{}, f.handle)
	f.server.onFrame = f.logFrame
	return f
}

// ID returns the node's id.
func (f *FakePeer) ID() string { return f.id }

// Port returns the port Listen opened, or "" before Listen.
func (f *FakePeer) Port() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.port
}

// Listen serves the node's WebSocket port on addr (such as "127.0.0.1:0")
// until Close, and returns the port it listens on. The node announces that
// port, with host "0.0.0.0", in the messages it sends.
func (f *FakePeer) Listen(addr string) (port string, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("legacy: fake peer %s: %w", f.id, err)
	}
	_, port, _ = net.SplitHostPort(ln.Addr().String())
	f.mu.Lock()
	if f.closed || f.srv != nil {
		f.mu.Unlock()
		ln.Close()
		return "", fmt.Errorf("legacy: fake peer %s: already listening or closed", f.id)
	}
	f.port = port
	f.srv = &http.Server{Handler: f, BaseContext: func(net.Listener) context.Context { return f.ctx }}
	srv := f.srv
	f.handlers.Add(1)
	f.mu.Unlock()
	go func() {
		defer f.handlers.Done()
		_ = srv.Serve(ln)
	}()
	return port, nil
}

// Close stops the node: it ends every exchange in flight, closes the port and
// returns once every goroutine the node started has ended.
func (f *FakePeer) Close() error {
	f.mu.Lock()
	f.closed = true
	srv := f.srv
	f.mu.Unlock()
	f.cancel()
	var err error
	if srv != nil {
		err = srv.Close()
	}
	f.handlers.Wait()
	return err
}

// Chain returns a copy of the node's chain, oldest block first.
func (f *FakePeer) Chain() []block.Block {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.chain)
}

// Peers returns a copy of the node's peers by id.
func (f *FakePeer) Peers() map[string]Peer {
	f.mu.Lock()
	defer f.mu.Unlock()
	peers := make(map[string]Peer, len(f.peers))
	for id, p := range f.peers {
		peers[id] = p
	}
	return peers
}

// Frames returns every frame the node has received, in arrival order and as
// received, malformed ones included.
func (f *FakePeer) Frames() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.frames)
}

// ServeHTTP answers one exchange of the protocol; Listen mounts it. It may
// also be mounted on another server, as long as Listen has set the port the
// node announces.
func (f *FakePeer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		http.Error(w, "closed", http.StatusServiceUnavailable)
		return
	}
	f.handlers.Add(1)
	f.mu.Unlock()
	defer f.handlers.Done()
	// A hijacked connection outlives http.Server.Close; tie the exchange to
	// the node's life instead.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(f.ctx, cancel)
	defer stop()
	f.server.ServeHTTP(w, r.WithContext(ctx))
}

func (f *FakePeer) logFrame(frame []byte) {
	f.mu.Lock()
	f.frames = append(f.frames, string(frame))
	f.mu.Unlock()
}

func (f *FakePeer) handle(remoteHost string, m Message) string {
	switch m := m.(type) {
	case Join:
		return f.handleJoin(remoteHost, m)
	case DataUpload:
		return f.handleDataUpload(m)
	case AddPeer:
		if m.PeerID != f.id {
			f.addPeer(Peer{ID: m.PeerID, Host: announcedHost(m.PeerHost, remoteHost), Port: m.PeerPort}, false)
		}
		return ReplyACK
	case Validate:
		return f.handleValidate(m.Block)
	case AddBlock:
		data, err := block.EncodeData(m.Value)
		if err != nil {
			return ReplyKCA
		}
		f.mu.Lock()
		f.chain = append(f.chain, block.Next(f.chain[len(f.chain)-1], data))
		f.mu.Unlock()
		return ReplyACK
	case Ping:
		return ReplyPONG
	default:
		return ReplyACK
	}
}

func announcedHost(host, remoteHost string) string {
	if host == OriginalHost && remoteHost != "" {
		return remoteHost
	}
	return host
}

// addPeer records p. An id already known keeps its record unless replace is
// set, as the original's ADD_PEER does.
func (f *FakePeer) addPeer(p Peer, replace bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, known := f.peers[p.ID]; !known || replace {
		f.peers[p.ID] = p
	}
}

// handleJoin takes the joiner as a peer and, before answering, sends it the
// other peers and the whole chain on a new connection, as the original does.
func (f *FakePeer) handleJoin(remoteHost string, m Join) string {
	if m.PeerID == f.id {
		return ReplyKCA
	}
	joiner := Peer{ID: m.PeerID, Host: announcedHost(m.PeerHost, remoteHost), Port: m.PeerPort}
	f.mu.Lock()
	previous, hadJoiner := f.peers[joiner.ID]
	f.peers[joiner.ID] = joiner
	upload := DataUpload{Blocks: slices.Clone(f.chain)}
	for _, p := range f.peers {
		if p.ID != joiner.ID {
			upload.Peers = append(upload.Peers, p)
		}
	}
	f.mu.Unlock()
	slices.SortFunc(upload.Peers, func(a, b Peer) int { return cmp.Compare(a.ID, b.ID) })
	reply, err := Send(f.ctx, joiner.Host, joiner.Port, upload)
	if err != nil || reply != ReplyACK {
		f.mu.Lock()
		if hadJoiner {
			f.peers[joiner.ID] = previous
		} else {
			delete(f.peers, joiner.ID)
		}
		f.mu.Unlock()
		return ReplyKCA
	}
	return ReplyACK
}

// handleDataUpload takes the uploaded chain, after checking it, and the
// listed peers, and tells each of them about this node.
func (f *FakePeer) handleDataUpload(m DataUpload) string {
	if err := block.CheckChain(m.Blocks); err != nil {
		return ReplyKCA
	}
	var added []Peer
	f.mu.Lock()
	f.chain = slices.Clone(m.Blocks)
	for _, p := range m.Peers {
		if p.ID == f.id {
			continue
		}
		f.peers[p.ID] = p
		added = append(added, p)
	}
	self := AddPeer{PeerID: f.id, PeerHost: OriginalHost, PeerPort: f.port}
	f.mu.Unlock()
	for _, p := range added {
		// The original crashes on an unreachable peer; the peer stays
		// listed, as in the original, and the upload is still taken.
		_, _ = Send(f.ctx, p.Host, p.Port, self)
	}
	return ReplyACK
}

// handleValidate answers the original's rule: ACK when curr_hash is the hash
// of the node's tip and the block's data as Python re-encodes it. Neither the
// index nor previous_hash is checked, as in the original.
func (f *FakePeer) handleValidate(b block.Block) string {
	data, err := block.EncodeData(json.RawMessage(b.Data))
	if err != nil {
		return ReplyKCA
	}
	f.mu.Lock()
	tip := f.chain[len(f.chain)-1]
	f.mu.Unlock()
	if b.CurrHash != block.Hash(tip.CurrHash, data) {
		return ReplyKCA
	}
	return ReplyACK
}

// JoinTo is the original's start-up join (-pid peerID -pport port): it takes
// the node at host:port, whose id is peerID, as a peer and sends it a Join
// announcing this node as "0.0.0.0" and its port. That node answers after it
// has uploaded its peers and chain to this one. Listen must have been called.
// When the join fails, the peer is forgotten again.
func (f *FakePeer) JoinTo(ctx context.Context, peerID, host, port string) error {
	for _, err := range []error{ValidatePeerID(peerID), ValidateHost(host), ValidatePort(port)} {
		if err != nil {
			return fmt.Errorf("legacy: fake peer %s: join: %w", f.id, err)
		}
	}
	f.mu.Lock()
	self := Join{PeerID: f.id, PeerHost: OriginalHost, PeerPort: f.port}
	_, known := f.peers[peerID]
	if self.PeerPort != "" && !known {
		f.peers[peerID] = Peer{ID: peerID, Host: host, Port: port}
	}
	f.mu.Unlock()
	if self.PeerPort == "" {
		return fmt.Errorf("legacy: fake peer %s: JoinTo before Listen", f.id)
	}
	reply, err := Send(ctx, host, port, self)
	if err == nil && reply != ReplyACK {
		err = fmt.Errorf("legacy: %s refused the join of %s: %q", peerID, f.id, reply)
	}
	if err != nil && !known {
		f.mu.Lock()
		delete(f.peers, peerID)
		f.mu.Unlock()
	}
	return err
}

// ErrTipMoved reports a Write whose block no longer extends the tip once the
// peers agreed, because another block was appended meanwhile.
var ErrTipMoved = errors.New("legacy: the tip moved during the vote")

// Write is the original's add_data: it builds the next block holding value
// (stored as block.EncodeData(value)), asks every peer to validate it, and
// appends it when more than half of the peers answer ACK (alone, when the
// node has no peers). An unreachable peer counts as a refusal. After
// appending, it sends every peer AddBlock with the value, then the block
// itself without CMD. It reports whether the block was appended; with true,
// a non-nil error joins the failures to tell peers about it.
func (f *FakePeer) Write(ctx context.Context, value json.RawMessage) (bool, error) {
	add, err := NewAddBlock(value)
	if err != nil {
		return false, err
	}
	f.writeMu.Lock()
	defer f.writeMu.Unlock()
	f.mu.Lock()
	tip := f.chain[len(f.chain)-1]
	peers := make([]Peer, 0, len(f.peers))
	for _, p := range f.peers {
		peers = append(peers, p)
	}
	f.mu.Unlock()
	slices.SortFunc(peers, func(a, b Peer) int { return cmp.Compare(a.ID, b.ID) })

	b := block.Next(tip, string(add.Value))
	acks := 0
	for _, p := range peers {
		if reply, err := Send(ctx, p.Host, p.Port, Validate{Block: b}); err == nil && reply == ReplyACK {
			acks++
		}
	}
	if !Majority(acks, len(peers)) {
		return false, nil
	}
	f.mu.Lock()
	if f.chain[len(f.chain)-1] != tip {
		f.mu.Unlock()
		return false, ErrTipMoved
	}
	f.chain = append(f.chain, b)
	f.mu.Unlock()

	var errs []error
	for _, m := range []Message{add, Other{Block: &b}} {
		for _, p := range peers {
			if reply, err := Send(ctx, p.Host, p.Port, m); err != nil {
				errs = append(errs, err)
			} else if reply != ReplyACK {
				errs = append(errs, fmt.Errorf("legacy: %s answered %q to %s", p.ID, reply, commandName(m)))
			}
		}
	}
	return true, errors.Join(errs...)
}

// Majority is the original's consensus rule: a block proposed to n peers is
// added when more than half of them accept it (acks > n/2), so 1 peer needs
// 1, 2 need 2, 3 need 2, 4 need 3. A node without peers adds alone.
func Majority(acks, n int) bool {
	return n == 0 || 2*acks > n
}
