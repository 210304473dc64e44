package pow

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/naivechain/naivechain/internal/block"
)

// entries returns n distinct valid entries "tag-i".
func entries(tag string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(`"%s-%d"`, tag, i)
	}
	return out
}

func ids(entries []string) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = block.EntryID(e)
	}
	return out
}

func mustAdd(t *testing.T, m *mempool, entries []string) {
	t.Helper()
	added, err := m.add(entries, ids(entries))
	if err != nil || !added {
		t.Fatalf("add(%q) = %v, %v", entries, added, err)
	}
}

// checkPool checks the mempool's counters against its groups.
func checkPool(t *testing.T, m *mempool) {
	t.Helper()
	n, size, live, byID := 0, 0, 0, 0
	for _, g := range m.order {
		if g.dead {
			if len(g.ids) != 0 {
				t.Fatalf("dead group holds %q", g.entries)
			}
			continue
		}
		live++
		gsize := 0
		for i, e := range g.entries {
			gsize += len(e)
			if m.byID[g.ids[i]] != g {
				t.Fatalf("entry %s does not map to its group", e)
			}
			byID++
		}
		if g.size != gsize || g.cost != dataCost(g.entries) {
			t.Fatalf("group %q: size %d cost %d, want %d and %d", g.entries, g.size, g.cost, gsize, dataCost(g.entries))
		}
		n += len(g.entries)
		size += gsize
	}
	if m.entries != n || m.bytes != size || m.live != live || len(m.byID) != byID {
		t.Fatalf("counters: entries %d bytes %d live %d ids %d, groups give %d %d %d %d", m.entries, m.bytes, m.live, len(m.byID), n, size, live, byID)
	}
}

func TestMempoolAddDedupe(t *testing.T) {
	m := newMempool(100, 1<<20)
	g := entries("a", 3)
	mustAdd(t, m, g)
	// The same group again, in any order: already pending.
	for _, again := range [][]string{g, {g[2], g[0], g[1]}} {
		if added, err := m.add(again, ids(again)); added || err != nil {
			t.Fatalf("add of a pending group = %v, %v, want false, nil", added, err)
		}
	}
	// Some of its entries, or more than them: an overlap.
	for _, other := range [][]string{g[:1], g[1:], append(slices.Clone(g), `"new"`), {`"new"`, g[1]}} {
		if added, err := m.add(other, ids(other)); added || !errors.Is(err, ErrOverlap) {
			t.Fatalf("add(%q) = %v, %v, want ErrOverlap", other, added, err)
		}
	}
	// Entries spread over two pending groups.
	h := entries("b", 2)
	mustAdd(t, m, h)
	mixed := []string{g[0], h[0]}
	if added, err := m.add(mixed, ids(mixed)); added || !errors.Is(err, ErrOverlap) {
		t.Fatalf("add(%q) = %v, %v, want ErrOverlap", mixed, added, err)
	}
	if m.len() != 5 {
		t.Fatalf("len = %d, want 5", m.len())
	}
	for _, id := range ids(append(slices.Clone(g), h...)) {
		if !m.has(id) {
			t.Fatalf("entry %s missing", id)
		}
	}
	if m.has(block.EntryID(`"new"`)) {
		t.Fatal("a refused entry is pending")
	}
	checkPool(t, m)
}

func TestMempoolBounds(t *testing.T) {
	m := newMempool(5, 1<<20)
	mustAdd(t, m, entries("a", 3))
	if _, err := m.add(entries("b", 3), ids(entries("b", 3))); !errors.Is(err, ErrMempoolFull) {
		t.Fatalf("add over the entry bound = %v, want ErrMempoolFull", err)
	}
	mustAdd(t, m, entries("c", 2)) // exactly at the bound
	if _, err := m.add(entries("d", 1), ids(entries("d", 1))); !errors.Is(err, ErrMempoolFull) {
		t.Fatalf("add over the entry bound = %v, want ErrMempoolFull", err)
	}
	// Room comes back as entries leave.
	m.remove(ids(entries("c", 2)))
	mustAdd(t, m, entries("d", 2))
	checkPool(t, m)

	big := `"` + strings.Repeat("x", 98) + `"` // 100 bytes
	m = newMempool(100, 250)
	mustAdd(t, m, []string{big, big[:50] + `"`}) // 151 bytes
	other := `"` + strings.Repeat("y", 98) + `"`
	if _, err := m.add([]string{other}, ids([]string{other})); !errors.Is(err, ErrMempoolFull) { // 251
		t.Fatalf("add over the byte bound = %v, want ErrMempoolFull", err)
	}
	last := big[:98] + `"` // 99 bytes: 250 exactly
	mustAdd(t, m, []string{last})
	if m.bytes != 250 {
		t.Fatalf("bytes = %d, want 250", m.bytes)
	}
	checkPool(t, m)
}

