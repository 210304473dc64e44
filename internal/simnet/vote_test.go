package simnet_test

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/cryptotest"
	"time"

	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/consensus/vote"
	"github.com/naivechain/naivechain/internal/logging"
	"github.com/naivechain/naivechain/internal/simnet"
	"github.com/naivechain/naivechain/internal/store"
)

func voteFactory(self consensus.Member, bootstrap bool, c *chain.Chain, st store.Store, session uint64) (consensus.Engine, error) {
	return vote.New(vote.Config{Self: self, Bootstrap: bootstrap, Chain: c, Store: st, JoinToken: testJoinToken, Session: session})
}

// smallSnapshots takes snapshots every few entries and keeps almost no log
// behind them, so that lagging members must catch up through snapshots.
func smallSnapshots(self consensus.Member, bootstrap bool, c *chain.Chain, st store.Store, session uint64) (consensus.Engine, error) {
	return vote.New(vote.Config{Self: self, Bootstrap: bootstrap, Chain: c, Store: st, JoinToken: testJoinToken, Session: session,
		SnapshotEntries: 5, KeepEntries: 2})
}

// cluster starts n nodes: n1 bootstraps, the others join one after another
// through the previous node, and all become voters.
func cluster(t *testing.T, seed uint64, n int, cfg simnet.Config) *simnet.Network {
	t.Helper()
	// raft draws its election timeouts from crypto/rand: make them part
	// of the seeded schedule.
	cryptotest.SetGlobalRandom(t, seed)
	cfg.Seed = seed
	if cfg.NewEngine == nil {
		cfg.NewEngine = voteFactory
	}
	net := simnet.New(cfg)
	if _, err := net.AddNode("n1", true); err != nil {
		t.Fatal(err)
	}
	for i := 2; i <= n; i++ {
		id := fmt.Sprintf("n%d", i)
		if _, err := net.AddNode(id, false); err != nil {
			t.Fatal(err)
		}
		net.Join(id, fmt.Sprintf("n%d", i-1))
	}
	if err := net.RunUntil(func() bool { return voters(net) == n }, 2000); err != nil {
		t.Fatalf("seed %d: cluster of %d never formed (%d voters): %v", seed, n, voters(net), err)
	}
	return net
}

// voters counts the voters that every live node agrees on.
func voters(net *simnet.Network) int {
	var live []string
	for _, nd := range net.Nodes() {
		if nd.Up() {
			live = append(live, nd.ID)
		}
	}
	return votersOf(net, live)
}

// writeConcurrently proposes total writes spread over the live nodes,
// a few per tick, then waits for every answer.
func writeConcurrently(t *testing.T, net *simnet.Network, total int, prefix string) {
	t.Helper()
	var live []string
	for _, nd := range net.Nodes() {
		if nd.Up() {
			live = append(live, nd.ID)
		}
	}
	for i := 0; i < total; i++ {
		node := live[net.Rand().IntN(len(live))]
		net.Propose(node, fmt.Sprintf(`"%s-%d"`, prefix, i))
		if i%4 == 3 {
			net.Tick()
		}
	}
	if err := net.RunUntil(net.AllDone, 5000); err != nil {
		t.Fatal(err)
	}
}

func requireAllOK(t *testing.T, net *simnet.Network) {
	t.Helper()
	for _, w := range net.Writes() {
		if !w.OK {
			t.Fatalf("write %s on %s failed: %v", w.Data, w.Node, w.Err)
		}
	}
}

