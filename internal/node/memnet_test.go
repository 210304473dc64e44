package node

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/clock"
	"github.com/naivechain/naivechain/internal/identity"
	"github.com/naivechain/naivechain/internal/transport"
)

// memTick is the consensus tick of a memCluster's nodes, in the manual
// clock's time.
const memTick = 10 * time.Millisecond

// memMaxSteps bounds how many ticks a memCluster waits for a condition:
// a minute of the nodes' time.
const memMaxSteps = 6000

// memElection is ample for an election timeout, in ticks (raft's
// default is 10 ticks, randomised up to 20).
const memElection = 20

// memCluster is nodes whose consensus messages cross one in-memory
// network and whose ticks come from one manual clock: only the test moves
// consensus on. Their HTTP and peer ports are still real loopback
// listeners, and a joiner's handshake still crosses its peer's host.
type memCluster struct {
	t     *testing.T
	net   *transport.Network
	clk   *clock.Manual
	nodes []*running
}

func newMemCluster(t *testing.T) *memCluster {
	return &memCluster{t: t, net: transport.NewNetwork(0), clk: clock.NewManual(time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC))}
}

// add starts a node linked to every node already there: a founder when
// via is nil, else a joiner through via. The node's id must be known
// before it starts, to name its endpoint, so the test makes its key.
func (c *memCluster) add(via *running) *running {
	c.t.Helper()
	key, err := identity.Generate()
	if err != nil {
		c.t.Fatal(err)
	}
	id := identity.IDFromKey(identity.Public(key))
	ep := c.net.Endpoint(id)
	c.t.Cleanup(func() { _ = ep.Close() })
	for _, o := range c.nodes {
		if !c.net.Connect(id, o.ID()) {
			c.t.Fatalf("cannot link %s to %s", id, o.ID())
		}
	}
	cfg := Config{Key: key, Transport: ep, Clock: c.clk, Tick: memTick}
	var r *running
	if via == nil {
		r = start(c.t, cfg)
	} else {
		r = joiner(c.t, via, cfg)
		// The handshake crosses the hosts' real links, in the machine's
		// time: wait for it before the clock runs, which then moves only
		// admission on.
		waitFor(c.t, "the joiner's host linked to its peer", func() bool {
			return slices.Contains(peerIDs(r), via.ID())
		})
	}
	if r.ID() != id {
		c.t.Fatalf("node id %s, want %s from its key", r.ID(), id)
	}
	c.nodes = append(c.nodes, r)
	return r
}

// step moves the clock one tick on, then goes once round every node's
// loop, so that the clock never runs far ahead of the nodes (a tick a
// busy loop has not taken is dropped, as a time.Ticker's).
func (c *memCluster) step() {
	c.t.Helper()
	c.clk.Advance(memTick)
	for _, n := range c.nodes {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := n.call(ctx, func() {})
		cancel()
		if err != nil {
			c.t.Fatalf("the loop of %s did not answer: %v", n.ID(), err)
		}
	}
}

// until steps the clock until cond holds, at most memMaxSteps ticks.
func (c *memCluster) until(what string, cond func() bool) {
	c.t.Helper()
	for i := range memMaxSteps {
		if cond() {
			c.t.Logf("%s: %d ticks", what, i)
			return
		}
		c.step()
	}
	c.t.Fatalf("not within %d ticks: %s", memMaxSteps, what)
}

// memWrite is a write under way on a node.
type memWrite struct {
	data   string
	cancel context.CancelFunc
	done   chan memResult
}

type memResult struct {
	b   block.Block
	err error
}

// write starts a write of data on n. It must be answered (wait, or
// abandon) while n runs: an abandoned write waits for n's loop.
func (c *memCluster) write(n *running, data string) *memWrite {
	ctx, cancel := context.WithCancel(context.Background())
	w := &memWrite{data: data, cancel: cancel, done: make(chan memResult, 1)}
	go func() {
		b, err := n.Propose(ctx, data)
		w.done <- memResult{b, err}
	}()
	return w
}

// wait steps the clock until w is answered, and returns the answer.
func (c *memCluster) wait(w *memWrite) memResult {
	c.t.Helper()
	var r memResult
	c.until("the answer to the write of "+w.data, func() bool {
		select {
		case r = <-w.done:
			return true
		default:
			return false
		}
	})
	w.cancel()
	return r
}

// commit writes data on n and fails the test unless the write is
// acknowledged with its block.
func (c *memCluster) commit(n *running, data string) block.Block {
	c.t.Helper()
	r := c.wait(c.write(n, data))
	if r.err != nil || r.b.Data != data {
		c.t.Fatalf("write %s on %s: block %+v, err %v", data, n.ID(), r.b, r.err)
	}
	return r.b
}

// role is n's role as its engine tells it.
func (c *memCluster) role(n *running) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := n.Status(ctx)
	if err != nil {
		c.t.Fatal(err)
	}
	return st.Role
}

// three starts a founder and two joiners and steps until all three vote.
func (c *memCluster) three() {
	c.t.Helper()
	a := c.add(nil)
	c.until("the founder leads", func() bool { return c.role(a) == "leader" })
	b := c.add(a)
	c.until("b votes", func() bool { return voters(a) == 2 })
	c.add(b)
	c.until("3 voters everywhere", func() bool {
		for _, n := range c.nodes {
			if voters(n) != 3 {
				return false
			}
		}
		return true
	})
}

