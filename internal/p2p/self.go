package p2p

import (
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// SelfError reports a connection asked for that would reach this node
// itself. It matches ErrSelf with errors.Is.
type SelfError struct {
	Addr string // the address dialed, host:port
	Why  string // how it is known: the address, or the id proven
}

func (e *SelfError) Error() string {
	return "p2p: " + e.Addr + " is this node: " + e.Why
}

// Is makes a SelfError match ErrSelf.
func (e *SelfError) Is(target error) bool { return target == ErrSelf }

// noteListener records the address of a listener the Host serves, for
// isSelfAddr.
func (h *Host) noteListener(a net.Addr) {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return // not TCP/IP: nothing to compare a dialed address with
	}
	h.mu.Lock()
	h.listenAddrs = append(h.listenAddrs, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
	h.mu.Unlock()
}

// isSelfAddr reports, without any lookup, whether host:port is an obvious
// spelling of this node's own address.
func (h *Host) isSelfAddr(host, port string) bool {
	h.mu.Lock()
	listen := append([]netip.AddrPort(nil), h.listenAddrs...)
	h.mu.Unlock()
	return selfAddr(host, port, h.cfg.Self.Host, h.cfg.Self.Port, listen, interfaceAddrs)
}

// selfAddr reports whether host:port is the advertised address
// selfHost:selfPort, or reaches one of the listen addresses: its own IP; a
// loopback, unspecified or interface IP (from ifaces) of its family when it
// listens on every interface; the unspecified IP of its family when it
// listens on loopback. "localhost" is read as 127.0.0.1 and ::1. No other
// name is understood: the node never resolves names to refuse a dial, so
// other spellings are left to the proof of identity after the dial.
func selfAddr(host, port, selfHost, selfPort string, listen []netip.AddrPort, ifaces func() []netip.Addr) bool {
	trim := func(s string) string { return strings.ToLower(strings.TrimSuffix(s, ".")) }
	if port == selfPort && trim(host) == trim(selfHost) {
		return true
	}
	var ips []netip.Addr
	if trim(host) == "localhost" {
		ips = []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1}), netip.IPv6Loopback()}
	} else if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip.WithZone("").Unmap()}
	}
	for _, l := range listen {
		if port != strconv.Itoa(int(l.Port())) {
			continue
		}
		for _, ip := range ips {
			if reaches(ip, l.Addr(), ifaces) {
				return true
			}
		}
	}
	return false
}

// reaches reports whether a dial to ip reaches a listener on l.
func reaches(ip, l netip.Addr, ifaces func() []netip.Addr) bool {
	sameFamily := ip.Is4() == l.Is4()
	switch {
	case ip == l:
		return true
	case l.IsUnspecified():
		// A listener on "::" takes IPv4 too (dual stack); one on
		// 0.0.0.0 does not take IPv6.
		if l.Is4() && !ip.Is4() {
			return false
		}
		return ip.IsLoopback() || ip.IsUnspecified() || slices.Contains(ifaces(), ip)
	case l.IsLoopback():
		return ip.IsUnspecified() && sameFamily // a dial to 0.0.0.0 or :: goes to loopback
	}
	return false
}

// interfaceAddrs returns the IPs of this host's interfaces, none when they
// cannot be read.
func interfaceAddrs() []netip.Addr {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p.Addr().WithZone("").Unmap())
		}
	}
	return out
}
