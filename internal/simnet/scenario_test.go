package simnet_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/cryptotest"

	"github.com/cockroachdb/datadriven"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/consensus/pow"
	"github.com/naivechain/naivechain/internal/consensus/vote"
	"github.com/naivechain/naivechain/internal/simnet"
	"github.com/naivechain/naivechain/internal/store"
)

// TestScenarios runs every story of testdata/*.txt (see testdata/README.md)
// on a fresh simulated network. The expected output of each command is in
// the script; go test -run TestScenarios -rewrite writes what the code
// does now in its place, to be read and checked by hand before a commit.
func TestScenarios(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no scenario scripts in testdata: %v", err)
	}
	for _, path := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			s := &scenario{relays: map[string]bool{}}
			datadriven.RunTest(t, path, s.run)
		})
	}
}

// scenario is the state of one script: its network, once made, and what
// the commands so far asked of it.
type scenario struct {
	net    *simnet.Network
	engine string
	// relays are the pow nodes that do not mine.
	relays map[string]bool
	// consents are the merges asked for, node id to peer.
	consents map[string]string
}

// command carries out one command of a script and returns what it prints.
type command func(s *scenario, t *testing.T, d *datadriven.TestData) string

// commands are the words a script may use; testdata/README.md lists them.
var commands = map[string]command{
	"network":   (*scenario).network,
	"add":       (*scenario).add,
	"join":      (*scenario).join,
	"tick":      (*scenario).tick,
	"run-until": (*scenario).runUntil,
	"propose":   (*scenario).propose,
	"write":     (*scenario).write,
	"writes":    (*scenario).writes,
	"crash":     (*scenario).crash,
	"restart":   (*scenario).restart,
	"partition": (*scenario).partition,
	"isolate":   (*scenario).isolate,
	"heal":      (*scenario).heal,
	"consent":   (*scenario).consent,
	"status":    (*scenario).status,
	"chain":     (*scenario).chain,
	"entry":     (*scenario).entry,
	"check":     (*scenario).check,
}

func (s *scenario) run(t *testing.T, d *datadriven.TestData) string {
	cmd, ok := commands[d.Cmd]
	if !ok {
		d.Fatalf(t, "unknown command %q", d.Cmd)
	}
	if s.net == nil && d.Cmd != "network" {
		d.Fatalf(t, "%s before network", d.Cmd)
	}
	out := cmd(s, t, d)
	if out != "" && !strings.HasSuffix(out, "\n") {
		out += "\n"
	}
	return out
}

// intArg returns the integer argument key, or def when the command has none.
func intArg(t *testing.T, d *datadriven.TestData, key string, def int) int {
	if !d.HasArg(key) {
		return def
	}
	var v int
	d.ScanArgs(t, key, &v)
	return v
}

// strArg returns the argument key, or def when the command has none.
func strArg(t *testing.T, d *datadriven.TestData, key, def string) string {
	if !d.HasArg(key) {
		return def
	}
	var v string
	d.ScanArgs(t, key, &v)
	return v
}

// words returns the bare words of the command (arguments without a value),
// in order.
func words(d *datadriven.TestData) []string {
	var out []string
	for _, a := range d.CmdArgs {
		if len(a.Vals) == 0 {
			out = append(out, a.Key)
		}
	}
	return out
}

// node returns the node named by the first bare word of the command.
func (s *scenario) node(t *testing.T, d *datadriven.TestData) *simnet.Node {
	w := words(d)
	if len(w) == 0 {
		d.Fatalf(t, "%s: which node?", d.Cmd)
	}
	nd := s.net.Node(w[0])
	if nd == nil {
		d.Fatalf(t, "%s: no node %s", d.Cmd, w[0])
	}
	return nd
}

