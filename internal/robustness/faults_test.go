package robustness

// Faults: a schedule drawn from the run's seed (which fault, on which
// node, when, for how long), played against the cluster while the
// traffic runs. One fault at a time, so a majority stays up and the
// network should keep accepting writes between faults.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// faultKind names a kind of fault.
type faultKind string

const (
	faultKill      faultKind = "kill"       // kill -9, restart after the hold
	faultStop      faultKind = "stop"       // SIGSTOP, SIGCONT after the hold
	faultPartition faultKind = "partition"  // blackhole routes between a node and one or all others
	faultDiskFull  faultKind = "disk-full"  // the data dir's tmpfs filled, emptied after the hold
	faultSlowFlush faultKind = "slow-flush" // restarted with --flush-delay, restarted without after the hold
)

// allFaults is every kind, in the order reports list them.
var allFaults = []faultKind{faultKill, faultStop, faultPartition, faultDiskFull, faultSlowFlush}

// fault is one scheduled fault.
type fault struct {
	At    time.Duration // after the traffic started
	Kind  faultKind
	Node  int
	Peer  int           // partition: the node cut from Node, -1 for all others
	Hold  time.Duration // how long the fault lasts
	Delay time.Duration // slow-flush: the flush delay
}

func (f fault) String() string {
	s := fmt.Sprintf("%v %s n%d", f.At.Round(time.Millisecond), f.Kind, f.Node)
	switch {
	case f.Kind == faultPartition && f.Peer < 0:
		s += " from all"
	case f.Kind == faultPartition:
		s += fmt.Sprintf(" from n%d", f.Peer)
	case f.Kind == faultSlowFlush:
		s += fmt.Sprintf(" delay %v", f.Delay)
	}
	return s + fmt.Sprintf(" for %v", f.Hold.Round(time.Millisecond))
}

// schedule draws faults of the given kinds on n nodes from rng until
// budget: a gap of 0.5-2s, then a fault held 1-4s, and so on.
func schedule(rng *rand.Rand, kinds []faultKind, n int, budget time.Duration) []fault {
	var out []fault
	at := time.Second // let the traffic start first
	for range 10000 {
		gap := 500*time.Millisecond + time.Duration(rng.Int64N(int64(1500*time.Millisecond)))
		hold := time.Second + time.Duration(rng.Int64N(int64(3*time.Second)))
		f := fault{At: at + gap, Kind: kinds[rng.IntN(len(kinds))], Node: rng.IntN(n), Peer: -1, Hold: hold}
		switch f.Kind {
		case faultPartition:
			if rng.IntN(2) == 0 {
				f.Peer = (f.Node + 1 + rng.IntN(n-1)) % n
			}
		case faultSlowFlush:
			f.Delay = time.Duration(10+rng.IntN(190)) * time.Millisecond
		}
		if f.At+f.Hold > budget {
			break
		}
		out = append(out, f)
		at = f.At + f.Hold
	}
	return out
}

// injector plays a schedule against a cluster and counts what it did.
type injector struct {
	c        *cluster
	tr       *traffic
	injected map[faultKind]int
	// filled are the members whose disk was filled: a store write that
	// was under way when the disk was emptied may still fail after the
	// heal looked, and stop the engine then.
	filled   map[int]bool
	problems []string // what went wrong with a node while faults ran
}

// play injects every fault of sched at its time after start, until ctx
// ends; each fault is healed before the next, and before play returns.
func (in *injector) play(ctx context.Context, start time.Time, sched []fault) {
	for _, f := range sched {
		if !waitUntil(ctx, start.Add(f.At)) {
			return
		}
		in.c.t.Logf("fault: %s", f)
		heal := in.inject(f)
		in.injected[f.Kind]++
		waitUntil(ctx, time.Now().Add(f.Hold)) // the fault's duration: load, not synchronisation
		heal()
		in.checkAlive()
	}
}

// waitUntil waits for the time t of the schedule; false if ctx ended.
func waitUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// restartIfFailed restarts member i when its engine stopped on a failed
// store write (role "failed"), as an operator would once the disk has room
// again (docs/ARCHITECTURE.md, "Crash guarantees"). It reports whether it
// did.
func (in *injector) restartIfFailed(i int, why string) bool {
	c, m := in.c, in.c.members[i]
	var st statusInfo
	if err := c.get(m, "/status", &st); err != nil || st.Role != "failed" {
		return false
	}
	c.t.Logf("%s failed %s; restarted, as an operator would", m.name, why)
	in.must(m.end(syscall.SIGTERM))
	c.launch(m, 0)
	return true
}

