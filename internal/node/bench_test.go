package node

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/naivechain/naivechain/internal/loadgen"
	"github.com/naivechain/naivechain/internal/store"
)

// BenchmarkDevnetHTTPWrites measures majority-committed writes per second
// through the HTTP API of a 3-node network over loopback, with 48 clients
// spread over the nodes (keep-alive connections), with every node's store
// on disk (fsynced before any acknowledgement), on a disk made slower by
// store.LoggedOptions.FlushDelay, or in memory.
func BenchmarkDevnetHTTPWrites(b *testing.B) {
	b.Run("disk", func(b *testing.B) { benchHTTPWrites(b, diskStore(0)) })
	// A disk whose flushes take longer than this machine's (a network
	// block device, a spinning disk): 1 and 2 ms more per flush.
	b.Run("disk+1ms", func(b *testing.B) { benchHTTPWrites(b, diskStore(time.Millisecond)) })
	b.Run("disk+2ms", func(b *testing.B) { benchHTTPWrites(b, diskStore(2*time.Millisecond)) })
	b.Run("memory", func(b *testing.B) { benchHTTPWrites(b, nil) })
}

// diskStore opens a node's store in a data dir, its log's flushes made
// longer by delay; nil stands for in-memory stores.
func diskStore(delay time.Duration) func(b *testing.B, dataDir string) store.Store {
	return func(b *testing.B, dataDir string) store.Store {
		st, err := store.OpenLogged(filepath.Join(dataDir, StoreFile), store.LoggedOptions{FlushDelay: delay})
		if err != nil {
			b.Fatal(err)
		}
		return st
	}
}

func benchHTTPWrites(b *testing.B, disk func(b *testing.B, dataDir string) store.Store) {
	nodes := benchCluster(b, disk)
	const clients = 48
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var next atomic.Int64
	var failed atomic.Int64
	b.ResetTimer()
	cpu0 := cpuTime(b)
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			url := "http://" + nodes[c%len(nodes)].HTTPAddr() + "/data"
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				resp, err := client.Post(url, "application/json", bytes.NewBufferString(fmt.Sprintf(`{"data": "bench-%d"}`, i)))
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cpuTime(b) - cpu0
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "writes/s")
	// The process's CPU time (user and system) per write: nodes, HTTP
	// servers and clients together, steadier than writes/s on a shared
	// machine.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/write")
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d writes failed", f, b.N)
	}
}

func benchCluster(b *testing.B, disk func(b *testing.B, dataDir string) store.Store) []*Node {
	b.Helper()
	var nodes []*Node
	stops := []func(){}
	b.Cleanup(func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	})
	for i := 0; i < 3; i++ {
		cfg := Config{Host: "127.0.0.1", Advertise: "127.0.0.1", HTTPPort: 0}
		if disk != nil {
			cfg.DataDir = b.TempDir()
			cfg.Store = disk(b, cfg.DataDir)
		}
		if i > 0 {
			cfg.PeerHost, cfg.PeerPort, cfg.PeerID = "127.0.0.1", nodes[0].Port(), nodes[0].ID()
			cfg.JoinToken = nodes[0].JoinToken()
		}
		n, err := newNode(cfg)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = n.Run(ctx); close(done) }()
		stops = append(stops, func() { cancel(); <-done })
		nodes = append(nodes, n)
	}
	deadline := time.Now().Add(30 * time.Second)
	for voters(&running{Node: nodes[0]}) != 3 {
		if time.Now().After(deadline) {
			b.Fatal("cluster did not form")
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
	return nodes
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime(b *testing.B) time.Duration {
	cpu, ok := loadgen.ProcessCPU()
	if !ok {
		b.Fatal("cannot read the process's CPU time")
	}
	return cpu
}
