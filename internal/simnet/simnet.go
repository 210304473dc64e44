package simnet

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/driver"
	"github.com/naivechain/naivechain/internal/store"
)

// TickDuration is how much simulated time a tick stands for on Clock.
const TickDuration = 100 * time.Millisecond

// epoch is Clock at tick 0.
var epoch = time.UnixMilli(1_700_000_000_000).UTC()

// EngineFactory builds the engine of a node over its chain and store.
// bootstrap is true for the first node of a network. session differs at
// every start of the node.
type EngineFactory func(self consensus.Member, bootstrap bool, c *chain.Chain, st store.Store, session uint64) (consensus.Engine, error)

// Config configures a Network.
type Config struct {
	Seed      uint64
	NewEngine EngineFactory
	// DropRate is the probability that a message is lost.
	DropRate float64
	// MaxDelay is the largest delivery delay in ticks (at least 1).
	MaxDelay int
	// WriteTimeout is how many ticks a write waits for its commit.
	WriteTimeout int
	// GreetEvery, when set, makes every live node greet the nodes it can
	// reach every so many ticks (Engine.Greet), as the node runtime does
	// with its connected peers: networks that meet can then merge.
	GreetEvery int
	// Merges says that separate networks in the simulation may merge: an
	// acknowledged write of the losing side is re-proposed onto the
	// winner's chain, so CheckChains finds it once but in another block.
	Merges bool
	// MineBudget is how many nonces every live node whose engine mines
	// (consensus.Miner) tries per tick, on the header its engine hands
	// out. 0 means no node mines.
	MineBudget int
	// DiskLag, when set, gives every node a disk whose writes (the
	// engine's asynchronous ones, store.AsyncWriter) are seen at once and
	// become durable, in order, up to this many ticks later; a crash loses
	// those not yet durable. 0: every write is durable at once.
	DiskLag int
	// AfterTick, when set, runs at the end of every tick: tests check
	// invariants there.
	AfterTick func(n *Network)
}

// Network is a simulated network of nodes.
type Network struct {
	cfg      Config
	rng      *rand.Rand
	now      int
	nodes    []*Node
	byID     map[string]*Node
	inflight []envelope
	seq      uint64
	cut      map[[2]string]bool
	writes   []*Write
	reads    []*Read
	sessions uint64
}

// Node is one simulated node.
type Node struct {
	ID     string
	Engine consensus.Engine
	Chain  *chain.Chain
	// Store survives Crash and Restart, like a disk (with Config.DiskLag,
	// less the writes that were not durable yet).
	Store store.Store
	disk  *laggingDisk // with Config.DiskLag
	self  consensus.Member
	up    bool
	// drv carries out the engine's Ready, as it does in a real node; it
	// holds the writes and reads waiting.
	drv *driver.Driver
	// Rejected counts messages the engine refused as malformed.
	Rejected int
	// search is where the node's miner stands, nil when it has no header.
	search *search
}

// search is a miner's progress on one header of generation gen: next is
// the first nonce not tried yet.
type search struct {
	gen    uint64
	header [block.HeaderLen]byte
	next   uint64
}

// Write is a client write and what it was answered.
type Write struct {
	Node  string
	Data  string
	Done  bool
	OK    bool
	Block block.Block
	Err   error
}

type envelope struct {
	at      int
	seq     uint64
	from    string
	to      string
	payload []byte
}

// New creates an empty network.
func New(cfg Config) *Network {
	if cfg.MaxDelay < 1 {
		cfg.MaxDelay = 1
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 100
	}
	return &Network{
		cfg:  cfg,
		rng:  rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		byID: make(map[string]*Node),
		cut:  make(map[[2]string]bool),
	}
}

// Now returns the current tick.
func (n *Network) Now() int { return n.now }

// Clock returns the simulated time: a fixed epoch plus TickDuration per
// tick. Engines that read a clock (pow's Config.Now) are given it.
func (n *Network) Clock() time.Time {
	return epoch.Add(time.Duration(n.now) * TickDuration)
}

// Rand returns the network's seeded random source, for tests that draw
// their own schedule from the same seed.
func (n *Network) Rand() *rand.Rand { return n.rng }

