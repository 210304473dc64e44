package pow

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/store"
)

// TestPlanSwitch checks the plan of a switch alone: what it detaches and
// attaches, the store write, the entries that leave and return to the
// mempool, the announcement; and that planning changes nothing.
func TestPlanSwitch(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	e := newEngine(t, func() time.Time { return now }, nil)
	g := e.chain.Tip()
	ts := now.UnixMilli() - 10_000
	d := uint8(block.MinDifficulty)
	b1 := mineBlock(t, g, []string{`"a"`}, ts+1, d)
	b2 := mineBlock(t, b1, []string{`"b"`, `"shared"`}, ts+2, d)
	b3 := mineBlock(t, b2, []string{`"c"`}, ts+3, d)
	if err := stepDriven(t, e, "peer", blocksPayload(b1, b2, b3)); err != nil || e.chain.Tip() != b3 {
		t.Fatalf("best chain not built: %v", err)
	}
	id := block.EntryID
	// A side block of the branch ending at its last, on parent, kept in
	// the index as the engine would.
	branch := func(parent block.Block, cum uint64, data ...[]string) *side {
		var s *side
		w := blockWork(d)
		w.SetUint64(cum * w.Uint64())
		for i, entries := range data {
			b := mineBlock(t, parent, entries, ts+10+int64(i), d)
			ids := make([]string, len(entries))
			for j, en := range entries {
				ids[j] = id(en)
			}
			s = e.idx.newSide(b, ids, w)
			e.idx.addSide(s)
			parent, w = b, s.cum
		}
		return s
	}
	// "kept" is an entry kept from an earlier reorg: a branch that holds
	// it drops its record.
	e.kept[id(`"kept"`)] = struct{}{}
	extend := branch(b3, 3, []string{`"d"`})
	reorg1 := branch(b2, 2, []string{`"c"`, `"x"`}, []string{`"y"`})
	reorg2 := branch(b1, 1, []string{`"shared"`, `"kept"`}, []string{`"z"`}, []string{`"w"`})
	orphan := &side{b: mineBlock(t, block.Block{Index: 3, CurrHash: strings.Repeat("0", 64)}, []string{`"o"`}, ts+20, d), cum: blockWork(d)}

	cases := []struct {
		name     string
		s        *side
		err      error
		fork     uint64
		detach   []block.Block
		attached []string   // entries attached
		returned [][]string // per detached block, the entries returned
		kept     []store.Put
	}{
		{name: "extend", s: extend, fork: 3, attached: []string{`"d"`}, returned: nil},
		{name: "reorg depth 1", s: reorg1, fork: 2, detach: []block.Block{b3},
			attached: []string{`"c"`, `"x"`, `"y"`}, returned: [][]string{nil}},
		{name: "reorg depth 2", s: reorg2, fork: 1, detach: []block.Block{b2, b3},
			attached: []string{`"shared"`, `"kept"`, `"z"`, `"w"`}, returned: [][]string{{`"b"`}, {`"c"`}},
			kept: []store.Put{keptPut(id(`"kept"`), ""), keptPut(id(`"b"`), `"b"`), keptPut(id(`"c"`), `"c"`)}},
		{name: "refused: the branch does not reach the best chain", s: orphan, err: errBranchBroken},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sides, diffs, work := len(e.idx.side), slices.Clone(e.idx.diffs), e.idx.work.String()
			p, err := planSwitch(e.idx, e.kept, c.s)
			if e.chain.Tip() != b3 || len(e.idx.side) != sides || !slices.Equal(e.idx.diffs, diffs) || e.idx.work.String() != work || e.err != nil {
				t.Fatal("planning changed the engine")
			}
			if !errors.Is(err, c.err) {
				t.Fatalf("planSwitch = %v, want %v", err, c.err)
			}
			if err != nil {
				return
			}
			if p.fork != c.fork || !slices.Equal(p.detach, c.detach) || p.batch.Detach != uint64(len(c.detach)) {
				t.Fatalf("fork %d detach %d (batch %d), want %d %d", p.fork, len(p.detach), p.batch.Detach, c.fork, len(c.detach))
			}
			if last := p.batch.Blocks[len(p.batch.Blocks)-1]; last != c.s.b || p.batch.Blocks[0].Index != c.fork+1 || p.cum != c.s.cum {
				t.Fatalf("attach %d blocks ending at %d", len(p.batch.Blocks), last.Index)
			}
			var ids []string
			for _, en := range c.attached {
				ids = append(ids, id(en))
			}
			if !slices.Equal(p.attachedIDs, ids) {
				t.Fatalf("attached ids %v, want %v", p.attachedIDs, ids)
			}
			var returned [][]string
			for _, o := range p.returned {
				returned = append(returned, o.entries)
			}
			if !slices.EqualFunc(returned, c.returned, slices.Equal) {
				t.Fatalf("returned %q, want %q", returned, c.returned)
			}
			checkPlanPuts(t, p, c.kept)
			want := encodeBlocks(p.batch.Blocks, false)
			if !bytes.Equal(p.announce, want) {
				t.Fatalf("announce %s", p.announce)
			}
		})
	}
}

// checkPlanPuts checks p's store puts: the entry index drops every entry
// detached and then records every entry attached (so that one that moves
// is recorded), and the kept bucket gets exactly kept.
func checkPlanPuts(t *testing.T, p *switchPlan, kept []store.Put) {
	t.Helper()
	var index, keptGot []store.Put
	for _, put := range p.batch.Puts {
		if put.Bucket == keptBucket {
			keptGot = append(keptGot, put)
		} else {
			index = append(index, put)
		}
	}
	var want []store.Put
	for _, ids := range p.detachIDs {
		for _, id := range ids {
			want = append(want, indexPut(id, 0))
		}
	}
	for _, sb := range p.branch {
		for _, id := range sb.ids {
			want = append(want, indexPut(id, sb.b.Index))
		}
	}
	samePuts := func(a, b []store.Put) bool {
		return slices.EqualFunc(a, b, func(x, y store.Put) bool {
			return x.Bucket == y.Bucket && bytes.Equal(x.Key, y.Key) && bytes.Equal(x.Value, y.Value)
		})
	}
	if !samePuts(index, want) {
		t.Fatalf("entry index puts %d, want %d", len(index), len(want))
	}
	slices.SortFunc(keptGot, func(x, y store.Put) int { return bytes.Compare(x.Key, y.Key) })
	kept = slices.Clone(kept)
	slices.SortFunc(kept, func(x, y store.Put) int { return bytes.Compare(x.Key, y.Key) })
	if !samePuts(keptGot, kept) {
		t.Fatalf("kept puts %d, want %d", len(keptGot), len(kept))
	}
}
