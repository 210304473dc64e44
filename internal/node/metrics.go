package node

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/naivechain/naivechain/internal/consensus"
)

// metricsNamespace prefixes every metric of the node.
const metricsNamespace = "naivechain"

// maxScrapes bounds the GET /metrics served at once.
const maxScrapes = 4

// Results of a client write, the values of naivechain_writes_total's
// result label.
const (
	writeOK       = "ok"       // committed
	writeBusy     = "busy"     // the node's write queue was full
	writeTimeout  = "timeout"  // not decided within the write timeout
	writeCanceled = "canceled" // the client left first
	writeRefused  = "refused"  // refused by the engine (no leader, a failed store, a conflict, ...)
)

// metrics are a node's Prometheus metrics, in a registry of its own: a
// process may run many nodes (tests do), and the default registry would
// mix them up.
//
// Most values are read when scraped, from state the node keeps anyway
// (nodeCollector); the counters and histograms below are the events no
// state remembers, and cost an atomic add each.
type metrics struct {
	reg           *prometheus.Registry
	handler       http.Handler
	writes        map[string]prometheus.Counter // by result, resolved once
	writeSeconds  prometheus.Histogram
	flushSeconds  prometheus.Histogram
	flushBytes    prometheus.Counter
	leaderChanges prometheus.Counter
	requests      *prometheus.CounterVec
	// requestsSeen caches requests' counters by route and code: a
	// CounterVec's own lookup hashes the labels and takes a lock shared by
	// every handler.
	requestsSeen sync.Map // routeCode -> prometheus.Counter

	// engine is the engine's state as the loop last saw it (at every
	// tick): the engine belongs to the loop's goroutine, and a scrape must
	// not wait for the loop.
	engine atomic.Pointer[engineSnapshot]
	// leader is the last leader seen by observeEngine (loop only).
	leader string
}

// engineSnapshot is what the metrics show of the engine.
type engineSnapshot struct {
	status consensus.Status
	roles  []string // every role the engine names (consensus.RoleLister)
	work   *consensus.WorkStats
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	writes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Name: "writes_total",
		Help: "Client writes (POST /data, POST /entries that wait for their blocks) by result: ok, busy, timeout, canceled, refused.",
	}, []string{"result"})
	m.writes = make(map[string]prometheus.Counter)
	for _, r := range []string{writeOK, writeBusy, writeTimeout, writeCanceled, writeRefused} {
		m.writes[r] = writes.WithLabelValues(r) // every result shows, at 0 until it happens
	}
	m.writeSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: metricsNamespace, Name: "write_duration_seconds",
		Help:    "Time from a client write's arrival at the node to its result, whatever the result.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16), // 0.5ms to 16s: a LAN vote to a slow pow block
	})
	m.flushSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: metricsNamespace, Name: "store_flush_duration_seconds",
		Help:    "Time to write and fdatasync one record of the store's write-ahead log.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16), // 0.1ms to 3.3s
	})
	m.flushBytes = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: metricsNamespace, Name: "store_flushed_bytes_total",
		Help: "Bytes written and flushed to the store's write-ahead log.",
	})
	m.leaderChanges = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: metricsNamespace, Name: "consensus_leader_changes_total",
		Help: "Times this node saw a new leader (vote), the first election included.",
	})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Name: "http_requests_total",
		Help: "HTTP API requests answered, by route (the pattern matched, / for an unknown path) and status code.",
	}, []string{"route", "code"})
	m.reg.MustRegister(writes, m.writeSeconds, m.flushSeconds, m.flushBytes, m.leaderChanges, m.requests,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// A scrape gathers every metric (about a millisecond of CPU): more
	// than a few at once are answered 503 rather than queued.
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, MaxRequestsInFlight: maxScrapes})
	return m
}

// observeWrite records a client write that lasted took and ended with err.
func (m *metrics) observeWrite(took time.Duration, err error) {
	m.writeSeconds.Observe(took.Seconds())
	m.writes[writeResultLabel(err)].Inc()
}

func writeResultLabel(err error) string {
	switch {
	case err == nil:
		return writeOK
	case errors.Is(err, consensus.ErrBusy):
		return writeBusy
	case errors.Is(err, context.DeadlineExceeded):
		return writeTimeout
	case errors.Is(err, context.Canceled):
		return writeCanceled
	}
	return writeRefused
}

// observeFlush is the store's OnFlush.
func (m *metrics) observeFlush(took time.Duration, bytes int) {
	m.flushSeconds.Observe(took.Seconds())
	m.flushBytes.Add(float64(bytes))
}