// holds reports whether n's chain has blk at its index.
func holds(n *running, blk block.Block) bool {
	got, err := n.Chain().Block(blk.Index)
	return err == nil && got.CurrHash == blk.CurrHash
}

// TestMemNetWrites: three vote nodes form a network whose consensus
// messages cross the in-memory transport and whose ticks the test gives;
// a write on each is acknowledged and lands on every chain.
func TestMemNetWrites(t *testing.T) {
	c := newMemCluster(t)
	c.three()
	var blks []block.Block
	for i, n := range c.nodes {
		blks = append(blks, c.commit(n, fmt.Sprintf(`"on %d"`, i)))
	}
	c.untilEverywhere(blks)
	for _, n := range c.nodes {
		if err := block.CheckChain(chainOf(t, n)); err != nil {
			t.Fatalf("chain of %s: %v", n.ID(), err)
		}
	}
}

// TestMemNetPartitionHeals: the leader cut off from the other two cannot
// commit while they, a majority, elect another and go on writing; once
// its links are back it catches up with their chain.
func TestMemNetPartitionHeals(t *testing.T) {
	c := newMemCluster(t)
	c.three()
	c.commit(c.nodes[0], `"before"`)
	var cut *running
	var rest []*running
	for _, n := range c.nodes {
		if cut == nil && c.role(n) == "leader" {
			cut = n
		} else {
			rest = append(rest, n)
		}
	}
	if cut == nil {
		t.Fatal("no leader")
	}
	// The hosts' links stay up through the cut: consensus crosses the
	// memory network alone.
	waitFor(t, "the hosts linked to one another", func() bool {
		return slices.Equal(peerIDs(cut), others(c.nodes, cut))
	})
	c.net.Isolate(cut.ID())
	lenCut := cut.Chain().Len()

	stuck := c.write(cut, `"cut off"`)
	c.until("a leader among the other two", func() bool {
		return c.role(rest[0]) == "leader" || c.role(rest[1]) == "leader"
	})
	var blks []block.Block
	for i, n := range rest {
		blks = append(blks, c.commit(n, fmt.Sprintf(`"majority %d"`, i)))
	}
	// Well past any election timeout: the cut node has had every chance.
	for range 20 * memElection {
		c.step()
	}
	select {
	case r := <-stuck.done:
		if r.err == nil {
			t.Fatalf("the cut node acknowledged a write: %+v", r.b)
		}
		stuck.done <- r
	default:
	}
	if got := cut.Chain().Len(); got != lenCut {
		t.Fatalf("the cut node's chain grew from %d to %d", lenCut, got)
	}
	if !slices.Equal(peerIDs(cut), others(c.nodes, cut)) {
		t.Fatalf("the cut node's host lost its links: %v", peerIDs(cut))
	}
	// Its readiness follows the links consensus has, not the host's.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cut.Readiness(ctx); err == nil || !strings.Contains(err.Error(), "1 of 3 voters reachable") {
		t.Fatalf("the cut node's readiness: %v", err)
	}
	for _, n := range rest {
		if err := n.Readiness(ctx); err != nil {
			t.Fatalf("%s of the majority is not ready: %v", n.ID(), err)
		}
	}
	stuck.cancel()
	if r := c.wait(stuck); r.err == nil {
		t.Fatalf("the cut node acknowledged a write: %+v", r.b)
	} else {
		t.Logf("the cut node's write: %v", r.err)
	}

	for _, n := range rest {
		if !c.net.Connect(cut.ID(), n.ID()) {
			t.Fatalf("cannot heal the link to %s", n.ID())
		}
	}
	c.until("the healed node holds the majority's writes", func() bool {
		for _, b := range blks {
			if !holds(cut, b) {
				return false
			}
		}
		return true
	})
	blks = append(blks, c.commit(cut, `"healed"`))
	c.untilEverywhere(blks)
}

// TestMemNetPenalizes: a peer whose consensus message is garbage is
// penalised through the node's transport, which cuts its link.
func TestMemNetPenalizes(t *testing.T) {
	c := newMemCluster(t)
	a := c.add(nil)
	c.until("the founder leads", func() bool { return c.role(a) == "leader" })
	stranger := c.net.Endpoint("stranger")
	if !c.net.Connect("stranger", a.ID()) {
		t.Fatal("cannot link the stranger")
	}
	stranger.Send(a.ID(), []byte{0xff, 0xff, 0xff})
	ep := c.net.Endpoint(a.ID())
	c.until("the stranger penalised", func() bool { return len(ep.Penalties()) > 0 })
	p := ep.Penalties()[0]
	if p.Peer != "stranger" || p.Score != penaltyMalformed || !p.Banned {
		t.Fatalf("penalty %+v", p)
	}
	if c.net.Linked("stranger", a.ID()) || c.net.Connect("stranger", a.ID()) {
		t.Fatal("the banned stranger is still linked, or can be again")
	}
}

// untilEverywhere steps the cluster until every node's chain holds every
// block of blks.
func (c *memCluster) untilEverywhere(blks []block.Block) {
	c.t.Helper()
	c.until("every write on every chain", func() bool {
		for _, n := range c.nodes {
			for _, b := range blks {
				if !holds(n, b) {
					return false
				}
			}
		}
		return true
	})
}
