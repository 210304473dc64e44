package main

// Crash tests: nodes with a --data-dir are SIGKILLed under a write load and
// restarted on the same ports and data dir. Every write a node acknowledged
// (200 {"status":"OK","data":true}) must be in the chain exactly once after
// the restart; a write that failed may be there, but at most once. They reuse
// the harness of e2e_test.go.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/node"
	"github.com/naivechain/naivechain/internal/store"
)

// ---------------------------------------------------------------- helpers

// startNodeAt starts a node on the given peer port (HTTP on port+1) with the
// extra args, as startNode does, and waits until it is live and its HTTP API
// answers. A port still held by a killed predecessor ("address already in
// use") is retried until startDeadline.
func startNodeAt(t *testing.T, name string, port int, extra ...string) *nodeProc {
	t.Helper()
	deadline := time.Now().Add(startDeadline)
	for {
		n, lostPorts := launchNode(t, name, port, extra...)
		if n != nil {
			return n
		}
		if !lostPorts || time.Now().After(deadline) {
			t.Fatalf("%s could not take port %d", name, port)
		}
		time.Sleep(pollEvery) // the port is polled, not waited for
	}
}

type nodeInfo struct {
	PeerID    string `json:"peer_id"`
	DataCount int    `json:"data_count"`
	Health    bool   `json:"health"`
}

func getNode(n *nodeProc) (nodeInfo, error) {
	var info nodeInfo
	code, b, err := httpDo(http.MethodGet, n.url+"/node", "")
	if err != nil {
		return info, err
	}
	if code != http.StatusOK {
		return info, fmt.Errorf("GET /node: %d %s", code, b)
	}
	return info, okData(b, &info)
}

type statusInfo struct {
	Role    string `json:"role"`
	Leader  string `json:"leader"`
	Term    uint64 `json:"term"`
	Members []struct {
		ID    string `json:"id"`
		Voter bool   `json:"voter"`
	} `json:"members"`
}

func getStatus(n *nodeProc) (statusInfo, error) {
	var st statusInfo
	code, b, err := httpDo(http.MethodGet, n.url+"/status", "")
	if err != nil {
		return st, err
	}
	if code != http.StatusOK {
		return st, fmt.Errorf("GET /status: %d %s", code, b)
	}
	return st, okData(b, &st)
}

// votersAndLeader reports whether every node's GET /status lists exactly
// the nodes as voters and names the same leader, one of them.
func votersAndLeader(nodes ...*nodeProc) (bool, string) {
	leader := ""
	for i, n := range nodes {
		st, err := getStatus(n)
		if err != nil {
			return false, fmt.Sprintf("%s: %v", n.name, err)
		}
		var voters []string
		for _, m := range st.Members {
			if m.Voter {
				voters = append(voters, m.ID)
			}
		}
		for _, o := range nodes {
			if !slices.Contains(voters, o.id) {
				return false, fmt.Sprintf("%s: voters %v lack %s (%s)", n.name, voters, o.name, o.id)
			}
		}
		if len(voters) != len(nodes) {
			return false, fmt.Sprintf("%s: voters %v, want %d", n.name, voters, len(nodes))
		}
		if st.Leader == "" {
			return false, fmt.Sprintf("%s: no leader (role %s, term %d)", n.name, st.Role, st.Term)
		}
		if i == 0 {
			leader = st.Leader
		} else if st.Leader != leader {
			return false, fmt.Sprintf("%s names leader %s, %s names %s", n.name, st.Leader, nodes[0].name, leader)
		}
	}
	return true, ""
}

// writeLoad POSTs distinct data "c<g>-<i>" from concurrent writers and keeps
// which writes were tried and which were acknowledged.
type writeLoad struct {
	targets atomic.Pointer[[]string] // the URLs written to; writer g's i-th write goes to targets[(g+i)%len]
	nAcked  atomic.Int64
	nFailed atomic.Int64
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu    sync.Mutex
	tried map[string]bool   // data (as in the chain: quoted) -> tried
	acked map[string]string // data (as in the chain) -> the URL that acknowledged it
}

