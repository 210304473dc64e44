package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/naivechain/naivechain/internal/loadgen"
)

// runBenchDevnet runs `naivechain bench` on a devnet of n nodes it starts
// on free ports, with args, and waits for it to exit 0; it retries when
// another program took the ports first.
func runBenchDevnet(t *testing.T, n int, args ...string) *proc {
	t.Helper()
	for attempt := 1; ; attempt++ {
		port := freePorts(t, 2*n)
		b := startProc(t, "bench", append([]string{"bench", "-n", strconv.Itoa(n), "--data-dir", t.TempDir(), "-p", strconv.Itoa(port)}, args...)...)
		code := b.waitExit(t, startDeadline)
		if code != 0 && attempt < 3 && strings.Contains(b.stderr.String(), "address already in use") {
			t.Logf("bench lost its ports to another program; retrying")
			continue
		}
		if code != 0 {
			t.Fatalf("bench exited %d\n%s", code, b.tail())
		}
		return b
	}
}

// TestBenchDevnet runs `naivechain bench` against a one-node devnet it
// starts: every write is acknowledged, the JSON report is all of stdout,
// and no progress bar is drawn on a stderr that is not a terminal.
func TestBenchDevnet(t *testing.T) {
	t.Parallel()
	b := runBenchDevnet(t, 1, "--count", "200", "--clients", "4", "--json")
	var res loadgen.Result
	dec := json.NewDecoder(strings.NewReader(b.stdout.String()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("stdout is not one JSON report: %v\n%s", err, b.tail())
	}
	if dec.More() {
		t.Errorf("stdout holds more than one JSON object:\n%s", b.stdout.String())
	}
	if res.Mode != "devnet" || res.Nodes != 1 || len(res.Targets) != 1 || res.Clients != 4 || res.Count != 200 {
		t.Errorf("report describes another run: %+v", res)
	}
	if res.Sent != 200 || res.Acknowledged != 200 || res.ErrorsTotal != 0 || len(res.Errors) != 0 || res.StoppedBy != loadgen.StoppedByCount {
		t.Errorf("sent %d, acknowledged %d, errors %d %v, stopped by %s; want 200 acknowledged, no error, by count",
			res.Sent, res.Acknowledged, res.ErrorsTotal, res.Errors, res.StoppedBy)
	}
	if res.WritesPerS <= 0 || res.LatencyMs.P50 <= 0 || res.LatencyMs.Max < res.LatencyMs.P99 {
		t.Errorf("figures: %v writes/s, latencies %+v", res.WritesPerS, res.LatencyMs)
	}
	if res.Lag == nil || !res.Lag.Converged || len(res.Lag.DataCounts) != 1 || res.Lag.DataCounts[0] != 201 {
		t.Errorf("lag %+v, want converged with data_count 201 (genesis + 200)", res.Lag)
	}
	if c := res.Check; c == nil || !c.OK() || c.Found != 200 || c.Blocks != 201 {
		t.Errorf("check %+v, want the 200 writes on the chain of 201 blocks", c)
	}
	if s := b.stderr.String(); strings.Contains(s, "\r") || strings.Contains(s, "writes ") {
		t.Errorf("a progress bar on a stderr that is not a terminal:\n%q", s)
	}
}

// TestBenchDevnetReads: with --reads and --consistent, `naivechain bench`
// mixes consistent reads into the writes on a two-node devnet and reports
// them apart; every read is answered.
func TestBenchDevnetReads(t *testing.T) {
	t.Parallel()
	b := runBenchDevnet(t, 2, "--count", "200", "--clients", "4", "--reads", "50", "--consistent", "--read-path", "/data", "--json")
	var res loadgen.Result
	if err := json.Unmarshal([]byte(b.stdout.String()), &res); err != nil {
		t.Fatalf("stdout is not one JSON report: %v\n%s", err, b.tail())
	}
	r := res.Reads
	if r == nil || r.Sent != 100 || r.OK != 100 || r.ErrorsTotal != 0 || r.Path != "/data?consistent=true" || r.ReadsPerS <= 0 {
		t.Fatalf("reads %+v, want 100 consistent reads of /data answered", r)
	}
	if res.Acknowledged != 100 || res.Check == nil || !res.Check.OK() {
		t.Fatalf("writes: %d acknowledged, check %+v", res.Acknowledged, res.Check)
	}
}

// TestBenchDevnetBatch: with --batch, `naivechain bench` writes through
// POST /entries; every value of every group reaches both nodes' chains.
func TestBenchDevnetBatch(t *testing.T) {
	t.Parallel()
	b := runBenchDevnet(t, 2, "--count", "30", "--clients", "3", "--batch", "10", "--json", "--with-floor")
	var res loadgen.Result
	if err := json.Unmarshal([]byte(b.stdout.String()), &res); err != nil {
		t.Fatalf("stdout is not one JSON report: %v\n%s", err, b.tail())
	}
	if res.Batch != 10 || res.Acknowledged != 30 || res.ErrorsTotal != 0 || res.EntriesPerS != 10*res.WritesPerS || res.EntriesPerS <= 0 {
		t.Errorf("batch %d, acknowledged %d, errors %v, entries/s %v, requests/s %v; want 10, 30, none, 10 x requests/s",
			res.Batch, res.Acknowledged, res.Errors, res.EntriesPerS, res.WritesPerS)
	}
	if res.Lag == nil || !res.Lag.Converged || len(res.Lag.DataCounts) != 2 || res.Lag.DataCounts[0] != 301 || res.Lag.DataCounts[1] != 301 {
		t.Errorf("lag %+v, want both nodes converged at data_count 301 (genesis + 30 x 10)", res.Lag)
	}
	if c := res.Check; c == nil || !c.OK() || c.Found != 300 || c.Blocks != 301 {
		t.Errorf("check %+v, want the 300 values on one chain of 301 blocks", c)
	}
	if f := res.Floor; f == nil || f.WritesPerS <= 0 || f.Ratio != res.WritesPerS/f.WritesPerS {
		t.Errorf("floor %+v, want the floor's figure and the ratio to it", f)
	}
	if c := res.CPU; c == nil || c.PerWriteUs <= 0 || c.Cores <= 0 || c.Scope != loadgen.ScopeDevnet {
		t.Errorf("cpu %+v, want the devnet's CPU per write and cores busy", c)
	}
	if f := res.Floor; f != nil && (f.CPU == nil || f.CPU.Scope != loadgen.ScopeFloor || f.RatioEqualCPU != f.CPU.PerWriteUs/res.CPU.PerWriteUs) {
		t.Errorf("floor %+v, want its CPU use and the ratio at equal CPU", f)
	}
}

// TestBenchFloor loads the bare-HTTP floor in process; the table report
// has the figures.
func TestBenchFloor(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"bench", "--floor", "--count", "300", "--clients", "3"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{`floor`, `(?m)^acknowledged +300$`, `(?m)^writes/s +\d+$`, `(?m)^latency p99 +[0-9.]+ ms$`, `(?m)^errors +0$`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("the report has no %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "lag") {
		t.Errorf("the floor has no followers, yet the report shows a lag:\n%s", out)
	}
}

// TestBenchTargetsDown: a bench whose targets are all down measured
// nothing: it still prints its report (every error counted), and exits 1
// saying why.
func TestBenchTargetsDown(t *testing.T) {
	t.Parallel()
	port := freePorts(t, 1) // nothing listens there
	var stdout, stderr bytes.Buffer
	target := fmt.Sprintf("http://127.0.0.1:%d", port)
	if code := run(context.Background(), []string{"bench", "--targets", target, "--count", "5", "--clients", "1"}, &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stderr.String(), "no request succeeded") {
		t.Errorf("stderr does not say why:\n%s", stderr.String())
	}
	if !regexp.MustCompile(`(?m)^errors +5$`).MatchString(stdout.String()) {
		t.Errorf("the report does not count the 5 errors:\n%s", stdout.String())
	}
}

// TestBenchCPUProfile: --cpuprofile writes a pprof profile (gzip) of the
// load, and the report has the CPU the load used.
func TestBenchCPUProfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu.prof")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"bench", "--floor", "--count", "300", "--clients", "3", "--cpuprofile", path}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	prof, err := os.ReadFile(path)
	if err != nil || len(prof) < 2 || prof[0] != 0x1f || prof[1] != 0x8b {
		t.Errorf("profile %d bytes (%v), want a gzipped pprof profile", len(prof), err)
	}
	if !regexp.MustCompile(`(?m)^cpu +\d+ µs per write, [0-9.]+ cores busy \(this process: server and clients\)$`).MatchString(stdout.String()) {
		t.Errorf("the report has no CPU use:\n%s", stdout.String())
	}
	stderr.Reset()
	if code := run(context.Background(), []string{"bench", "--floor", "--count", "10", "--cpuprofile", filepath.Join(path, "no", "such")}, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), "--cpuprofile") {
		t.Errorf("a profile that cannot be created: exit %d, %s", code, stderr.String())
	}
}

