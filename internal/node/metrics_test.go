package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/naivechain/naivechain/internal/consensus"
)

// scrape returns GET /metrics of n, raw and parsed.
func scrape(t *testing.T, n *running) ([]byte, map[string]*dto.MetricFamily) {
	t.Helper()
	resp, err := http.Get(n.HTTPURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s: %s", resp.Status, raw)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parsing GET /metrics: %v\n%s", err, raw)
	}
	return raw, fams
}

// metricValue is the value of the series of family name whose labels
// include labels (name=value pairs); ok is false when there is none.
func metricValue(fams map[string]*dto.MetricFamily, name string, labels ...string) (v float64, ok bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		case m.Untyped != nil:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

func mustValue(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	v, ok := metricValue(fams, name, labels...)
	if !ok {
		t.Fatalf("no series %s%v in the scrape", name, labels)
	}
	return v
}

func post(t *testing.T, url, body string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s: %s", url, resp.Status, b)
	}
}

func get(t *testing.T, url string, want int) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("GET %s: %s, want %d", url, resp.Status, want)
	}
	return b
}

// TestMetricsAfterWrites scrapes a node after writes: the chain height is
// GET /node's data_count, every write counted once as ok and timed once,
// the store's flushes seen, and the API's requests counted by route.
func TestMetricsAfterWrites(t *testing.T) {
	n := start(t, withDir(t, Config{}))
	waitFor(t, "the founder to lead", func() bool {
		_, fams := scrape(t, n)
		v, _ := metricValue(fams, "naivechain_consensus_role", "role", "leader")
		return v == 1
	})
	const writes = 5
	for i := range writes {
		post(t, n.HTTPURL()+"/data", fmt.Sprintf(`{"data": %d}`, i))
	}
	post(t, n.HTTPURL()+"/entries", `["a", "b"]`)
	get(t, n.HTTPURL()+"/blocks/1", http.StatusOK)
	get(t, n.HTTPURL()+"/blocks/2", http.StatusOK)
	get(t, n.HTTPURL()+"/no/such/path", http.StatusNotFound)
	var node struct {
		Data struct {
			DataCount uint64 `json:"data_count"`
		} `json:"data"`
	}
	if err := json.Unmarshal(get(t, n.HTTPURL()+"/node", http.StatusOK), &node); err != nil {
		t.Fatal(err)
	}
	_, fams := scrape(t, n)

	if got := mustValue(t, fams, "naivechain_chain_height"); got != float64(node.Data.DataCount) || got != 1+writes+2 {
		t.Errorf("naivechain_chain_height %v, want data_count %d (= %d)", got, node.Data.DataCount, 1+writes+2)
	}
	for result, want := range map[string]float64{"ok": writes + 1, "refused": 0, "timeout": 0, "busy": 0, "canceled": 0} {
		if got := mustValue(t, fams, "naivechain_writes_total", "result", result); got != want {
			t.Errorf("naivechain_writes_total{result=%q} %v, want %v", result, got, want)
		}
	}
	if got := mustValue(t, fams, "naivechain_write_duration_seconds"); got != writes+1 {
		t.Errorf("naivechain_write_duration_seconds count %v, want %d", got, writes+1)
	}
	if got := mustValue(t, fams, "naivechain_store_flush_duration_seconds"); got < 1 {
		t.Errorf("naivechain_store_flush_duration_seconds count %v, want at least one flush", got)
	}
	if got := mustValue(t, fams, "naivechain_store_flushed_bytes_total"); got <= 0 {
		t.Errorf("naivechain_store_flushed_bytes_total %v, want some", got)
	}
	for _, c := range []struct {
		route, code string
		want        float64
	}{
		{"/data", "200", writes}, {"/entries", "200", 1}, {"/blocks/{index}", "200", 2}, {"/", "404", 1}, {"/node", "200", 1},
	} {
		if got := mustValue(t, fams, "naivechain_http_requests_total", "route", c.route, "code", c.code); got != c.want {
			t.Errorf("naivechain_http_requests_total{route=%q,code=%q} %v, want %v", c.route, c.code, got, c.want)
		}
	}
	if _, ok := metricValue(fams, "naivechain_http_requests_total", "route", "/blocks/1"); ok {
		t.Error("a raw path is a route label")
	}
	for role, want := range map[string]float64{"leader": 1, "follower": 0, "candidate": 0} {
		if got := mustValue(t, fams, "naivechain_consensus_role", "role", role); got != want {
			t.Errorf("naivechain_consensus_role{role=%q} %v, want %v", role, got, want)
		}
	}
	if got := mustValue(t, fams, "naivechain_consensus_term"); got < 1 {
		t.Errorf("naivechain_consensus_term %v, want at least 1", got)
	}
	if got := mustValue(t, fams, "naivechain_consensus_leader_changes_total"); got != 1 {
		t.Errorf("naivechain_consensus_leader_changes_total %v, want 1 (its own election)", got)
	}
	if got := mustValue(t, fams, "naivechain_peers", "state", "connected"); got != 0 {
		t.Errorf("naivechain_peers{state=connected} %v on a lone node", got)
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("no %s: the Go and process collectors are missing", name)
		}
	}
	if _, ok := fams["naivechain_pow_mempool_size"]; ok {
		t.Error("a vote node shows pow metrics")
	}
}