func TestMempoolRemovePartialGroup(t *testing.T) {
	m := newMempool(100, 1<<20)
	g := entries("a", 4)
	mustAdd(t, m, g)
	h := entries("b", 1)
	mustAdd(t, m, h)
	m.remove([]string{block.EntryID(g[1]), block.EntryID(g[3]), block.EntryID(`"never-added"`)})
	checkPool(t, m)
	if m.has(block.EntryID(g[1])) || m.has(block.EntryID(g[3])) {
		t.Fatal("removed entries still pending")
	}
	rest := []string{g[0], g[2]}
	for _, id := range ids(rest) {
		if !m.has(id) {
			t.Fatal("a removal took the rest of the group")
		}
	}
	got, gotIDs := m.take()
	want := append(slices.Clone(rest), h...)
	if !slices.Equal(got, want) || !slices.Equal(gotIDs, ids(want)) {
		t.Fatalf("take = %q, want %q", got, want)
	}
	// The rest of the group is one group still: a part of it overlaps.
	if _, err := m.add(rest[:1], ids(rest[:1])); !errors.Is(err, ErrOverlap) {
		t.Fatalf("add of part of the rest = %v, want ErrOverlap", err)
	}
	if added, err := m.add(rest, ids(rest)); added || err != nil {
		t.Fatalf("add of the rest = %v, %v, want false, nil", added, err)
	}
	m.remove(ids(rest))
	m.remove(ids(rest)) // twice: no effect
	checkPool(t, m)
	if got, _ := m.take(); !slices.Equal(got, h) {
		t.Fatalf("take = %q, want %q", got, h)
	}
	m.remove(ids(h))
	checkPool(t, m)
	if got, ids := m.take(); got != nil || ids != nil || m.len() != 0 {
		t.Fatalf("empty pool: take = %q, %q, len %d", got, ids, m.len())
	}
}

func TestMempoolTakeFIFOWholeGroups(t *testing.T) {
	m := newMempool(1<<20, 1<<30)
	var groups [][]string
	for i := 0; i < 10; i++ {
		g := entries(fmt.Sprintf("g%d", i), 1+i%3)
		groups = append(groups, g)
		mustAdd(t, m, g)
	}
	got, gotIDs := m.take()
	want := slices.Concat(groups...)
	if !slices.Equal(got, want) || !slices.Equal(gotIDs, ids(want)) {
		t.Fatalf("take = %q, want %q", got, want)
	}
	// Taking does not remove.
	if again, _ := m.take(); !slices.Equal(again, got) {
		t.Fatal("a second take differs")
	}
}

func TestMempoolTakeMaxEntries(t *testing.T) {
	m := newMempool(1<<20, 1<<30)
	a, b, c, d := entries("a", 400), entries("b", 400), entries("c", 201), entries("d", 400)
	for _, g := range [][]string{a, b, c, d} {
		mustAdd(t, m, g)
	}
	// a+b+c is 1001 entries: c does not fit, and nothing after it is
	// taken (first come first mined).
	got, _ := m.take()
	if want := slices.Concat(a, b); !slices.Equal(got, want) {
		t.Fatalf("take = %d entries, want a and b (%d)", len(got), len(want))
	}
	m.remove(ids(a))
	got, _ = m.take()
	if want := slices.Concat(b, c); !slices.Equal(got, want) {
		t.Fatalf("take = %d entries, want b and c (%d)", len(got), len(want))
	}
	m.remove(ids(b))
	got, _ = m.take()
	if want := slices.Concat(c, d); !slices.Equal(got, want) || len(got) > block.MaxEntries {
		t.Fatalf("take = %d entries, want c and d (%d)", len(got), len(want))
	}

	// Exactly MaxEntries fit.
	m = newMempool(1<<20, 1<<30)
	e, f := entries("e", block.MaxEntries-1), entries("f", 1)
	mustAdd(t, m, e)
	mustAdd(t, m, f)
	if got, _ := m.take(); len(got) != block.MaxEntries {
		t.Fatalf("take = %d entries, want %d", len(got), block.MaxEntries)
	}
}

// bigEntry returns a valid entry whose encoding in a block's data
// (quotes escaped, quoted) is exactly n bytes.
func bigEntry(tag string, n int) string {
	// `"tag-xxx"` encodes as `"\"tag-xxx\""`: 4 bytes more than itself.
	body := n - 4 - 2 - len(tag)
	return `"` + tag + strings.Repeat("x", body) + `"`
}