// AddNode creates a node. The first node of a network is made with
// bootstrap true; others join through Join.
func (n *Network) AddNode(id string, bootstrap bool) (*Node, error) {
	if _, dup := n.byID[id]; dup {
		return nil, fmt.Errorf("simnet: node %s exists", id)
	}
	nd := &Node{ID: id, Store: store.NewMemory(),
		self: consensus.Member{ID: id, Host: "sim", Port: fmt.Sprint(10000 + len(n.nodes))}}
	if n.cfg.DiskLag > 0 {
		nd.disk = newLaggingDisk()
		nd.Store = nodeDisk{laggingDisk: nd.disk, net: n}
	}
	if err := n.boot(nd, bootstrap); err != nil {
		return nil, err
	}
	n.nodes = append(n.nodes, nd)
	n.byID[id] = nd
	return nd, nil
}

// boot starts a node's engine over its store.
func (n *Network) boot(nd *Node, bootstrap bool) error {
	c, err := chain.New(nd.Store)
	if err != nil {
		return err
	}
	n.sessions++
	e, err := n.cfg.NewEngine(nd.self, bootstrap, c, nd.Store, n.sessions<<32|n.rng.Uint64()>>32)
	if err != nil {
		return err
	}
	nd.Engine, nd.Chain, nd.up, nd.search = e, c, true, nil
	nd.drv = driver.New(driver.Config{Engine: e, Chain: c, Links: simLinks{n, nd}, GreetEvery: n.cfg.GreetEvery})
	n.drain(nd)
	return nil
}

// Restart starts a crashed node again from what its store holds, with a
// new engine (a new process).
func (n *Network) Restart(id string) error {
	nd := n.byID[id]
	if nd.up {
		return fmt.Errorf("simnet: node %s is up", id)
	}
	return n.boot(nd, false)
}

// Node returns the node with id.
func (n *Network) Node(id string) *Node { return n.byID[id] }

// Nodes returns every node, in the order they were added.
func (n *Network) Nodes() []*Node { return n.nodes }

// Up reports whether the node is running.
func (nd *Node) Up() bool { return nd.up }

// Join makes node id ask node via to admit it.
func (n *Network) Join(id, via string) {
	nd := n.byID[id]
	nd.drv.Engine().(consensus.Joiner).Join(via)
	n.drain(nd)
}

// Crash stops a node: it neither ticks nor receives, and its waiting writes
// fail. Messages already sent by it stay in flight. Its mempool, if it
// has one, is lost; what its store holds is not.
func (n *Network) Crash(id string) {
	nd := n.byID[id]
	nd.up = false
	if nd.disk != nil {
		nd.disk.crash()
	}
	nd.drv.Stop(errors.New("simnet: node crashed"))
}

// Partition cuts every link between the given groups. Nodes in no group
// keep all their links.
func (n *Network) Partition(groups ...[]string) {
	for i, a := range groups {
		for _, b := range groups[i+1:] {
			for _, x := range a {
				for _, y := range b {
					n.cut[[2]string{x, y}] = true
					n.cut[[2]string{y, x}] = true
				}
			}
		}
	}
}

// Isolate cuts every link of node id.
func (n *Network) Isolate(id string) {
	for _, o := range n.nodes {
		if o.ID != id {
			n.cut[[2]string{id, o.ID}] = true
			n.cut[[2]string{o.ID, id}] = true
		}
	}
}

// Heal restores every link.
func (n *Network) Heal() { clear(n.cut) }

// Propose starts a client write on node id.
func (n *Network) Propose(id, data string) *Write {
	nd := n.byID[id]
	w := &Write{Node: id, Data: data}
	n.writes = append(n.writes, w)
	if !nd.up {
		w.finish(false, block.Block{}, errors.New("simnet: node is down"))
		return w
	}
	_, err := nd.drv.Propose([]string{data}, n.cfg.WriteTimeout, func(o driver.Outcome) {
		if o.Err != nil {
			w.finish(false, block.Block{}, o.Err)
			return
		}
		w.finish(true, o.Blocks[0], nil)
	})
	if err != nil {
		w.finish(false, block.Block{}, err)
		return w
	}
	n.drain(nd)
	return w
}

// Writes returns every write proposed so far.
func (n *Network) Writes() []*Write { return n.writes }

func (w *Write) finish(ok bool, b block.Block, err error) {
	w.Done, w.OK, w.Block, w.Err = true, ok, b, err
}