// TestBenchRefuses: bad flags and non-loopback targets exit 2 with a clear
// error, before anything is sent.
func TestBenchRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--targets", "http://10.0.0.1:15002"}, "not a loopback address; pass --allow-remote"},
		{[]string{"--targets", "http://127.0.0.1:15002,http://[2001:db8::1]:15002"}, "not a loopback address"},
		{[]string{"--targets", "127.0.0.1:15002"}, "http://"},
		{[]string{"--targets", "http://127.0.0.1:1", "--floor"}, "exclude each other"},
		{[]string{"--targets", "http://127.0.0.1:1", "-n", "2"}, "-n and --data-dir"},
		{[]string{"--floor", "--data-dir", "x"}, "-n and --data-dir"},
		{[]string{"--count", "0"}, "--count"},
		{[]string{"--clients", "0"}, "--clients"},
		{[]string{"--duration", "0s"}, "--duration"},
		{[]string{"--size", "0"}, "--size"},
		{[]string{"--batch", "-1"}, "--batch"},
		{[]string{"--floor", "--with-floor"}, "exclude each other"},
		{[]string{"--batch", "1001"}, "--batch"},
		{[]string{"-n", "0"}, "-n must be"},
		{[]string{"extra"}, "unexpected argument"},
		{[]string{"--reads", "101"}, "--reads must be"},
		{[]string{"--consistent"}, "need --reads"},
		{[]string{"--reads", "10", "--read-path", "node"}, "must start with /"},
		{[]string{"--floor", "--reads", "10"}, "does not apply to --floor"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append([]string{"bench"}, tc.args...), &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), tc.want) || stdout.Len() != 0 {
			t.Errorf("bench %s: exit %d, stderr %q, stdout %q; want exit 2 and %q", strings.Join(tc.args, " "), code, stderr.String(), stdout.String(), tc.want)
		}
	}
}