func TestMempoolTakeMaxDataLen(t *testing.T) {
	const quarter = block.MaxDataLen / 4
	m := newMempool(1<<20, 1<<30)
	a, b, c, d := []string{bigEntry("a", quarter)}, []string{bigEntry("b", quarter)}, []string{bigEntry("c", quarter)}, []string{bigEntry("d", quarter)}
	small := entries("s", 3)
	for _, g := range [][]string{a, b, c, d, small} {
		mustAdd(t, m, g)
	}
	// Four quarters plus brackets and commas are over the limit.
	got, _ := m.take()
	if want := slices.Concat(a, b, c); !slices.Equal(got, want) {
		t.Fatalf("take = %d entries, want a, b and c", len(got))
	}
	if n := len(block.EncodeEntries(got)); n > block.MaxDataLen {
		t.Fatalf("taken data is %d bytes", n)
	}
}

func TestMempoolTakeExactlyMaxDataLen(t *testing.T) {
	// Two groups whose block data is exactly MaxDataLen bytes: '[' and ']',
	// one comma, and the two entries.
	half := (block.MaxDataLen - 3) / 2
	a := []string{bigEntry("a", half)}
	b := []string{bigEntry("b", block.MaxDataLen-3-half)}
	m := newMempool(1<<20, 1<<30)
	mustAdd(t, m, a)
	mustAdd(t, m, b)
	got, _ := m.take()
	data := block.EncodeEntries(got)
	if len(got) != 2 || len(data) != block.MaxDataLen {
		t.Fatalf("take = %d entries of %d bytes of data, want 2 making %d", len(got), len(data), block.MaxDataLen)
	}
	if _, err := block.DecodeEntries(data); err != nil {
		t.Fatalf("the taken entries do not make a block: %v", err)
	}

	// One group alone, exactly at the limit.
	m = newMempool(1<<20, 1<<30)
	one := []string{bigEntry("c", block.MaxDataLen-2)}
	mustAdd(t, m, one)
	if got, _ := m.take(); !slices.Equal(got, one) || len(block.EncodeEntries(got)) != block.MaxDataLen {
		t.Fatalf("take = %d entries, want the one group filling a block", len(got))
	}
}

func TestMempoolTakeSkipsGroupTooBigForABlock(t *testing.T) {
	m := newMempool(1<<20, 1<<30)
	huge := []string{bigEntry("a", block.MaxDataLen/2), bigEntry("b", block.MaxDataLen/2)}
	small := entries("s", 2)
	mustAdd(t, m, huge)
	mustAdd(t, m, small)
	if got, _ := m.take(); !slices.Equal(got, small) {
		t.Fatalf("take = %d entries, want the small group after the one that never fits", len(got))
	}
}

func TestMempoolCompactionKeepsOrder(t *testing.T) {
	m := newMempool(1<<20, 1<<30)
	var all [][]string
	for i := 0; i < 200; i++ {
		g := entries(fmt.Sprintf("g%d", i), 1+(i/4)%2)
		all = append(all, g)
		mustAdd(t, m, g)
	}
	// Remove three groups of every four, one at a time, and a part of
	// some of the survivors.
	var kept []string
	for i, g := range all {
		switch {
		case i%4 != 0:
			m.remove(ids(g))
		case len(g) == 2 && i%8 == 4:
			m.remove(ids(g[:1]))
			kept = append(kept, g[1])
		default:
			kept = append(kept, g...)
		}
	}
	if len(m.order) >= len(all) {
		t.Fatalf("order not compacted: %d groups for %d live", len(m.order), m.live)
	}
	checkPool(t, m)
	got, _ := m.take()
	if !slices.Equal(got, kept) {
		t.Fatalf("take after compaction = %q\nwant %q", got, kept)
	}
	// New groups go after the old ones.
	n := entries("new", 1)
	mustAdd(t, m, n)
	if got, _ := m.take(); !slices.Equal(got, append(kept, n...)) {
		t.Fatal("a group added after compaction is not last")
	}
	checkPool(t, m)
}

// TestDataCost checks dataCost against the data a block of the entries
// actually holds: EncodeEntries writes brackets and a comma between
// entries, dataCost counts a comma after each. So for n >= 1 entries
// dataCost is len(EncodeEntries) - 2 + 1.
func TestDataCost(t *testing.T) {
	if c := dataCost(nil); c != 0 {
		t.Fatalf("dataCost(nil) = %d", c)
	}
	rapid.Check(t, func(t *rapid.T) {
		printable := rapid.Map(rapid.SliceOfN(rapid.ByteRange(0x20, 0x7e), 0, 40), func(b []byte) string { return string(b) })
		es := rapid.SliceOfN(printable, 1, 20).Draw(t, "entries")
		if got, want := dataCost(es), len(block.EncodeEntries(es))-1; got != want {
			t.Fatalf("dataCost(%q) = %d, want %d", es, got, want)
		}
		// Costs add up: a block of several groups.
		k := rapid.IntRange(0, len(es)).Draw(t, "split")
		if dataCost(es[:k])+dataCost(es[k:]) != dataCost(es) {
			t.Fatal("dataCost is not additive")
		}
	})
}
