package node

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/identity"
	"github.com/naivechain/naivechain/internal/store"
	"github.com/naivechain/naivechain/internal/transport"
)

// queuedTransport is a transport whose peer's messages are all queued
// before the node runs: the loop takes them in together, before one Ready.
type queuedTransport struct{ in chan transport.Message }

func (q queuedTransport) Send(string, []byte)               {}
func (q queuedTransport) Peers() []string                   { return nil }
func (q queuedTransport) Inbound() <-chan transport.Message { return q.in }
func (q queuedTransport) Penalize(string, int, string) bool { return false }

// TestPoWTwoBlocksInOneReady: a peer's two blocks, each sent alone and
// taken in by the loop before one Ready (it drains what waits), both
// reach the chain; the second is not planned on a chain missing the
// first, which stopped the engine as if its store had failed.
func TestPoWTwoBlocksInOneReady(t *testing.T) {
	genesis := block.Genesis()
	ts := time.Now().UnixMilli()
	b1 := sealed(t, block.NewPoW(genesis, []string{`"one"`}, ts, block.MinDifficulty), true)
	b2 := sealed(t, block.NewPoW(b1, []string{`"two"`}, ts+1, block.MinDifficulty), true)
	q := queuedTransport{in: make(chan transport.Message, 2)}
	q.in <- transport.Message{From: "peer", Payload: powBlocksPayload(t, b1)}
	q.in <- transport.Message{From: "peer", Payload: powBlocksPayload(t, b2)}
	cfg := powConfig(false)
	cfg.Transport = q
	n := start(t, cfg)
	waitFor(t, "block 2 or a failed engine", func() bool { return n.chain.Tip().Index == 2 || n.failed.Load() })
	if n.failed.Load() {
		t.Fatal("the engine stopped: a peer's two blocks in one Ready read as a store failure")
	}
	if tip := n.chain.Tip(); tip.CurrHash != b2.CurrHash {
		t.Fatalf("tip %d %s, want block 2", tip.Index, tip.CurrHash)
	}
}

// TestPoWStoreFailureInAStep: a peer's block whose write the store
// refuses fails the engine inside the driver's Step (the pow engine's
// writes are carried out at once); the node still logs the failure once,
// refuses writes, and GET /ready says why.
func TestPoWStoreFailureInAStep(t *testing.T) {
	genesis := block.Genesis()
	b1 := sealed(t, block.NewPoW(genesis, []string{`"one"`}, time.Now().UnixMilli(), block.MinDifficulty), true)
	faulty := store.NewFaulty(store.NewMemory())
	q := queuedTransport{in: make(chan transport.Message, 1)}
	cfg := powConfig(false)
	cfg.Transport, cfg.Store = q, faulty
	var logs lockedLog
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	n := start(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Readiness(ctx); err != nil && !strings.Contains(err.Error(), "no peers") {
		t.Fatalf("before the failure: GET /ready: %v", err)
	}
	faulty.FailWrites(errors.New("injected I/O error"))
	q.in <- transport.Message{From: "peer", Payload: powBlocksPayload(t, b1)}
	waitFor(t, "the node to mark its storage failed", n.failed.Load)
	if err := n.Readiness(ctx); err == nil || !strings.Contains(err.Error(), "storage failed") {
		t.Errorf("GET /ready after the failure: %v, want storage failed", err)
	}
	if _, err := n.Propose(ctx, `"after"`); err == nil {
		t.Error("a write was taken after the store failed")
	}
	if c := strings.Count(logs.String(), "storage failed: refusing writes"); c != 1 {
		t.Errorf("the failure was logged %d times, want once\n%s", c, logs.String())
	}
	if tip := n.chain.Tip(); tip.Index != 0 {
		t.Errorf("tip %d after a refused write, want 0", tip.Index)
	}
}

// TestPoWReadyCountsTransportPeers: a pow node that does not mine is
// ready when a peer that may mine is linked over its transport, as
// consensus crosses that, not only over its host (here it has none).
func TestPoWReadyCountsTransportPeers(t *testing.T) {
	net := transport.NewNetwork(0)
	key, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	id := identity.IDFromKey(identity.Public(key))
	ep, peer := net.Endpoint(id), net.Endpoint("peer")
	t.Cleanup(func() { _ = ep.Close(); _ = peer.Close() })
	if !net.Connect(id, "peer") {
		t.Fatal("cannot link the node to its peer")
	}
	cfg := powConfig(false)
	cfg.Key, cfg.Transport = key, ep
	n := start(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Readiness(ctx); err != nil {
		t.Errorf("GET /ready with a peer linked over the transport: %v, want ready", err)
	}
}
