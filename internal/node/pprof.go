package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// ErrPprofAddr refuses a Config.PprofAddr that is malformed, or not a
// loopback address without Config.PprofAllowPublic: the operator must
// change the address (or allow it) before retrying.
var ErrPprofAddr = errors.New("node: pprof address refused")

// checkPprofAddr refuses an address the profiler must not listen on. A
// host name other than localhost is refused too: it may resolve to any
// interface.
func checkPprofAddr(addr string, allowPublic bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%w: %q: %v", ErrPprofAddr, addr, err)
	}
	if allowPublic || isLoopback(host) {
		return nil
	}
	return fmt.Errorf("%w: %q is not a loopback address (127.0.0.1, ::1, localhost): the profiler shows the process's memory and costs CPU to whoever reaches it; allow it explicitly to serve it there", ErrPprofAddr, addr)
}

// checkPprofBound refuses the address the profiler's listener got when it
// is not loopback: "localhost" is resolved by the system (/etc/hosts, then
// DNS), which may name any interface.
func checkPprofBound(addr net.Addr, allowPublic bool) error {
	if a, ok := addr.(*net.TCPAddr); allowPublic || ok && a.IP.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%w: it resolved to %s, not a loopback address: name 127.0.0.1 or ::1", ErrPprofAddr, addr)
}

// pprofHandler serves Go's profiler on a mux of its own: importing
// net/http/pprof also registers it on http.DefaultServeMux, which nothing
// here serves.
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// newPprofServer is the profiler's server. It has no WriteTimeout: a CPU
// profile or trace answers after the seconds asked for.
func newPprofServer(readHeaderTimeout time.Duration) *http.Server {
	return &http.Server{Handler: pprofHandler(), ReadHeaderTimeout: readHeaderTimeout}
}

// stopServer shuts srv down, and closes the connections still open when
// ctx ends (a profile being taken): their handlers see their requests'
// contexts end and return.
func stopServer(ctx context.Context, srv *http.Server) {
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
	}
}

// PprofAddr returns the address the profiler listens on, "" when it is
// off.
func (n *Node) PprofAddr() string {
	if n.pprofLn == nil {
		return ""
	}
	return n.pprofLn.Addr().String()
}
