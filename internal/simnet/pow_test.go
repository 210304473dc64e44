package simnet_test

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/consensus/pow"
	"github.com/naivechain/naivechain/internal/simnet"
	"github.com/naivechain/naivechain/internal/store"
)

var (
	powSchedules = flag.Int("pow-schedules", 200, "number of random schedules TestPoWRandomSchedules runs (5,000 with -long unless given)")
	powSeed      = flag.Uint64("pow-seed", 0, "run only this seed of TestPoWRandomSchedules (to replay a failure)")
)

// powParams are the rules of the simulated pow networks: blocks every
// second (10 ticks) from difficulty 8, retargeted every 10 blocks.
func powParams() pow.Params {
	p := pow.DefaultParams(time.Second)
	p.StartDifficulty = 8
	return p
}

// relay is the id of a node that validates and relays but does not mine.
const relay = "relay"

// powNet starts one pow node per id, on the network's clock, and lets
// each later node ask the one before it for blocks. All mine but relay.
func powNet(t *testing.T, cfg simnet.Config, params pow.Params, ids ...string) *simnet.Network {
	t.Helper()
	var net *simnet.Network
	cfg.NewEngine = func(self consensus.Member, _ bool, c *chain.Chain, st store.Store, _ uint64) (consensus.Engine, error) {
		return pow.New(pow.Config{Self: self, Chain: c, Store: st, Params: params, Now: net.Clock, Mine: self.ID != relay})
	}
	if cfg.GreetEvery == 0 {
		cfg.GreetEvery = 5
	}
	net = simnet.New(cfg)
	for i, id := range ids {
		if _, err := net.AddNode(id, i == 0); err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			net.Join(id, ids[i-1])
		}
	}
	return net
}

func powEngine(net *simnet.Network, id string) *pow.Engine { return net.Node(id).Engine.(*pow.Engine) }

// entriesOf returns the entries of every block of node id's chain.
func entriesOf(t *testing.T, net *simnet.Network, id string) map[string]int {
	t.Helper()
	count := map[string]int{}
	for b, err := range net.Node(id).Chain.Blocks(1) {
		if err != nil {
			t.Fatal(err)
		}
		entries, err := block.DecodeEntries(b.Data)
		if err != nil {
			t.Fatalf("block %d: %v", b.Index, err)
		}
		for _, e := range entries {
			count[e]++
		}
	}
	return count
}

func powTips(net *simnet.Network) []string {
	var out []string
	for _, nd := range net.Nodes() {
		if !nd.Up() {
			out = append(out, nd.ID+":down")
			continue
		}
		st := powEngine(net, nd.ID).Stats()
		out = append(out, fmt.Sprintf("%s:h%d/d%d/pool%d/%.8s", nd.ID, st.Height, st.Difficulty, st.Mempool, nd.Chain.Tip().CurrHash))
	}
	return out
}

// TestPoWRandomSchedules runs seeded random schedules on three miners,
// and a node that only relays in a quarter of them: writes at random
// nodes, partitions and heals, crashes and restarts, message loss and
// delay. Once healed, restarted and quiet, every node
// holds the same chain, each acknowledged write's entry is in it exactly
// once (also when its block was orphaned and the nodes that kept its entry
// crashed: they keep it on disk), and no entry is in it twice.
func TestPoWRandomSchedules(t *testing.T) {
	n := *powSchedules
	if *long && n == 200 {
		n = 5000
	}
	first := uint64(1)
	if *powSeed != 0 {
		first, n = *powSeed, 1
	}
	var total powStats
	for seed := first; seed < first+uint64(n); seed++ {
		st := runPoWSchedule(t, seed)
		total.acked += st.acked
		total.failed += st.failed
		total.crashes += st.crashes
		total.reorgs += st.reorgs
		total.orphaned += st.orphaned
		total.blocks += st.blocks
		total.maxDiff = max(total.maxDiff, st.maxDiff)
	}
	t.Logf("%d schedules: %d blocks (difficulty up to %d), %d writes acknowledged (%d of them in a block later orphaned), %d refused or timed out, %d crashes, %d reorgs",
		n, total.blocks, total.maxDiff, total.acked, total.orphaned, total.failed, total.crashes, total.reorgs)
	if *powSeed == 0 && (total.acked == 0 || total.crashes == 0 || total.reorgs == 0 || total.maxDiff <= powParams().StartDifficulty) {
		t.Fatal("the schedules exercised nothing")
	}
}

