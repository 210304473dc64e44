package p2p

import (
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"

	"naivechain/internal/wire"
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
