package p2p

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// Defaults of the bounds on what strangers can cost. A devnet runs every
// node on 127.0.0.1 and meshes them, so a node of an n-node devnet holds
// n-1 native connections from that one address, and up to twice that for a
// moment while simultaneous dials settle on one connection per pair; n-1
// handshakes may run at once when they all start together. The per-address
// defaults keep devnets of up to 64 nodes clear of every bound.
const (
	defaultMaxConnsPerIP      = 128
	defaultMaxConns           = 512
	defaultMaxHandshakesPerIP = 64
	defaultMaxHandshakes      = 128
	defaultAddrBanAfter       = 16
	// maxAddrStandings bounds the addresses whose banned ids are
	// remembered; beyond it the least recently seen is forgotten.
	maxAddrStandings = 1024
)

func (c *Config) setLimitDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxConnsPerIP, defaultMaxConnsPerIP)
	def(&c.MaxConns, defaultMaxConns)
	def(&c.MaxHandshakesPerIP, defaultMaxHandshakesPerIP)
	def(&c.MaxHandshakes, defaultMaxHandshakes)
	def(&c.AddrBanAfter, defaultAddrBanAfter)
	def(&c.MaxKnown, defaultMaxKnown)
	def(&c.DialBurst, defaultDialBurst)
	if c.DialRate <= 0 {
		c.DialRate = defaultDialRate
	}
}

// remoteIP is the IP part of a socket address, IPv4-mapped addresses
// unmapped, so that one machine counts as one address whichever way it
// connects. An address that does not parse is its own key.
func remoteIP(addr string) string {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return ap.Addr().Unmap().String()
	}
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// limits counts native connections, by remote IP and in total, and
// remembers the ids banned from each IP. It has its own mutex so that
// admission never waits on the Host's.
type limits struct {
	cfg *Config

	mu         sync.Mutex
	perIP      map[string]*ipLoad
	conns      int // every native connection, both directions, handshakes included
	handshakes int // inbound handshakes in progress
	addrs      map[string]*addrStanding
}

// ipLoad is what one remote IP holds of the inbound budget.
type ipLoad struct {
	conns, handshakes int
}

func newLimits(cfg *Config) *limits {
	return &limits{cfg: cfg, perIP: make(map[string]*ipLoad), addrs: make(map[string]*addrStanding)}
}

// slot is one native connection counted by limits. An inbound slot starts
// as a handshake in progress; the connection it becomes adopts it, and its
// reader releases it when the connection ends. Its methods accept a nil
// slot, so that code paths without one need no test.
type slot struct {
	l         *limits
	ip        string // "" for an outbound slot
	handshake bool   // still counted as a handshake in progress
	adopted   bool   // a registered conn releases it
	released  bool
}

// admitInbound takes a slot for an inbound native connection from ip, or
// returns why none is left.
func (l *limits) admitInbound(ip string) (*slot, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	load := l.perIP[ip]
	if load == nil {
		load = &ipLoad{}
	}
	switch {
	case l.conns >= l.cfg.MaxConns:
		return nil, "too many connections"
	case load.conns >= l.cfg.MaxConnsPerIP:
		return nil, "too many connections from this address"
	case l.handshakes >= l.cfg.MaxHandshakes:
		return nil, "too many handshakes in progress"
	case load.handshakes >= l.cfg.MaxHandshakesPerIP:
		return nil, "too many handshakes in progress from this address"
	}
	l.perIP[ip] = load
	load.conns++
	load.handshakes++
	l.conns++
	l.handshakes++
	return &slot{l: l, ip: ip, handshake: true}, ""
}

// outbound takes a slot for a connection we dialed. Ours are never refused:
// the known-peer bound and the dial rate bound them. They count toward
// MaxConns so that strangers get what is left.
func (l *limits) outbound() *slot {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.conns++
	return &slot{l: l, adopted: true}
}

// adopt hands s over to a registered connection, whose reader releases it.
func (s *slot) adopt() {
	if s == nil {
		return
	}
	s.l.mu.Lock()
	s.adopted = true
	s.l.mu.Unlock()
}

// handshakeOver ends the handshake count of s, and releases s unless a
// registered connection adopted it.
func (s *slot) handshakeOver() {
	if s == nil {
		return
	}
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	if s.handshake {
		s.handshake = false
		s.l.handshakes--
		s.l.perIP[s.ip].handshakes--
	}
	if !s.adopted {
		s.releaseLocked()
	}
	s.l.tidy(s.ip)
}

// release gives back the connection count of s.
func (s *slot) release() {
	if s == nil {
		return
	}
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	s.releaseLocked()
}

