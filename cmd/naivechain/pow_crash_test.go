package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/naivechain/naivechain/internal/block"
)

// TestCrashPoWKillDuringLoad SIGKILLs one of two mining pow nodes while
// writers POST to both: the engine hands its switches to the driver,
// which applies them before they are durable, so the kill lands between a
// switch applied and its fsync now and then. `naivechain check` passes on
// the killed node's data dir as it is (blocks, pow_entries and pow_kept
// agree), and after a restart on it the two nodes agree on one chain
// holding every acknowledged write once; check passes again once the
// restarted node stopped.
func TestCrashPoWKillDuringLoad(t *testing.T) {
	t.Parallel()
	dirA, dirB := t.TempDir(), t.TempDir()
	a := startNode(t, "A", append(powArgs, "--data-dir", dirA)...)
	b := startNode(t, "B", append(append(a.joinArgs(), powArgs...), "--data-dir", dirB)...)
	waitFor(t, waitDeadline, "A and B to be peers", procsOf(a, b), func() (bool, string) {
		return hasPeers(a, b)
	})

	l := startLoad(8, 200, 2*time.Minute, a.url, b.url)
	defer l.stop()
	if n := l.waitAcked(0, 60, startDeadline); n == 0 {
		t.Fatalf("no write acknowledged in %v\n%s", startDeadline, tails(procsOf(a, b)))
	}
	a.kill(t)
	l.setTargets(b.url)
	reorgs := strings.Count(a.stderr.String(), "reorganised onto a branch")
	if code, out := runCheckCmd(t, dirA); code != 0 || !strings.Contains(out, "no problems found") {
		t.Errorf("naivechain check on A's data dir right after SIGKILL: exit %d\n%s", code, out)
	} else {
		t.Logf("A reorganised %d times before the kill; check right after it:\n%s", reorgs, out)
	}

	a2 := startNodeAt(t, "A'", a.port, append(powArgs, "--data-dir", dirA)...)
	l.setTargets(a2.url, b.url)
	l.waitAcked(l.nAcked.Load(), 20, waitDeadline)
	l.stop()
	tried, acked := l.snapshot()
	t.Logf("%d writes tried, %d acknowledged, %d failed", len(tried), len(acked), l.nFailed.Load())

	nodes := []*nodeProc{a2, b}
	waitFor(t, waitDeadline, "A' and B to hold one chain with every acknowledged write once", procsOf(nodes...), func() (bool, string) {
		var tip string
		var chain []powBlock
		for i, n := range nodes {
			bs, err := getPoWChain(n.url)
			if err != nil {
				return false, n.name + ": " + err.Error()
			}
			if i == 0 {
				chain, tip = bs, bs[len(bs)-1].CurrHash
			} else if last := bs[len(bs)-1].CurrHash; last != tip {
				return false, fmt.Sprintf("%s's tip is %s, %s's %s", n.name, last, nodes[0].name, tip)
			}
		}
		return powHolds(chain, tried, acked)
	})

	a2.stop(t)
	if code, out := runCheckCmd(t, dirA); code != 0 || !strings.Contains(out, "no problems found") {
		t.Errorf("naivechain check on A's data dir after the restarted node stopped: exit %d\n%s", code, out)
	}
	code, body, err := httpDo(http.MethodGet, b.url+"/node", "")
	if err != nil || code != http.StatusOK {
		t.Errorf("B after A' stopped: GET /node: %d %s (%v)", code, body, err)
	}
}

// powHolds reports whether chain holds every acked write once and no
// entry twice; a write tried and not acknowledged may be there.
func powHolds(chain []powBlock, tried map[string]bool, acked map[string]string) (bool, string) {
	seen := map[string]int{}
	for _, bl := range chain[1:] {
		entries, err := block.DecodeEntries(bl.Data)
		if err != nil {
			return false, fmt.Sprintf("block %d: %v", bl.Index, err)
		}
		for _, en := range entries {
			seen[en]++
		}
	}
	for en, k := range seen {
		if k > 1 {
			return false, fmt.Sprintf("entry %s is in %d blocks", en, k)
		}
	}
	for quoted, url := range acked {
		en, err := block.EncodeData([]byte(quoted))
		if err != nil {
			return false, err.Error()
		}
		if seen[en] == 0 {
			return false, fmt.Sprintf("write %s acknowledged by %s is missing from the chain of %d blocks", quoted, url, len(chain))
		}
	}
	if len(seen) > len(tried) {
		return false, fmt.Sprintf("the chain holds %d entries, more than the %d writes tried", len(seen), len(tried))
	}
	return true, ""
}