var loadClient = &http.Client{Timeout: 20 * time.Second}

// startLoad starts writers goroutines that each write at most perWriter
// times, and stop after bound.
func startLoad(writers, perWriter int, bound time.Duration, urls ...string) *writeLoad {
	l := &writeLoad{tried: map[string]bool{}, acked: map[string]string{}}
	l.setTargets(urls...)
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	l.cancel = cancel
	for g := range writers {
		l.wg.Go(func() {
			for i := 0; i < perWriter && ctx.Err() == nil; i++ {
				targets := *l.targets.Load()
				url := targets[(g+i)%len(targets)]
				data := fmt.Sprintf("c%d-%d", g, i)
				quoted := strconv.Quote(data)
				l.mu.Lock()
				l.tried[quoted] = true
				l.mu.Unlock()
				if ok := postOK(ctx, url, data); ok {
					l.mu.Lock()
					l.acked[quoted] = url
					l.mu.Unlock()
					l.nAcked.Add(1)
					continue
				}
				l.nFailed.Add(1)
				select { // a dead node refuses at once: do not spin on it
				case <-ctx.Done():
				case <-time.After(20 * time.Millisecond):
				}
			}
		})
	}
	return l
}

func (l *writeLoad) setTargets(urls ...string) { l.targets.Store(&urls) }

// postOK POSTs {"data": data} and reports whether the node answered
// 200 {"status":"OK","data":true}.
func postOK(ctx context.Context, url, data string) bool {
	body, _ := json.Marshal(map[string]string{"data": data})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/data", strings.NewReader(string(body)))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := loadClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return false
	}
	var ok bool
	return okData(b, &ok) == nil && ok
}

// waitAcked waits until n writes were acknowledged since base (or every
// writer is done, or d passed) and returns the count.
func (l *writeLoad) waitAcked(base, n int64, d time.Duration) int64 {
	done := make(chan struct{})
	go func() { l.wg.Wait(); close(done) }()
	deadline := time.Now().Add(d)
	for l.nAcked.Load()-base < n && time.Now().Before(deadline) {
		select {
		case <-done:
			return l.nAcked.Load()
		case <-time.After(pollEvery):
		}
	}
	return l.nAcked.Load()
}

// stop ends the load and waits for its writers.
func (l *writeLoad) stop() {
	l.cancel()
	l.wg.Wait()
}

// snapshot returns copies of the tried and acknowledged writes.
func (l *writeLoad) snapshot() (tried map[string]bool, acked map[string]string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	tried, acked = make(map[string]bool, len(l.tried)), make(map[string]string, len(l.acked))
	for k, v := range l.tried {
		tried[k] = v
	}
	for k, v := range l.acked {
		acked[k] = v
	}
	return tried, acked
}

// checkBlocks reports whether blocks is a valid chain holding every acked
// write exactly once, and nothing but tried writes and extra, at most once.
func checkBlocks(blocks []jsonBlock, tried map[string]bool, acked map[string]string, extra ...string) (bool, string) {
	bs := make([]block.Block, len(blocks))
	for i, b := range blocks {
		bs[i] = block.Block{Index: uint64(b.Index), PreviousHash: b.PreviousHash, Data: b.Data, CurrHash: b.CurrHash}
	}
	if err := block.CheckChain(bs); err != nil {
		return false, fmt.Sprintf("invalid chain of %d blocks: %v", len(bs), err)
	}
	seen := map[string]int{}
	for _, b := range blocks[1:] {
		seen[b.Data]++
	}
	var dups, unknown, missing []string
	for d, k := range seen {
		switch {
		case k > 1:
			dups = append(dups, fmt.Sprintf("%s x%d", d, k))
		case !tried[d] && !slices.Contains(extra, d):
			unknown = append(unknown, d)
		}
	}
	for d, url := range acked {
		if seen[d] == 0 {
			missing = append(missing, d+" (acked by "+url+")")
		}
	}
	if len(dups)+len(unknown)+len(missing) > 0 {
		slices.Sort(dups)
		slices.Sort(missing)
		return false, fmt.Sprintf("%d blocks: %d acked writes missing %.20v, %d duplicated %.20v, %d never written %.20v",
			len(blocks), len(missing), missing, len(dups), dups, len(unknown), unknown)
	}
	return true, ""
}