// network makes the script's network: engine=vote|pow seed=N, and
// optionally delay (largest message delay in ticks), timeout (ticks a write
// waits), greet (greet every so many ticks), merges, budget (nonces per
// tick, pow), remove-after (ticks before a silent member is removed, vote).
func (s *scenario) network(t *testing.T, d *datadriven.TestData) string {
	if s.net != nil {
		d.Fatalf(t, "one network per script")
	}
	seed := uint64(intArg(t, d, "seed", 1))
	// raft draws its election timeouts from crypto/rand: make them part of
	// the seeded schedule.
	cryptotest.SetGlobalRandom(t, seed)
	cfg := simnet.Config{
		Seed:         seed,
		MaxDelay:     intArg(t, d, "delay", 2),
		WriteTimeout: intArg(t, d, "timeout", 100),
		GreetEvery:   intArg(t, d, "greet", 0),
		Merges:       slices.Contains(words(d), "merges"),
		MineBudget:   intArg(t, d, "budget", 0),
	}
	s.engine = strArg(t, d, "engine", "vote")
	switch s.engine {
	case "vote":
		removeAfter := intArg(t, d, "remove-after", 0)
		cfg.NewEngine = func(self consensus.Member, bootstrap bool, c *chain.Chain, st store.Store, session uint64) (consensus.Engine, error) {
			return vote.New(vote.Config{Self: self, Bootstrap: bootstrap, Chain: c, Store: st, JoinToken: testJoinToken,
				Session: session, RemoveAfterTicks: removeAfter})
		}
	case "pow":
		cfg.NewEngine = func(self consensus.Member, _ bool, c *chain.Chain, st store.Store, _ uint64) (consensus.Engine, error) {
			return pow.New(pow.Config{Self: self, Chain: c, Store: st, Params: powParams(), Now: s.net.Clock, Mine: !s.relays[self.ID]})
		}
	default:
		d.Fatalf(t, "engine %q: want vote or pow", s.engine)
	}
	s.net = simnet.New(cfg)
	return ""
}

// add creates a node: "add n1 bootstrap" founds a network, "add c relay"
// makes a pow node that does not mine.
func (s *scenario) add(t *testing.T, d *datadriven.TestData) string {
	w := words(d)
	if len(w) == 0 {
		d.Fatalf(t, "add: which node?")
	}
	s.relays[w[0]] = slices.Contains(w, "relay")
	if _, err := s.net.AddNode(w[0], slices.Contains(w, "bootstrap")); err != nil {
		d.Fatalf(t, "add: %v", err)
	}
	return ""
}

// join makes a node ask another to let it in: "join n2 via=n1".
func (s *scenario) join(t *testing.T, d *datadriven.TestData) string {
	nd := s.node(t, d)
	via := strArg(t, d, "via", "")
	if s.net.Node(via) == nil {
		d.Fatalf(t, "join: no node %q to join through", via)
	}
	s.net.Join(nd.ID, via)
	return ""
}

// tick advances the network by a number of ticks: "tick 50".
func (s *scenario) tick(t *testing.T, d *datadriven.TestData) string {
	w := words(d)
	n := 1
	if len(w) > 0 {
		var err error
		if n, err = strconv.Atoi(w[0]); err != nil || n < 0 {
			d.Fatalf(t, "tick: %q is not a number of ticks", w[0])
		}
	}
	for range n {
		s.net.Tick()
	}
	return ""
}

// runUntil ticks until a condition holds, at most max ticks (default
// 1000); not reaching it fails the test. Conditions: settled, converged,
// done (every write answered), leader (all live nodes follow one live
// leader), consented (every consent asked is recorded), voters=N (every
// live node counts N voters; voters=A,B:N: nodes A and B do),
// height=ID:N (node ID's tip is at N or
// above), same-tip=A,B,... (those nodes have the same tip).
func (s *scenario) runUntil(t *testing.T, d *datadriven.TestData) string {
	var conds []func() bool
	var names []string
	for _, a := range d.CmdArgs {
		if a.Key == "max" {
			continue
		}
		names = append(names, a.String())
		conds = append(conds, s.condition(t, d, a))
	}
	if len(conds) == 0 {
		d.Fatalf(t, "run-until: until what?")
	}
	all := func() bool {
		for _, c := range conds {
			if !c() {
				return false
			}
		}
		return true
	}
	if err := s.net.RunUntil(all, intArg(t, d, "max", 1000)); err != nil {
		d.Fatalf(t, "run-until %s: %v\n%s", strings.Join(names, " "), err, s.status(t, d))
	}
	return ""
}

