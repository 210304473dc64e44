package p2p

import (
	"time"
)

// Defaults of the bounds on dialing.
const (
	defaultDialRate  = 4.0 // dials per second of peers the owner did not give
	defaultDialBurst = 8
	defaultMaxKnown  = 1024
	// failedAddrMemory is how long the failures of an address are
	// remembered: its backoff keeps growing across the ids it is dialed
	// under until it has not failed for that long.
	failedAddrMemory = time.Minute
	// forgetMetAfter is how long a peer we met (it connected to us, or we
	// learned it and connected) may stay away before it is forgotten.
	// Peers the owner gave keep ForgetAfter.
	forgetMetAfter = time.Minute
	// maxAddrDials bounds the addresses the dialer remembers.
	maxAddrDials = 4096
)

// dialer decides when an address may be dialed: at most one dial in flight
// per host:port; an address that failed waits out a backoff, whatever id it
// is dialed under, so that many ids announcing one address cost no more
// than one; and dials of peers the owner did not give take a token from a
// bucket that refills at DialRate, up to DialBurst. It is not safe for
// concurrent use: the Host guards it with its mutex.
type dialer struct {
	rate   float64
	burst  float64
	tokens float64
	filled time.Time // when tokens was last brought up to date
	jitter func() float64
	addrs  map[string]*addrDials
}

// addrDials is what the dialer knows of one host:port.
type addrDials struct {
	inFlight bool
	failures int       // consecutive failed dials
	retryAt  time.Time // no dial before
	failedAt time.Time // last failure; zero if the last dial succeeded
}

func newDialer(rate float64, burst int, jitter func() float64) *dialer {
	return &dialer{rate: rate, burst: float64(burst), tokens: float64(burst), jitter: jitter,
		addrs: make(map[string]*addrDials)}
}

// refill brings the bucket up to now. A clock that goes back adds nothing.
func (d *dialer) refill(now time.Time) {
	if d.filled.IsZero() {
		d.filled = now
	}
	if el := now.Sub(d.filled); el > 0 {
		d.tokens = min(d.burst, d.tokens+d.rate*el.Seconds())
		d.filled = now
	}
}

// start reports whether addr may be dialed now and, if so, counts the dial
// as in flight; a peer the owner did not give (owned false) also takes a
// token. Every start that returns true must be followed by done.
func (d *dialer) start(addr string, owned bool, now time.Time) bool {
	a := d.addrs[addr]
	if a != nil && (a.inFlight || now.Before(a.retryAt)) {
		return false
	}
	if !owned {
		d.refill(now)
		if d.tokens < 1 {
			return false
		}
		d.tokens--
	}
	if a == nil {
		d.makeRoom(now)
		a = &addrDials{}
		d.addrs[addr] = a
	}
	a.inFlight = true
	return true
}

// done records the outcome of a dial of addr started by start.
func (d *dialer) done(addr string, ok bool, now time.Time) {
	a := d.addrs[addr]
	if a == nil {
		return
	}
	a.inFlight = false
	if ok {
		delete(d.addrs, addr)
		return
	}
	if !d.failedRecently(addr, now) {
		a.failures = 0
	}
	a.retryAt = now.Add(backoff(a.failures, d.jitter()))
	a.failures++
	a.failedAt = now
}

// failedRecently reports whether a dial of addr failed within
// failedAddrMemory.
func (d *dialer) failedRecently(addr string, now time.Time) bool {
	a := d.addrs[addr]
	return a != nil && !a.failedAt.IsZero() && now.Sub(a.failedAt) < failedAddrMemory
}

// held reports whether addr failed and waits out its backoff: gossip naming
// it is not believed meanwhile, since it could not be dialed anyway.
func (d *dialer) held(addr string, now time.Time) bool {
	a := d.addrs[addr]
	return a != nil && now.Before(a.retryAt)
}

// inFlight returns the dials in flight.
func (d *dialer) inFlight() int {
	n := 0
	for _, a := range d.addrs {
		if a.inFlight {
			n++
		}
	}
	return n
}

// makeRoom forgets addresses until one more fits: first those whose
// failure is old news, then any not in flight. Dials are rate-bounded, so
// the second pass only runs when the owner dials thousands of addresses.
func (d *dialer) makeRoom(now time.Time) {
	if len(d.addrs) < maxAddrDials {
		return
	}
	for addr, a := range d.addrs {
		if !a.inFlight && !now.Before(a.retryAt) && !d.failedRecently(addr, now) {
			delete(d.addrs, addr)
		}
	}
	for addr, a := range d.addrs {
		if len(d.addrs) < maxAddrDials {
			return
		}
		if !a.inFlight {
			delete(d.addrs, addr)
		}
	}
}