// inject starts f and returns what heals it.
func (in *injector) inject(f fault) (heal func()) {
	c, m := in.c, in.c.members[f.Node]
	switch f.Kind {
	case faultKill:
		in.must(m.end(syscall.SIGKILL))
		return func() { c.launch(m, 0) }
	case faultStop:
		in.must(m.signal(syscall.SIGSTOP))
		return func() { in.must(m.signal(syscall.SIGCONT)) }
	case faultPartition:
		var peers []int
		for i := range c.members {
			if i != f.Node && (f.Peer < 0 || i == f.Peer) {
				peers = append(peers, i)
			}
		}
		in.routes("add", f.Node, peers)
		return func() { in.routes("del", f.Node, peers) }
	case faultDiskFull:
		if in.filled == nil {
			in.filled = make(map[int]bool)
		}
		in.filled[f.Node] = true
		filler := filepath.Join(m.dataDir, "robustness-filler")
		in.must(fillDisk(filler, c.diskMiB))
		return func() {
			in.servesItsWrites(m)
			in.must(os.Remove(filler))
			// A store that failed to write stops its engine for good
			// (docs/ARCHITECTURE.md, "Crash guarantees"): the operator
			// restarts the node once the disk has room again.
			in.restartIfFailed(f.Node, "on the full disk")
		}
	case faultSlowFlush:
		in.must(m.end(syscall.SIGTERM))
		c.launch(m, f.Delay)
		return func() {
			in.must(m.end(syscall.SIGTERM))
			c.launch(m, 0)
		}
	}
	panic("unknown fault " + f.Kind)
}

// routes adds or deletes blackhole routes between node a and each peer,
// both ways: packets to the other side are dropped, as on a cut link.
func (in *injector) routes(op string, a int, peers []int) {
	c := in.c
	for _, b := range peers {
		for _, pair := range [][2]int{{a, b}, {b, a}} {
			args := []string{"-n", c.nsName(pair[0]), "route", op, "blackhole", c.nodeIP(pair[1]) + "/32"}
			if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
				in.must(fmt.Errorf("ip %s: %v %s", strings.Join(args, " "), err, out))
			}
		}
	}
}

// fillDisk writes path until the file system is full: 1 MiB writes, then
// 4 KiB ones for the rest. Bounded by the file system's size.
func fillDisk(path string, sizeMiB int) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	big, small := make([]byte, 1<<20), make([]byte, 4<<10)
	for range sizeMiB + 1 {
		if _, err := f.Write(big); err != nil {
			break
		}
	}
	for range 1<<20/len(small) + 1 {
		if _, err := f.Write(small); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return nil
			}
			return err
		}
	}
	return fmt.Errorf("%s: the disk did not fill", path)
}

// must records a failure of the harness itself: a signal that could not
// be sent, a route that could not be set.
func (in *injector) must(err error) {
	if err != nil {
		in.c.t.Errorf("fault injection: %v", err)
	}
}

// checkAlive records and restarts a node whose process exited without
// being told to: a crash is a finding, and the run goes on without it
// skewing the rest.
func (in *injector) checkAlive() {
	for _, m := range in.c.members {
		if m.unexpectedExit() {
			p := fmt.Sprintf("%s exited by itself (%v)", m.name, m.proc.cmd.ProcessState)
			in.c.t.Logf("%s\n%s", p, m.tail())
			in.problems = append(in.problems, p)
			in.c.launch(m, 0)
		}
	}
}

// servesItsWrites records a problem when m does not serve every write it
// acknowledged (issue 17: on a full disk, the last acknowledged write went
// missing from GET /data until a restart).
func (in *injector) servesItsWrites(m *member) {
	// The writes acknowledged before the read starts: traffic goes on,
	// and the node may go on acknowledging into its log's preallocated
	// space after the read answered.
	acked := in.tr.acknowledged(m.idx)
	values, _, err := in.c.chainValues(m)
	if err != nil {
		in.c.t.Logf("%s on a full disk: GET /data: %v", m.name, err)
		return
	}
	have := make(map[string]bool, len(values))
	for _, v := range values {
		have[v] = true
	}
	var missing []string
	for _, c := range acked {
		if !have[c] {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		p := fmt.Sprintf("disk-full: %s acknowledged %d writes it does not serve with its disk full (%q...)", m.name, len(missing), missing[:min(3, len(missing))])
		in.c.t.Log(p)
		in.problems = append(in.problems, p)
	}
}