type powStats struct {
	acked, failed, crashes, reorgs, orphaned, blocks int
	maxDiff                                          uint8
}

func runPoWSchedule(t *testing.T, seed uint64) (st powStats) {
	t.Helper()
	ids := []string{"a", "b", "c"}
	if seed%4 == 3 {
		ids = append(ids, relay)
	}
	net := powNet(t, simnet.Config{
		Seed:         seed,
		MaxDelay:     1 + int(seed%4),
		DropRate:     float64(seed%3) * 0.05,
		WriteTimeout: 150,
		MineBudget:   16 << (seed % 3), // a block in 5, 3 or 1 ticks at difficulty 8
	}, powParams(), ids...)
	rng := net.Rand()
	reorgs := func(ids ...string) { // counted by each engine, until it stops
		for _, id := range ids {
			st.reorgs += int(powEngine(net, id).Stats().Reorgs)
		}
	}
	for step := 0; step < 300; step++ {
		switch r := rng.IntN(100); {
		case r < 4:
			var a, b []string
			for _, id := range ids {
				if rng.IntN(2) == 0 {
					a = append(a, id)
				} else {
					b = append(b, id)
				}
			}
			net.Partition(a, b)
		case r < 7:
			net.Heal()
		case r < 9:
			id := ids[rng.IntN(len(ids))]
			if net.Node(id).Up() {
				reorgs(id)
				net.Crash(id)
				st.crashes++
			} else if err := net.Restart(id); err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
		case r < 40:
			if id := ids[rng.IntN(len(ids))]; net.Node(id).Up() {
				net.Propose(id, fmt.Sprintf(`"s%d-%d"`, seed, step))
			}
		}
		net.Tick()
	}
	net.Heal()
	for _, id := range ids {
		if !net.Node(id).Up() {
			if err := net.Restart(id); err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
		}
	}
	fail := func(what string, err error) {
		t.Helper()
		for _, w := range net.Writes() {
			if !w.Done {
				t.Logf("waiting: %+v", w)
			}
		}
		t.Fatalf("seed %d: %s: %v (tips %v)", seed, what, err, powTips(net))
	}
	if err := net.RunUntil(net.AllDone, 2000); err != nil {
		fail("writes unanswered", err)
	}
	if err := net.RunUntil(net.Settled, 3000); err != nil {
		fail("no convergence after heal", err)
	}
	if err := net.CheckChains(); err != nil {
		fail("check", err)
	}
	// The healed network takes writes again.
	w := net.Propose(ids[seed%uint64(len(ids))], fmt.Sprintf(`"s%d-final"`, seed))
	if err := net.RunUntil(func() bool { return w.Done }, 2000); err != nil || !w.OK {
		fail("write after heal", errors.Join(err, w.Err))
	}
	if err := net.RunUntil(net.Settled, 2000); err != nil {
		fail("no convergence after the last write", err)
	}
	if err := net.CheckChains(); err != nil {
		fail("check", err)
	}
	reorgs(ids...)
	st.blocks = int(net.Node("a").Chain.Len()) - 1
	for b, err := range net.Node("a").Chain.Blocks(1) {
		if err != nil {
			t.Fatal(err)
		}
		st.maxDiff = max(st.maxDiff, b.Difficulty)
	}
	for _, w := range net.Writes() {
		if w.OK {
			st.acked++
			if b, err := net.Node("a").Chain.Block(w.Block.Index); err != nil || b.CurrHash != w.Block.CurrHash {
				st.orphaned++
			}
		} else {
			st.failed++
		}
	}
	return st
}