func (s *scenario) condition(t *testing.T, d *datadriven.TestData, a datadriven.CmdArg) func() bool {
	val := ""
	if len(a.Vals) > 0 {
		val = a.Vals[0]
	}
	switch a.Key {
	case "settled":
		return s.net.Settled
	case "converged":
		return s.net.Converged
	case "done":
		return s.net.AllDone
	case "leader":
		return s.oneLeader
	case "consented":
		return s.consented
	case "voters":
		ids, count, ok := strings.Cut(val, ":")
		if !ok {
			ids, count = "", val
		}
		n, err := strconv.Atoi(count)
		if err != nil {
			d.Fatalf(t, "voters=%q: want a number, or nodes:number", val)
		}
		if ids == "" {
			return func() bool { return voters(s.net) == n }
		}
		group := strings.Split(ids, ",")
		for _, id := range group {
			if s.net.Node(id) == nil {
				d.Fatalf(t, "voters: no node %q", id)
			}
		}
		return func() bool { return votersOf(s.net, group) == n }
	case "height":
		id, h, ok := strings.Cut(val, ":")
		n, err := strconv.ParseUint(h, 10, 64)
		if !ok || err != nil || s.net.Node(id) == nil {
			d.Fatalf(t, "height=%q: want node:index", val)
		}
		return func() bool { return s.net.Node(id).Chain.Tip().Index >= n }
	case "same-tip":
		ids := strings.Split(val, ",")
		for _, id := range ids {
			if s.net.Node(id) == nil {
				d.Fatalf(t, "same-tip: no node %q", id)
			}
		}
		return func() bool {
			tip := s.net.Node(ids[0]).Chain.Tip()
			for _, id := range ids[1:] {
				if s.net.Node(id).Chain.Tip() != tip {
					return false
				}
			}
			return true
		}
	}
	d.Fatalf(t, "run-until: unknown condition %q", a.Key)
	return nil
}

// oneLeader reports whether every live node follows the same live leader,
// which sees itself as leader.
func (s *scenario) oneLeader() bool {
	leader := ""
	for _, nd := range s.net.Nodes() {
		if !nd.Up() {
			continue
		}
		l := nd.Engine.Status().Leader
		if l == "" || (leader != "" && l != leader) {
			return false
		}
		leader = l
	}
	ld := s.net.Node(leader)
	return ld != nil && ld.Up() && ld.Engine.Status().Role == "leader"
}

// merger is what a vote engine offers an operator to consent to a merge.
type merger interface {
	AllowMerge(token, peer string) error
	Consented(token, peer string) bool
}

func (s *scenario) consented() bool {
	for id, peer := range s.consents {
		if !s.net.Node(id).Engine.(merger).Consented(testJoinToken, peer) {
			return false
		}
	}
	return true
}

// consent records, through node ID, that its network agrees to merge with
// the network of peer: "consent a1 peer=b1". Its operator asks again while
// the network has no leader to commit the consent, a bounded number of
// times.
func (s *scenario) consent(t *testing.T, d *datadriven.TestData) string {
	nd := s.node(t, d)
	peer := strArg(t, d, "peer", "")
	m, ok := nd.Engine.(merger)
	if !ok {
		d.Fatalf(t, "consent: the %s engine has no merges", s.engine)
	}
	if s.consents == nil {
		s.consents = map[string]string{}
	}
	s.consents[nd.ID] = peer
	done := func() bool { return m.Consented(testJoinToken, peer) }
	for try := 0; try < 10 && !done(); try++ {
		_ = m.AllowMerge(testJoinToken, peer)
		_ = s.net.RunUntil(done, 100)
	}
	if !done() {
		d.Fatalf(t, "consent: %s never recorded its consent to merge with %s", nd.ID, peer)
	}
	return ""
}

// entryData turns a word of a script into the data of a write: a JSON
// string, as clients of the node send.
func entryData(word string) string { return strconv.Quote(word) }