// Tick advances the clock by one tick: every live node ticks and mines,
// due messages are delivered, and writes past their deadline time out.
func (n *Network) Tick() {
	n.now++
	for _, nd := range n.nodes {
		if nd.up && nd.disk != nil && nd.disk.settle(n.now) {
			n.drain(nd) // the engine carries on from its durable writes
		}
	}
	for _, nd := range n.nodes {
		if nd.up {
			nd.drv.Tick() // and greets, every GreetEvery ticks and when its peers change
			n.drain(nd)
		}
	}
	if n.cfg.MineBudget > 0 {
		for _, nd := range n.nodes {
			if nd.up {
				n.mine(nd)
			}
		}
	}
	due := n.inflight[:0:0]
	rest := n.inflight[:0]
	for _, env := range n.inflight {
		if env.at <= n.now {
			due = append(due, env)
		} else {
			rest = append(rest, env)
		}
	}
	n.inflight = rest
	n.rng.Shuffle(len(due), func(i, j int) { due[i], due[j] = due[j], due[i] })
	for _, env := range due {
		to := n.byID[env.to]
		if to == nil || !to.up || n.cut[[2]string{env.from, env.to}] {
			continue
		}
		if err := to.drv.Step(env.from, env.payload); err != nil {
			to.Rejected++
		}
		n.drain(to)
	}
	for _, nd := range n.nodes {
		if nd.up {
			nd.drv.Expire()
		}
	}
	if n.cfg.AfterTick != nil {
		n.cfg.AfterTick(n)
	}
}

// mine spends the tick's budget of nonces on the work node nd's driver
// hands out, carrying on where the last tick stopped while the header
// stays the same. A new header starts at a nonce drawn from the seeded
// source, so that miners of equal headers find different blocks.
func (n *Network) mine(nd *Node) {
	w, ok := nd.drv.Mining()
	if !ok {
		nd.search = nil
		return
	}
	s := nd.search
	if s == nil || s.gen != w.Gen || s.header != w.Header {
		s = &search{gen: w.Gen, header: w.Header, next: n.rng.Uint64()}
		nd.search = s
	}
	budget := uint64(n.cfg.MineBudget)
	nonce, found := block.Search(&w, s.next, budget)
	s.next += budget
	if found {
		nd.search = nil
		nd.drv.Mined(w.Gen, nonce)
		n.drain(nd)
	}
}

// Inject delivers a raw payload to node to as if node from had sent it,
// refusals counted in Rejected. It returns the engine's verdict.
func (n *Network) Inject(from, to string, payload []byte) error {
	nd := n.byID[to]
	err := nd.drv.Step(from, payload)
	if err != nil {
		nd.Rejected++
	}
	n.drain(nd)
	return err
}

// drain carries out a node's Ready through its driver.
func (n *Network) drain(nd *Node) {
	if err := nd.drv.Process(); err != nil && !errors.Is(err, consensus.ErrStopped) {
		panic(fmt.Sprintf("simnet: node %s: fatal engine error: %v", nd.ID, err))
	}
}

// simLinks are a node's links in the simulation: a message is lost at
// DropRate, else delivered after a random delay; the peers are the live
// nodes not cut off.
type simLinks struct {
	n  *Network
	nd *Node
}

// Send implements driver.Links.
func (l simLinks) Send(to string, payload []byte) {
	n := l.n
	if n.cfg.DropRate > 0 && n.rng.Float64() < n.cfg.DropRate {
		return
	}
	n.seq++
	n.inflight = append(n.inflight, envelope{
		at: n.now + 1 + n.rng.IntN(n.cfg.MaxDelay), seq: n.seq,
		from: l.nd.ID, to: to, payload: payload,
	})
}

// Peers implements driver.Links.
func (l simLinks) Peers() []string {
	var peers []string
	for _, o := range l.n.nodes {
		if o != l.nd && o.up && !l.n.cut[[2]string{l.nd.ID, o.ID}] {
			peers = append(peers, o.ID)
		}
	}
	return peers
}

// RunUntil ticks until cond holds or maxTicks pass.
func (n *Network) RunUntil(cond func() bool, maxTicks int) error {
	for i := 0; i < maxTicks; i++ {
		if cond() {
			return nil
		}
		n.Tick()
	}
	if cond() {
		return nil
	}
	return fmt.Errorf("simnet: condition not reached after %d ticks (now %d)", maxTicks, n.now)
}

// AllDone reports whether every write and every read has been answered.
func (n *Network) AllDone() bool {
	for _, w := range n.writes {
		if !w.Done {
			return false
		}
	}
	for _, r := range n.reads {
		if !r.Done {
			return false
		}
	}
	return true
}

