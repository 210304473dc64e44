package pow

import (
	"errors"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/consensus"
)

// Errors of the mempool a caller must tell apart.
var (
	// ErrMempoolFull means the mempool holds its bound of entries or bytes.
	ErrMempoolFull = errors.New("pow: mempool full, try again later")
	// ErrOverlap means a group shares some, not all, of its entries with
	// groups already pending: it cannot be kept whole.
	ErrOverlap = consensus.Conflict("pow: some entries of the group are already pending in another group")
)

// group is entries that go into one block together (a POST /entries), in
// arrival order.
type group struct {
	entries []string
	ids     []string
	size    int // bytes of the entries
	cost    int // bytes the entries take in a block's data
	dead    bool
}

// mempool holds the entries waiting for a block, in groups, first come
// first mined, within a bound of entries and bytes.
type mempool struct {
	maxEntries, maxBytes int
	byID                 map[string]*group
	order                []*group // with dead groups, compacted lazily
	live                 int      // groups not dead
	entries, bytes       int
}

func newMempool(maxEntries, maxBytes int) *mempool {
	return &mempool{maxEntries: maxEntries, maxBytes: maxBytes, byID: make(map[string]*group)}
}

// add queues a group. It reports false, and no error, when the same group
// is already pending.
func (m *mempool) add(entries, ids []string) (bool, error) {
	present := 0
	var first *group
	for _, id := range ids {
		if g, ok := m.byID[id]; ok {
			if first == nil {
				first = g
			}
			if g == first {
				present++
			}
		}
	}
	if present > 0 {
		if present == len(ids) && len(first.ids) == len(ids) {
			return false, nil
		}
		return false, ErrOverlap
	}
	size := 0
	for _, e := range entries {
		size += len(e)
	}
	if m.entries+len(entries) > m.maxEntries || m.bytes+size > m.maxBytes {
		return false, ErrMempoolFull
	}
	g := &group{entries: entries, ids: ids, size: size, cost: dataCost(entries)}
	for _, id := range ids {
		m.byID[id] = g
	}
	m.order = append(m.order, g)
	m.live++
	m.entries += len(entries)
	m.bytes += size
	return true, nil
}

// has reports whether entry id is pending.
func (m *mempool) has(id string) bool { _, ok := m.byID[id]; return ok }

// remove drops the entries with these ids (they are in a block now). A
// group that loses some entries keeps the others.
func (m *mempool) remove(ids []string) {
	for _, id := range ids {
		g, ok := m.byID[id]
		if !ok {
			continue
		}
		delete(m.byID, id)
		for i, gid := range g.ids {
			if gid == id {
				m.size(-1, -len(g.entries[i]))
				g.size -= len(g.entries[i])
				g.cost -= dataCost(g.entries[i : i+1])
				g.ids = append(g.ids[:i:i], g.ids[i+1:]...)
				g.entries = append(g.entries[:i:i], g.entries[i+1:]...)
				break
			}
		}
		if len(g.ids) == 0 && !g.dead {
			g.dead = true
			m.live--
		}
	}
	if len(m.order) > 64 && m.live < len(m.order)/2 {
		kept := m.order[:0]
		for _, g := range m.order {
			if !g.dead {
				kept = append(kept, g)
			}
		}
		clear(m.order[len(kept):])
		m.order = kept
	}
}

func (m *mempool) size(entries, bytes int) { m.entries += entries; m.bytes += bytes }

// take returns the oldest groups that fit one block, whole: at most
// block.MaxEntries entries and data within block.MaxDataLen.
func (m *mempool) take() (entries, ids []string) {
	// dataCost counts a comma after every entry, and the data holds one
	// fewer: with the brackets, the data is 1 + the groups' costs.
	dataLen := 1
	for _, g := range m.order {
		if g.dead {
			continue
		}
		need := g.cost
		if len(entries)+len(g.entries) > block.MaxEntries || dataLen+need > block.MaxDataLen {
			if len(entries) == 0 {
				continue // a group that can never fit alone is skipped
			}
			break
		}
		dataLen += need
		entries = append(entries, g.entries...)
		ids = append(ids, g.ids...)
	}
	return entries, ids
}

// len returns the pending entries.
func (m *mempool) len() int { return m.entries }

// dataCost is what entries add to a block's data (EncodeEntries): each its
// quotes, a comma, and a backslash before every '"' and '\'.
func dataCost(entries []string) int {
	n := 0
	for _, e := range entries {
		n += len(e) + 3
		for i := 0; i < len(e); i++ {
			if e[i] == '"' || e[i] == '\\' {
				n++
			}
		}
	}
	return n
}

// readd queues entries again that left a block of the best chain (a
// reorg) or come back from the store at start, whatever the bounds: they
// may have been acknowledged, and they are bounded by what blocks held.
// Entries already pending stay where they are.
func (m *mempool) readd(entries, ids []string) {
	var es, is []string
	for i, id := range ids {
		if !m.has(id) {
			es, is = append(es, entries[i]), append(is, id)
		}
	}
	if len(is) == 0 {
		return
	}
	g := &group{entries: es, ids: is, cost: dataCost(es)}
	for _, e := range es {
		g.size += len(e)
	}
	for _, id := range is {
		m.byID[id] = g
	}
	m.order = append(m.order, g)
	m.live++
	m.entries += len(es)
	m.bytes += g.size
}
