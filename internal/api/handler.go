package api

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/logging"
)

// Limits of the API.
const (
	// MaxBodyBytes bounds a request body; a larger one gets 413.
	MaxBodyBytes = 1 << 20
	// DefaultWriteTimeout is used when Options.WriteTimeout is zero.
	DefaultWriteTimeout = 10 * time.Second
	// DefaultPageSize and MaxPageSize bound GET /blocks.
	DefaultPageSize = 100
	MaxPageSize     = 1000
	// DefaultEventKeepAlive and DefaultMaxEventStreams are used when the
	// Options fields of the same names are zero.
	DefaultEventKeepAlive  = 15 * time.Second
	DefaultMaxEventStreams = 64
	// DefaultBodyTimeout is used when Options.BodyTimeout is zero.
	DefaultBodyTimeout = 30 * time.Second
	// DefaultResponseTimeout is used when Options.ResponseTimeout is zero.
	DefaultResponseTimeout = 30 * time.Second
)

// Status values of every answer.
const (
	StatusOK    = "OK"
	StatusError = "ERROR"
)

// Options configures NewHandler. The zero value is usable.
type Options struct {
	// Logger receives the API's logs; nil discards them.
	Logger *slog.Logger
	// WriteTimeout is the deadline of the context given to Backend.Propose
	// and Backend.Connect; zero means DefaultWriteTimeout.
	WriteTimeout time.Duration
	// EventKeepAlive is how long a GET /events stream may stay silent
	// before it sends a comment line, so that proxies and clients do not
	// take it for dead; zero means DefaultEventKeepAlive.
	EventKeepAlive time.Duration
	// MaxEventStreams bounds the GET /events streams served at once;
	// zero means DefaultMaxEventStreams.
	MaxEventStreams int
	// BodyTimeout bounds reading a request's body, from the moment its
	// handler starts; a body that takes longer is answered 408. Zero means
	// DefaultBodyTimeout. The server's ReadHeaderTimeout bounds the
	// headers; a server-wide ReadTimeout cannot be used, as it would also
	// end event streams and writes waiting for their block.
	BodyTimeout time.Duration
	// ResponseTimeout bounds writing an answer, on top of WriteTimeout
	// for the answers that wait for the chain, so that a client that stops
	// reading cannot hold a connection forever. GET /data and GET /events
	// get it anew for every chunk they write. Zero means
	// DefaultResponseTimeout.
	ResponseTimeout time.Duration
	// Metrics, when set, serves GET /metrics (the node's Prometheus
	// registry).
	Metrics http.Handler
	// ObserveRequest, when set, is called once per request answered, with
	// the route (the pattern that matched, "/" for an unknown path) and
	// the status code.
	ObserveRequest func(route string, code int)
	// VHosts lists the host names the API answers to besides IP addresses
	// and localhost (requests naming another Host are refused, against DNS
	// rebinding); "*" lets any name through.
	VHosts []string
	// Root, if set, serves GET / and GET /ui/{file} (the explorer page and its
	// assets, internal/explorer); every other unknown path stays a JSON 404.
	Root http.Handler
}

// handler holds what the route handlers share.
type handler struct {
	b              Backend
	log            *slog.Logger
	writeTimeout   time.Duration
	eventKeepAlive time.Duration
	bodyTimeout    time.Duration
	respTimeout    time.Duration
	// streams holds one token per GET /events stream being served.
	streams chan struct{}

	shutdownMu sync.Mutex
	shutdown   map[*http.Server]<-chan struct{}
}

