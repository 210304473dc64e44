package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Result is what a load measured. Its JSON form is what `naivechain bench
// --json` prints (one object):
//
//	mode           what was loaded: "devnet", "targets" or "floor" (set by the caller)
//	nodes          nodes of the devnet bench started (0 otherwise; set by the caller)
//	targets        base URLs loaded, round-robin over the clients
//	clients        concurrent clients
//	count          the bound on writes sent
//	duration_s     the bound on the sending time, seconds
//	size           bytes of data per write (about)
//	batch          values per request (POST /entries); 0: one per POST /data
//	stopped_by     "count", "duration" or "interrupted"
//	sent           writes sent and answered or failed (acknowledged + errors_total)
//	acknowledged   writes answered 200 {"status": "OK", "data": true}
//	errors_total   writes not acknowledged
//	errors         writes not acknowledged by kind: "http_<code>", "timeout",
//	               "connection", "data_false", "bad_response" (kinds seen only)
//	wall_s         seconds from the first write sent to the last answered
//	writes_per_s   acknowledged / wall_s (requests: with batch, of batch values each)
//	entries_per_s  values acknowledged per second: writes_per_s × max(1, batch)
//	latency_ms     p50, p90, p99, max of the acknowledged writes, milliseconds
//	               (nearest rank; 0 when none was acknowledged)
//	reads          null without reads (--reads 0), else ReadResult's fields:
//	               path, consistent, sent, ok, errors_total, errors,
//	               reads_per_s, latency_ms
//	lag            null when not measured (floor), else:
//	  max_diff_at_end  max - min of the targets' data_count right after the load
//	  converge_ms      milliseconds from the end of the load until all were equal
//	                   (or until the deadline when converged is false)
//	  converged        whether all data_count became equal before the deadline
//	  data_counts      the data_count of each target at the last poll
//	  error            why a target could not be polled, if one could not
//	cpu            null when not measured, else the CPU time (user and system)
//	               this process used while the load ran:
//	  us_per_write     microseconds of it per acknowledged write (request)
//	  cores            that time / the load's wall time: the cores kept busy
//	  scope            what ran in this process: "nodes, servers and clients"
//	                   (a devnet bench started), "server and clients" (the
//	                   floor) or "clients only" (--targets)
//	floor          only with --with-floor: the bare-HTTP floor loaded right after,
//	               with the same clients, size and batch:
//	  writes_per_s     its writes (requests) per second
//	  latency_ms       its p50, p90, p99, max
//	  ratio            writes_per_s of the load / the floor's
//	  cpu              its CPU use, as above
//	  ratio_equal_cpu  the floor's us_per_write / the load's: the ratio the two
//	                   would have if they kept the same cores busy (0 when
//	                   either CPU use is unknown)
//	check          null when not made (floor, or the chains did not converge), else:
//	  chains_equal     every target answered GET /data with the same blocks
//	  blocks           blocks of the first target's chain, genesis included
//	  found            acknowledged values on that chain exactly once
//	  missing          acknowledged values not on it (lost writes)
//	  duplicated       values of the run on it more than once
//	  error            why the check could not be made, if it could not
type Result struct {
	Mode         string           `json:"mode"`
	Nodes        int              `json:"nodes"`
	Targets      []string         `json:"targets"`
	Clients      int              `json:"clients"`
	Count        int              `json:"count"`
	DurationS    float64          `json:"duration_s"`
	Size         int              `json:"size"`
	Batch        int              `json:"batch"`
	StoppedBy    string           `json:"stopped_by"`
	Sent         int64            `json:"sent"`
	Acknowledged int64            `json:"acknowledged"`
	ErrorsTotal  int64            `json:"errors_total"`
	Errors       map[string]int64 `json:"errors"`
	WallS        float64          `json:"wall_s"`
	WritesPerS   float64          `json:"writes_per_s"`
	EntriesPerS  float64          `json:"entries_per_s"`
	LatencyMs    Latencies        `json:"latency_ms"`
	Reads        *ReadResult      `json:"reads"`
	Lag          *Lag             `json:"lag"`
	Check        *Check           `json:"check"`
	CPU          *CPU             `json:"cpu"`
	// Floor is the floor measured after the load (bench --with-floor).
	Floor *FloorRatio `json:"floor,omitempty"`

	run *run // what Verify checks the chains against
}

// Succeeded reports whether any request of the run succeeded: a write
// acknowledged or a read answered. A run where none did measured nothing
// (targets down, no majority).
func (r *Result) Succeeded() bool {
	return r.Acknowledged > 0 || r.Reads != nil && r.Reads.OK > 0
}

// FloorRatio is the floor a load is compared with.
type FloorRatio struct {
	WritesPerS    float64   `json:"writes_per_s"`
	LatencyMs     Latencies `json:"latency_ms"`
	Ratio         float64   `json:"ratio"`
	CPU           *CPU      `json:"cpu"`
	RatioEqualCPU float64   `json:"ratio_equal_cpu"`
}

// CompareFloor records f, a load of the floor, as r's floor.
func (r *Result) CompareFloor(f *Result) {
	r.Floor = &FloorRatio{WritesPerS: f.WritesPerS, LatencyMs: f.LatencyMs, CPU: f.CPU}
	if f.WritesPerS > 0 {
		r.Floor.Ratio = r.WritesPerS / f.WritesPerS
	}
	if r.CPU != nil && f.CPU != nil && r.CPU.PerWriteUs > 0 {
		r.Floor.RatioEqualCPU = f.CPU.PerWriteUs / r.CPU.PerWriteUs
	}
}