// settle waits until the network is at rest, then checks the chains.
func settle(t *testing.T, net *simnet.Network) {
	t.Helper()
	if err := net.RunUntil(net.Settled, 2000); err != nil {
		t.Fatal(err)
	}
	if err := net.CheckChains(); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentWritersOnEveryNode(t *testing.T) {
	for _, n := range []int{1, 2, 3, 5} {
		t.Run(fmt.Sprintf("%d nodes", n), func(t *testing.T) {
			net := cluster(t, uint64(n), n, simnet.Config{MaxDelay: 3})
			writeConcurrently(t, net, 400, "w")
			requireAllOK(t, net)
			settle(t, net)
			if got := net.Nodes()[0].Chain.Len(); got != 401 {
				t.Fatalf("chain has %d blocks, want 401", got)
			}
		})
	}
}

func TestOneNodeDown(t *testing.T) {
	for _, victim := range []string{"n1", "n3"} { // n1 leads after bootstrap
		t.Run(victim, func(t *testing.T) {
			net := cluster(t, 7, 3, simnet.Config{MaxDelay: 2})
			writeConcurrently(t, net, 50, "before")
			net.Crash(victim)
			writeConcurrently(t, net, 200, "after")
			for _, w := range net.Writes() {
				if !w.OK && w.Node != victim {
					t.Fatalf("write %s on live node %s failed: %v", w.Data, w.Node, w.Err)
				}
			}
			settle(t, net)
		})
	}
}

func TestLateJoinerCatchesUpAndCounts(t *testing.T) {
	net := cluster(t, 11, 3, simnet.Config{MaxDelay: 2})
	writeConcurrently(t, net, 300, "early")
	if _, err := net.AddNode("n4", false); err != nil {
		t.Fatal(err)
	}
	net.Join("n4", "n2")
	if err := net.RunUntil(func() bool { return voters(net) == 4 }, 2000); err != nil {
		t.Fatal(err)
	}
	settle(t, net)
	// With 4 voters a majority is 3: after two nodes go down, writes stop.
	writeConcurrently(t, net, 50, "late")
	requireAllOK(t, net)
	net.Crash("n1")
	net.Crash("n2")
	w := net.Propose("n4", `"no-majority"`)
	if err := net.RunUntil(func() bool { return w.Done }, 1000); err != nil {
		t.Fatal(err)
	}
	var we *consensus.WriteError
	if w.OK || !errors.As(w.Err, &we) {
		t.Fatalf("write without majority: ok=%v err=%v", w.OK, w.Err)
	}
	if err := net.CheckChains(); err != nil {
		t.Fatal(err)
	}
}

func TestMinorityCommitsNothing(t *testing.T) {
	net := cluster(t, 3, 3, simnet.Config{MaxDelay: 2})
	net.Partition([]string{"n1"}, []string{"n2", "n3"})
	minority := net.Propose("n1", `"minority"`)
	majority := net.Propose("n2", `"majority"`)
	if err := net.RunUntil(net.AllDone, 1000); err != nil {
		t.Fatal(err)
	}
	if minority.OK || !majority.OK {
		t.Fatalf("minority ok=%v (%v), majority ok=%v (%v)", minority.OK, minority.Err, majority.OK, majority.Err)
	}
	var we *consensus.WriteError
	if !errors.As(minority.Err, &we) || !we.MayCommit {
		t.Fatalf("minority write error %v: want a WriteError that may still commit", minority.Err)
	}
	if n1 := net.Node("n1").Chain.Len(); n1 != 1 {
		t.Fatalf("isolated node committed: chain len %d", n1)
	}
	net.Heal()
	settle(t, net)
}

func TestLossyNetworkKeepsEveryWriteOnce(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		net := cluster(t, seed, 3, simnet.Config{MaxDelay: 4, DropRate: 0.1, WriteTimeout: 400})
		writeConcurrently(t, net, 120, fmt.Sprintf("s%d", seed))
		settle(t, net)
	}
}

func TestLeaderCrashDuringWrites(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		net := cluster(t, seed, 5, simnet.Config{MaxDelay: 3, WriteTimeout: 400})
		for i := 0; i < 100; i++ {
			node := fmt.Sprintf("n%d", 2+net.Rand().IntN(4))
			net.Propose(node, fmt.Sprintf(`"s%d-%d"`, seed, i))
			if i == 50 {
				net.Crash("n1")
			}
			net.Tick()
		}
		if err := net.RunUntil(net.AllDone, 5000); err != nil {
			t.Fatal(err)
		}
		for _, w := range net.Writes() {
			if !w.OK && w.Node != "n1" {
				t.Fatalf("seed %d: write %s on %s failed: %v", seed, w.Data, w.Node, w.Err)
			}
		}
		settle(t, net)
	}
}

