// Package loadgen is the load generator behind `naivechain bench`: client
// goroutines POSTing unique writes to nodes' HTTP APIs over keep-alive
// connections, the latency and error statistics of what they sent, the
// follower lag after the load, a progress bar, the report (a table or one
// JSON object), the loopback-only check of the targets, and the bare-HTTP
// floor server the figures are compared with.
package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Config says what Run sends and where.
type Config struct {
	// Targets are base URLs of HTTP APIs (http://127.0.0.1:15002); client
	// i sends to Targets[i % len(Targets)].
	Targets []string
	// Clients is the number of concurrent clients (goroutines).
	Clients int
	// Count bounds the writes sent, acknowledged or not.
	Count int
	// Duration bounds the time during which writes are sent; writes
	// already sent when it passes are waited for.
	Duration time.Duration
	// Size is about how many bytes each write's data string holds.
	Size int
	// Batch, when above 0, makes every request a POST /entries of Batch
	// values (each of about Size bytes), committed together or not at all,
	// rather than a POST /data of one value. Count and the latencies are
	// then of requests; Result.EntriesPerS counts the values.
	Batch int
	// Reads, from 0 to 100, is the percentage of the requests that are
	// reads (GET ReadPath, default DefaultReadPath) instead of writes;
	// Consistent makes them ask for ?consistent=true. Count and Duration
	// bound reads and writes together.
	Reads      int
	ReadPath   string
	Consistent bool
	// RequestTimeout bounds one request (default 15s).
	RequestTimeout time.Duration
	// AllowRemote lets the clients connect to non-loopback addresses;
	// without it every connection to another address is refused, whatever
	// a host name resolves to when it is dialed.
	AllowRemote bool
	// Progress, when set, receives a progress bar redrawn at most every
	// ProgressEvery (default and minimum 100ms: ten times a second).
	Progress      io.Writer
	ProgressEvery time.Duration
	// Now is the clock (default time.Now); tests inject one.
	Now func() time.Time
}

// Error kinds counted in Result.Errors, besides "http_<status code>".
const (
	KindTimeout     = "timeout"      // the request timed out
	KindConnection  = "connection"   // connecting, sending or reading failed
	KindDataFalse   = "data_false"   // 200 with {"data": false}
	KindBadResponse = "bad_response" // 200 with a body that is not {"status": "OK", "data": true|false}
)

// Stop reasons in Result.StoppedBy.
const (
	StoppedByCount       = "count"
	StoppedByDuration    = "duration"
	StoppedByInterrupted = "interrupted"
)

