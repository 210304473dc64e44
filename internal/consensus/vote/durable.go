package vote

import (
	"errors"
	"fmt"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/store"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// durability is the store writes the engine issued that are not yet
// durable, oldest first, with what each holds back until it is.
type durability struct {
	inflight int
	// gen counts raft incarnations (renew): answers of a write issued by
	// an older one are not stepped into the new one.
	gen     uint64
	durable chan *readyDone
}

// maxInflightWrites bounds the Readies whose store writes are issued and
// not yet durable. At the bound the engine waits for the oldest.
const maxInflightWrites = 64

// readyDone is what a Ready's store write holds back until it is durable.
type readyDone struct {
	err       error
	responses []raftpb.Message // raft's answers, to step or send
	// results are those of the writes the batch applies: they go out
	// when it is durable, whatever the incarnation.
	results []consensus.Result
	leave   bool   // the batch commits this node to a move
	gen     uint64 // e.dur.gen when issued
}

// done is the store's completion callback for d: it hands d to the
// engine's loop, waking it.
func (d *readyDone) done(e *Engine) func(error) {
	return func(err error) {
		d.err = err
		e.dur.durable <- d // never blocks: at most maxInflightWrites are issued
		if e.cfg.Wake != nil {
			e.cfg.Wake()
		}
	}
}

// takeDurable carries on from the store writes that became durable, in
// order: raft's answers they held are stepped or sent.
// With wait, it waits for at least one. It reports whether it took any.
func (e *Engine) takeDurable(wait bool) bool {
	took := false
	for e.fatal == nil {
		var d *readyDone
		if wait && !took {
			d = <-e.dur.durable
		} else {
			select {
			case d = <-e.dur.durable:
			default:
				return took
			}
		}
		took = true
		e.dur.inflight--
		if d.err != nil {
			e.fatal = fmt.Errorf("vote: write ready: %w", d.err)
			return took
		}
		e.out.Results = append(e.out.Results, d.results...)
		if d.gen != e.dur.gen {
			continue // raft's answers belong to an incarnation that is gone
		}
		if d.leave {
			e.beginLeave() // the move is durable: go
		}
		for _, m := range d.responses {
			if m.To != e.id {
				e.sendRaft(m)
				continue
			}
			if err := e.rn.Step(m); err != nil && !errors.Is(err, raft.ErrStepPeerNotFound) {
				e.fatal = fmt.Errorf("vote: step local storage answer %v: %w", m.Type, err)
				return took
			}
		}
	}
	return took
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

// Durable implements consensus.Engine. The engine still issues its store
// writes itself (handleReady) and hands out no Persist, so no token ever
// comes back.
func (e *Engine) Durable(uint64, error) {}