// agreeOn reports whether every node answers the same GET /data and that
// chain passes checkBlocks; it returns the chain.
func agreeOn(nodes []*nodeProc, tried map[string]bool, acked map[string]string, extra ...string) (bool, string, []jsonBlock) {
	var first string
	var blocks []jsonBlock
	for i, n := range nodes {
		s, bs, err := getData(n.url)
		if err != nil {
			return false, n.name + ": " + err.Error(), nil
		}
		if i == 0 {
			first, blocks = s, bs
		} else if s != first {
			return false, fmt.Sprintf("%s has %d blocks, %s has %d (or they differ)", n.name, len(bs), nodes[0].name, len(blocks)), nil
		}
	}
	if ok, why := checkBlocks(blocks, tried, acked, extra...); !ok {
		return false, why, nil
	}
	return true, "", blocks
}

func procsOf(nodes ...*nodeProc) []*proc {
	ps := make([]*proc, len(nodes))
	for i, n := range nodes {
		ps[i] = n.proc
	}
	return ps
}

// ---------------------------------------------------------------- tests

// TestCrashSingleNodeKillDuringLoad SIGKILLs a lone node while 16 writers
// POST to it; after a restart on the same data dir every acknowledged write
// is in its chain exactly once.
func TestCrashSingleNodeKillDuringLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := startNode(t, "A", "--data-dir", dir)

	start := time.Now()
	l := startLoad(16, 300, 2*time.Minute, a.url)
	defer l.stop()
	n := l.waitAcked(0, 500, startDeadline)
	if n == 0 {
		t.Fatalf("no write acknowledged in %v\n%s", startDeadline, a.tail())
	}
	a.kill(t)
	killed := time.Now()
	t.Logf("%d writes acknowledged in %v, A SIGKILLed with writers running", n, killed.Sub(start).Round(time.Millisecond))
	l.stop()
	tried, acked := l.snapshot()
	t.Logf("%d writes tried, %d acknowledged, %d failed", len(tried), len(acked), l.nFailed.Load())
	// The writes since the last checkpoint are only in the write-ahead
	// log: the restart must replay it.
	if fi, err := os.Stat(store.WALPaths(filepath.Join(dir, node.StoreFile))[0]); err != nil || fi.Size() == 0 {
		t.Fatalf("no write-ahead log after the kill: %v", err)
	}

	a2 := startNodeAt(t, "A'", a.port, "--data-dir", dir)
	t.Logf("A' answers HTTP %v after the kill", time.Since(killed).Round(time.Millisecond))
	if a2.id != a.id {
		t.Errorf("A' logged id %s, want A's %s", a2.id, a.id)
	}
	// Entries logged before the kill are committed (or not) once A' leads
	// again: take the chain after that.
	var blocks []jsonBlock
	waitFor(t, waitDeadline, "A' to lead and hold every acknowledged write exactly once", []*proc{a2.proc}, func() (bool, string) {
		if ok, why := votersAndLeader(a2); !ok {
			return false, why
		}
		_, bs, err := getData(a2.url)
		if err != nil {
			return false, err.Error()
		}
		blocks = bs
		return checkBlocks(blocks, tried, acked)
	})
	t.Logf("A' holds %d blocks: all %d acknowledged writes, %d of the %d failed ones; recovered %v after the kill",
		len(blocks), len(acked), len(blocks)-1-len(acked), len(tried)-len(acked), time.Since(killed).Round(time.Millisecond))

	info, err := getNode(a2)
	if err != nil {
		t.Fatal(err)
	}
	if info.PeerID != a.id || !info.Health || info.DataCount < len(blocks) {
		t.Errorf("GET /node: %+v, want peer_id %s, health true, data_count >= %d", info, a.id, len(blocks))
	}

	// The restarted node still writes, once, at the end of its chain.
	write(t, a2.url, "after the crash", a2.proc)
	_, after, err := getData(a2.url)
	if err != nil {
		t.Fatal(err)
	}
	if ok, why := checkBlocks(after, tried, acked, `"after the crash"`); !ok {
		t.Errorf("after a new write: %s", why)
	} else if last := after[len(after)-1]; last.Data != `"after the crash"` || len(after) < len(blocks)+1 {
		t.Errorf("after a new write: %d blocks ending with %q, want %d or more ending with %q", len(after), last.Data, len(blocks)+1, `"after the crash"`)
	} else if len(after) > len(blocks)+1 {
		t.Logf("%d failed writes logged before the kill were committed after the restart", len(after)-len(blocks)-1)
	}
}

