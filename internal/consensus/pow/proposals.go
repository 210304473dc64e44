package pow

import "slices"

// proposal is a write of this node waiting for its entries to be on the
// best chain.
type proposal struct {
	ids []string
}

// proposals are this node's writes not answered yet, with the entries
// each waits for.
type proposals struct {
	byID  map[uint64]*proposal
	waits map[string][]uint64 // entry id → proposals waiting for it
	next  uint64
}

func newProposals() *proposals {
	return &proposals{byID: make(map[uint64]*proposal), waits: make(map[string][]uint64)}
}

// add records a proposal waiting for ids and returns its id.
func (q *proposals) add(ids []string) uint64 {
	q.next++
	q.byID[q.next] = &proposal{ids: ids}
	for _, id := range ids {
		q.waits[id] = append(q.waits[id], q.next)
	}
	return q.next
}

// waitingFor returns the proposals waiting for any of ids, each once, in
// the order first met.
func (q *proposals) waitingFor(ids []string) []uint64 {
	var out []uint64
	for _, id := range ids {
		for _, pid := range q.waits[id] {
			if !slices.Contains(out, pid) {
				out = append(out, pid)
			}
		}
	}
	return out
}

// forget drops proposal pid.
func (q *proposals) forget(pid uint64) {
	p := q.byID[pid]
	delete(q.byID, pid)
	if p == nil {
		return
	}
	for _, id := range p.ids {
		w := slices.DeleteFunc(q.waits[id], func(x uint64) bool { return x == pid })
		if len(w) == 0 {
			delete(q.waits, id)
		} else {
			q.waits[id] = w
		}
	}
}
