package vote

// dedupe remembers which proposals have been applied, so that a proposal
// that was re-proposed (after a leader change or a lost message) becomes a
// block once only. Its state is a pure function of the applied log, so
// every member drops exactly the same entries.
//
// Per proposer session it keeps a floor (every seq at or below it is done:
// applied, or abandoned by the proposer and never to be applied) and the
// applied seqs above the floor. The proposer raises the floor through the
// Low field of its batches, which keeps the set as small as the number of
// writes in flight.
type dedupe struct {
	sessions map[uint64]*session
}

type session struct {
	floor uint64
	above map[uint64]struct{}
}

func newDedupe() *dedupe { return &dedupe{sessions: make(map[uint64]*session)} }

// admit records a batch header and reports, per item, whether it is new.
func (d *dedupe) admit(b batch) []bool {
	s := d.sessions[b.Session]
	if s == nil {
		s = &session{above: make(map[uint64]struct{})}
		d.sessions[b.Session] = s
	}
	if b.Low > 0 && b.Low-1 > s.floor {
		s.floor = b.Low - 1
		for seq := range s.above {
			if seq <= s.floor {
				delete(s.above, seq)
			}
		}
	}
	fresh := make([]bool, len(b.Items))
	for i, it := range b.Items {
		if it.Seq <= s.floor {
			continue
		}
		if _, dup := s.above[it.Seq]; dup {
			continue
		}
		fresh[i] = true
		s.above[it.Seq] = struct{}{}
	}
	for {
		if _, ok := s.above[s.floor+1]; !ok {
			break
		}
		s.floor++
		delete(s.above, s.floor)
	}
	return fresh
}