// CPU is the CPU time a process used while a load ran. The load's
// writes/s is what the machine allowed; its CPU per write is what each
// write cost, whether or not the cores were all busy.
type CPU struct {
	PerWriteUs float64 `json:"us_per_write"`
	Cores      float64 `json:"cores"`
	Scope      string  `json:"scope"`
}

// Scopes of a CPU measurement: what ran in the measured process.
const (
	ScopeDevnet  = "nodes, servers and clients"
	ScopeFloor   = "server and clients"
	ScopeClients = "clients only"
)

// SetCPU records that the process used cpu of CPU time over elapsed, while
// the load ran, with scope running in it. Nothing is recorded when no
// write was acknowledged or no time passed.
func (r *Result) SetCPU(cpu, elapsed time.Duration, scope string) {
	if r.Acknowledged == 0 || elapsed <= 0 {
		return
	}
	r.CPU = &CPU{
		PerWriteUs: float64(cpu.Microseconds()) / float64(r.Acknowledged),
		Cores:      cpu.Seconds() / elapsed.Seconds(),
		Scope:      scope,
	}
}

// Latencies are percentiles of the acknowledged writes' latency, in
// milliseconds.
type Latencies struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// Percentile returns the p-th percentile (0 < p <= 100) of sorted by the
// nearest-rank method: the smallest value at least p% of the values are
// less than or equal to. It returns 0 for no values.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	rank = max(1, min(n, rank))
	return sorted[rank-1]
}

// WriteJSON writes r as one JSON object and a newline.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// latencyRows writes the rows of lat's percentiles, named after name.
func latencyRows(row func(k, format string, args ...any), name string, lat Latencies) {
	row(name+" p50", "%.2f ms", lat.P50)
	row(name+" p90", "%.2f ms", lat.P90)
	row(name+" p99", "%.2f ms", lat.P99)
	row(name+" max", "%.2f ms", lat.Max)
}

// errorRows writes one row per error kind, sorted.
func errorRows(row func(k, format string, args ...any), errs map[string]int64) {
	kinds := make([]string, 0, len(errs))
	for k := range errs {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		row("  "+k, "%d", errs[k])
	}
}

// WriteTable writes r as a table for people.
func (r *Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, args...)...) }
	what := r.Mode
	switch r.Mode {
	case "devnet":
		what = fmt.Sprintf("devnet of %d node(s) in this process, fsync on", r.Nodes)
	case "floor":
		what = "bare net/http handler in this process (the floor)"
	}
	row("loaded", "%s", what)
	row("targets", "%s", strings.Join(r.Targets, " "))
	if r.Batch > 0 {
		row("clients", "%d, POST /entries of %d %d-byte values, bounds %d requests / %v", r.Clients, r.Batch, r.Size, r.Count, time.Duration(r.DurationS*float64(time.Second)))
	} else {
		row("clients", "%d, %d-byte writes, bounds %d writes / %v", r.Clients, r.Size, r.Count, time.Duration(r.DurationS*float64(time.Second)))
	}
	row("stopped by", "%s after %.2fs", r.StoppedBy, r.WallS)
	row("sent", "%d", r.Sent)
	row("acknowledged", "%d", r.Acknowledged)
	if r.Batch > 0 {
		row("requests/s", "%.0f", r.WritesPerS)
		row("entries/s", "%.0f", r.EntriesPerS)
	} else {
		row("writes/s", "%.0f", r.WritesPerS)
	}
	latencyRows(row, "latency", r.LatencyMs)
	row("errors", "%d", r.ErrorsTotal)
	errorRows(row, r.Errors)
	if rr := r.Reads; rr != nil {
		row("reads", "GET %s: %d sent, %d ok", rr.Path, rr.Sent, rr.OK)
		row("reads/s", "%.0f", rr.ReadsPerS)
		latencyRows(row, "read latency", rr.LatencyMs)
		row("read errors", "%d", rr.ErrorsTotal)
		errorRows(row, rr.Errors)
	}
	if l := r.Lag; l != nil {
		row("lag at end of load", "%d blocks (max - min data_count)", l.MaxDiffAtEnd)
		if l.Converged {
			row("followers equal after", "%.1f ms", l.ConvergeMs)
		} else {
			row("followers equal after", "not within %.1f ms (data_count %v)", l.ConvergeMs, l.DataCounts)
		}
		if l.Error != "" {
			row("lag error", "%s", l.Error)
		}
	}
	if c := r.Check; c != nil {
		switch {
		case c.Error != "":
			row("chains", "not checked: %s", c.Error)
		case c.OK():
			row("chains", "one chain of %d blocks on every target; every acknowledged value on it once (%d)", c.Blocks, c.Found)
		default:
			row("chains", "FAILED: equal %v, %d blocks, %d acknowledged values found once, %d missing, %d duplicated", c.ChainsEqual, c.Blocks, c.Found, c.Missing, c.Duplicated)
		}
	}
	if c := r.CPU; c != nil {
		row("cpu", "%.0f µs per write, %.2f cores busy (this process: %s)", c.PerWriteUs, c.Cores, c.Scope)
	}
	if f := r.Floor; f != nil {
		row("floor", "%.0f writes/s, p99 %.2f ms (bare net/http handler, same clients, right after)", f.WritesPerS, f.LatencyMs.P99)
		if c := f.CPU; c != nil {
			row("floor cpu", "%.0f µs per write, %.2f cores busy", c.PerWriteUs, c.Cores)
		}
		row("ratio to the floor", "%.2f", f.Ratio)
		if f.RatioEqualCPU > 0 {
			row("ratio at equal cpu", "%.2f (floor µs per write / load µs per write)", f.RatioEqualCPU)
		}
	}
	return tw.Flush()
}
