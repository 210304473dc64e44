package main

// Merge test: two nodes started alone found two networks, take different
// writes, and meet through POST /peers. It reuses the harness of
// e2e_test.go and crash_test.go.

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// writeEach posts n writes named prefix-i to the node, one after another,
// and records them in tried and acked.
func writeEach(t *testing.T, n *nodeProc, prefix string, count int, tried map[string]bool, acked map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startDeadline)
	defer cancel()
	for i := range count {
		data := fmt.Sprintf("%s-%d", prefix, i)
		tried[strconv.Quote(data)] = true
		if !postOK(ctx, n.url, data) {
			t.Fatalf("%s did not acknowledge %s", n.name, data)
		}
		acked[strconv.Quote(data)] = n.url
	}
}

// meet posts to from's POST /peers the address of winner, whose network
// holds the longer chain, and waits until every node holds one chain with
// every write tried and acknowledged so far once, of which the first
// winnerWrites blocks are still winner's "a-i" writes in order.
func meet(t *testing.T, from, winner *nodeProc, all []*nodeProc, tried map[string]bool, acked map[string]string, winnerWrites int) {
	t.Helper()
	start := time.Now()
	// Without the winner's join token, or with another, the merge is
	// refused: its operator never consented.
	for _, bad := range []string{``, `, "join_token": "not-the-token-of-that-network"`} {
		code, body, err := httpDo(http.MethodPost, from.url+"/peers", fmt.Sprintf(`{"host": "127.0.0.1", "port": "%d"%s}`, winner.port, bad))
		if err != nil || code != http.StatusForbidden {
			t.Fatalf("POST /peers on %s without the right token: %d %s %v, want 403", from.name, code, body, err)
		}
	}
	if winner.token == "" {
		t.Fatalf("%s logged no join token", winner.name)
	}
	code, body, err := httpDo(http.MethodPost, from.url+"/peers", fmt.Sprintf(`{"host": "127.0.0.1", "port": "%d", "join_token": %q}`, winner.port, winner.token))
	if err != nil || code != http.StatusOK {
		t.Fatalf("POST /peers on %s: %d %s %v", from.name, code, body, err)
	}
	var chain []jsonBlock
	waitFor(t, startDeadline, fmt.Sprintf("one chain with the %d writes once each", len(acked)), procsOf(all...), func() (bool, string) {
		ok, why, blocks := agreeOn(all, tried, acked)
		if !ok {
			return false, why
		}
		chain = blocks
		return len(blocks) == len(acked)+1, fmt.Sprintf("%d blocks", len(blocks))
	})
	t.Logf("one chain of %d blocks %v after POST /peers", len(chain), time.Since(start).Round(time.Millisecond))
	for i := 1; i <= winnerWrites; i++ {
		if want := strconv.Quote(fmt.Sprintf("a-%d", i-1)); chain[i].Data != want {
			t.Fatalf("block %d holds %s, want %s: the longer chain must stay as it was", i, chain[i].Data, want)
		}
	}
}

// TestTwoLoneNodesMerge starts A and B alone: each founds its own network
// and takes its own writes, A more than B. POST /peers on B then connects
// it to A. By the fork-choice rule A's longer chain wins: B moves its
// blocks off its chain, joins A's network and re-proposes its writes. Both
// end on one chain holding every acknowledged write of either exactly
// once, both vote in one network, and each takes a write the other sees.
func TestTwoLoneNodesMerge(t *testing.T) {
	t.Parallel()
	a := startNode(t, "A", "--data-dir", t.TempDir())
	b := startNode(t, "B", "--data-dir", t.TempDir())
	ps := procsOf(a, b)
	tried, acked := map[string]bool{}, map[string]string{}
	writeEach(t, a, "a", 40, tried, acked)
	writeEach(t, b, "b", 25, tried, acked)

	meet(t, b, a, []*nodeProc{a, b}, tried, acked, 40)
	waitFor(t, waitDeadline, "A and B to vote in one network", ps, func() (bool, string) {
		return votersAndLeader(a, b)
	})
	writeEach(t, a, "after-a", 1, tried, acked)
	writeEach(t, b, "after-b", 1, tried, acked)
	waitFor(t, waitDeadline, "both to hold the writes after the merge", ps, func() (bool, string) {
		ok, why, blocks := agreeOn([]*nodeProc{a, b}, tried, acked)
		return ok && len(blocks) == 68, why
	})
	for _, n := range []*nodeProc{a, b} {
		info, err := getNode(n)
		if err != nil || !info.Health {
			t.Fatalf("%s GET /node: %+v %v", n.name, info, err)
		}
	}
}

// TestNetworkOfTwoMovesIntoALoneNode: B1 and B2 form one network and A
// another, alone, with more writes. POST /peers on B2 connects it to A. B's
// network moves as a whole: its leader asks A to host it, commits the move,
// and both B nodes move onto A's chain, join A's network as new members and
// re-propose B's writes. The three end on one chain, each acknowledged
// write once, three voters in one network.
func TestNetworkOfTwoMovesIntoALoneNode(t *testing.T) {
	t.Parallel()
	a := startNode(t, "A", "--data-dir", t.TempDir())
	b1 := startNode(t, "B1", "--data-dir", t.TempDir())
	b2 := startNode(t, "B2", append(b1.joinArgs(), "--data-dir", t.TempDir())...)
	all := []*nodeProc{a, b1, b2}
	ps := procsOf(all...)
	waitFor(t, startDeadline, "B1 and B2 to vote in one network", ps, func() (bool, string) {
		return votersAndLeader(b1, b2)
	})
	tried, acked := map[string]bool{}, map[string]string{}
	writeEach(t, a, "a", 40, tried, acked)
	writeEach(t, b1, "b1", 10, tried, acked)
	writeEach(t, b2, "b2", 10, tried, acked)

	meet(t, b2, a, all, tried, acked, 40)
	waitFor(t, waitDeadline, "the three to vote in one network", ps, func() (bool, string) {
		return votersAndLeader(all...)
	})
	for _, n := range all {
		writeEach(t, n, "after-"+n.name, 1, tried, acked)
	}
	waitFor(t, waitDeadline, "the three to hold the writes after the merge", ps, func() (bool, string) {
		ok, why, blocks := agreeOn(all, tried, acked)
		return ok && len(blocks) == 64, why
	})
}