// threeNodes starts A, B and C (both joining A), each on its own data dir,
// and waits until every node lists the three as voters under one leader.
func threeNodes(t *testing.T) (nodes []*nodeProc, dirs []string) {
	t.Helper()
	dirs = []string{t.TempDir(), t.TempDir(), t.TempDir()}
	a := startNode(t, "A", "--data-dir", dirs[0])
	b := startNode(t, "B", append(a.joinArgs(), "--data-dir", dirs[1])...)
	c := startNode(t, "C", append(a.joinArgs(), "--data-dir", dirs[2])...)
	nodes = []*nodeProc{a, b, c}
	waitFor(t, startDeadline, "the three nodes to list the three as voters under one leader", procsOf(nodes...), func() (bool, string) {
		return votersAndLeader(nodes...)
	})
	return nodes, dirs
}

func urlsOf(nodes ...*nodeProc) []string {
	us := make([]string, len(nodes))
	for i, n := range nodes {
		us[i] = n.url
	}
	return us
}

// TestCrashClusterKillOneDuringLoad SIGKILLs B of three voters while writers
// spread over the three; A and C keep acknowledging writes; B restarts on
// its data dir without -pid/-pport and catches up.
func TestCrashClusterKillOneDuringLoad(t *testing.T) {
	t.Parallel()
	crashOneOfThree(t, func([]*nodeProc, string) int { return 1 })
}

// TestCrashClusterKillLeaderDuringLoad is TestCrashClusterKillOneDuringLoad
// with the leader of the moment as the victim: the two others elect a new
// one and go on.
func TestCrashClusterKillLeaderDuringLoad(t *testing.T) {
	t.Parallel()
	crashOneOfThree(t, func(nodes []*nodeProc, leader string) int {
		return slices.IndexFunc(nodes, func(n *nodeProc) bool { return n.id == leader })
	})
}

