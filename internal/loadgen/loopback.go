package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// ErrNotLoopback is returned for a target whose host is not (or does not
// resolve only to) a loopback address.
var ErrNotLoopback = errors.New("target is not on loopback")

// Resolver looks a host name up; *net.Resolver is one.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// ParseTargets splits a comma-separated list of base URLs
// (http://127.0.0.1:15002,http://[::1]:15004) and returns them without a
// trailing slash. Each must be http or https, name a host and have no
// path, query or fragment.
func ParseTargets(list string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "://") {
			return nil, fmt.Errorf("target %q: want an http:// or https:// URL", s)
		}
		u, err := url.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("target %q: %v", s, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return nil, fmt.Errorf("target %q: want an http:// or https:// URL", s)
		}
		if u.Hostname() == "" {
			return nil, fmt.Errorf("target %q: no host", s)
		}
		if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return nil, fmt.Errorf("target %q: want a base URL such as http://127.0.0.1:15002 (no path, query or user)", s)
		}
		out = append(out, u.Scheme+"://"+u.Host)
	}
	if len(out) == 0 {
		return nil, errors.New("no targets")
	}
	return out, nil
}

// CheckLoopback returns an error wrapping ErrNotLoopback unless every
// target's host is a loopback address (127.0.0.0/8, ::1) or a name all of
// whose addresses are. It resolves names with r (net.DefaultResolver if
// nil) and never connects to anything.
func CheckLoopback(ctx context.Context, r Resolver, targets []string) error {
	if r == nil {
		r = net.DefaultResolver
	}
	for _, t := range targets {
		u, err := url.Parse(t)
		if err != nil {
			return fmt.Errorf("target %q: %v", t, err)
		}
		host := u.Hostname()
		if ip := net.ParseIP(host); ip != nil {
			if !ip.IsLoopback() {
				return fmt.Errorf("%w: %s is %s, not a loopback address; pass --allow-remote to load it", ErrNotLoopback, t, ip)
			}
			continue
		}
		addrs, err := r.LookupIPAddr(ctx, host)
		if err != nil {
			return fmt.Errorf("%w: %s: cannot tell whether %s is loopback: %v; pass --allow-remote to load it anyway", ErrNotLoopback, t, host, err)
		}
		if len(addrs) == 0 {
			return fmt.Errorf("%w: %s: %s resolves to no address", ErrNotLoopback, t, host)
		}
		for _, a := range addrs {
			if !a.IP.IsLoopback() {
				return fmt.Errorf("%w: %s: %s resolves to %s, not a loopback address; pass --allow-remote to load it", ErrNotLoopback, t, host, a.IP)
			}
		}
	}
	return nil
}