func (s *slot) releaseLocked() {
	if s.released {
		return
	}
	s.released = true
	s.l.conns--
	if s.ip == "" {
		return
	}
	s.l.perIP[s.ip].conns--
	s.l.tidy(s.ip)
}

// tidy forgets ip once it holds nothing, which may happen in either order:
// a connection can end before its handshake is counted out.
func (l *limits) tidy(ip string) {
	if load := l.perIP[ip]; load != nil && load.conns == 0 && load.handshakes == 0 {
		delete(l.perIP, ip)
	}
}

// load returns the connections and handshakes counted, in total and for ip.
func (l *limits) load(ip string) (conns, handshakes, ipConns, ipHandshakes int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if p := l.perIP[ip]; p != nil {
		ipConns, ipHandshakes = p.conns, p.handshakes
	}
	return l.conns, l.handshakes, ipConns, ipHandshakes
}

// addrStanding is what limits knows of the bans of one remote IP.
type addrStanding struct {
	banned map[string]time.Time // id → when it was banned, within the window
	until  time.Time            // end of the address ban; zero or past when none
	seen   time.Time            // last ban noted
}

// noteBan records that id, which connected from ip, was banned at now. Once
// AddrBanAfter distinct ids from ip were banned within BanDuration, ip is
// banned for BanDuration; noteBan reports whether this ban did it.
func (l *limits) noteBan(ip, id string, now time.Time) (until time.Time, fresh bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.addrs[ip]
	if s == nil {
		l.makeAddrRoom()
		s = &addrStanding{banned: make(map[string]time.Time)}
		l.addrs[ip] = s
	}
	s.seen = now
	for old, at := range s.banned {
		if now.Sub(at) >= l.cfg.BanDuration {
			delete(s.banned, old)
		}
	}
	if now.Before(s.until) {
		return s.until, false
	}
	s.banned[id] = now
	if len(s.banned) < l.cfg.AddrBanAfter {
		return time.Time{}, false
	}
	s.until = now.Add(l.cfg.BanDuration)
	clear(s.banned)
	return s.until, true
}

// makeAddrRoom forgets the least recently seen address until one more fits.
func (l *limits) makeAddrRoom() {
	for len(l.addrs) >= maxAddrStandings {
		var oldest string
		for ip, s := range l.addrs {
			if oldest == "" || s.seen.Before(l.addrs[oldest].seen) {
				oldest = ip
			}
		}
		delete(l.addrs, oldest)
	}
}

// addrBanned returns the end of the ban of ip, if ip is banned at now.
func (l *limits) addrBanned(ip string, now time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.addrs[ip]
	if s == nil || !now.Before(s.until) {
		return time.Time{}, false
	}
	return s.until, true
}

// admit decides, before anything is read from it, whether an inbound
// connection may proceed. A banned address is refused 403 for everything,
// the original's protocol included; past a cap, a native connection is
// refused 503. Refusals are logged at Debug only: a stranger decides how
// many there are. A refused connection is closed, not kept alive for
// another try. admit reports false once it has answered; a native
// connection admitted holds the returned slot.
func (h *Host) admit(w http.ResponseWriter, r *http.Request, native bool) (*slot, bool) {
	ip := remoteIP(r.RemoteAddr)
	if until, banned := h.limits.addrBanned(ip, h.cfg.Now()); banned {
		h.refused.Add(1)
		h.log.Debug("connection refused", "addr", r.RemoteAddr, "reason", "address banned")
		w.Header().Set("Connection", "close")
		http.Error(w, "address banned until "+until.UTC().Format(time.RFC3339), http.StatusForbidden)
		return nil, false
	}
	if !native {
		return nil, true
	}
	s, why := h.limits.admitInbound(ip)
	if s == nil {
		h.refused.Add(1)
		h.log.Debug("connection refused", "addr", r.RemoteAddr, "reason", why)
		w.Header().Set("Connection", "close")
		http.Error(w, why, http.StatusServiceUnavailable)
		return nil, false
	}
	return s, true
}

// noteBan records the fresh ban of id, connected through c, against c's
// remote IP, and logs an address ban it causes. Only inbound connections
// count: the address of one we dialed is the one we chose.
func (h *Host) noteBan(c *conn, id string, now time.Time) {
	if c == nil || c.outbound {
		return
	}
	ip := remoteIP(c.addr)
	if until, fresh := h.limits.noteBan(ip, id, now); fresh {
		h.log.Warn("address banned", "addr", ip, "until", until.UTC().Format(time.RFC3339),
			"reason", "too many banned peer ids from it")
	}
}