// TestPoWPartitionMostWorkWins splits {a,b} from {c}; both sides mine
// entries of their own, {a,b} more blocks. Once healed every node follows
// the {a,b} branch, c's orphaned entries go back to its mempool, and they
// end up in the final chain exactly once.
func TestPoWPartitionMostWorkWins(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		net := powNet(t, simnet.Config{Seed: seed, MaxDelay: 2, WriteTimeout: 400, MineBudget: 32}, powParams(), "a", "b", "c")
		net.Partition([]string{"a", "b"}, []string{"c"})
		var cWrites []string
		for i := 0; i < 6; i++ {
			net.Propose([]string{"a", "b"}[i%2], fmt.Sprintf(`"ab-%d"`, i))
			if i < 2 {
				cWrites = append(cWrites, fmt.Sprintf(`"c-%d"`, i))
				net.Propose("c", cWrites[i])
			}
			// Spread the writes so that {a,b} mine several blocks.
			for range 8 {
				net.Tick()
			}
		}
		if err := net.RunUntil(net.AllDone, 2000); err != nil {
			t.Fatal(err)
		}
		requireAllOK(t, net)
		if err := net.RunUntil(func() bool {
			return net.Node("a").Chain.Tip() == net.Node("b").Chain.Tip() && powEngine(net, "a").Stats().Mempool == 0
		}, 500); err != nil {
			t.Fatal(err)
		}
		abTip, cTip := net.Node("a").Chain.Tip(), net.Node("c").Chain.Tip()
		abWork, cWork := work(t, net, "a"), work(t, net, "c")
		if abWork.Cmp(cWork) <= 0 || abTip.Index > 10 {
			t.Fatalf("seed %d: want {a,b} ahead in work within the first difficulty window: a %d blocks work %v, c %d blocks work %v",
				seed, abTip.Index, abWork, cTip.Index, cWork)
		}
		var cBlocks []block.Block
		for b, err := range net.Node("c").Chain.Blocks(1) {
			if err != nil {
				t.Fatal(err)
			}
			cBlocks = append(cBlocks, b)
		}
		net.Heal()
		// Catch c at its reorg, before anyone mines its entries again.
		if err := net.RunUntil(func() bool { return net.Node("c").Chain.Tip() == abTip }, 500); err != nil {
			t.Fatalf("seed %d: c never switched to the {a,b} branch: %v (tips %v)", seed, err, powTips(net))
		}
		for _, e := range cWrites {
			if st, err := powEngine(net, "c").Entry(block.EntryID(e)); err != nil || st.State != "pending" {
				t.Fatalf("seed %d: orphaned entry %s on c: %+v, %v; want pending", seed, e, st, err)
			}
		}
		if err := net.RunUntil(net.Settled, 2000); err != nil {
			t.Fatalf("seed %d: %v (tips %v)", seed, err, powTips(net))
		}
		if err := net.CheckChains(); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		for _, id := range []string{"a", "b", "c"} {
			final, err := net.Node(id).Chain.Block(abTip.Index)
			if err != nil || final != abTip {
				t.Fatalf("seed %d: %s does not follow the {a,b} branch: block %d is %+v", seed, id, abTip.Index, final)
			}
			for _, cb := range cBlocks {
				if b, err := net.Node(id).Chain.Block(cb.Index); err == nil && b == cb {
					t.Fatalf("seed %d: %s kept c's block %d", seed, id, cb.Index)
				}
			}
			count := entriesOf(t, net, id)
			for _, e := range cWrites {
				if count[e] != 1 {
					t.Fatalf("seed %d: %s holds c's entry %s %d times", seed, id, e, count[e])
				}
			}
		}
		if powEngine(net, "c").Stats().Reorgs == 0 {
			t.Fatalf("seed %d: c never reorganised", seed)
		}
	}
}

func work(t *testing.T, net *simnet.Network, id string) *big.Int {
	t.Helper()
	w, ok := new(big.Int).SetString(powEngine(net, id).Stats().Work, 16)
	if !ok {
		t.Fatalf("%s: work %q", id, powEngine(net, id).Stats().Work)
	}
	return w
}

