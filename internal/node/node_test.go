package node

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/p2p"
	"github.com/naivechain/naivechain/internal/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// running is a node started by a test, stopped at cleanup.
type running struct {
	*Node
	stop context.CancelFunc
	done chan error
	once sync.Once
}

func start(t *testing.T, cfg Config) *running {
	t.Helper()
	cfg.Host, cfg.Advertise = "127.0.0.1", "127.0.0.1"
	cfg.HTTPPort = 0
	if cfg.Tick == 0 {
		cfg.Tick = 10 * time.Millisecond
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	n, err := newNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Node: n, stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- n.Run(ctx) }()
	t.Cleanup(func() { r.halt(t) })
	return r
}

// halt stops the node and waits for Run to return.
func (r *running) halt(t *testing.T) {
	r.once.Do(func() {
		r.stop()
		select {
		case <-r.done:
		case <-time.After(20 * time.Second):
			t.Errorf("node %s did not stop", r.ID())
		}
	})
}

func joiner(t *testing.T, via *running, cfg Config) *running {
	cfg.PeerHost, cfg.PeerPort, cfg.PeerID = "127.0.0.1", via.Port(), via.ID()
	if cfg.JoinToken == "" && cfg.Engine == nil { // the vote engine; a pow network is open
		cfg.JoinToken = networkToken(t, via)
	}
	return start(t, cfg)
}

// networkToken is the join token of n's network, once n knows it.
func networkToken(t *testing.T, n *running) string {
	t.Helper()
	var tok string
	waitFor(t, "the network's join token", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		tok, _ = n.NetworkToken(ctx)
		return tok != ""
	})
	return tok
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not a wait for an outcome
	}
}

func voters(n *running) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	ms, err := n.Members(ctx)
	if err != nil {
		return -1
	}
	v := 0
	for _, m := range ms {
		if m.Voter {
			v++
		}
	}
	return v
}

func peerIDs(n *running) []string {
	var ids []string
	for _, p := range n.Peers() {
		ids = append(ids, p.ID)
	}
	slices.Sort(ids)
	return ids
}

func others(all []*running, self *running) []string {
	var ids []string
	for _, o := range all {
		if o != self {
			ids = append(ids, o.ID())
		}
	}
	slices.Sort(ids)
	return ids
}

