package simnet_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/consensus/vote"
	"github.com/naivechain/naivechain/internal/simnet"
)

// forge makes a message in which the Byzantine node byz claims to be
// victim: a raft message carrying victim's raft id (an append of a high
// term committing a forged entry, a vote request, a heartbeat with a
// commit index, or a snapshot), or a join request in victim's name. The
// transport authenticates byz, as TLS does on a real link.
func forge(net *simnet.Network, byz, victim, to string, kind int, term uint64) []byte {
	var from, dest uint64
	for _, m := range net.Node(to).Engine.Members() {
		switch m.ID {
		case victim:
			from = vote.RaftIDOf(m)
		case to:
			dest = vote.RaftIDOf(m)
		}
	}
	if from == 0 {
		from = vote.RaftID(victim)
	}
	if dest == 0 {
		dest = vote.RaftID(to)
	}
	var m raftpb.Message
	switch kind % 5 {
	case 0:
		m = raftpb.Message{Type: raftpb.MsgApp, From: from, To: dest, Term: term, Index: 0, LogTerm: 0, Commit: 1 << 20,
			Entries: []raftpb.Entry{{Term: term, Index: 1, Data: []byte{1, 7, 1, 1, 1, 8, '"', 'f', 'o', 'r', 'g', 'e', 'd', '"'}}}}
	case 1:
		m = raftpb.Message{Type: raftpb.MsgVote, From: from, To: dest, Term: term, Index: 1 << 20, LogTerm: term}
	case 2:
		m = raftpb.Message{Type: raftpb.MsgHeartbeat, From: from, To: dest, Term: term, Commit: 1 << 20}
	case 3:
		m = raftpb.Message{Type: raftpb.MsgSnap, From: from, To: dest, Term: term,
			Snapshot: &raftpb.Snapshot{Data: []byte(`{"height":999,"tip":"` + fmt.Sprintf("%064d", 0) + `"}`),
				Metadata: raftpb.SnapshotMetadata{Index: 1 << 20, Term: term}}}
	default:
		b, _ := json.Marshal(map[string]string{"id": victim, "host": "sim", "port": "1", "token": "simnet-join-token-0123456789"})
		return append([]byte{2}, b...)
	}
	b, _ := m.Marshal()
	return append([]byte{1, 0}, b...)
}

// TestByzantineMemberForgingOtherIDs runs random schedules in which one
// member, besides taking its part honestly, sends every other node
// messages forged under the ids of other members. Every forgery must be
// refused as malformed, and the usual invariants hold: one valid chain,
// every acknowledged write in it once, writes accepted after the heal.
func TestByzantineMemberForgingOtherIDs(t *testing.T) {
	schedulesRun := 150
	if testing.Short() {
		schedulesRun = 20
	}
	forged, refused := 0, 0
	for seed := uint64(1); seed <= uint64(schedulesRun); seed++ {
		size := []int{3, 5}[seed%2]
		cfg := simnet.Config{MaxDelay: 1 + int(seed%3), DropRate: float64(seed%3) * 0.05, WriteTimeout: 150}
		net := cluster(t, seed, size, cfg)
		rng := net.Rand()
		byz := net.Nodes()[int(seed)%size].ID
		for step := 0; step < 200; step++ {
			switch r := rng.IntN(100); {
			case r < 3:
				randomSplit(net)
			case r < 6:
				net.Heal()
			case r < 50:
				if nd := net.Nodes()[rng.IntN(size)]; nd.Up() {
					net.Propose(nd.ID, fmt.Sprintf(`"b%d-%d"`, seed, step))
				}
			}
			// The forgeries: to a random other node, under the id of a
			// random third one (or of the receiver itself).
			to := net.Nodes()[rng.IntN(size)].ID
			victim := net.Nodes()[rng.IntN(size)].ID
			if to != byz && victim != byz {
				term := net.Node(to).Engine.Status().Term + uint64(rng.IntN(3))
				err := net.Inject(byz, to, forge(net, byz, victim, to, rng.IntN(5), term))
				forged++
				if errors.Is(err, consensus.ErrMalformed) {
					refused++
				} else {
					t.Fatalf("seed %d step %d: a message forged by %s under %s's id was taken by %s: %v", seed, step, byz, victim, to, err)
				}
			}
			net.Tick()
		}
		net.Heal()
		if err := net.RunUntil(net.AllDone, 2000); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if err := net.RunUntil(net.Settled, 3000); err != nil {
			t.Fatalf("seed %d: no convergence: %v", seed, err)
		}
		if err := net.CheckChains(); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		w := net.Propose(net.Nodes()[0].ID, fmt.Sprintf(`"b%d-final"`, seed))
		if err := net.RunUntil(func() bool { return w.Done }, 2000); err != nil || !w.OK {
			t.Fatalf("seed %d: write after heal: %v %v", seed, err, w.Err)
		}
	}
	t.Logf("%d schedules: %d forgeries, %d refused", schedulesRun, forged, refused)
	if forged == 0 {
		t.Fatal("nothing was forged")
	}
}