// blocksPayload is a pow blocks message carrying bs (kind 3 of
// internal/consensus/pow/codec.go, a list that is only appended to).
func blocksPayload(t *testing.T, bs ...block.Block) []byte {
	t.Helper()
	body, err := json.Marshal(struct {
		Blocks []block.Block `json:"blocks"`
	}{bs})
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte{3}, body...)
}

// seal finds a nonce for b that meets its difficulty, or, with miss, one
// that does not.
func seal(t *testing.T, b block.Block, miss bool) block.Block {
	t.Helper()
	entries, err := block.DecodeEntries(b.Data)
	if err != nil {
		t.Fatal(err)
	}
	h, err := block.Header(b, block.EntriesRoot(entries))
	if err != nil {
		t.Fatal(err)
	}
	nonce, found := uint64(0), false
	if miss {
		for ; ; nonce++ {
			w := pow.Work{Header: h, Difficulty: b.Difficulty}
			if _, ok := pow.Search(&w, nonce, 1); !ok {
				break
			}
		}
	} else if nonce, found = pow.Search(&pow.Work{Header: h, Difficulty: b.Difficulty}, 0, 1<<26); !found {
		t.Fatal("no nonce found")
	}
	s, err := block.Seal(b, nonce)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestPoWRejectsInvalidBlocks injects blocks that break a rule of the
// chain into a node: the engine refuses them as invalid blocks, the
// refusal is counted, and the chain does not move.
func TestPoWRejectsInvalidBlocks(t *testing.T) {
	net := powNet(t, simnet.Config{Seed: 1, MaxDelay: 2, MineBudget: 64}, powParams(), "a", "b")
	for i := 0; i < 4; i++ {
		net.Propose("a", fmt.Sprintf(`"w-%d"`, i))
		for range 10 {
			net.Tick()
		}
	}
	if err := net.RunUntil(net.Settled, 1000); err != nil {
		t.Fatal(err)
	}
	requireAllOK(t, net)
	tip := net.Node("b").Chain.Tip()
	if tip.Index < 2 {
		t.Fatalf("only %d blocks mined", tip.Index)
	}
	var times []int64
	for b, err := range net.Node("b").Chain.Blocks(1) {
		if err != nil {
			t.Fatal(err)
		}
		times = append(times, b.Timestamp)
	}
	median := pow.MedianTime(times[max(0, len(times)-pow.MedianSpan):])
	now := net.Clock().UnixMilli()
	entry := []string{`"forged"`}
	for _, tc := range []struct {
		name  string
		block block.Block
		want  string
	}{
		{"insufficient work", seal(t, block.NewPoW(tip, entry, now, tip.Difficulty), true), block.ErrInsufficient.Error()},
		// Block tip+1 does not start a difficulty window: it keeps its
		// parent's difficulty, and one bit more is as wrong as one less.
		{"difficulty off the retarget rule", seal(t, block.NewPoW(tip, entry, now, tip.Difficulty+1), false), "retarget rule"},
		{"timestamp not above the median", seal(t, block.NewPoW(tip, entry, median, tip.Difficulty), false), "median"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rejected := net.Node("b").Rejected
			err := net.Inject("a", "b", blocksPayload(t, tc.block))
			if !errors.Is(err, consensus.ErrInvalidBlock) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want an invalid block (%s)", err, tc.want)
			}
			if got := net.Node("b").Chain.Tip(); got != tip {
				t.Fatalf("the chain moved to %+v", got)
			}
			if net.Node("b").Rejected != rejected+1 {
				t.Fatalf("rejected %d, want %d", net.Node("b").Rejected, rejected+1)
			}
		})
	}
	// The network still agrees and takes writes.
	w := net.Propose("b", `"after"`)
	if err := net.RunUntil(func() bool { return w.Done }, 1000); err != nil || !w.OK {
		t.Fatalf("write after the forged blocks: %v %v", err, w.Err)
	}
	if err := net.RunUntil(net.Settled, 1000); err != nil {
		t.Fatal(err)
	}
	if err := net.CheckChains(); err != nil {
		t.Fatal(err)
	}
	if entriesOf(t, net, "a")[`"forged"`] != 0 {
		t.Fatal("a forged entry reached the chain")
	}
}