// Run sends the load cfg describes and returns its figures (Lag is left
// nil: see MeasureLag). If ctx ends first, Run stops sending, abandons the
// requests in flight (they are not counted) and returns what it measured
// with StoppedBy "interrupted" and ctx's error.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	timeout := cfg.RequestTimeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	tr := NewTransport(cfg.Clients, cfg.AllowRemote)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: timeout}

	r := &run{
		cfg:      cfg,
		now:      now,
		client:   client,
		prefix:   runPrefix(),
		lat:      make([]time.Duration, cfg.Count),
		acked:    make([]bool, cfg.Count),
		errs:     map[string]int64{},
		readErrs: map[string]int64{},
		targets:  make([]string, len(cfg.Targets)),
		reads:    make([]string, len(cfg.Targets)),
	}
	path := "/data"
	if cfg.Batch > 0 {
		path = "/entries"
	}
	for i, t := range cfg.Targets {
		r.targets[i] = t + path
		r.reads[i] = r.readURL(t)
	}
	r.start = now()
	var stopProgress func()
	if cfg.Progress != nil {
		stopProgress = r.progress()
	}
	var wg sync.WaitGroup
	for c := range cfg.Clients {
		wg.Go(func() { r.client1(ctx, c) })
	}
	wg.Wait()
	end := now()
	if stopProgress != nil {
		stopProgress()
	}

	res := &Result{
		Targets:      slices.Clone(cfg.Targets),
		Clients:      cfg.Clients,
		Count:        cfg.Count,
		DurationS:    cfg.Duration.Seconds(),
		Size:         cfg.Size,
		Batch:        cfg.Batch,
		Sent:         r.done.Load(),
		Acknowledged: r.nacked.Load(),
		Errors:       r.errs,
		WallS:        end.Sub(r.start).Seconds(),
		StoppedBy:    StoppedByCount,
		run:          r,
	}
	res.Reads = r.readResult(end.Sub(r.start))
	for _, n := range r.errs {
		res.ErrorsTotal += n
	}
	if res.WallS > 0 {
		res.WritesPerS = float64(res.Acknowledged) / res.WallS
		res.EntriesPerS = res.WritesPerS * float64(max(1, cfg.Batch))
	}
	lat := r.lat[:res.Acknowledged]
	slices.Sort(lat)
	res.LatencyMs = Latencies{
		P50: ms(Percentile(lat, 50)),
		P90: ms(Percentile(lat, 90)),
		P99: ms(Percentile(lat, 99)),
		Max: ms(Percentile(lat, 100)),
	}
	switch {
	case ctx.Err() != nil:
		res.StoppedBy = StoppedByInterrupted
		return res, ctx.Err()
	case r.timeUp.Load():
		res.StoppedBy = StoppedByDuration
	}
	return res, nil
}

func (cfg *Config) check() error {
	switch {
	case len(cfg.Targets) == 0:
		return errors.New("loadgen: no targets")
	case cfg.Clients < 1:
		return errors.New("loadgen: clients must be at least 1")
	case cfg.Count < 1:
		return errors.New("loadgen: count must be at least 1")
	case cfg.Duration <= 0:
		return errors.New("loadgen: duration must be positive")
	case cfg.Size < 1:
		return errors.New("loadgen: size must be at least 1")
	case cfg.Batch < 0:
		return errors.New("loadgen: batch must not be negative")
	case cfg.Reads < 0 || cfg.Reads > 100:
		return errors.New("loadgen: reads is a percentage, from 0 to 100")
	}
	return nil
}

// NewTransport returns the keep-alive transport the clients share: up to
// clients idle connections per host, no proxy, and, unless allowRemote,
// connections to loopback addresses only.
func NewTransport(clients int, allowRemote bool) *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if !allowRemote {
		d.Control = func(network, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				return fmt.Errorf("%w: refusing to connect to %s", ErrNotLoopback, address)
			}
			return nil
		}
	}
	return &http.Transport{
		Proxy:               nil,
		DialContext:         d.DialContext,
		MaxIdleConns:        0, // no limit across hosts
		MaxIdleConnsPerHost: clients,
		IdleConnTimeout:     90 * time.Second,
	}
}

// run is the state the clients of one Run share.
type run struct {
	cfg     Config
	now     func() time.Time
	client  *http.Client
	prefix  string   // makes this run's data strings unique
	targets []string // the POST URLs
	reads   []string // the GET URLs
	start   time.Time

	// acked[i-1] is set when request i was acknowledged; each is written
	// by the one client that sent the request, and read after they end.
	acked []bool

	next   atomic.Int64 // writes claimed
	done   atomic.Int64 // writes answered or failed (sent)
	nacked atomic.Int64 // writes acknowledged; lat[:nacked] are theirs
	timeUp atomic.Bool
	lat    []time.Duration

	mu   sync.Mutex
	errs map[string]int64
	// The reads' figures, under mu.
	readsSent int64
	readErrs  map[string]int64
	readLat   []time.Duration
}