func chainOf(t *testing.T, n *running) []block.Block {
	t.Helper()
	var out []block.Block
	for b, err := range n.Blocks(0) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// TestGossipAcrossAChainOfJoins joins every node through the previous one:
// each must learn all the others and become a voter.
func TestGossipAcrossAChainOfJoins(t *testing.T) {
	nodes := []*running{start(t, Config{})}
	for i := 1; i < 5; i++ {
		nodes = append(nodes, joiner(t, nodes[i-1], Config{}))
	}
	for _, n := range nodes {
		waitFor(t, "full mesh", func() bool { return slices.Equal(peerIDs(n), others(nodes, n)) })
	}
	waitFor(t, "5 voters", func() bool { return voters(nodes[0]) == 5 })
}

func TestConcurrentWritersOneChain(t *testing.T) {
	a := start(t, Config{})
	b := joiner(t, a, Config{})
	c := joiner(t, b, Config{})
	nodes := []*running{a, b, c}
	waitFor(t, "3 voters", func() bool { return voters(a) == 3 })

	const writers, each = 24, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := nodes[w%3]
			for i := 0; i < each; i++ {
				blk, err := n.Propose(context.Background(), fmt.Sprintf(`"w%d-%d"`, w, i))
				if err != nil {
					errs <- err
					return
				}
				if blk.Data != fmt.Sprintf(`"w%d-%d"`, w, i) {
					errs <- fmt.Errorf("write answered with block %+v", blk)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := uint64(1 + writers*each)
	for _, n := range nodes {
		waitFor(t, "every block everywhere", func() bool { return n.Chain().Len() == want })
	}
	ref := chainOf(t, a)
	if err := block.CheckChain(ref); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, blk := range ref[1:] {
		seen[blk.Data]++
	}
	for w := 0; w < writers; w++ {
		for i := 0; i < each; i++ {
			if c := seen[fmt.Sprintf(`"w%d-%d"`, w, i)]; c != 1 {
				t.Fatalf("write w%d-%d is in the chain %d times", w, i, c)
			}
		}
	}
	for _, n := range nodes[1:] {
		if !slices.Equal(chainOf(t, n), ref) {
			t.Fatalf("node %s holds another chain", n.ID())
		}
		if !n.Info().Health {
			t.Fatalf("node %s unhealthy", n.ID())
		}
	}
}

func TestPeerThatLeavesIsDroppedAndMajorityGoesOn(t *testing.T) {
	a := start(t, Config{})
	b := joiner(t, a, Config{})
	c := joiner(t, a, Config{})
	waitFor(t, "3 voters", func() bool { return voters(a) == 3 })
	waitFor(t, "mesh", func() bool { return len(a.Peers()) == 2 && len(b.Peers()) == 2 })
	c.halt(t)
	waitFor(t, "c dropped from a's peers", func() bool { return slices.Equal(peerIDs(a), []string{b.ID()}) })
	waitFor(t, "c dropped from b's peers", func() bool { return slices.Equal(peerIDs(b), []string{a.ID()}) })
	for _, n := range []*running{a, b} {
		if _, err := n.Propose(context.Background(), fmt.Sprintf(`"after-%s"`, n.ID())); err != nil {
			t.Fatalf("write with 2 of 3 up: %v", err)
		}
	}
}

func TestNoMajorityAnswersHonestly(t *testing.T) {
	a := start(t, Config{WriteTimeout: time.Second})
	b := joiner(t, a, Config{})
	waitFor(t, "2 voters", func() bool { return voters(a) == 2 })
	b.halt(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := a.Propose(ctx, `"lonely"`)
	var we *consensus.WriteError
	if !errors.As(err, &we) {
		t.Fatalf("err = %v, want a WriteError", err)
	}
	if !we.MayStillCommit() {
		t.Fatalf("the write reached raft but the error says it will not commit: %v", err)
	}
	if a.Chain().Len() != 1 {
		t.Fatal("committed without a majority")
	}
}

func TestJoinRefusesWrongPeerID(t *testing.T) {
	a := start(t, Config{})
	cfg := Config{Host: "127.0.0.1", Advertise: "127.0.0.1", HTTPPort: 0, PeerHost: "127.0.0.1", PeerPort: a.Port(), PeerID: "not-the-id"}
	n, err := newNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = n.Run(ctx)
	if !errors.Is(err, p2p.ErrIDMismatch) {
		t.Fatalf("err = %v, want ErrIDMismatch", err)
	}
	waitFor(t, "the refused node to be gone", func() bool { return len(a.Peers()) == 0 })
}

// TestDiskFailureKeepsReadsAndRefusesWrites fails the store under a lone
// node: the write in flight and every later one get an error (503 at the
// API), nothing unsynced is acknowledged, and reads keep working.
func TestDiskFailureKeepsReadsAndRefusesWrites(t *testing.T) {
	for _, mode := range []string{"write", "sync", "full"} {
		t.Run(mode, func(t *testing.T) {
			faulty := store.NewFaulty(store.NewMemory())
			a := start(t, Config{Store: faulty})
			waitFor(t, "leader", func() bool { return voters(a) == 1 })
			if _, err := a.Propose(context.Background(), `"before"`); err != nil {
				t.Fatal(err)
			}
			switch mode {
			case "write":
				faulty.FailWrites(errors.New("injected I/O error"))
			case "sync":
				faulty.FailSync()
			case "full":
				faulty.Fill()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := a.Propose(ctx, `"during"`); err == nil {
				t.Fatal("a write was acknowledged although the store failed")
			}
			if _, err := a.Propose(ctx, `"after"`); err == nil {
				t.Fatal("a write was acknowledged after the store failed")
			}
			// Reads still work and show the acknowledged block.
			blocks := chainOf(t, a)
			if len(blocks) < 2 || blocks[1].Data != `"before"` {
				t.Fatalf("reads after the failure: %+v", blocks)
			}
			if !a.Info().Health {
				t.Fatal("the chain is reported unhealthy")
			}
			st, err := a.Status(ctx)
			if err != nil || st.Role != "failed" {
				t.Fatalf("status %+v, %v; want role failed", st, err)
			}
		})
	}
}

// TestDurableWritesWakeTheLoop: on a disk store, the engine's writes become
// durable on the store's own goroutine, and the loop carries on from them
// at once, not at the next tick or timer. With an hour-long tick, and the
// peer list's save every 5 s the loop's only other timer, three writes in
// a row are answered within 4 s only if each durable write wakes the loop.
func TestDurableWritesWakeTheLoop(t *testing.T) {
	a := start(t, Config{DataDir: t.TempDir(), Tick: time.Hour})
	waitFor(t, "leader", func() bool { return voters(a) == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	for i := range 3 {
		if _, err := a.Propose(ctx, fmt.Sprintf(`"w%d"`, i)); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
}

// TestRestartKeepsIDChainAndPeers restarts a node on the same store.
func TestRestartKeepsIDChainAndPeers(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	a := start(t, Config{DataDir: dirA})
	b := joiner(t, a, Config{DataDir: dirB})
	waitFor(t, "2 voters", func() bool { return voters(a) == 2 })
	for i := 0; i < 5; i++ {
		if _, err := b.Propose(context.Background(), fmt.Sprintf(`"r%d"`, i)); err != nil {
			t.Fatal(err)
		}
	}
	idB, portB := b.ID(), b.Port()
	b.halt(t)
	// B comes back with no -pid/-pport: its id, chain and peers are on disk.
	b2 := start(t, Config{DataDir: dirB, Port: portB})
	if b2.ID() != idB {
		t.Fatalf("id after restart %s, want %s", b2.ID(), idB)
	}
	if b2.Chain().Len() != 6 || !b2.Info().Health {
		t.Fatalf("chain after restart: %d blocks, health %v", b2.Chain().Len(), b2.Info().Health)
	}
	waitFor(t, "b2 reconnected to a", func() bool { return slices.Equal(peerIDs(b2), []string{a.ID()}) })
	if _, err := b2.Propose(context.Background(), `"after restart"`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a has the write", func() bool { return a.Chain().Len() == 7 })
}

// TestRestartDoesNotNeedItsJoinPeer: a member restarted with its original
// -pid/-pport flags starts even when that peer is gone, and the remaining
// majority keeps writing with it.
func TestRestartDoesNotNeedItsJoinPeer(t *testing.T) {
	a := start(t, Config{DataDir: t.TempDir()})
	dirB, dirC := t.TempDir(), t.TempDir()
	b := joiner(t, a, Config{DataDir: dirB})
	c := joiner(t, a, Config{DataDir: dirC})
	waitFor(t, "3 voters", func() bool { return voters(a) == 3 })
	if _, err := b.Propose(context.Background(), `"before"`); err != nil {
		t.Fatal(err)
	}
	portA, idA, portB := a.Port(), a.ID(), b.Port()
	b.halt(t)
	a.halt(t)
	// B comes back with the flags it joined with, but A is gone.
	b2 := start(t, Config{DataDir: dirB, Port: portB, PeerHost: "127.0.0.1", PeerPort: portA, PeerID: idA, JoinTimeout: time.Second, JoinToken: "unused-after-a-restart-000"})
	waitFor(t, "b2 and c to see each other", func() bool { return slices.Equal(peerIDs(b2), []string{c.ID()}) })
	if _, err := b2.Propose(context.Background(), `"with a gone"`); err != nil {
		t.Fatalf("write with 2 of 3: %v", err)
	}
	waitFor(t, "c has it", func() bool { return c.Chain().Len() == 3 })
}

// TestProposeAllAcrossTheNetwork: a group written on a follower becomes
// consecutive blocks on every node.
func TestProposeAllAcrossTheNetwork(t *testing.T) {
	a := start(t, Config{})
	b := joiner(t, a, Config{})
	waitFor(t, "2 voters", func() bool { return voters(a) == 2 })
	bs, err := b.ProposeAll(context.Background(), []string{`"g1"`, `"g2"`, `"g3"`})
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 3 || bs[0].Index != 1 || bs[2].Index != 3 {
		t.Fatalf("blocks %+v", bs)
	}
	waitFor(t, "a has the group", func() bool { return a.Chain().Len() == 4 })
	if got := chainOf(t, a); !slices.Equal(got[1:], bs) {
		t.Fatalf("a's chain %+v, want %+v", got[1:], bs)
	}
}

// TestRemovedNodeComesBackAsANewMember stops C of three for longer than
// RemoveAfter: A and B remove it and go on writing. Restarted on its data
// dir, C learns it was removed, enters the network anew as its next
// incarnation, catches up with the writes it missed and votes again.
func TestRemovedNodeComesBackAsANewMember(t *testing.T) {
	cfg := Config{RemoveAfter: 300 * time.Millisecond}
	a := start(t, withDir(t, cfg))
	b := joiner(t, a, withDir(t, cfg))
	dirC := t.TempDir()
	cfgC := cfg
	cfgC.DataDir = dirC
	c := joiner(t, a, cfgC)
	waitFor(t, "3 voters", func() bool { return voters(a) == 3 && voters(c) == 3 })
	idC, portC := c.ID(), c.Port()
	c.halt(t)
	waitFor(t, "C removed", func() bool { return voters(a) == 2 && voters(b) == 2 })
	for i := 0; i < 20; i++ {
		if _, err := a.Propose(context.Background(), fmt.Sprintf(`"while C was out %d"`, i)); err != nil {
			t.Fatal(err)
		}
	}
	cfgC.Port = portC
	c2 := start(t, cfgC)
	if c2.ID() != idC {
		t.Fatalf("id after restart %s, want %s", c2.ID(), idC)
	}
	waitFor(t, "C a voter again", func() bool { return voters(a) == 3 && voters(c2) == 3 })
	ms, err := a.Members(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.ID == idC && m.Incarnation != 1 {
			t.Fatalf("C is back as incarnation %d, want 1", m.Incarnation)
		}
	}
	if _, err := c2.Propose(context.Background(), `"C is back"`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "one chain of 22 blocks", func() bool {
		return a.Chain().Len() == 22 && b.Chain().Len() == 22 && c2.Chain().Len() == 22
	})
	if !slices.Equal(chainOf(t, a), chainOf(t, c2)) || !c2.Info().Health {
		t.Fatal("C's chain differs from A's")
	}
}

func withDir(t *testing.T, cfg Config) Config {
	cfg.DataDir = t.TempDir()
	return cfg
}