// propose starts writes on a node and goes on without waiting for them:
// "propose n1 a b".
func (s *scenario) propose(t *testing.T, d *datadriven.TestData) string {
	nd := s.node(t, d)
	for _, w := range words(d)[1:] {
		s.net.Propose(nd.ID, entryData(w))
	}
	return ""
}

// write starts writes on a node, waits for their answers (at most max
// ticks, default 1000) and prints them: "write n1 a b c".
func (s *scenario) write(t *testing.T, d *datadriven.TestData) string {
	nd := s.node(t, d)
	var ws []*simnet.Write
	for _, w := range words(d)[1:] {
		ws = append(ws, s.net.Propose(nd.ID, entryData(w)))
	}
	answered := func() bool {
		for _, w := range ws {
			if !w.Done {
				return false
			}
		}
		return true
	}
	if err := s.net.RunUntil(answered, intArg(t, d, "max", 1000)); err != nil {
		d.Fatalf(t, "write: %v", err)
	}
	var b strings.Builder
	for _, w := range ws {
		b.WriteString(describeWrite(w))
	}
	return b.String()
}

// writes prints every write of the script so far, in the order they were
// made, with its answer.
func (s *scenario) writes(t *testing.T, d *datadriven.TestData) string {
	var b strings.Builder
	for _, w := range s.net.Writes() {
		b.WriteString(describeWrite(w))
	}
	return b.String()
}

func describeWrite(w *simnet.Write) string {
	switch {
	case !w.Done:
		return fmt.Sprintf("%s %s: waiting\n", w.Node, w.Data)
	case w.OK:
		return fmt.Sprintf("%s %s: ok, block %d\n", w.Node, w.Data, w.Block.Index)
	}
	var we *consensus.WriteError
	if errors.As(w.Err, &we) {
		verdict := "will not commit"
		if we.MayCommit || we.Mined {
			verdict = "may still commit"
		}
		return fmt.Sprintf("%s %s: failed (%v; %s)\n", w.Node, w.Data, we.Cause, verdict)
	}
	return fmt.Sprintf("%s %s: failed (%v)\n", w.Node, w.Data, w.Err)
}

func (s *scenario) crash(t *testing.T, d *datadriven.TestData) string {
	nd := s.node(t, d)
	if !nd.Up() {
		d.Fatalf(t, "crash: %s is down already", nd.ID)
	}
	s.net.Crash(nd.ID)
	return ""
}

func (s *scenario) restart(t *testing.T, d *datadriven.TestData) string {
	if err := s.net.Restart(s.node(t, d).ID); err != nil {
		d.Fatalf(t, "restart: %v", err)
	}
	return ""
}

// partition cuts the links between groups of nodes: "partition n1,n2 n3".
func (s *scenario) partition(t *testing.T, d *datadriven.TestData) string {
	var groups [][]string
	for _, w := range words(d) {
		g := strings.Split(w, ",")
		for _, id := range g {
			if s.net.Node(id) == nil {
				d.Fatalf(t, "partition: no node %q", id)
			}
		}
		groups = append(groups, g)
	}
	if len(groups) < 2 {
		d.Fatalf(t, "partition: want two groups or more")
	}
	s.net.Partition(groups...)
	return ""
}

func (s *scenario) isolate(t *testing.T, d *datadriven.TestData) string {
	s.net.Isolate(s.node(t, d).ID)
	return ""
}

func (s *scenario) heal(t *testing.T, d *datadriven.TestData) string {
	s.net.Heal()
	return ""
}

// sortedNodes returns the nodes in the order of their ids.
func (s *scenario) sortedNodes() []*simnet.Node {
	nodes := slices.Clone(s.net.Nodes())
	slices.SortFunc(nodes, func(a, b *simnet.Node) int { return strings.Compare(a.ID, b.ID) })
	return nodes
}

