package node

import (
	"errors"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
)

// TestPprofServesAndStops: a node with a loopback PprofAddr serves the
// profiler there (and not on its API), and stops serving it with Run.
func TestPprofServesAndStops(t *testing.T) {
	n := start(t, Config{PprofAddr: "127.0.0.1:0"})
	addr := n.PprofAddr()
	if addr == "" {
		t.Fatal("PprofAddr is empty on a node serving the profiler")
	}
	index := string(get(t, "http://"+addr+"/debug/pprof/", http.StatusOK))
	if !strings.Contains(index, "goroutine") {
		t.Fatalf("GET /debug/pprof/ lists no goroutine profile:\n%s", index)
	}
	get(t, "http://"+addr+"/debug/pprof/goroutine?debug=1", http.StatusOK)
	get(t, n.HTTPURL()+"/debug/pprof/", http.StatusNotFound)
	n.halt(t)
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatalf("the profiler's address %s still accepts connections after Run returned", addr)
	}
}

// TestPprofOffByDefault: no PprofAddr, no profiler.
func TestPprofOffByDefault(t *testing.T) {
	n := start(t, Config{})
	if a := n.PprofAddr(); a != "" {
		t.Fatalf("PprofAddr %q with none configured", a)
	}
}

// TestPprofRefusesPublicAddress: an address other than loopback, or a
// malformed one, is refused with ErrPprofAddr before anything is opened
// or written.
func TestPprofRefusesPublicAddress(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:6060", ":6060", "[::]:6060", "192.0.2.1:6060", "example.com:6060", "127.0.0.1"} {
		t.Run(addr, func(t *testing.T) {
			cfg := withDir(t, Config{Host: "127.0.0.1", PprofAddr: addr})
			n, err := newNode(cfg)
			if err == nil {
				n.closeListeners()
				n.store.Close()
				t.Fatalf("New accepted PprofAddr %q", addr)
			}
			if !errors.Is(err, ErrPprofAddr) {
				t.Fatalf("New: %v, want ErrPprofAddr", err)
			}
			if files, _ := os.ReadDir(cfg.DataDir); len(files) != 0 {
				t.Fatalf("refused config left %d files in the data dir", len(files))
			}
		})
	}
	if err := checkPprofAddr("[::1]:0", false); err != nil {
		t.Errorf("::1 refused: %v", err)
	}
	if err := checkPprofAddr("localhost:0", false); err != nil {
		t.Errorf("localhost refused: %v", err)
	}
	if err := checkPprofAddr("0.0.0.0:6060", true); err != nil {
		t.Errorf("a public address refused although allowed: %v", err)
	}
}
