package p2p

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
)

func TestSelfAddr(t *testing.T) {
	ap := netip.MustParseAddrPort
	ifaces := func() []netip.Addr {
		return []netip.Addr{netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("2001:db8::7")}
	}
	tests := []struct {
		name       string
		host, port string
		listen     []netip.AddrPort
		want       bool
	}{
		{"advertised", "node1.example", "9803", nil, true},
		{"advertised, other case and root dot", "NODE1.example.", "9803", nil, true},
		{"advertised host, other port", "node1.example", "9804", nil, false},
		{"listen IP", "10.1.2.3", "9803", []netip.AddrPort{ap("10.1.2.3:9803")}, true},
		{"listen IP, other port", "10.1.2.3", "9804", []netip.AddrPort{ap("10.1.2.3:9803")}, false},
		{"loopback, listening on loopback", "127.0.0.1", "9803", []netip.AddrPort{ap("127.0.0.1:9803")}, true},
		{"other loopback IP, listening on 127.0.0.1", "127.0.0.2", "9803", []netip.AddrPort{ap("127.0.0.1:9803")}, false},
		{"0.0.0.0, listening on loopback", "0.0.0.0", "9803", []netip.AddrPort{ap("127.0.0.1:9803")}, true},
		{"localhost, listening on loopback", "localhost", "9803", []netip.AddrPort{ap("127.0.0.1:9803")}, true},
		{"Localhost., listening on ::1", "Localhost.", "9803", []netip.AddrPort{ap("[::1]:9803")}, true},
		{"mapped IPv4", "::ffff:127.0.0.1", "9803", []netip.AddrPort{ap("127.0.0.1:9803")}, true},
		{"loopback, listening on one other IP", "127.0.0.1", "9803", []netip.AddrPort{ap("10.1.2.3:9803")}, false},
		{"loopback, listening everywhere", "127.0.0.1", "9803", []netip.AddrPort{ap("0.0.0.0:9803")}, true},
		{"::1, listening on 0.0.0.0", "::1", "9803", []netip.AddrPort{ap("0.0.0.0:9803")}, false},
		{"::1, listening on ::", "::1", "9803", []netip.AddrPort{ap("[::]:9803")}, true},
		{"127.0.0.1, listening on ::", "127.0.0.1", "9803", []netip.AddrPort{ap("[::]:9803")}, true},
		{"an interface's IP, listening everywhere", "192.0.2.7", "9803", []netip.AddrPort{ap("0.0.0.0:9803")}, true},
		{"an interface's IPv6, listening on ::", "2001:db8::7", "9803", []netip.AddrPort{ap("[::]:9803")}, true},
		{"another host's IP, listening everywhere", "192.0.2.8", "9803", []netip.AddrPort{ap("0.0.0.0:9803")}, false},
		{"a name is never resolved", "me.example", "9803", []netip.AddrPort{ap("0.0.0.0:9803")}, false},
		{"localhost, other port", "localhost", "9804", []netip.AddrPort{ap("127.0.0.1:9803")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := selfAddr(tt.host, tt.port, "node1.example", "9803", tt.listen, ifaces); got != tt.want {
				t.Errorf("selfAddr(%q, %q, listening on %v) = %v, want %v", tt.host, tt.port, tt.listen, got, tt.want)
			}
		})
	}
}

// TestConnectToSelfByAddress dials a node's own address as a user may
// spell it: each is refused with ErrSelf before any dial.
func TestConnectToSelfByAddress(t *testing.T) {
	a := startNode(t, "a", "", nil)
	for _, host := range []string{"127.0.0.1", "localhost", "LocalHost", "0.0.0.0", "::ffff:127.0.0.1"} {
		_, err := a.h.Connect(context.Background(), host, a.port, "")
		var se *SelfError
		if !errors.Is(err, ErrSelf) || !errors.As(err, &se) || se.Why != "it is one of its own addresses" {
			t.Errorf("Connect(%s:%s) = %v, want a SelfError for one of its own addresses", host, a.port, err)
		}
	}
	if len(a.h.Peers()) != 0 {
		t.Fatalf("a lists itself: %v", a.h.Peers())
	}
}

// TestConnectToSelfThroughForwarder dials an address the node cannot know
// as its own (a port forwarded to its own): the id its certificate proves
// refuses it.
func TestConnectToSelfThroughForwarder(t *testing.T) {
	a := startNode(t, "a", "", nil)
	fwd := forward(t, net.JoinHostPort("127.0.0.1", a.port))
	host, port, _ := net.SplitHostPort(fwd)
	_, err := a.h.Connect(context.Background(), host, port, "")
	if !errors.Is(err, ErrSelf) || !strings.Contains(err.Error(), "proves this node's own id") {
		t.Fatalf("Connect through a forwarder to itself = %v, want ErrSelf for the id proven", err)
	}
	if len(a.h.Peers()) != 0 {
		t.Fatalf("a lists itself: %v", a.h.Peers())
	}
}

// forward listens on a loopback port and copies each connection to and
// from target until the test ends. It returns the port's address.
func forward(t *testing.T, target string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	track := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			track(in)
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			track(out)
			wg.Add(2)
			pipe := func(dst, src net.Conn) {
				defer wg.Done()
				_, _ = io.Copy(dst, src)
				dst.Close()
				src.Close()
			}
			go pipe(out, in)
			go pipe(in, out)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}