// crashOneOfThree runs three nodes under a write load spread over them,
// SIGKILLs the one victim picks (from the nodes and the leader's id), checks
// the two others go on, and restarts it on its data dir without -pid/-pport.
func crashOneOfThree(t *testing.T, victim func(nodes []*nodeProc, leader string) int) {
	nodes, dirs := threeNodes(t)

	start := time.Now()
	l := startLoad(16, 300, 3*time.Minute, urlsOf(nodes...)...)
	defer l.stop()
	n := l.waitAcked(0, 300, startDeadline)
	if n == 0 {
		t.Fatalf("no write acknowledged in %v\n%s", startDeadline, tails(procsOf(nodes...)))
	}
	st, err := getStatus(nodes[0])
	if err != nil {
		t.Fatal(err)
	}
	v := victim(nodes, st.Leader)
	if v < 0 {
		t.Fatalf("no victim among the nodes (leader %q)", st.Leader)
	}
	b := nodes[v]
	others := slices.Delete(slices.Clone(nodes), v, v+1)
	a, c := others[0], others[1]
	t.Logf("leader %s; victim %s (%s)", st.Leader, b.name, b.id)
	l.setTargets(a.url, c.url)
	b.kill(t)
	killed := time.Now()
	failedAtKill := l.nFailed.Load()
	t.Logf("%d writes acknowledged in %v, %s SIGKILLed with writers running", n, killed.Sub(start).Round(time.Millisecond), b.name)

	// The two others are a majority: they keep acknowledging.
	m := l.waitAcked(n, 300, startDeadline)
	if m-n < 300 {
		t.Fatalf("only %d writes acknowledged by %s and %s in the %v after %s's kill (%d failed)\n%s",
			m-n, a.name, c.name, time.Since(killed).Round(time.Millisecond), b.name, l.nFailed.Load()-failedAtKill, tails(procsOf(nodes...)))
	}
	t.Logf("%s and %s acknowledged %d more writes in %v after the kill (%d writes failed meanwhile)",
		a.name, c.name, m-n, time.Since(killed).Round(time.Millisecond), l.nFailed.Load()-failedAtKill)

	// The victim comes back while the others still take writes.
	restart := time.Now()
	b2 := startNodeAt(t, b.name+"'", b.port, "--data-dir", dirs[v])
	t.Logf("%s answers HTTP %v after its restart", b2.name, time.Since(restart).Round(time.Millisecond))
	l.stop()
	tried, acked := l.snapshot()
	t.Logf("%d writes tried, %d acknowledged, %d failed", len(tried), len(acked), l.nFailed.Load())
	if b2.id != b.id {
		t.Errorf("%s logged id %s, want %s", b2.name, b2.id, b.id)
	}

	all := []*nodeProc{a, b2, c}
	var chain []jsonBlock
	waitFor(t, startDeadline, "the three to have one chain with every acknowledged write once", procsOf(all...), func() (ok bool, why string) {
		ok, why, chain = agreeOn(all, tried, acked)
		return ok, why
	})
	t.Logf("the three agree on %d blocks %v after %s's restart", len(chain), time.Since(restart).Round(time.Millisecond), b.name)
	info, err := getNode(b2)
	if err != nil {
		t.Fatal(err)
	}
	if info.PeerID != b.id || !info.Health {
		t.Errorf("%s GET /node: %+v, want peer_id %s and health true", b2.name, info, b.id)
	}
	waitFor(t, waitDeadline, b2.name+" to be a voter again", procsOf(all...), func() (bool, string) {
		return votersAndLeader(all...)
	})
}

// TestCrashWholeNetwork SIGKILLs the three nodes of a network under load and
// restarts them all without -pid/-pport: they agree again, hold every
// acknowledged write once and take a new write.
func TestCrashWholeNetwork(t *testing.T) {
	t.Parallel()
	nodes, dirs := threeNodes(t)
	ids := []string{nodes[0].id, nodes[1].id, nodes[2].id}

	l := startLoad(8, 100, 2*time.Minute, urlsOf(nodes...)...)
	defer l.stop()
	n := l.waitAcked(0, 200, startDeadline)
	if n == 0 {
		t.Fatalf("no write acknowledged in %v\n%s", startDeadline, tails(procsOf(nodes...)))
	}
	for _, nd := range nodes {
		nd.kill(t)
	}
	killed := time.Now()
	l.stop()
	tried, acked := l.snapshot()
	t.Logf("%d writes acknowledged, all three SIGKILLed; %d tried, %d failed", n, len(tried), l.nFailed.Load())

	var restarted []*nodeProc
	for i, nd := range nodes {
		r := startNodeAt(t, nd.name+"'", nd.port, "--data-dir", dirs[i])
		if r.id != ids[i] {
			t.Errorf("%s logged id %s, want %s", r.name, r.id, ids[i])
		}
		restarted = append(restarted, r)
	}
	ps := procsOf(restarted...)
	waitFor(t, startDeadline, "the restarted nodes to agree on a chain with every acknowledged write once", ps, func() (bool, string) {
		ok, why, _ := agreeOn(restarted, tried, acked)
		return ok, why
	})
	waitFor(t, startDeadline, "the restarted nodes to list the three as voters under one leader", ps, func() (bool, string) {
		return votersAndLeader(restarted...)
	})
	t.Logf("network recovered %v after the kill", time.Since(killed).Round(time.Millisecond))

	write(t, restarted[1].url, "after the blackout", ps...)
	var chain []jsonBlock
	waitFor(t, waitDeadline, "the new write on every node", ps, func() (ok bool, why string) {
		ok, why, chain = agreeOn(restarted, tried, acked, `"after the blackout"`)
		if ok && chain[len(chain)-1].Data != `"after the blackout"` {
			return false, fmt.Sprintf("last block %q", chain[len(chain)-1].Data)
		}
		return ok, why
	})
}

