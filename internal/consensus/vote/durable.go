package vote

import (
	"errors"
	"fmt"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/store"
)

// The durability pipeline. Each raft Ready the engine handles becomes one
// store batch, handed to the caller as a consensus.Persist; what must not
// go out before that batch is on disk (raft's local-storage answers, the
// results of the writes it applies, the start of a move it commits) is
// held under the Persist's token until Durable reports it, and taken up
// in the order of the writes by a later Ready.

// durability is the Persists handed out and not yet taken up, oldest
// first, with what each holds back.
type durability struct {
	held []*heldWrite
	last uint64 // token of the last Persist handed out
	// gen counts raft incarnations (renew): answers of a write issued by
	// an older one are not stepped into the new one.
	gen uint64
}

// maxInflightWrites bounds the Persists handed out and not yet durable. At
// the bound the engine hands out no more until a Durable arrives.
const maxInflightWrites = 64

// heldWrite is what a Persist holds back until it is durable.
type heldWrite struct {
	token     uint64
	durable   bool             // Durable arrived
	err       error            // from Durable
	responses []raftpb.Message // raft's answers, to step or send
	// results are those of the writes the batch applies: they go out
	// when it is durable, whatever the incarnation. A write is
	// acknowledged only when the block that holds it is on this node's
	// disk, so that a store that fails later (a full disk) never drops
	// from memory a block it acknowledged.
	results []consensus.Result
	leave   bool   // the batch commits this node to a move
	gen     uint64 // durability.gen when handed out
}

// full reports whether no more Persist may be handed out now.
func (d *durability) full() bool { return len(d.held) >= maxInflightWrites }

// hold files h under a new token and returns the Persist of batch.
func (d *durability) hold(h *heldWrite, batch store.Batch) consensus.Persist {
	d.last++
	h.token, h.gen = d.last, d.gen
	d.held = append(d.held, h)
	return consensus.Persist{Token: h.token, Batch: batch}
}

// complete records that the Persist with this token is on disk or failed.
// A token not held (answered already, or never handed out) is ignored.
func (d *durability) complete(token uint64, err error) {
	for _, h := range d.held {
		if h.token == token {
			h.durable, h.err = true, err
			return
		}
	}
}

// failed reports a write that failed and is not taken up yet. A driver
// tells a write the store refused outright at once, before the writes in
// flight before it are durable: the chain lacks it.
func (d *durability) failed() bool {
	for _, h := range d.held {
		if h.durable && h.err != nil {
			return true
		}
	}
	return false
}

// take removes and returns the oldest writes that are durable, up to the
// first that is not: they are taken up in the order of the writes.
func (d *durability) take() []*heldWrite {
	n := 0
	for n < len(d.held) && d.held[n].durable {
		n++
	}
	done := d.held[:n:n]
	d.held = d.held[n:]
	return done
}

// Durable implements consensus.Engine: the next Ready carries on from the
// write with this token, once every write before it is durable too.
func (e *Engine) Durable(token uint64, err error) {
	e.dur.complete(token, err)
}

// takeDurable carries on from the Persists that became durable, in order:
// their results go out, raft's answers they held are stepped or sent. It
// reports whether it took any.
func (e *Engine) takeDurable() bool {
	done := e.dur.take()
	for _, h := range done {
		if e.fatal != nil {
			break
		}
		e.takeHeld(h)
	}
	return len(done) > 0
}

// takeHeld carries on from one durable write.
func (e *Engine) takeHeld(h *heldWrite) {
	if h.err != nil {
		e.fatal = fmt.Errorf("vote: write ready: %w", h.err)
		return
	}
	e.out.Results = append(e.out.Results, h.results...)
	if h.gen != e.dur.gen {
		return // raft's answers belong to an incarnation that is gone
	}
	if h.leave {
		e.beginLeave() // the move is durable: go
	}
	for _, m := range h.responses {
		if m.To != e.id {
			e.sendRaft(m)
			continue
		}
		if err := e.rn.Step(m); err != nil && !errors.Is(err, raft.ErrStepPeerNotFound) {
			e.fatal = fmt.Errorf("vote: step local storage answer %v: %w", m.Type, err)
			return
		}
	}
}

// readyWrite collects what one Ready makes durable.
type readyWrite struct {
	batch    store.Batch
	tip      block.Block // tip of the chain once batch.Blocks are written
	applied  appliedState
	sessions map[uint64]bool // dedupe sessions touched
	results  []consensus.Result
	// detachChecked is set once dropProvisional looked at the chain.
	detachChecked bool
}