// status prints one line per node, in the order of ids. vote: role, term,
// the leader it follows, its tip and the members it knows (learners
// marked, and a member's incarnation after #: the times it entered a
// network anew). pow: role, tip, the work of its best chain, its mempool and its
// reorganisations since it started.
func (s *scenario) status(t *testing.T, d *datadriven.TestData) string {
	var b strings.Builder
	for _, nd := range s.sortedNodes() {
		if !nd.Up() {
			fmt.Fprintf(&b, "%s: down\n", nd.ID)
			continue
		}
		st := nd.Engine.Status()
		tip := nd.Chain.Tip()
		if e, ok := nd.Engine.(*pow.Engine); ok {
			ps := e.Stats()
			fmt.Fprintf(&b, "%s: %s tip=%d/%.8s work=0x%s pool=%d reorgs=%d\n", nd.ID, st.Role, tip.Index, tip.CurrHash, ps.Work, ps.Mempool, ps.Reorgs)
			continue
		}
		var members []string
		for _, m := range nd.Engine.Members() {
			id := m.ID
			if m.Incarnation > 0 {
				id += fmt.Sprintf("#%d", m.Incarnation)
			}
			if !m.Voter {
				id += "(learner)"
			}
			members = append(members, id)
		}
		leader := st.Leader
		if leader == "" {
			leader = "none"
		}
		fmt.Fprintf(&b, "%s: %s term=%d leader=%s tip=%d members=%s", nd.ID, st.Role, st.Term, leader, tip.Index, strings.Join(members, ","))
		if st.Pending > 0 {
			fmt.Fprintf(&b, " pending=%d", st.Pending)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// chain prints a node's chain, one block a line: its index, the start of
// its hash and its data (a pow block's entries).
func (s *scenario) chain(t *testing.T, d *datadriven.TestData) string {
	nd := s.node(t, d)
	var b strings.Builder
	for blk, err := range nd.Chain.Blocks(0) {
		if err != nil {
			d.Fatalf(t, "chain: %v", err)
		}
		data := blk.Data
		switch {
		case blk.Index == 0:
			data = "(genesis)"
		case blk.IsPoW():
			entries, err := block.DecodeEntries(blk.Data)
			if err != nil {
				d.Fatalf(t, "chain: block %d: %v", blk.Index, err)
			}
			data = strings.Join(entries, " ")
			if data == "" {
				data = "(no entries)"
			}
		}
		fmt.Fprintf(&b, "%d %.8s %s\n", blk.Index, blk.CurrHash, data)
	}
	return b.String()
}

// entry prints where a pow node holds each write: "entry c x y".
func (s *scenario) entry(t *testing.T, d *datadriven.TestData) string {
	nd := s.node(t, d)
	e, ok := nd.Engine.(consensus.Entries)
	if !ok {
		d.Fatalf(t, "entry: the %s engine has no entries", s.engine)
	}
	var b strings.Builder
	for _, w := range words(d)[1:] {
		data := entryData(w)
		st, err := e.Entry(block.EntryID(data))
		if err != nil {
			d.Fatalf(t, "entry %s: %v", w, err)
		}
		switch st.State {
		case "confirmed":
			fmt.Fprintf(&b, "%s %s: confirmed in block %d (%d confirmations)\n", nd.ID, data, st.Index, st.Confirmations)
		default:
			fmt.Fprintf(&b, "%s %s: %s\n", nd.ID, data, st.State)
		}
	}
	return b.String()
}

// check fails the test unless the network is at rest and its chains are
// safe (simnet's Settled and CheckChains): every live node holds the same
// valid chain, every acknowledged write is in it exactly once, and nothing
// is in it that no client wrote.
func (s *scenario) check(t *testing.T, d *datadriven.TestData) string {
	if !s.net.Settled() {
		d.Fatalf(t, "check: the network is not at rest\n%s", s.status(t, d))
	}
	if err := s.net.CheckChains(); err != nil {
		d.Fatalf(t, "check: %v\n%s", err, s.status(t, d))
	}
	acked := 0
	for _, w := range s.net.Writes() {
		if w.OK {
			acked++
		}
	}
	var blocks uint64
	for _, nd := range s.net.Nodes() {
		if nd.Up() {
			blocks = nd.Chain.Len()
		}
	}
	return fmt.Sprintf("ok: every live node holds the same %d blocks; %d acknowledged writes, each in the chain once", blocks, acked)
}