func TestMalformedMessagesChangeNothing(t *testing.T) {
	net := cluster(t, 5, 3, simnet.Config{MaxDelay: 1})
	writeConcurrently(t, net, 10, "x")
	before := net.Node("n2").Chain.Tip()
	for _, p := range [][]byte{nil, {0}, {9, 1, 2}, {1, 0xff, 0xff}, {2, '{'}, {2, '{', '}'}} {
		if err := net.Inject("n1", "n2", p); !errors.Is(err, consensus.ErrMalformed) {
			t.Errorf("payload %v: err = %v, want ErrMalformed", p, err)
		}
	}
	if net.Node("n2").Chain.Tip() != before {
		t.Fatal("malformed input changed the chain")
	}
	writeConcurrently(t, net, 10, "y")
	requireAllOK(t, net)
	settle(t, net)
}

func TestSilentMemberIsRemovedByTheMajority(t *testing.T) {
	var logs lockedBuffer
	factory := func(self consensus.Member, bootstrap bool, c *chain.Chain, st store.Store, session uint64) (consensus.Engine, error) {
		log := slog.New(logging.NewLineHandler(&logs, nil)).With("node", self.ID)
		return vote.New(vote.Config{Self: self, Bootstrap: bootstrap, Chain: c, Store: st, JoinToken: testJoinToken, Session: session,
			RemoveAfterTicks: 100, Tick: 100 * time.Millisecond, Logger: log})
	}
	net := cluster(t, 21, 3, simnet.Config{MaxDelay: 2, NewEngine: factory})
	net.Crash("n3")
	if err := net.RunUntil(func() bool { return voters(net) == 2 }, 1000); err != nil {
		t.Fatalf("n3 was not removed: %v", err)
	}
	// Every member that applies the removal says why, not only the leader.
	for _, id := range []string{"n1", "n2"} {
		if want := `[INFO]: NODE-member removed node=` + id + ` peer=n3 reason="unreachable for 10s"`; !strings.Contains(logs.String(), want) {
			t.Errorf("no %q in:\n%s", want, logs.String())
		}
	}
	for _, nd := range net.Nodes()[:2] {
		for _, m := range nd.Engine.Members() {
			if m.ID == "n3" {
				t.Fatalf("%s still lists n3", nd.ID)
			}
		}
	}
	// The network is now n1, n2: both are needed, and both suffice.
	writeConcurrently(t, net, 40, "two")
	requireAllOK(t, net)
	settle(t, net)
	net.Crash("n2")
	w := net.Propose("n1", `"alone"`)
	if err := net.RunUntil(func() bool { return w.Done }, 1000); err != nil {
		t.Fatal(err)
	}
	if w.OK {
		t.Fatal("a write committed with 1 of 2 voters")
	}
}

// TestSimultaneousJoins joins four nodes through one member at the same
// tick: raft admits one configuration change at a time, so the member must
// keep the others and admit them in turn, without waiting on the joiners.
func TestSimultaneousJoins(t *testing.T) {
	net := simnet.New(simnet.Config{Seed: 4, NewEngine: voteFactory, MaxDelay: 2})
	if _, err := net.AddNode("n1", true); err != nil {
		t.Fatal(err)
	}
	for i := 2; i <= 5; i++ {
		id := fmt.Sprintf("n%d", i)
		if _, err := net.AddNode(id, false); err != nil {
			t.Fatal(err)
		}
		net.Join(id, "n1")
	}
	// Each admission takes a few round trips: 40 ticks is enough for
	// all four only when the member queues joins instead of dropping them.
	if err := net.RunUntil(func() bool { return voters(net) == 5 }, 40); err != nil {
		t.Fatalf("%d voters: %v", voters(net), err)
	}
	writeConcurrently(t, net, 50, "j")
	requireAllOK(t, net)
	settle(t, net)
}