func fileSum(t *testing.T, path string) [sha256.Size]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// TestBadDataDirForeignFile starts nodes on data dirs whose chain.db is not
// a naivechain store: each exits 2, says so, and leaves the file as it was.
func TestBadDataDirForeignFile(t *testing.T) {
	t.Parallel()
	random := make([]byte, 64<<10)
	_, _ = rand.Read(random)
	cases := []struct {
		name  string
		write func(path string) error
	}{
		{"random bytes", func(path string) error { return os.WriteFile(path, random, 0o600) }},
		{"text file", func(path string) error {
			return os.WriteFile(path, []byte(strings.Repeat("this is my shopping list, not a chain\n", 200)), 0o600)
		}},
		{"another bolt file", func(path string) error {
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				return err
			}
			err = db.Update(func(tx *bolt.Tx) error {
				bk, err := tx.CreateBucket([]byte("accounts"))
				if err != nil {
					return err
				}
				return bk.Put([]byte("alice"), []byte("42"))
			})
			return errors.Join(err, db.Close())
		}},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			t.Parallel()
			foreignDataDir(t, tc.write, "not a naivechain store")
		})
	}
}

// TestBadDataDirOtherGenesis starts a node on a naivechain store whose block
// 0 is not this network's genesis block: it exits 2, says so, and leaves the
// store as it was (no id is written into it either). Short: block 0 is
// within the tail the store verifies on open; long: it is not.
func TestBadDataDirOtherGenesis(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		length int
		withID bool
	}{{2, true}, {1100, true}, {2, false}} {
		length := tc.length
		t.Run(fmt.Sprintf("%d_blocks_id_%v", length, tc.withID), func(t *testing.T) {
			t.Parallel()
			foreignDataDir(t, func(path string) error {
				st, err := store.OpenLogged(path, store.LoggedOptions{})
				if err != nil {
					return err
				}
				g := block.Block{Index: 0, PreviousHash: "0", Data: `"another network"`, CurrHash: block.Hash("0", `"another network"`)}
				bs := []block.Block{g}
				for i := 1; i < length; i++ {
					bs = append(bs, block.Next(bs[i-1], strconv.Quote(fmt.Sprintf("its write %d", i))))
				}
				if tc.withID { // a store another network's node wrote has its id
					_, _, _, err = node.Identity(st, "", nil)
				}
				return errors.Join(err, st.Append(bs...), st.Close())
			}, "different genesis")
		})
	}
}

// foreignDataDir has write make dir/chain.db and starts a node on dir: it
// must exit 2 with a stderr naming the file and saying want, and leave the
// data dir as it was.
func foreignDataDir(t *testing.T, write func(path string) error, want string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "chain.db")
	if err := write(path); err != nil {
		t.Fatal(err)
	}
	sum, names := fileSum(t, path), dirNames(t, dir)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	port := freePorts(t, 2)
	p := startProc(t, "N", "-p", strconv.Itoa(port), "--host", "127.0.0.1", "--advertise", "127.0.0.1", "--data-dir", dir)
	if code := p.waitExit(t, startDeadline); code != 2 {
		t.Errorf("exit code %d, want 2\n%s", code, p.tail())
	}
	if s := p.stderr.String(); !strings.Contains(s, want) {
		t.Errorf("stderr does not say %q:\n%s", want, p.tail())
	} else if want == "not a naivechain store" && !strings.Contains(s, path) {
		t.Errorf("stderr does not name %s:\n%s", path, p.tail())
	}
	if fileSum(t, path) != sum {
		t.Errorf("%s changed", path)
	}
	if fi2, err := os.Stat(path); err != nil || fi2.Size() != fi.Size() || !fi2.ModTime().Equal(fi.ModTime()) || fi2.Mode() != fi.Mode() {
		t.Errorf("%s: stat %v (%v), was %v", path, fi2, err, fi)
	}
	if got := dirNames(t, dir); !slices.Equal(got, names) {
		t.Errorf("data dir holds %v, held %v", got, names)
	}
	if portFree(port) && portFree(port+1) {
		return
	}
	t.Errorf("ports %d/%d still taken after the node exited", port, port+1)
}

