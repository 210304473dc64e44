package p2p

import (
	"context"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/naivechain/naivechain/internal/wire"
)

// BenchmarkPingPong measures one consensus message each way between two
// connected Hosts over loopback per op: encode, queue, WebSocket write and
// read, decode, inbound queue. cpu-ns/op is the process's CPU time (user
// and system) per op.
func BenchmarkPingPong(b *testing.B) {
	x := startNode(b, "a", "", nil)
	y := startNode(b, "b", "", nil)
	y.connect(b, x)
	waitFor(b, "connected", func() bool { return hasPeer(x.h, "b") && hasPeer(y.h, "a") }, 10*time.Second)
	msg := &wire.Consensus{Payload: make([]byte, 170)}
	timeout := time.After(time.Minute)
	cpu0 := cpuTime(b)
	b.ResetTimer()
	for b.Loop() {
		if !x.h.Send("b", msg) {
			b.Fatal("Send a->b failed")
		}
		select {
		case <-y.h.Inbound():
		case <-timeout:
			b.Fatal("a->b not delivered")
		}
		if !y.h.Send("a", msg) {
			b.Fatal("Send b->a failed")
		}
		select {
		case <-x.h.Inbound():
		case <-timeout:
			b.Fatal("b->a not delivered")
		}
	}
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkHandshake measures one native connection set up per op over
// loopback: TCP, the TLS 1.3 handshake with both certificates checked,
// the WebSocket upgrade and the Hello exchange. The connection is then
// closed, outside the timed part, and the next op starts once both ends
// let it go. cpu-ns/op counts the timed part only.
func BenchmarkHandshake(b *testing.B) {
	x := startNode(b, "a", "", nil)
	y := startNode(b, "b", "", func(c *Config) { c.Heartbeat = time.Hour }) // no redial between ops
	var cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c0 := cpuTime(b)
		if _, err := y.h.Connect(context.Background(), "127.0.0.1", x.port, "a"); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime(b) - c0
		b.StopTimer()
		y.h.Disconnect("a", "benchmark")
		waitFor(b, "disconnected", func() bool { return !hasPeer(x.h, "b") && !hasPeer(y.h, "a") }, 10*time.Second)
		b.StartTimer()
	}
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
}

// BenchmarkRefusedConnection measures what a connection refused past the
// per-address cap costs the node: the HTTP request read, the count checked,
// the 503 written, over loopback. It is the cost of a stranger who keeps
// knocking.
func BenchmarkRefusedConnection(b *testing.B) {
	x := startNode(b, "a", "", func(c *Config) { c.MaxConnsPerIP = 1; c.MaxHandshakesPerIP = 1 })
	s, why := x.h.limits.admitInbound("127.0.0.1")
	if s == nil {
		b.Fatal(why)
	}
	defer s.handshakeOver()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodGet, "http://127.0.0.1:"+x.port+"/", nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Sec-WebSocket-Protocol", wire.Subprotocol)
	for b.Loop() {
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			b.Fatalf("status %d, want 503", resp.StatusCode)
		}
	}
}