// NewHandler returns the HTTP API over b.
func NewHandler(b Backend, opts Options) http.Handler {
	h := &handler{
		b:              b,
		log:            opts.Logger,
		writeTimeout:   opts.WriteTimeout,
		eventKeepAlive: opts.EventKeepAlive,
		bodyTimeout:    cmp.Or(max(opts.BodyTimeout, 0), DefaultBodyTimeout),
		respTimeout:    cmp.Or(max(opts.ResponseTimeout, 0), DefaultResponseTimeout),
		streams:        make(chan struct{}, cmp.Or(max(opts.MaxEventStreams, 0), DefaultMaxEventStreams)),
		shutdown:       make(map[*http.Server]<-chan struct{}),
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.log = logging.Actor(h.log, "HTTP_SERVER")
	if h.writeTimeout <= 0 {
		h.writeTimeout = DefaultWriteTimeout
	}
	if h.eventKeepAlive <= 0 {
		h.eventKeepAlive = DefaultEventKeepAlive
	}

	// Patterns carry no method: the stdlib mux would answer a wrong method
	// or an unknown path in plain text, and every answer here is JSON.
	mux := http.NewServeMux()
	mux.Handle("/data", methods{http.MethodGet: h.getData, http.MethodPost: h.postData})
	mux.Handle("/node", methods{http.MethodGet: h.getNode})
	mux.Handle("/peers", methods{http.MethodGet: h.getPeers, http.MethodPost: h.postPeers})
	mux.Handle("/blocks", methods{http.MethodGet: h.getBlocks})
	mux.Handle("/blocks/{index}", methods{http.MethodGet: h.getBlock})
	mux.Handle("/status", methods{http.MethodGet: h.getStatus})
	mux.Handle("/entries", methods{http.MethodPost: h.postEntries})
	mux.Handle("/entries/{id}", methods{http.MethodGet: h.getEntry})
	mux.Handle("/events", methods{http.MethodGet: h.getEvents})
	mux.Handle("/health", methods{http.MethodGet: h.getHealth})
	mux.Handle("/ready", methods{http.MethodGet: h.getReady})
	if opts.Metrics != nil {
		mux.Handle("/metrics", methods{http.MethodGet: opts.Metrics.ServeHTTP})
	}
	if opts.Root != nil {
		mux.Handle("/{$}", methods{http.MethodGet: opts.Root.ServeHTTP})
		mux.Handle("/ui/{file}", methods{http.MethodGet: opts.Root.ServeHTTP})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not found")
	})
	return h.bounded(counted(guarded(mux, opts.VHosts), opts.ObserveRequest))
}

// bounded gives every answer a write deadline. A connection's deadlines
// outlive its requests (net/http resets none of them without a server
// WriteTimeout, which would end event streams), so each request sets its
// own.
func (h *handler) bounded(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Not every ResponseWriter has deadlines (a recorder has none).
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(h.writeTimeout + h.respTimeout))
		next.ServeHTTP(w, r)
	})
}

// body returns r's body bounded in size and in time. done lifts the time
// bound once the body is read: a write then waits for its block while
// nothing is read, and net/http cancels a request's context when the
// connection's read deadline passes.
func (h *handler) body(w http.ResponseWriter, r *http.Request) (body io.Reader, done func()) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(h.bodyTimeout))
	return http.MaxBytesReader(w, r.Body, MaxBodyBytes), func() { _ = rc.SetReadDeadline(time.Time{}) }
}

// methods dispatches a path's requests on their method and answers any
// other method with a JSON 405.
type methods map[string]http.HandlerFunc

func (m methods) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f, ok := m[r.Method]; ok {
		f(w, r)
		return
	}
	allow := make([]string, 0, len(m))
	for method := range m {
		allow = append(allow, method)
	}
	slices.Sort(allow)
	w.Header().Set("Allow", strings.Join(allow, ", "))
	writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed; use %s", r.Method, strings.Join(allow, " or ")))
}

// okBody and errorBody are the two answer shapes; field order is key order.
type okBody struct {
	Status string `json:"status"`
	Data   any    `json:"data"`
}

type errorBody struct {
	Status string `json:"status"`
	// Data is false on a refused write, the entry's state on an unknown
	// entry, absent otherwise.
	Data  any    `json:"data,omitempty"`
	Error string `json:"error"`
}

// writeJSON answers v in the original's bytes: Python's json.dumps
// spacing and escapes (appendPyJSON), then a newline, as Flask-RESTful
// writes.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only a bug (a value encoding/json cannot take) gets here.
		status = http.StatusInternalServerError
		buf.Reset()
		_ = enc.Encode(errorBody{Status: StatusError, Error: "encoding the answer: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(appendPyJSON(make([]byte, 0, buf.Len()+buf.Len()/4), buf.Bytes())) // a failed write means the client is gone
}

// okTrue is the answer of every acknowledged write, encoded once.
var okTrue = []byte(`{"status": "OK", "data": true}` + "\n")

func writeOK(w http.ResponseWriter, data any) {
	if data == true {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(okTrue)
		return
	}
	writeJSON(w, http.StatusOK, okBody{Status: StatusOK, Data: data})
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Status: StatusError, Error: msg})
}

// writeRefused answers a write (POST /data, POST /peers) that was refused.
func writeRefused(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Status: StatusError, Data: false, Error: msg})
}