// TestBadDataDirInUse starts a second node on the data dir of a running one:
// it exits 2 saying the store is in use; the first goes on.
func TestBadDataDirInUse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := startNode(t, "A", "--data-dir", dir)
	write(t, a.url, "before", a.proc)
	sum := fileSum(t, filepath.Join(dir, "chain.db"))

	port := freePorts(t, 2)
	p := startProc(t, "A2", "-p", strconv.Itoa(port), "--host", "127.0.0.1", "--advertise", "127.0.0.1", "--data-dir", dir)
	if code := p.waitExit(t, startDeadline); code != 2 {
		t.Errorf("second node on %s: exit code %d, want 2\n%s", dir, code, p.tail())
	}
	if s := p.stderr.String(); !strings.Contains(s, "store is in use") {
		t.Errorf("second node's stderr does not say the store is in use:\n%s", p.tail())
	}
	if fileSum(t, filepath.Join(dir, "chain.db")) != sum {
		t.Errorf("chain.db changed while the second node tried to open it")
	}
	write(t, a.url, "after", a.proc)
	if ok, why, _ := sameChains(3, a.url); !ok {
		t.Errorf("A after the second node: %s", why)
	}
	if info, err := getNode(a); err != nil || !info.Health || info.PeerID != a.id {
		t.Errorf("A's GET /node: %+v (%v), want health true and peer_id %s", info, err, a.id)
	}
}

// TestRestartKeepsPeers stops B with SIGTERM and restarts it without
// -pid/-pport: A and B find each other again from B's data dir.
func TestRestartKeepsPeers(t *testing.T) {
	t.Parallel()
	dirA, dirB := t.TempDir(), t.TempDir()
	a := startNode(t, "A", "--data-dir", dirA)
	b := startNode(t, "B", append(a.joinArgs(), "--data-dir", dirB)...)
	ps := []*proc{a.proc, b.proc}
	waitFor(t, waitDeadline, "A and B to list each other as peers", ps, func() (bool, string) {
		if ok, why := hasPeers(a, b); !ok {
			return false, why
		}
		return hasPeers(b, a)
	})
	waitFor(t, waitDeadline, "A and B to be voters under one leader", ps, func() (bool, string) {
		return votersAndLeader(a, b)
	})
	write(t, b.url, "before the restart", ps...)

	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := b.waitExit(t, stopDeadline); code != 0 {
		t.Errorf("B exited with code %d after SIGTERM, want 0\n%s", code, b.tail())
	}
	stopped := time.Now()

	b2 := startNodeAt(t, "B'", b.port, "--data-dir", dirB)
	if b2.id != b.id {
		t.Errorf("B' logged id %s, want B's %s", b2.id, b.id)
	}
	ps = []*proc{a.proc, b2.proc}
	waitFor(t, waitDeadline, "A and B' to list each other as peers", ps, func() (bool, string) {
		if ok, why := hasPeers(a, b2); !ok {
			return false, why
		}
		return hasPeers(b2, a)
	})
	waitFor(t, waitDeadline, "A and B' to be voters under one leader", ps, func() (bool, string) {
		return votersAndLeader(a, b2)
	})
	t.Logf("A and B' peers again %v after B stopped", time.Since(stopped).Round(time.Millisecond))
	write(t, b2.url, "after the restart", ps...)
	var chain []jsonBlock
	waitFor(t, waitDeadline, "A and B' to have the same 3 blocks", ps, func() (ok bool, why string) {
		ok, why, chain = sameChains(3, a.url, b2.url)
		return ok, why
	})
	if chain[1].Data != `"before the restart"` || chain[2].Data != `"after the restart"` {
		t.Errorf("chain data = %q, %q", chain[1].Data, chain[2].Data)
	}
}
