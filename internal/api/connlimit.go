package api

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the node's HTTP server, documented with its configuration.
const (
	// DefaultMaxConns bounds the API's open connections. It stays well
	// under the 1,024 file descriptors many systems give a process, so
	// that the peer port, the store and the log keep theirs.
	DefaultMaxConns = 512
	// DefaultMaxConnsPerAddr bounds the open connections from one IP
	// address: a quarter of the total, so that a single client cannot
	// take every slot.
	DefaultMaxConnsPerAddr = 128
)

// Bounds of refusing a connection past a limit.
const (
	// refuseTimeout bounds the whole refusal: waiting for the request's
	// headers, then writing the 503.
	refuseTimeout = time.Second
	// maxRefusing bounds the refusals under way; past it a connection is
	// closed without an answer, so that a flood costs no more than this.
	maxRefusing = 64
	// refuseReadBytes bounds what a refusal reads of the request.
	refuseReadBytes = 4096
)

// ConnLimits bounds the connections a LimitListener keeps open.
type ConnLimits struct {
	// Max bounds the open connections in total; zero or negative means
	// no bound.
	Max int
	// PerAddr bounds the open connections from one IP address; zero or
	// negative means no bound.
	PerAddr int
	// Logger hears of refused connections; nil discards.
	Logger *slog.Logger
}

// LimitListener returns a listener over ln that keeps at most l.Max
// connections open, and at most l.PerAddr from one IP address.
//
// A connection past a limit is accepted and, off the accept loop, its
// request's headers are read (at most 4 KiB), it is answered with a 503
// and "Connection: close", and closed, all within a second. A client so
// learns why at once, the descriptor is freed within a second, and the
// connections already open are untouched. The alternative, leaving it in
// the kernel's backlog until a slot frees (as
// golang.org/x/net/netutil.LimitListener does), makes every client behind
// a flood hang. The headers are read first because a client that gets an
// answer before it sent its request takes it for a broken connection (Go's
// does), and because closing a socket with unread bytes resets it, which
// can destroy the answer before the client reads it. At most 64 refusals
// run at once; past that a connection is closed without an answer.
func LimitListener(ln net.Listener, l ConnLimits) *LimitedListener {
	log := l.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &LimitedListener{
		Listener: ln, counts: newConnCounts(l.Max, l.PerAddr), log: log,
		refusing: make(map[net.Conn]struct{}),
	}
}

// LimitedListener is the listener LimitListener returns.
type LimitedListener struct {
	net.Listener
	counts   *connCounts
	log      *slog.Logger
	rejected atomic.Uint64

	mu       sync.Mutex
	closed   bool
	refusing map[net.Conn]struct{} // the refusals under way
	wg       sync.WaitGroup        // their goroutines
}

// Accept waits for a connection within the limits, refusing (and
// closing) those past them.
func (l *LimitedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key := addrKey(c.RemoteAddr())
		if why := l.counts.admit(key); why != "" {
			l.refuse(c, key, why)
			continue
		}
		return &limitedConn{Conn: c, release: sync.OnceFunc(func() { l.counts.release(key) })}, nil
	}
}

// Open returns the connections open now, refused ones not counted.
func (l *LimitedListener) Open() int { return l.counts.open() }

// Close closes the listener, ends the refusals under way and waits for
// them.
func (l *LimitedListener) Close() error {
	err := l.Listener.Close()
	l.mu.Lock()
	l.closed = true
	for c := range l.refusing {
		c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
	return err
}

// refuse answers c with a 503 and closes it, in a goroutine of its own.
// The log line comes at the 1st, 2nd, 4th, 8th... refusal, so that a
// flood cannot flood the log.
func (l *LimitedListener) refuse(c net.Conn, key, why string) {
	if n := l.rejected.Add(1); n&(n-1) == 0 {
		l.log.Warn("refused HTTP connections past the limit", "refused_so_far", n, "last_from", key, "reason", why)
	}
	l.mu.Lock()
	if l.closed || len(l.refusing) >= maxRefusing {
		l.mu.Unlock()
		c.Close()
		return
	}
	l.refusing[c] = struct{}{}
	l.wg.Add(1)
	l.mu.Unlock()
	go func() {
		defer l.wg.Done()
		answerRefused(c, why)
		l.mu.Lock()
		delete(l.refusing, c)
		l.mu.Unlock()
	}()
}

// answerRefused reads c's request headers, answers 503 and closes c, all
// within refuseTimeout.
func answerRefused(c net.Conn, why string) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(refuseTimeout))
	buf := make([]byte, 0, refuseReadBytes)
	for len(buf) < cap(buf) && !bytes.Contains(buf, []byte("\r\n\r\n")) {
		n, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			break // a silent client gets the answer all the same
		}
	}
	_, _ = c.Write(refusal(why))
}

// refusal is the whole HTTP response sent to a connection past a limit.
func refusal(why string) []byte {
	body := fmt.Sprintf(`{"status": "ERROR", "error": "%s; try again later"}`+"\n", why)
	return fmt.Appendf(nil, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"+
		"Retry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

// addrKey is the IP address a limit per address counts by.
func addrKey(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	if host, _, err := net.SplitHostPort(a.String()); err == nil {
		return host
	}
	return a.String()
}

// limitedConn gives its slot back when closed, once.
type limitedConn struct {
	net.Conn
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}

// CloseWrite lets net/http half-close the connection before it closes it
// after an error, as it does on a bare *net.TCPConn.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// connCounts counts open connections, in total and per address.
type connCounts struct {
	max, perAddr int

	mu     sync.Mutex
	total  int
	byAddr map[string]int
}

func newConnCounts(max, perAddr int) *connCounts {
	return &connCounts{max: max, perAddr: perAddr, byAddr: make(map[string]int)}
}

// admit takes a slot for a connection from key, or returns why not.
func (cc *connCounts) admit(key string) (refused string) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.max > 0 && cc.total >= cc.max {
		return fmt.Sprintf("too many connections (limit %d)", cc.max)
	}
	if cc.perAddr > 0 && cc.byAddr[key] >= cc.perAddr {
		return fmt.Sprintf("too many connections from one address (limit %d)", cc.perAddr)
	}
	cc.total++
	cc.byAddr[key]++
	return ""
}

// release gives back a slot admit took for key.
func (cc *connCounts) release(key string) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.total--
	if cc.byAddr[key]--; cc.byAddr[key] <= 0 {
		delete(cc.byAddr, key) // the map holds only the addresses connected now
	}
}

func (cc *connCounts) open() int {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.total
}