// writeDecodeError answers a body that DecodeWrite or decodeConnect refused.
func (h *handler) writeDecodeError(w http.ResponseWriter, err error) {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		w.Header().Set("Connection", "close") // the rest of the body may still come
		writeError(w, http.StatusRequestTimeout, fmt.Sprintf("request body not received within %v", h.bodyTimeout))
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", tooLarge.Limit))
	case errors.Is(err, block.ErrDataTooLong):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("data longer than %d bytes once encoded", block.MaxDataLen))
	default:
		writeError(w, http.StatusBadRequest, err.Error())
	}
}

// clientGone reports whether r's client went away, in which case nobody
// reads an answer.
func clientGone(r *http.Request) bool {
	return errors.Is(r.Context().Err(), context.Canceled)
}

func (h *handler) postData(w http.ResponseWriter, r *http.Request) {
	body, done := h.body(w, r)
	data, err := DecodeWrite(body)
	done()
	if err != nil {
		h.log.Debug("refused POST /data", "err", err)
		h.writeDecodeError(w, err)
		return
	}
	if noWait(r) {
		h.submit(w, r, []string{data})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.writeTimeout)
	defer cancel()
	b, err := h.b.Propose(ctx, data)
	if err != nil {
		if clientGone(r) {
			h.log.Info("client left before its write was decided", "err", err)
			return
		}
		msg, mayCommit := writeFailure(err, h.writeTimeout)
		h.log.Warn("write failed", "err", err, "may_still_commit", mayCommit)
		writeRefused(w, writeStatus(err), msg)
		return
	}
	h.log.Debug("block added", "index", b.Index, "hash", b.CurrHash)
	writeOK(w, true)
}

// postEntries answers POST /entries: a JSON array of values committed
// together, as consecutive blocks, or not at all.
func (h *handler) postEntries(w http.ResponseWriter, r *http.Request) {
	body, done := h.body(w, r)
	data, err := DecodeEntries(body)
	done()
	if err != nil {
		h.log.Debug("refused POST /entries", "err", err)
		h.writeDecodeError(w, err)
		return
	}
	if noWait(r) {
		h.submit(w, r, data)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.writeTimeout)
	defer cancel()
	bs, err := h.b.ProposeAll(ctx, data)
	if err != nil {
		if clientGone(r) {
			h.log.Info("client left before its writes were decided", "err", err)
			return
		}
		msg, mayCommit := writeFailure(err, h.writeTimeout)
		h.log.Warn("writes failed", "err", err, "may_still_commit", mayCommit)
		writeRefused(w, writeStatus(err), msg)
		return
	}
	writeOK(w, entriesBody{First: bs[0].Index, Count: len(bs)})
}

// noWait reports whether a write asks not to wait for its block
// (?wait=false).
func noWait(r *http.Request) bool { return r.URL.Query().Get("wait") == "false" }

// submitBody is the data of a write answered before its block: the ids
// to follow it by with GET /entries/{id}.
type submitBody struct {
	IDs []string `json:"ids"`
}

// submit queues a write without waiting: 202 and the entries' ids.
func (h *handler) submit(w http.ResponseWriter, r *http.Request, data []string) {
	ctx, cancel := context.WithTimeout(r.Context(), h.writeTimeout)
	defer cancel()
	ids, err := h.b.Submit(ctx, data)
	if err != nil {
		writeRefused(w, writeStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusAccepted, okBody{Status: StatusOK, Data: submitBody{IDs: ids}})
}

// getEntry answers GET /entries/{id}: where the entry stands.
func (h *handler) getEntry(w http.ResponseWriter, r *http.Request) {
	st, err := h.b.Entry(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, ErrBadEntryID):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, ErrUnsupported):
		writeError(w, http.StatusNotImplemented, err.Error())
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, err.Error())
	case st.State == "unknown":
		writeJSON(w, http.StatusNotFound, errorBody{Status: StatusError, Data: st,
			Error: "unknown entry: neither pending in the mempool nor in a block of the best chain"})
	default:
		writeOK(w, st)
	}
}

// entriesBody is POST /entries' data: where the blocks went.
type entriesBody struct {
	First uint64 `json:"first"`
	Count int    `json:"count"`
}

// writeStatus is the HTTP status of a refused write: 409 for a group that
// conflicts with entries already pending or written (retrying cannot
// help), 413 for a group too large for any block, 501 where the engine
// has no such write, 503 (try again later) otherwise.
func writeStatus(err error) int {
	switch {
	case errors.Is(err, ErrConflict):
		return http.StatusConflict
	case errors.Is(err, block.ErrDataTooLong):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrUnsupported):
		return http.StatusNotImplemented
	}
	return http.StatusServiceUnavailable
}