// Converged reports whether every live node holds the same chain.
func (n *Network) Converged() bool {
	var tip *block.Block
	for _, nd := range n.nodes {
		if !nd.up {
			continue
		}
		t := nd.Chain.Tip()
		if tip == nil {
			tip = &t
		} else if t != *tip {
			return false
		}
	}
	return true
}

// Settled reports whether the network is at rest: every live node holds
// the same chain, is a member of its network (not joining, moving or
// removed), has no write of its own left to resolve (a moved node's
// re-proposals included) and has applied its whole log. Equal chains are
// not enough: after a crash the survivors may share a tip below entries
// that a majority holds and a crashed leader acknowledged, which become
// blocks once a new leader commits an entry of its term.
func (n *Network) Settled() bool {
	if !n.Converged() {
		return false
	}
	for _, nd := range n.nodes {
		if !nd.up {
			continue
		}
		switch st := nd.Engine.Status(); {
		case st.Pending > 0, st.Unapplied > 0, st.Role == "joining", st.Role == "moving", st.Role == "removed":
			return false
		}
	}
	return true
}

// CheckChains verifies the safety properties on every live node: each chain
// is valid, all chains are equal, every acknowledged write is in the chain
// exactly once, and nothing is in the chain that no client wrote.
//
// On a proof-of-work chain a write is an entry: it is counted among the
// entries of every block, its acknowledged block must hold it, and that
// block may since have been orphaned (the entry was mined again in
// another block).
func (n *Network) CheckChains() error {
	var ref []block.Block
	for _, nd := range n.nodes {
		if !nd.up {
			continue
		}
		var blocks []block.Block
		for b, err := range nd.Chain.Blocks(0) {
			if err != nil {
				return err
			}
			blocks = append(blocks, b)
		}
		if err := block.CheckChain(blocks); err != nil {
			return fmt.Errorf("node %s: %w", nd.ID, err)
		}
		if !nd.Chain.Healthy() {
			return fmt.Errorf("node %s: unhealthy", nd.ID)
		}
		if ref == nil {
			ref = blocks
			continue
		}
		if !slices.Equal(ref, blocks) {
			return fmt.Errorf("node %s: chain of %d blocks differs from %d blocks of %s", nd.ID, len(blocks), len(ref), n.firstUp().ID)
		}
	}
	isPoW := slices.ContainsFunc(ref[1:], block.Block.IsPoW) ||
		slices.ContainsFunc(n.writes, func(w *Write) bool { return w.OK && w.Block.IsPoW() })
	count := make(map[string]int)
	for _, b := range ref[1:] {
		if b.IsPoW() != isPoW {
			return fmt.Errorf("block %d: proof-of-work and classic blocks in one chain", b.Index)
		}
		if !isPoW {
			count[b.Data]++
			continue
		}
		entries, err := block.DecodeEntries(b.Data)
		if err != nil {
			return fmt.Errorf("block %d: %w", b.Index, err)
		}
		for _, en := range entries {
			count[en]++
		}
	}
	written := make(map[string]bool)
	for _, w := range n.writes {
		written[w.Data] = true
		if !w.OK {
			continue
		}
		if count[w.Data] != 1 {
			return fmt.Errorf("acknowledged write %s is in the chain %d times", w.Data, count[w.Data])
		}
		if isPoW {
			entries, err := block.DecodeEntries(w.Block.Data)
			if err != nil || !slices.Contains(entries, w.Data) {
				return fmt.Errorf("write %s acknowledged as block %d, which does not hold it (data %.80s)", w.Data, w.Block.Index, w.Block.Data)
			}
			continue
		}
		if !n.cfg.Merges && ref[w.Block.Index] != w.Block {
			return fmt.Errorf("write %s acknowledged as block %d, chain has %+v", w.Data, w.Block.Index, ref[w.Block.Index])
		}
	}
	var dups []string
	for d, c := range count {
		if !written[d] {
			return fmt.Errorf("block data %s was never written", d)
		}
		if c > 1 {
			dups = append(dups, d)
		}
	}
	if len(dups) > 0 {
		slices.Sort(dups)
		return fmt.Errorf("data in the chain more than once: %s", strings.Join(dups, ", "))
	}
	return nil
}

func (n *Network) firstUp() *Node {
	for _, nd := range n.nodes {
		if nd.up {
			return nd
		}
	}
	return nil
}