// observeRequest is the API's ObserveRequest.
func (m *metrics) observeRequest(route string, code int) {
	key := routeCode{route, code}
	c, ok := m.requestsSeen.Load(key)
	if !ok {
		// Bounded: the mux's patterns times the codes the API answers.
		c, _ = m.requestsSeen.LoadOrStore(key, m.requests.WithLabelValues(route, strconv.Itoa(code)))
	}
	c.(prometheus.Counter).Inc()
}

type routeCode struct {
	route string
	code  int
}

// observeEngine takes the engine's state for the metrics and counts a
// leader change. Only the loop calls it.
func (m *metrics) observeEngine(e consensus.Engine) (st consensus.Status, leaderChanged bool) {
	s := &engineSnapshot{status: e.Status()}
	if rl, ok := e.(consensus.RoleLister); ok {
		s.roles = rl.Roles()
	}
	if wr, ok := e.(consensus.WorkReporter); ok {
		st := wr.WorkStats()
		s.work = &st
	}
	if l := s.status.Leader; l != m.leader {
		if l != "" {
			m.leaderChanges.Inc()
		}
		m.leader, leaderChanged = l, true
	}
	m.engine.Store(s)
	return s.status, leaderChanged
}

// nodeCollector reads the node's state when scraped.
type nodeCollector struct{ n *Node }

var (
	descChainHeight = prometheus.NewDesc("naivechain_chain_height",
		"Blocks in this node's chain, genesis included (GET /node's data_count).", nil, nil)
	descPeers = prometheus.NewDesc("naivechain_peers",
		"Peers by state: connected (native links), legacy (links to peers of the original protocol), disconnected (known addresses not connected now), banned (refused for now; may also count as disconnected).", []string{"state"}, nil)
	descRole = prometheus.NewDesc("naivechain_consensus_role",
		"1 for the role this node has now in consensus, 0 for the engine's other roles.", []string{"role"}, nil)
	descTerm = prometheus.NewDesc("naivechain_consensus_term",
		"The consensus term this node is in (vote; 0 for pow).", nil, nil)
	descPending = prometheus.NewDesc("naivechain_consensus_pending_writes",
		"Writes of this node proposed and not yet resolved.", nil, nil)
	descStoreFailed = prometheus.NewDesc("naivechain_store_failed",
		"1 once the store failed and the node refuses writes (until restarted), else 0.", nil, nil)
	descHashes = prometheus.NewDesc("naivechain_pow_hashes_total",
		"Nonces this node's miners tried since it started (pow).", nil, nil)
	descMempool = prometheus.NewDesc("naivechain_pow_mempool_size",
		"Entries waiting in the mempool for a block (pow).", nil, nil)
	descMined = prometheus.NewDesc("naivechain_pow_blocks_mined_total",
		"Blocks this node mined since it started (pow).", nil, nil)
	descReorgs = prometheus.NewDesc("naivechain_pow_reorgs_total",
		"Switches of the best chain to another branch since the node started (pow).", nil, nil)
	descDifficulty = prometheus.NewDesc("naivechain_pow_difficulty",
		"Leading zero bits the tip's hash needed (pow). Not named _bits: a count of bits is no unit.", nil, nil)
)

func (c nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descChainHeight, descPeers, descRole, descTerm, descPending, descStoreFailed,
		descHashes, descMempool, descMined, descReorgs, descDifficulty} {
		ch <- d
	}
}

func (c nodeCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.n
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(descChainHeight, float64(n.chain.Len()))
	connected := n.host.Peers()
	linked := make(map[string]bool, len(connected))
	for _, p := range connected {
		linked[p.ID] = true
	}
	disconnected := 0
	for _, p := range n.host.Known() {
		if !linked[p.ID] {
			disconnected++
		}
	}
	gauge(descPeers, float64(len(connected)), "connected")
	gauge(descPeers, float64(len(n.legacy.peerList())), "legacy")
	gauge(descPeers, float64(disconnected), "disconnected")
	gauge(descPeers, float64(len(n.host.Bans())), "banned")
	gauge(descStoreFailed, boolValue(n.failed.Load()))
	if n.miner != nil {
		counter(descHashes, float64(n.miner.hashes.Load()))
	}
	s := n.metrics.engine.Load()
	if s == nil {
		return // the loop has not started yet
	}
	// The role metric shows every role the engine names, 1 for the
	// current one and 0 for the others.
	roles := s.roles
	for _, r := range roles {
		gauge(descRole, boolValue(r == s.status.Role), r)
	}
	if !slices.Contains(roles, s.status.Role) && s.status.Role != "" {
		gauge(descRole, 1, s.status.Role)
	}
	gauge(descTerm, float64(s.status.Term))
	gauge(descPending, float64(s.status.Pending))
	if p := s.work; p != nil {
		gauge(descMempool, float64(p.Mempool))
		counter(descMined, float64(p.Mined))
		counter(descReorgs, float64(p.Reorgs))
		gauge(descDifficulty, float64(p.Difficulty))
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