// writeFailure returns the message shown for a failed Propose and whether
// the write may still be committed. An UncertainWrite's own message is
// shown as is. A bare deadline error is uncertain too (the backend gave
// up waiting, not necessarily the peers), so it gets a message saying so.
func writeFailure(err error, timeout time.Duration) (msg string, mayCommit bool) {
	var uw UncertainWrite
	if errors.As(err, &uw) {
		return err.Error(), uw.MayStillCommit()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("write not committed within %v (%v); it may still be committed later", timeout, err), true
	}
	return err.Error(), false
}

// nodeBody is GET /node's data; field order is key order.
type nodeBody struct {
	PeerID    string `json:"peer_id"`
	DataCount uint64 `json:"data_count"`
	Health    bool   `json:"health"`
	RPCPort   string `json:"rpc_port"`
	Age       string `json:"age"`
}

// AgeLayout is how GET /node shows the start time, as Python's str(datetime).
const AgeLayout = "2006-01-02 15:04:05.000000"

func (h *handler) getNode(w http.ResponseWriter, r *http.Request) {
	if !h.barrier(w, r) {
		return
	}
	info := h.b.Info()
	writeOK(w, nodeBody{
		PeerID:    info.PeerID,
		DataCount: info.DataCount,
		Health:    info.Health,
		RPCPort:   info.RPCPort,
		Age:       info.Started.Local().Format(AgeLayout),
	})
}

// peerAddr is one value of GET /peers' data object.
type peerAddr struct {
	Host string `json:"host"`
	Port string `json:"port"`
}

// peerMap marshals as a JSON object keyed by peer id in the backend's order
// (a Go map would sort the keys). A repeated id keeps its first entry.
type peerMap []Peer

func (pm peerMap) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	buf.WriteByte('{')
	seen := make(map[string]bool, len(pm))
	for _, p := range pm {
		if seen[p.ID] {
			continue
		}
		seen[p.ID] = true
		if len(seen) > 1 {
			buf.WriteByte(',')
		}
		if err := enc.Encode(p.ID); err != nil {
			return nil, err
		}
		buf.WriteByte(':')
		if err := enc.Encode(peerAddr{Host: p.Host, Port: p.Port}); err != nil {
			return nil, err
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil // the caller's encoder compacts away Encode's newlines
}

func (h *handler) getPeers(w http.ResponseWriter, r *http.Request) {
	writeOK(w, peerMap(h.b.Peers()))
}

func (h *handler) postPeers(w http.ResponseWriter, r *http.Request) {
	body, done := h.body(w, r)
	host, port, token, err := decodeConnect(body)
	done()
	if err != nil {
		h.log.Debug("refused POST /peers", "err", err)
		h.writeDecodeError(w, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.writeTimeout)
	defer cancel()
	if err := h.b.Connect(ctx, host, port, token); err != nil {
		if clientGone(r) {
			return
		}
		if errors.Is(err, ErrSelf) {
			h.log.Info("refused to connect to this node itself", "host", host, "port", port)
			writeRefused(w, http.StatusConflict, err.Error())
			return
		}
		if errors.Is(err, ErrForbidden) {
			h.log.Warn("merge refused", "host", host, "port", port, "err", err)
			writeRefused(w, http.StatusForbidden, err.Error())
			return
		}
		h.log.Warn("connect failed", "host", host, "port", port, "err", err)
		writeRefused(w, http.StatusBadGateway, fmt.Sprintf("connecting to %s: %v", net.JoinHostPort(host, port), err))
		return
	}
	h.log.Info("connected to peer", "host", host, "port", port)
	writeOK(w, true)
}

// getStatus answers GET /status: the node's view of consensus.
func (h *handler) getStatus(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), h.writeTimeout)
	defer cancel()
	st, err := h.b.Status(ctx)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	if st.Members == nil {
		st.Members = []Member{}
	}
	if st.Bans == nil {
		st.Bans = []Ban{}
	}
	writeOK(w, st)
}

// getHealth answers GET /health: 200 whenever the process serves
// (liveness); whether it can take writes is GET /ready.
func (h *handler) getHealth(w http.ResponseWriter, r *http.Request) { writeOK(w, true) }

// getReady answers GET /ready: 200 when the node can take a write now,
// else 503 with the reason (readiness, for load balancers and probes).
func (h *handler) getReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), h.writeTimeout)
	defer cancel()
	if err := h.b.Readiness(ctx); err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeOK(w, true)
}
