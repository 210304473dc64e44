package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// Reads: with Config.Reads above 0, that percentage of the requests are
// GETs of Config.ReadPath (default /node: its cost does not grow with the
// chain, so the figures are of the read path itself), with
// ?consistent=true when Config.Consistent is set. They are spread evenly
// among the writes.

// DefaultReadPath is the path reads GET when Config.ReadPath is empty.
const DefaultReadPath = "/node"

// ReadResult is what the reads of a load measured.
//
//	path          the path read, with its query
//	consistent    whether the reads asked for ?consistent=true
//	sent          reads answered or failed
//	ok            reads answered 200 {"status": "OK", ...}
//	errors_total  reads not ok
//	errors        reads not ok by kind, as for writes
//	reads_per_s   ok / the load's wall_s
//	latency_ms    p50, p90, p99, max of the ok reads
type ReadResult struct {
	Path        string           `json:"path"`
	Consistent  bool             `json:"consistent"`
	Sent        int64            `json:"sent"`
	OK          int64            `json:"ok"`
	ErrorsTotal int64            `json:"errors_total"`
	Errors      map[string]int64 `json:"errors"`
	ReadsPerS   float64          `json:"reads_per_s"`
	LatencyMs   Latencies        `json:"latency_ms"`
}

// isRead reports whether request i (from 1) is a read: Reads of every 100,
// spread evenly.
func (r *run) isRead(i int64) bool {
	p := int64(r.cfg.Reads)
	return i*p/100 != (i-1)*p/100
}

// readURL is the URL target t's reads GET.
func (r *run) readURL(t string) string {
	path := r.cfg.ReadPath
	if path == "" {
		path = DefaultReadPath
	}
	if r.cfg.Consistent {
		sep := "?"
		if bytes.ContainsRune([]byte(path), '?') {
			sep = "&"
		}
		path += sep + "consistent=true"
	}
	return t + path
}

// read sends one read and records it.
func (r *run) read(ctx context.Context, url string) {
	t0 := r.now()
	kind := r.get(ctx, url)
	d := r.now().Sub(t0)
	if ctx.Err() != nil {
		return // abandoned, not counted
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.readsSent++
	if kind != "" {
		r.readErrs[kind]++
		return
	}
	r.readLat = append(r.readLat, d)
}

// get sends one GET and returns "" if it was answered 200 with status OK,
// else the kind of error. Only the body's start is decoded: GET /data
// may be long.
func (r *run) get(ctx context.Context, url string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return KindConnection
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return errKind(err)
	}
	defer resp.Body.Close()
	ok := false
	dec := json.NewDecoder(resp.Body)
	if tok, err := dec.Token(); err == nil && tok == json.Delim('{') {
		if key, err := dec.Token(); err == nil && key == "status" {
			var status string
			ok = dec.Decode(&status) == nil && status == "OK"
		}
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return errKind(err)
	}
	if resp.StatusCode != http.StatusOK {
		return "http_" + strconv.Itoa(resp.StatusCode)
	}
	if !ok {
		return KindBadResponse
	}
	return ""
}

// readResult is the reads' figures, nil when the load sent none.
func (r *run) readResult(wall time.Duration) *ReadResult {
	if r.cfg.Reads == 0 {
		return nil
	}
	path := r.readURL("")
	rr := &ReadResult{Path: path, Consistent: r.cfg.Consistent, Sent: r.readsSent, OK: int64(len(r.readLat)), Errors: r.readErrs}
	for _, n := range r.readErrs {
		rr.ErrorsTotal += n
	}
	if wall > 0 {
		rr.ReadsPerS = float64(rr.OK) / wall.Seconds()
	}
	lat := slices.Clone(r.readLat)
	slices.Sort(lat)
	rr.LatencyMs = Latencies{P50: ms(Percentile(lat, 50)), P90: ms(Percentile(lat, 90)), P99: ms(Percentile(lat, 99)), Max: ms(Percentile(lat, 100))}
	return rr
}
