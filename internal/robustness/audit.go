package robustness

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Findings is what Audit found wrong in a history against the final chain.
type Findings struct {
	Lost       []string    // acknowledged writes missing from the final chain
	Duplicated []string    // values on the final chain more than once
	Foreign    []string    // values on the final chain that no client wrote
	Diverged   []int       // reads (call indexes) that saw a log that is not a prefix of the final chain
	Stale      []StaleRead // reads that missed a write acknowledged before they started
}

// StaleRead is a read that returned less of the final chain than was
// acknowledged, or returned by another read, before it started: a read
// that is not linearizable, without anything lost.
type StaleRead struct {
	Read    int           // the read's call index
	Node    int           // the node that answered it
	Missing string        // the first value it should have returned and did not
	Behind  time.Duration // how long before the read's start the value it missed was known
}

// OK reports whether nothing was lost, duplicated, foreign or diverged.
// Stale reads are left to the linearizability check, which they fail.
func (f Findings) OK() bool {
	return len(f.Lost)+len(f.Duplicated)+len(f.Foreign)+len(f.Diverged) == 0
}

// String sums up the findings, with a few examples of each.
func (f Findings) String() string {
	var b strings.Builder
	list := func(what string, vs []string) {
		if len(vs) > 0 {
			fmt.Fprintf(&b, "%d %s (e.g. %q); ", len(vs), what, vs[:min(len(vs), 5)])
		}
	}
	list("acknowledged writes lost", f.Lost)
	list("values duplicated", f.Duplicated)
	list("values no client wrote", f.Foreign)
	if len(f.Diverged) > 0 {
		fmt.Fprintf(&b, "%d reads saw a log that is not a prefix of the final chain; ", len(f.Diverged))
	}
	if len(f.Stale) > 0 {
		s := f.Stale[0]
		fmt.Fprintf(&b, "%d stale reads (e.g. call %d on node %d missed %q, known %v before it started); ", len(f.Stale), s.Read, s.Node, s.Missing, s.Behind)
	}
	if b.Len() == 0 {
		return "nothing wrong"
	}
	return strings.TrimSuffix(b.String(), "; ")
}

// Audit checks calls against the final chain's values (genesis left
// out): every acknowledged write is there exactly once, every value there
// was written by a client and appears once, every read saw a prefix of it,
// and no read missed a write acknowledged before it started.
func Audit(calls []Call, final []string) Findings {
	var f Findings
	pos := make(map[string]int, len(final))
	for i, v := range final {
		if _, dup := pos[v]; dup {
			f.Duplicated = append(f.Duplicated, v)
			continue
		}
		pos[v] = i
	}
	written := map[string]bool{}
	type ack struct {
		at  time.Time
		pos int
		v   string
	}
	var acks []ack
	for _, c := range calls {
		if c.In.Kind != OpAppend {
			continue
		}
		written[c.In.Value] = true
		if c.Out.Unknown {
			continue
		}
		p, ok := pos[c.In.Value]
		if !ok {
			f.Lost = append(f.Lost, c.In.Value)
			continue
		}
		acks = append(acks, ack{c.End, p, c.In.Value})
	}
	for _, v := range final {
		if !written[v] {
			f.Foreign = append(f.Foreign, v)
		}
	}
	prefix := make([]LogState, len(final)+1)
	for i, v := range final {
		prefix[i+1] = prefix[i].Append(v)
	}
	type seen struct {
		end time.Time
		n   int
	}
	var reads []seen
	for i, c := range calls {
		if c.In.Kind != OpRead || c.Out.Unknown {
			continue
		}
		n := c.Out.Read.Len
		if n > len(final) || prefix[n] != c.Out.Read {
			f.Diverged = append(f.Diverged, i)
			continue
		}
		reads = append(reads, seen{c.End, n})
	}
	for i, c := range calls {
		if c.In.Kind != OpRead || c.Out.Unknown || slices.Contains(f.Diverged, i) {
			continue
		}
		// What the read must have seen: every write acknowledged, and
		// every value another read returned, before it started.
		need, since := 0, time.Time{}
		for _, a := range acks {
			if a.at.Before(c.Start) && a.pos+1 > need {
				need, since = a.pos+1, a.at
			}
		}
		for _, r := range reads {
			if r.end.Before(c.Start) && r.n > need {
				need, since = r.n, r.end
			}
		}
		if n := c.Out.Read.Len; n < need {
			f.Stale = append(f.Stale, StaleRead{Read: i, Node: c.Node, Missing: final[n], Behind: c.Start.Sub(since)})
		}
	}
	return f
}
