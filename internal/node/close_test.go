package node

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/clock"
)

// TestCloseWithoutRun: a node made and never run gives back its ports and
// its store's goroutines on Close, a second Close is harmless, and Run
// after Close refuses.
func TestCloseWithoutRun(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  func(t *testing.T) Config
	}{
		{"in memory", func(*testing.T) Config { return Config{} }},
		{"on disk", func(t *testing.T) Config { return Config{DataDir: filepath.Join(t.TempDir(), "n")} }},
		{"pow on disk", func(t *testing.T) Config {
			c := powConfig(true)
			c.DataDir = filepath.Join(t.TempDir(), "n")
			return c
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := goleak.IgnoreCurrent()
			cfg := tc.cfg(t)
			cfg.Host, cfg.HTTPHost, cfg.HTTPPort, cfg.PprofAddr = "127.0.0.1", "127.0.0.1", 0, "127.0.0.1:0"
			n, err := newNode(cfg)
			if err != nil {
				t.Fatal(err)
			}
			addrs := []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(n.Port())), n.HTTPAddr(), n.PprofAddr()}
			if err := n.Close(); err != nil {
				t.Fatal(err)
			}
			if err := n.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			if err := goleak.Find(before); err != nil {
				t.Fatal(err)
			}
			for _, a := range addrs {
				ln, err := net.Listen("tcp", a)
				if err != nil {
					t.Fatalf("%s still bound after Close: %v", a, err)
				}
				ln.Close()
			}
			if err := n.Run(context.Background()); !errors.Is(err, ErrClosed) {
				t.Fatalf("Run after Close: %v, want ErrClosed", err)
			}
		})
	}
}

// TestCloseAfterRun: once Run has started, Close leaves everything to
// Run's own shutdown.
func TestCloseAfterRun(t *testing.T) {
	r := start(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := r.Status(ctx); err != nil { // the loop answers: Run has started
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Status(ctx); err != nil {
		t.Fatalf("Close stopped a running node: %v", err)
	}
}

// TestNoEngine: a config without an engine is refused before anything is
// opened.
func TestNoEngine(t *testing.T) {
	if _, err := New(Config{Host: "127.0.0.1"}); !errors.Is(err, ErrNoEngine) {
		t.Fatalf("err %v, want ErrNoEngine", err)
	}
}

var epochForTest = time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)

// TestManualClockStart: the node reads its start time from its clock.
func TestManualClockStart(t *testing.T) {
	c := clock.NewManual(epochForTest)
	n, err := newNode(Config{Host: "127.0.0.1", HTTPPort: 0, Clock: c})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if got := n.Info().Started; !got.Equal(epochForTest) {
		t.Fatalf("started %v, want the clock's %v", got, epochForTest)
	}
}

// TestChainViewIsNotTheChain: the view a node hands out reads its chain
// but cannot be turned back into the writable chain.
func TestChainViewIsNotTheChain(t *testing.T) {
	n, err := newNode(Config{Host: "127.0.0.1", HTTPPort: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	v := n.Chain()
	if _, ok := v.(*chain.Chain); ok {
		t.Fatal("Node.Chain's view is the *chain.Chain itself")
	}
	if v.Len() != 1 || v.Tip().Index != 0 || !v.Healthy() {
		t.Fatalf("view of a new node: len %d, tip %d, healthy %v", v.Len(), v.Tip().Index, v.Healthy())
	}
}