// client1 is client c: it sends writes until the count or the time is up
// or ctx ends.
func (r *run) client1(ctx context.Context, c int) {
	url := r.targets[c%len(r.targets)]
	var body []byte
	var rd bytes.Reader
	var buf bytes.Buffer
	for ctx.Err() == nil {
		if r.now().Sub(r.start) >= r.cfg.Duration {
			r.timeUp.Store(true)
			return
		}
		i := r.next.Add(1)
		if i > int64(r.cfg.Count) {
			return
		}
		if r.isRead(i) {
			r.read(ctx, r.reads[c%len(r.reads)])
			continue
		}
		body = r.appendBody(body[:0], i)
		rd.Reset(body)
		t0 := r.now()
		kind := r.post(ctx, url, &rd, &buf)
		d := r.now().Sub(t0)
		if kind == "" {
			r.acked[i-1] = true
			r.lat[r.nacked.Add(1)-1] = d
		} else if ctx.Err() != nil {
			return // abandoned, not counted
		} else {
			r.mu.Lock()
			r.errs[kind]++
			r.mu.Unlock()
		}
		r.done.Add(1)
	}
}

// appendBody appends request i's body: {"data": "<prefix><i>...."} with
// about Size bytes of data, or with Batch, a JSON array of Batch such
// strings ("<prefix><i>-<j>....").
func (r *run) appendBody(b []byte, i int64) []byte {
	if r.cfg.Batch == 0 {
		b = append(b, `{"data": `...)
		b = r.appendValue(b, i, -1)
		return append(b, '}')
	}
	b = append(b, '[')
	for j := range r.cfg.Batch {
		if j > 0 {
			b = append(b, ',')
		}
		b = r.appendValue(b, i, j)
	}
	return append(b, ']')
}

// appendValue appends the JSON string of request i's value j (j < 0: the
// only one), unique within the run, of about Size bytes.
func (r *run) appendValue(b []byte, i int64, j int) []byte {
	b = append(b, '"')
	n := len(b)
	b = append(b, r.prefix...)
	b = strconv.AppendInt(b, i, 10)
	if j >= 0 {
		b = append(b, '-')
		b = strconv.AppendInt(b, int64(j), 10)
	}
	for len(b)-n < r.cfg.Size {
		b = append(b, '.')
	}
	return append(b, '"')
}

// answer is the body of a POST /data answer ({"data": true}) or of a
// POST /entries answer ({"data": {"first": index, "count": n}}).
type answer struct {
	Status string          `json:"status"`
	Data   json.RawMessage `json:"data"`
}

// entriesData is the data of a POST /entries answer.
type entriesData struct {
	First *uint64 `json:"first"`
	Count int     `json:"count"`
}

// post sends one write and returns "" if it was acknowledged, else the
// kind of error.
func (r *run) post(ctx context.Context, url string, body io.Reader, buf *bytes.Buffer) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, body)
	if err != nil {
		return KindConnection
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return errKind(err)
	}
	defer resp.Body.Close()
	buf.Reset()
	_, err = buf.ReadFrom(io.LimitReader(resp.Body, 1<<16))
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body) // keep the connection reusable
	}
	if err != nil {
		return errKind(err)
	}
	if resp.StatusCode != http.StatusOK {
		return "http_" + strconv.Itoa(resp.StatusCode)
	}
	var a answer
	if json.Unmarshal(buf.Bytes(), &a) != nil || a.Status != "OK" || a.Data == nil {
		return KindBadResponse
	}
	if r.cfg.Batch > 0 {
		// A pow node puts a group in one block: count 1. Any other count
		// than the values sent or one block is not an acknowledgement.
		var e entriesData
		if json.Unmarshal(a.Data, &e) != nil || e.First == nil || e.Count != r.cfg.Batch && e.Count != 1 {
			return KindBadResponse
		}
		return ""
	}
	var ok bool
	if json.Unmarshal(a.Data, &ok) != nil {
		return KindBadResponse
	}
	if !ok {
		return KindDataFalse
	}
	return ""
}

func errKind(err error) string {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return KindTimeout
	}
	return KindConnection
}

func runPrefix() string {
	return "bench-" + strconv.FormatUint(rand.Uint64()>>16, 36) + "-"
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
