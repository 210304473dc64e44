package main

// Proof-of-work end-to-end tests: three naivechain processes run with
// --consensus pow, every one of them mining, take concurrent writes, and
// end with one chain holding every acknowledged write once. They reuse
// the harness of e2e_test.go.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/naivechain/naivechain/internal/block"
)

// powArgs are the engine flags of the pow test nodes: blocks every 200ms
// at most, the least difficulty to start from, one nonce-search goroutine
// per process (three processes share two cores).
var powArgs = []string{"--consensus", "pow", "--block-interval", "200ms", "--start-difficulty", "8", "--miners", "1"}

// powBlock is a block of GET /data on a pow chain.
type powBlock struct {
	Index        uint64 `json:"index"`
	PreviousHash string `json:"previous_hash"`
	Data         string `json:"data"`
	CurrHash     string `json:"curr_hash"`
	Timestamp    int64  `json:"timestamp"`
	Nonce        uint64 `json:"nonce"`
	Difficulty   int    `json:"difficulty"`
}

// getPoWChain returns url's GET /data as pow blocks.
func getPoWChain(url string) ([]powBlock, error) {
	code, b, err := httpDo(http.MethodGet, url+"/data", "")
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("GET /data: %d %s", code, b)
	}
	var blocks []powBlock
	if err := okData(b, &blocks); err != nil {
		return nil, err
	}
	if len(blocks) == 0 {
		return nil, fmt.Errorf("GET /data: no blocks")
	}
	return blocks, nil
}

// entryOf is the entry a POST /data of the JSON string value becomes.
func entryOf(t *testing.T, value string) string {
	t.Helper()
	raw, _ := json.Marshal(value)
	e, err := block.EncodeData(raw)
	if err != nil {
		t.Fatalf("EncodeData(%s): %v", raw, err)
	}
	return e
}

type entryInfo struct {
	ID            string `json:"id"`
	State         string `json:"state"`
	Index         uint64 `json:"index"`
	Confirmations uint64 `json:"confirmations"`
}

// getEntry returns url's GET /entries/{id}: the status, the envelope's
// status field and the entry's data.
func getEntry(url, id string) (int, string, entryInfo, error) {
	var env struct {
		Status string    `json:"status"`
		Data   entryInfo `json:"data"`
	}
	code, b, err := httpDo(http.MethodGet, url+"/entries/"+id, "")
	if err != nil {
		return code, "", env.Data, err
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return code, "", env.Data, fmt.Errorf("GET /entries/%s: %d %q: %v", id, code, b, err)
	}
	return code, env.Status, env.Data, nil
}

// powNodes starts three pow nodes, B and C joining A, and waits until each
// is connected to the two others.
func powNodes(t *testing.T) []*nodeProc {
	t.Helper()
	a := startNode(t, "A", powArgs...)
	b := startNode(t, "B", append(a.joinArgs(), powArgs...)...)
	c := startNode(t, "C", append(a.joinArgs(), powArgs...)...)
	nodes := []*nodeProc{a, b, c}
	waitFor(t, waitDeadline, "every node to have the 2 others as peers", procsOf(nodes...), func() (bool, string) {
		for _, n := range [][]*nodeProc{{a, b, c}, {b, a, c}, {c, a, b}} {
			if ok, why := hasPeers(n[0], n[1:]...); !ok {
				return false, why
			}
		}
		return true, ""
	})
	return nodes
}

