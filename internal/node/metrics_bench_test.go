package node

import (
	"testing"
	"time"
)

// BenchmarkMetricsOfAWrite is what the metrics add to a client write: its
// result and time, and its HTTP request by route and code.
func BenchmarkMetricsOfAWrite(b *testing.B) {
	m := newMetrics()
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		m.observeWrite(time.Since(start), nil)
		m.observeRequest("/data", 200)
	}
}

// BenchmarkMetricsOfAWriteParallel is the same from many goroutines at
// once, as the API's handlers call it.
func BenchmarkMetricsOfAWriteParallel(b *testing.B) {
	m := newMetrics()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			start := time.Now()
			m.observeWrite(time.Since(start), nil)
			m.observeRequest("/data", 200)
		}
	})
}

// BenchmarkScrape is one GET /metrics' gathering of a running node.
func BenchmarkScrape(b *testing.B) {
	n, err := newNode(Config{Host: "127.0.0.1", HTTPPort: 0})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { n.closeListeners(); n.store.Close() }()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := n.metrics.reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}
