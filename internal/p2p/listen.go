package p2p

import (
	"bufio"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"
)

// tlsRecordHandshake is the first byte of a TLS ClientHello record; an
// HTTP request (the original's plain WebSocket upgrade) starts with a
// letter.
const tlsRecordHandshake = 0x16

// maxSniffing bounds the accepted connections whose first byte is still
// awaited, maxSniffingPerIP those of one remote IP; past them new
// connections are closed at once.
const (
	maxSniffing      = 256
	maxSniffingPerIP = 16
)

// sniffListener serves TLS and plain connections on one port: it reads the
// first byte of each accepted connection (within a bound) and hands out a
// TLS server connection when it starts a TLS record, the plain connection
// otherwise. An http.Server serving it runs the TLS handshake of the first
// kind (and sets Request.TLS) and serves the second as plain HTTP.
type sniffListener struct {
	net.Listener
	h       *Host
	tls     *tls.Config
	timeout time.Duration
	// open counts the connections handed out and not closed, in all and
	// by remote IP: the TLS handshake runs in the http.Server, before
	// the Host's own caps see the connection, so these bound it.
	maxOpen, maxOpenPerIP int
	openMu                sync.Mutex
	open                  int
	openByIP              map[string]int
	sniffByIP             map[string]int

	out     chan net.Conn
	done    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
	slots   chan struct{}
	accDone chan struct{} // closed when the inner listener fails
	accErr  error         // set before accDone is closed

	mu       sync.Mutex
	sniffing map[net.Conn]time.Time // since when each waits; closed by Close
}

// Listener wraps ln, the peer port's listener, so that native peers reach
// the Host over TLS and the original's nodes over plain WebSocket on the
// same port. Serve the result with an http.Server whose handler is the
// Host. Closing it closes ln and waits for its goroutines.
func (h *Host) Listener(ln net.Listener) net.Listener {
	h.noteListener(ln.Addr())
	l := &sniffListener{Listener: ln, h: h, tls: h.serverTLS, timeout: h.cfg.DialTimeout,
		maxOpen: h.cfg.MaxConns + h.cfg.MaxHandshakes, maxOpenPerIP: h.cfg.MaxConnsPerIP + h.cfg.MaxHandshakesPerIP,
		openByIP: make(map[string]int), sniffByIP: make(map[string]int),
		out: make(chan net.Conn), done: make(chan struct{}), slots: make(chan struct{}, maxSniffing),
		accDone: make(chan struct{}), sniffing: make(map[net.Conn]time.Time)}
	l.wg.Add(1)
	go l.acceptLoop()
	return l
}

func (l *sniffListener) acceptLoop() {
	defer l.wg.Done()
	var backoff time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				l.accErr = err
				close(l.accDone)
				return
			}
			// Out of file descriptors, or another passing error: wait a
			// little and accept again, as http.Server does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(backoff):
				continue
			case <-l.done:
				l.accErr = net.ErrClosed
				close(l.accDone)
				return
			}
		}
		backoff = 0
		ip := remoteIP(c.RemoteAddr().String())
		if _, banned := l.h.limits.addrBanned(ip, l.h.cfg.Now()); banned || !l.take(ip) {
			c.Close() // an address ban, or too many connections open
			continue
		}
		c = &countedConn{Conn: c, l: l, ip: ip}
		if !l.sniffStart(ip) {
			c.Close() // too many connections of this IP that have not spoken yet
			continue
		}
		select {
		case l.slots <- struct{}{}:
		default:
			// Every slot holds a connection that has not spoken: the one
			// waiting longest goes (an honest peer speaks at once), and
			// its place comes free as soon as its reader sees it closed.
			l.evictOldest()
			select {
			case l.slots <- struct{}{}:
			case <-l.done:
				l.sniffDone(ip)
				c.Close()
				continue
			}
		}
		l.mu.Lock()
		select {
		case <-l.done:
			l.mu.Unlock()
			c.Close()
			<-l.slots
			l.sniffDone(ip)
			continue
		default:
		}
		l.sniffing[c] = time.Now()
		l.wg.Add(1)
		l.mu.Unlock()
		go l.sniff(c)
	}
}

// sniff reads the first byte of c and hands c out.
func (l *sniffListener) sniff(c net.Conn) {
	defer l.wg.Done()
	_ = c.SetReadDeadline(time.Now().Add(l.timeout))
	br := bufio.NewReaderSize(c, 1024)
	first, err := br.Peek(1)
	<-l.slots
	l.sniffDone(remoteIP(c.RemoteAddr().String()))
	l.mu.Lock()
	delete(l.sniffing, c)
	l.mu.Unlock()
	if err != nil {
		c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	var out net.Conn = &peekedConn{Conn: c, r: br}
	if first[0] == tlsRecordHandshake {
		out = tls.Server(out, l.tls)
	}
	select {
	case l.out <- out:
	case <-l.done:
		c.Close()
	}
}

// Accept returns the next connection, TLS or plain.
func (l *sniffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.out:
		return c, nil
	case <-l.accDone:
		return nil, l.accErr
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close closes the listener and every connection not yet handed out.
func (l *sniffListener) Close() error {
	err := l.Listener.Close()
	l.once.Do(func() {
		l.mu.Lock()
		close(l.done)
		for c := range l.sniffing {
			c.Close()
		}
		l.mu.Unlock()
	})
	l.wg.Wait()
	return err
}

// peekedConn is a connection whose first bytes were read ahead.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// take counts a new connection from ip, unless a bound is reached.
func (l *sniffListener) take(ip string) bool {
	l.openMu.Lock()
	defer l.openMu.Unlock()
	if l.open >= l.maxOpen || l.openByIP[ip] >= l.maxOpenPerIP {
		return false
	}
	l.open++
	l.openByIP[ip]++
	return true
}

func (l *sniffListener) give(ip string) {
	l.openMu.Lock()
	defer l.openMu.Unlock()
	l.open--
	if l.openByIP[ip]--; l.openByIP[ip] <= 0 {
		delete(l.openByIP, ip)
	}
}

// countedConn gives its place back when closed, once.
type countedConn struct {
	net.Conn
	l    *sniffListener
	ip   string
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.give(c.ip) })
	return c.Conn.Close()
}

// sniffStart counts a connection of ip awaiting its first byte, unless
// ip has maxSniffingPerIP already.
func (l *sniffListener) sniffStart(ip string) bool {
	l.openMu.Lock()
	defer l.openMu.Unlock()
	if l.sniffByIP[ip] >= maxSniffingPerIP {
		return false
	}
	l.sniffByIP[ip]++
	return true
}

func (l *sniffListener) sniffDone(ip string) {
	l.openMu.Lock()
	defer l.openMu.Unlock()
	if l.sniffByIP[ip]--; l.sniffByIP[ip] <= 0 {
		delete(l.sniffByIP, ip)
	}
}

// evictOldest closes the connection that has waited longest for its first
// byte.
func (l *sniffListener) evictOldest() {
	l.mu.Lock()
	defer l.mu.Unlock()
	var oldest net.Conn
	var since time.Time
	for c, t := range l.sniffing {
		if oldest == nil || t.Before(since) {
			oldest, since = c, t
		}
	}
	if oldest != nil {
		oldest.Close()
	}
}