// TestE2EPoWConcurrentWrites writes concurrently on each of three mining
// nodes. Competing miners fork the chain and reorganise it; in the end
// every node holds the same chain, every acknowledged write is in it
// once, and no entry is there twice.
func TestE2EPoWConcurrentWrites(t *testing.T) {
	t.Parallel()
	start := time.Now()
	nodes := powNodes(t)
	ps := procsOf(nodes...)
	t.Logf("3 pow nodes connected after %v", time.Since(start).Round(time.Millisecond))

	// A write answered before its block (?wait=false): 202 with its id,
	// then GET /entries/{id} follows it to confirmed.
	a := nodes[0]
	queued := entryOf(t, "queued on A")
	code, b := mustDo(t, http.MethodPost, a.url+"/data?wait=false", `{"data": "queued on A"}`)
	var sub struct {
		IDs []string `json:"ids"`
	}
	if err := okData(b, &sub); code != http.StatusAccepted || err != nil || len(sub.IDs) != 1 {
		t.Fatalf("POST /data?wait=false: %d %s (%v), want 202 with one id", code, b, err)
	}
	if want := block.EntryID(queued); sub.IDs[0] != want {
		t.Errorf("POST /data?wait=false gave id %s, want %s (the entry's id)", sub.IDs[0], want)
	}
	queuedID := sub.IDs[0]
	code, status, e, err := getEntry(a.url, queuedID)
	if err != nil || code != http.StatusOK || status != "OK" || (e.State != "pending" && e.State != "confirmed") || e.ID != queuedID {
		t.Errorf("GET /entries/%s right after the write: %d %s %+v (%v), want 200 pending or confirmed", queuedID, code, status, e, err)
	}
	queuedAt := time.Now()
	for _, n := range nodes {
		waitFor(t, waitDeadline, n.name+" to confirm the queued entry", ps, func() (bool, string) {
			code, status, e, err := getEntry(n.url, queuedID)
			if err != nil {
				return false, err.Error()
			}
			if code != http.StatusOK || status != "OK" {
				return false, fmt.Sprintf("%d %s %+v", code, status, e)
			}
			return e.State == "confirmed" && e.Index >= 1 && e.Confirmations >= 1, fmt.Sprintf("%+v", e)
		})
	}

	t.Logf("the queued entry confirmed on the 3 nodes %v after its POST", time.Since(queuedAt).Round(time.Millisecond))

	code, status, e, err = getEntry(a.url, strings.Repeat("0", 64))
	if err != nil || code != http.StatusNotFound || status != "ERROR" || e.State != "unknown" {
		t.Errorf("GET /entries/<64 zeros>: %d %s %+v (%v), want 404 state unknown", code, status, e, err)
	}
	code, b, err = httpDo(http.MethodGet, a.url+"/entries/xyz", "")
	if err != nil || code != http.StatusBadRequest {
		t.Errorf("GET /entries/xyz: %d %s (%v), want 400", code, b, err)
	}

	// Three writers per node, each POST /data waiting for its block.
	const writersPerNode, perWriter = 3, 20
	start = time.Now()
	var (
		mu        sync.Mutex
		acked     []string // values answered true
		uncertain []string // values answered 503 "may still be committed"
		failures  []string
	)
	var wg sync.WaitGroup
	for _, n := range nodes {
		for w := range writersPerNode {
			wg.Go(func() {
				for i := range perWriter {
					value := fmt.Sprintf("pow-%s-%d-%d", n.name, w, i)
					body, _ := json.Marshal(map[string]string{"data": value})
					code, b, err := httpDo(http.MethodPost, n.url+"/data", string(body))
					var ok bool
					mu.Lock()
					switch {
					case err != nil:
						failures = append(failures, fmt.Sprintf("POST %s/data %s: %v", n.name, body, err))
					case code == http.StatusOK && okData(b, &ok) == nil && ok:
						acked = append(acked, value)
					case code == http.StatusServiceUnavailable && strings.Contains(string(b), "may still be committed"):
						uncertain = append(uncertain, value)
					default:
						failures = append(failures, fmt.Sprintf("POST %s/data %s: %d %s", n.name, body, code, b))
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	for _, f := range failures {
		t.Error(f)
	}
	if t.Failed() {
		t.Fatalf("writes failed\n%s", tails(ps))
	}
	t.Logf("%d concurrent writes answered after %v: %d acknowledged, %d may still commit",
		len(nodes)*writersPerNode*perWriter, time.Since(start).Round(time.Millisecond), len(acked), len(uncertain))
	if len(uncertain) > 0 {
		t.Logf("writes answered 503 (must still appear): %v", uncertain)
	}

	// One chain everywhere, with nothing left to mine.
	start = time.Now()
	var chain []powBlock
	waitFor(t, waitDeadline, "the 3 nodes to hold the same tip and empty mempools", ps, func() (bool, string) {
		var tip string
		for i, n := range nodes {
			blocks, err := getPoWChain(n.url)
			if err != nil {
				return false, n.name + ": " + err.Error()
			}
			last := blocks[len(blocks)-1].CurrHash
			if i == 0 {
				chain, tip = blocks, last
			} else if last != tip {
				return false, fmt.Sprintf("%s's tip is %s (%d blocks), A's %s (%d blocks)", n.name, last, len(blocks), tip, len(chain))
			}
		}
		for _, n := range nodes {
			code, b, err := httpDo(http.MethodGet, n.url+"/status", "")
			var st struct {
				Engine  string `json:"engine"`
				Pending int    `json:"pending"`
			}
			if err != nil || code != http.StatusOK || okData(b, &st) != nil {
				return false, fmt.Sprintf("%s: GET /status: %d %s %v", n.name, code, b, err)
			}
			if st.Engine != "pow" || st.Pending != 0 {
				return false, fmt.Sprintf("%s: GET /status engine %s, %d pending", n.name, st.Engine, st.Pending)
			}
		}
		// The mempools may have emptied into a block mined since the
		// chains were read: read them again.
		for _, n := range nodes {
			blocks, err := getPoWChain(n.url)
			if err != nil {
				return false, n.name + ": " + err.Error()
			}
			if last := blocks[len(blocks)-1].CurrHash; last != tip {
				return false, fmt.Sprintf("%s's tip moved to %s", n.name, last)
			}
		}
		return true, ""
	})
	t.Logf("one chain of %d blocks on the 3 nodes %v after the last answer", len(chain), time.Since(start).Round(time.Millisecond))

	// Every entry once; every block linked and of difficulty 8 at least.
	seen := map[string]uint64{}
	for i, bl := range chain {
		if bl.Index != uint64(i) {
			t.Fatalf("block %d has index %d", i, bl.Index)
		}
		if i == 0 {
			continue
		}
		if bl.PreviousHash != chain[i-1].CurrHash {
			t.Errorf("block %d's previous_hash %s is not block %d's hash %s", i, bl.PreviousHash, i-1, chain[i-1].CurrHash)
		}
		if bl.Difficulty < 8 {
			t.Errorf("block %d has difficulty %d, want at least 8", i, bl.Difficulty)
		}
		entries, err := block.DecodeEntries(bl.Data)
		if err != nil {
			t.Errorf("block %d's data %.80q: %v", i, bl.Data, err)
			continue
		}
		for _, en := range entries {
			if at, dup := seen[en]; dup {
				t.Errorf("entry %s is in block %d and in block %d", en, at, i)
			}
			seen[en] = uint64(i)
		}
	}
	if at, ok := seen[queued]; !ok {
		t.Errorf("the queued entry %s is not in the chain", queued)
	} else {
		_, _, e, err := getEntry(a.url, queuedID)
		if err != nil || e.State != "confirmed" || e.Index != at || e.Confirmations != uint64(len(chain))-at {
			t.Errorf("GET /entries/%s at the end: %+v (%v), want confirmed in block %d with %d confirmations", queuedID, e, err, at, uint64(len(chain))-at)
		}
	}
	for _, v := range append(acked, uncertain...) {
		if _, ok := seen[entryOf(t, v)]; !ok {
			t.Errorf("write %q was answered but is not in the chain", v)
		}
	}
	if want := len(acked) + len(uncertain) + 1; len(seen) != want {
		t.Errorf("the chain holds %d entries, want %d (the writes and the queued one)", len(seen), want)
	}
	diffs := map[int]int{}
	for _, bl := range chain[1:] {
		diffs[bl.Difficulty]++
	}
	reorgs := map[string]int{}
	for _, n := range nodes {
		reorgs[n.name] = strings.Count(n.stderr.String(), "reorganised onto a branch")
	}
	t.Logf("%d entries in %d blocks; blocks by difficulty: %v; reorgs logged by node: %v", len(seen), len(chain)-1, diffs, reorgs)

	for _, n := range nodes {
		info, err := getNode(n)
		if err != nil || !info.Health || info.DataCount != len(chain) {
			t.Errorf("%s: GET /node: %+v (%v), want health true and data_count %d", n.name, info, err, len(chain))
		}
	}
}

// TestE2EPoWRefusesVote joins a pow node to a vote node and a vote node to
// a pow node: the handshake refuses both, and the joiner exits saying the
// engines differ.
func TestE2EPoWRefusesVote(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name         string
		first, joins []string
	}{
		{"pow joins vote", nil, powArgs},
		{"vote joins pow", powArgs, nil},
	} {
		a := startNode(t, "A ("+c.name+")", c.first...)
		port := freePorts(t, 2)
		args := append([]string{"-p", strconv.Itoa(port), "--host", "127.0.0.1", "--advertise", "127.0.0.1",
			"-pid", a.id, "-pport", strconv.Itoa(a.port)}, c.joins...)
		b := startProc(t, "B ("+c.name+")", args...)
		if code := b.waitExit(t, startDeadline); code == 0 {
			t.Errorf("%s: B exited with code 0, want non-zero\n%s", c.name, b.tail())
		}
		if stderr := b.stderr.String(); !strings.Contains(stderr, "engine mismatch") {
			t.Errorf("%s: B's stderr does not say %q\n%s", c.name, "engine mismatch", b.tail())
		}
		if ok, why := hasPeers(a); !ok {
			t.Errorf("%s: after B gave up: %s", c.name, why)
		}
	}
}

// TestE2EDevnetPoW runs the one-command local network on the pow engine:
// concurrent writes on its three nodes are all answered, and the nodes end
// with one chain holding each of them once.
func TestE2EDevnetPoW(t *testing.T) {
	t.Parallel()
	d, urls := startDevnetProc(t, powArgs...)
	const writes = 30
	postConcurrently(t, d, urls, writes, "d-%d")
	var chain []powBlock
	waitFor(t, waitDeadline, "one chain holding every write on the 3 nodes", []*proc{d}, func() (bool, string) {
		var tip string
		for i, u := range urls {
			blocks, err := getPoWChain(u)
			if err != nil {
				return false, err.Error()
			}
			if last := blocks[len(blocks)-1].CurrHash; i == 0 {
				chain, tip = blocks, last
			} else if last != tip {
				return false, fmt.Sprintf("%s's tip %s differs from %s's %s", u, last, urls[0], tip)
			}
		}
		return true, ""
	})
	seen := map[string]int{}
	for _, bl := range chain[1:] {
		entries, err := block.DecodeEntries(bl.Data)
		if err != nil {
			t.Fatalf("block %d: %v", bl.Index, err)
		}
		for _, en := range entries {
			seen[en]++
		}
	}
	for i := range writes {
		if n := seen[entryOf(t, fmt.Sprintf("d-%d", i))]; n != 1 {
			t.Errorf("write d-%d is %d times in the chain, want once", i, n)
		}
	}
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM devnet: %v", err)
	}
	if code := d.waitExit(t, stopDeadline); code != 0 {
		t.Errorf("devnet exited with code %d after SIGTERM, want 0\n%s", code, d.tail())
	}
}
