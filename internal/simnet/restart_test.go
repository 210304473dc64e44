package simnet_test

import (
	"fmt"
	"testing"

	"github.com/naivechain/naivechain/internal/simnet"
)

func restart(t *testing.T, net *simnet.Network, id string) {
	t.Helper()
	if err := net.Restart(id); err != nil {
		t.Fatalf("restart %s: %v", id, err)
	}
}

func TestRestartedMemberCatchesUpFromTheLog(t *testing.T) {
	net := cluster(t, 31, 3, simnet.Config{MaxDelay: 2})
	writeConcurrently(t, net, 60, "a")
	net.Crash("n2")
	writeConcurrently(t, net, 60, "b")
	restart(t, net, "n2")
	settle(t, net)
	writeConcurrently(t, net, 60, "c")
	requireAllOK(t, net)
	settle(t, net)
	if got := net.Node("n2").Chain.Len(); got != 181 {
		t.Fatalf("restarted node has %d blocks, want 181", got)
	}
}

func TestRestartedMemberCatchesUpFromASnapshot(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		net := cluster(t, seed, 3, simnet.Config{MaxDelay: 2, NewEngine: smallSnapshots})
		writeConcurrently(t, net, 40, fmt.Sprintf("a%d", seed))
		victim := fmt.Sprintf("n%d", 1+seed%3)
		net.Crash(victim)
		writeConcurrently(t, net, 150, fmt.Sprintf("b%d", seed))
		restart(t, net, victim)
		settle(t, net)
		writeConcurrently(t, net, 40, fmt.Sprintf("c%d", seed))
		for _, w := range net.Writes() {
			if !w.OK && w.Node != victim {
				t.Fatalf("seed %d: write %s on %s failed: %v", seed, w.Data, w.Node, w.Err)
			}
		}
		settle(t, net)
	}
}

func TestLateJoinerCatchesUpFromASnapshot(t *testing.T) {
	net := cluster(t, 41, 3, simnet.Config{MaxDelay: 2, NewEngine: smallSnapshots})
	writeConcurrently(t, net, 300, "early")
	if _, err := net.AddNode("n4", false); err != nil {
		t.Fatal(err)
	}
	net.Join("n4", "n1")
	if err := net.RunUntil(func() bool { return voters(net) == 4 }, 3000); err != nil {
		t.Fatal(err)
	}
	settle(t, net)
	writeConcurrently(t, net, 40, "late")
	requireAllOK(t, net)
	settle(t, net)
}

func TestWholeNetworkRestarts(t *testing.T) {
	for _, factory := range []simnet.EngineFactory{voteFactory, smallSnapshots} {
		net := cluster(t, 51, 3, simnet.Config{MaxDelay: 2, NewEngine: factory})
		writeConcurrently(t, net, 100, "before")
		requireAllOK(t, net)
		for _, id := range []string{"n1", "n2", "n3"} {
			net.Crash(id)
		}
		for _, id := range []string{"n3", "n1", "n2"} {
			restart(t, net, id)
		}
		if got := net.Node("n1").Chain.Len(); got < 101 {
			t.Fatalf("after restart n1 has %d blocks, want at least 101", got)
		}
		writeConcurrently(t, net, 100, "after")
		requireAllOK(t, net)
		settle(t, net)
	}
}