// TestMetricsOfAPoWNode: a mining node shows its hashes, mempool, mined
// blocks and its role.
func TestMetricsOfAPoWNode(t *testing.T) {
	n := start(t, powConfig(true))
	waitFor(t, "the engine's metrics", func() bool {
		_, fams := scrape(t, n)
		_, ok := metricValue(fams, "naivechain_pow_mempool_size")
		return ok
	})
	post(t, n.HTTPURL()+"/data", `{"data": "mined"}`)
	var fams map[string]*dto.MetricFamily
	waitFor(t, "the mined block in the metrics", func() bool {
		_, fams = scrape(t, n)
		v, _ := metricValue(fams, "naivechain_pow_blocks_mined_total")
		return v >= 1
	})
	if got := mustValue(t, fams, "naivechain_pow_hashes_total"); got <= 0 {
		t.Errorf("naivechain_pow_hashes_total %v after a mined block", got)
	}
	if got := mustValue(t, fams, "naivechain_consensus_role", "role", "miner"); got != 1 {
		t.Errorf("naivechain_consensus_role{role=miner} %v, want 1", got)
	}
	if got := mustValue(t, fams, "naivechain_writes_total", "result", "ok"); got != 1 {
		t.Errorf("naivechain_writes_total{result=ok} %v, want 1", got)
	}
	if got := mustValue(t, fams, "naivechain_chain_height"); got < 2 {
		t.Errorf("naivechain_chain_height %v after a mined write", got)
	}
}

// TestMetricsPassPromtool runs promtool check metrics (Prometheus's own
// linter of names, units and help) on the scrapes of a vote and a pow
// node. Without promtool it is skipped, unless NAIVECHAIN_REQUIRE_TOOLS=1
// (CI) makes that a failure.
func TestMetricsPassPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("NAIVECHAIN_REQUIRE_TOOLS") == "1" {
			t.Fatalf("promtool not found and NAIVECHAIN_REQUIRE_TOOLS=1: %v", err)
		}
		t.Skip("promtool not found (Debian package prometheus)")
	}
	for name, cfg := range map[string]Config{"vote": withDir(t, Config{}), "pow": powConfig(true)} {
		t.Run(name, func(t *testing.T) {
			n := start(t, cfg)
			waitFor(t, "the engine's metrics", func() bool {
				_, fams := scrape(t, n)
				_, ok := fams["naivechain_consensus_role"]
				return ok
			})
			if name == "vote" {
				post(t, n.HTTPURL()+"/data", `{"data": 1}`) // histograms with samples
			}
			raw, _ := scrape(t, n)
			cmd := exec.Command(promtool, "check", "metrics")
			cmd.Stdin = bytes.NewReader(raw)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				t.Fatalf("promtool check metrics: %v\n%s", err, out)
			}
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestWriteResultLabel: every way a write ends has its result label.
func TestWriteResultLabel(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, "ok"},
		{consensus.ErrBusy, "busy"},
		{&consensus.WriteError{MayCommit: true, Cause: context.DeadlineExceeded}, "timeout"},
		{fmt.Errorf("no majority: %w", context.DeadlineExceeded), "timeout"},
		{&consensus.WriteError{MayCommit: true, Cause: context.Canceled}, "canceled"},
		{consensus.ErrNoLeader, "refused"},
		{errors.New("store failed"), "refused"},
	} {
		if got := writeResultLabel(c.err); got != c.want {
			t.Errorf("writeResultLabel(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

// TestMetricsOfATwoNodeNetwork: each member counts the other as a
// connected peer, and one leader change (the first election) is seen by
// both.
func TestMetricsOfATwoNodeNetwork(t *testing.T) {
	a := start(t, Config{})
	b := joiner(t, a, Config{})
	for _, n := range []*running{a, b} {
		waitFor(t, "a connected peer and a leader in the metrics of "+n.ID(), func() bool {
			_, fams := scrape(t, n)
			peers, _ := metricValue(fams, "naivechain_peers", "state", "connected")
			changes, _ := metricValue(fams, "naivechain_consensus_leader_changes_total")
			return peers == 1 && changes >= 1
		})
	}
	post(t, b.HTTPURL()+"/data", `{"data": "via the follower"}`)
	_, fams := scrape(t, b)
	if got := mustValue(t, fams, "naivechain_writes_total", "result", "ok"); got != 1 {
		t.Errorf("follower's naivechain_writes_total{result=ok} %v, want 1", got)
	}
	if got := mustValue(t, fams, "naivechain_consensus_role", "role", "follower") + mustValue(t, fams, "naivechain_consensus_role", "role", "learner"); got != 1 {
		t.Errorf("the joiner is neither follower nor learner: %v", got)
	}
}
