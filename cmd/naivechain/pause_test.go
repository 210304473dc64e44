package main

// Pause test: a voter is frozen with SIGSTOP under a write load and thawed
// with SIGCONT. Unlike a SIGKILL, its sockets stay open: the kernel still
// accepts its connections and buffers what is sent to it, but it answers
// nothing. It reuses the harness of e2e_test.go and crash_test.go.

import (
	"fmt"
	"syscall"
	"testing"
	"time"
)

// TestPauseAndResumeDuringWrites SIGSTOPs B of three voters while writers
// spread over A and C: A and C, a majority, keep acknowledging writes, and A
// drops the silent B from its peers. After SIGCONT, B is A's peer again, the
// three agree on one chain holding every acknowledged write exactly once,
// and B takes a write that reaches A and C.
func TestPauseAndResumeDuringWrites(t *testing.T) {
	t.Parallel()
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	a := startNode(t, "A", "--data-dir", dirs[0])
	b := startNode(t, "B", append(a.joinArgs(), "--data-dir", dirs[1])...)
	// Registered after B's own cleanup, so it runs first: a stopped process
	// ignores SIGTERM until it is continued, and the harness would wait for
	// it in vain.
	t.Cleanup(func() {
		if !b.exited() {
			_ = syscall.Kill(b.cmd.Process.Pid, syscall.SIGCONT)
		}
	})
	c := startNode(t, "C", append(a.joinArgs(), "--data-dir", dirs[2])...)
	nodes := []*nodeProc{a, b, c}
	ps := procsOf(nodes...)

	waitFor(t, startDeadline, "GET /status on A to list the three as voters", ps, func() (bool, string) {
		st, err := getStatus(a)
		if err != nil {
			return false, err.Error()
		}
		voters := 0
		for _, m := range st.Members {
			if m.Voter {
				voters++
			}
		}
		return voters == 3, fmt.Sprintf("A: %d voters: %+v", voters, st.Members)
	})
	waitFor(t, waitDeadline, "the three to list the three as voters under one leader", ps, func() (bool, string) {
		return votersAndLeader(nodes...)
	})
	waitFor(t, waitDeadline, "A to have B and C as peers", ps, func() (bool, string) {
		return hasPeers(a, b, c)
	})
	st, err := getStatus(a)
	if err != nil {
		t.Fatal(err)
	}
	leader := "another node"
	for _, n := range nodes {
		if n.id == st.Leader {
			leader = n.name
		}
	}
	t.Logf("leader before the pause: %s (%s)", leader, st.Leader)

	// A bounded load on A and C only: B gets no client writes.
	start := time.Now()
	l := startLoad(12, 200, 3*time.Minute, a.url, c.url)
	defer l.stop()
	if n := l.waitAcked(0, 100, startDeadline); n < 100 {
		t.Fatalf("only %d writes acknowledged in %v (%d failed)\n%s", n, startDeadline, l.nFailed.Load(), tails(ps))
	}

	if err := syscall.Kill(b.cmd.Process.Pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("SIGSTOP B: %v", err)
	}
	stopped := time.Now()
	before, failedBefore := l.nAcked.Load(), l.nFailed.Load()
	t.Logf("%d writes acknowledged in %v; B (pid %d) SIGSTOPped with writers running",
		before, stopped.Sub(start).Round(time.Millisecond), b.cmd.Process.Pid)

	// A notices B's silence and drops it (heartbeat), while C stays.
	waitFor(t, waitDeadline, "A's GET /peers to drop the stopped B", ps, func() (bool, string) {
		peers, err := getPeers(a)
		if err != nil {
			return false, err.Error()
		}
		if _, ok := peers[b.id]; ok {
			return false, fmt.Sprintf("A still lists B: %v", peers)
		}
		return true, ""
	})
	dropped := time.Since(stopped)
	if ok, why := hasPeers(a, c); !ok {
		t.Errorf("while B is stopped: %s", why)
	}

	// A and C, two of three, keep acknowledging.
	m := l.waitAcked(before, 150, waitDeadline)
	if m-before < 150 {
		t.Fatalf("only %d writes acknowledged by A and C in the %v after B's SIGSTOP (%d failed)\n%s",
			m-before, time.Since(stopped).Round(time.Millisecond), l.nFailed.Load()-failedBefore, tails(ps))
	}
	if b.exited() {
		t.Fatalf("B exited while stopped\n%s", b.tail())
	}

	if err := syscall.Kill(b.cmd.Process.Pid, syscall.SIGCONT); err != nil {
		t.Fatalf("SIGCONT B: %v", err)
	}
	resumed := time.Now()
	during, failedDuring := l.nAcked.Load()-before, l.nFailed.Load()-failedBefore
	t.Logf("A dropped B from its peers %v after SIGSTOP; A and C acknowledged %d writes (%d failed) while B was stopped for %v",
		dropped.Round(time.Millisecond), during, failedDuring, resumed.Sub(stopped).Round(time.Millisecond))

	// B thaws under load; then the load stops.
	after := l.waitAcked(before+during, 50, waitDeadline) - before - during
	l.stop()
	tried, acked := l.snapshot()
	t.Logf("%d writes acknowledged after SIGCONT before the load stopped; in all %d tried, %d acknowledged, %d failed",
		after, len(tried), len(acked), l.nFailed.Load())

	waitFor(t, waitDeadline, "A's GET /peers to list B again", ps, func() (bool, string) {
		return hasPeers(a, b, c)
	})
	relisted := time.Since(resumed)
	var chain []jsonBlock
	waitFor(t, startDeadline, "the three to have one chain with every acknowledged write once", ps, func() (ok bool, why string) {
		ok, why, chain = agreeOn(nodes, tried, acked)
		return ok, why
	})
	t.Logf("after SIGCONT: A lists B again in %v; the three agree on %d blocks (all %d acknowledged writes, %d of the %d failed ones) in %v",
		relisted.Round(time.Millisecond), len(chain), len(acked), len(chain)-1-len(acked), len(tried)-len(acked),
		time.Since(resumed).Round(time.Millisecond))

	for _, n := range nodes {
		info, err := getNode(n)
		if err != nil {
			t.Errorf("%s: GET /node: %v", n.name, err)
		} else if !info.Health || info.PeerID != n.id {
			t.Errorf("%s: GET /node %+v, want health true and peer_id %s", n.name, info, n.id)
		}
	}
	waitFor(t, waitDeadline, "B to be a voter again under one leader", ps, func() (bool, string) {
		return votersAndLeader(nodes...)
	})

	// B, thawed, still writes, and its write reaches A and C.
	w := time.Now()
	write(t, b.url, "after the pause", ps...)
	t.Logf("write on B answered in %v", time.Since(w).Round(time.Millisecond))
	waitFor(t, waitDeadline, "B's write on every node", ps, func() (ok bool, why string) {
		ok, why, chain = agreeOn(nodes, tried, acked, `"after the pause"`)
		if ok && chain[len(chain)-1].Data != `"after the pause"` {
			return false, fmt.Sprintf("last block %q", chain[len(chain)-1].Data)
		}
		return ok, why
	})
}
