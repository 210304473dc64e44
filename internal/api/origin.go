package api

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// guarded refuses two kinds of requests a web page in a user's browser can
// make to a node it should not reach:
//
//   - a cross-site request: an Origin header (browsers send one with every
//     cross-origin request and every POST) naming another host and port
//     than the request's own Host. curl and other clients send none.
//   - a DNS rebinding: a Host that is not an IP literal, "localhost" or
//     one of hosts. A page of attacker.example whose name was rebound to
//     127.0.0.1 reaches the node with Host attacker.example.
//
// hosts lists the host names the API answers to besides those; "*" in it
// turns the Host check off (the Origin check stays).
func guarded(next http.Handler, hosts []string) http.Handler {
	anyHost := false
	named := make(map[string]bool, len(hosts))
	for _, h := range hosts {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "*" {
			anyHost = true
		}
		if h != "" {
			named[h] = true
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !anyHost && !allowedHost(r.Host, named) {
			writeError(w, http.StatusForbidden, "host "+quoteHost(r.Host)+" is not one this node answers to: use its IP address or localhost, or start it with --http-vhosts naming that host")
			return
		}
		if o := r.Header.Get("Origin"); o != "" && !sameOrigin(o, r.Host) {
			writeError(w, http.StatusForbidden, "cross-origin request refused: a page of "+quoteHost(o)+" may not use this node's API")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// allowedHost reports whether hostport (a Host header) names an IP address,
// localhost, or a host in named.
func allowedHost(hostport string, named map[string]bool) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if host == "" {
		return false
	}
	if net.ParseIP(host) != nil || host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	return named[host]
}

// sameOrigin reports whether origin (an Origin header) names the scheme-less
// host and port of the request itself. An origin of "null" (a sandboxed or
// file: page) is another origin.
func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return false
	}
	return strings.EqualFold(u.Host, host)
}

// quoteHost keeps a client's header from shaping the error text.
func quoteHost(s string) string {
	if len(s) > 100 {
		s = s[:100] + "..."
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, `"`+s+`"`)
}