// TestRemovedMemberComesBackAsANewMember removes a member that was cut off
// (n3) or down (n2) for longer than RemoveAfterTicks. When it can talk again,
// a member tells it it was removed, and it enters the network anew under
// the raft id of its next incarnation, catches up and votes again.
func TestRemovedMemberComesBackAsANewMember(t *testing.T) {
	factory := func(self consensus.Member, bootstrap bool, c *chain.Chain, st store.Store, session uint64) (consensus.Engine, error) {
		return vote.New(vote.Config{Self: self, Bootstrap: bootstrap, Chain: c, Store: st, JoinToken: testJoinToken, Session: session,
			RemoveAfterTicks: 100, SnapshotEntries: 20, KeepEntries: 5})
	}
	for _, crash := range []bool{false, true} {
		t.Run(fmt.Sprintf("crash=%v", crash), func(t *testing.T) {
			net := cluster(t, 33, 4, simnet.Config{MaxDelay: 2, NewEngine: factory})
			victim := "n3"
			if crash {
				net.Crash(victim)
			} else {
				net.Isolate(victim)
			}
			notVictim := func() (ids []string) {
				for _, nd := range net.Nodes() {
					if nd.ID != victim {
						ids = append(ids, nd.ID)
					}
				}
				return ids
			}
			if err := net.RunUntil(func() bool {
				for _, id := range notVictim() {
					if len(net.Node(id).Engine.Members()) != 3 {
						return false
					}
				}
				return true
			}, 2000); err != nil {
				t.Fatalf("%s was not removed: %v", victim, err)
			}
			for i := 0; i < 60; i++ {
				net.Propose(notVictim()[i%3], fmt.Sprintf(`"while-away-%d"`, i))
				net.Tick()
			}
			if err := net.RunUntil(net.AllDone, 2000); err != nil {
				t.Fatal(err)
			}
			requireAllOK(t, net)
			if crash {
				if err := net.Restart(victim); err != nil {
					t.Fatal(err)
				}
			} else {
				net.Heal()
			}
			if err := net.RunUntil(func() bool { return voters(net) == 4 }, 3000); err != nil {
				t.Fatalf("%s did not come back as a voter (%d voters agreed): %v", victim, voters(net), err)
			}
			for _, m := range net.Node("n1").Engine.Members() {
				if m.ID == victim && m.Incarnation != 1 {
					t.Fatalf("%s is back as incarnation %d, want 1", victim, m.Incarnation)
				}
			}
			t.Logf("%s is a voter again at tick %d", victim, net.Now())
			w := net.Propose(victim, `"back"`)
			if err := net.RunUntil(func() bool { return w.Done }, 1000); err != nil || !w.OK {
				t.Fatalf("write on the returned member: %v %v", err, w.Err)
			}
			settle(t, net)
		})
	}
}

// TestSettledWaitsForEntriesCommittedElsewhere crashes the leader at the
// tick it acknowledges a write, cut off before the followers hear that the
// entry committed. The followers hold the entry, unapplied, on the same
// tip as each other: the network is not at rest until a new leader commits
// it, and a check of the chains before that would miss the acknowledged
// write (seed 842 of TestRandomSchedules).
func TestSettledWaitsForEntriesCommittedElsewhere(t *testing.T) {
	net := cluster(t, 8, 3, simnet.Config{MaxDelay: 1})
	leader := ""
	for _, nd := range net.Nodes() {
		if nd.Engine.Status().Role == "leader" {
			leader = nd.ID
		}
	}
	if leader == "" {
		t.Fatal("no leader")
	}
	w := net.Propose(leader, `"acked"`)
	if err := net.RunUntil(func() bool { return w.Done }, 100); err != nil || !w.OK {
		t.Fatalf("write: %v %v", err, w.Err)
	}
	net.Isolate(leader)
	net.Crash(leader)
	for _, nd := range net.Nodes() {
		if nd.Up() && nd.Chain.Len() != 1 {
			t.Fatalf("%s applied the write before the leader crashed: the test no longer cuts in between", nd.ID)
		}
	}
	if net.Settled() {
		t.Fatal("settled while the followers hold a committed entry they have not applied")
	}
	if err := net.RunUntil(net.Settled, 1000); err != nil {
		t.Fatal(err)
	}
	if err := net.CheckChains(); err != nil {
		t.Fatal(err)
	}
}

// lockedBuffer collects the log lines of several nodes.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
