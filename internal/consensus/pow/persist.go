package pow

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/store"
)

// entriesBucket maps the id of every entry on the best chain (32 raw
// bytes) to the index of its block (8 bytes big-endian). It is written in
// the same store batch as the blocks, so it always matches the chain.
const entriesBucket = "pow_entries"

// keptBucket holds the entries of blocks this node detached in a reorg that
// the new branch lacks (32-byte id → entry), until a block holding them is
// on the best chain again. They may have been acknowledged: a crash must
// not lose them with the mempool, so they are written in the reorg's own
// store batch and return to the mempool at start.
const keptBucket = "pow_kept"

func indexPut(id string, index uint64) store.Put {
	key, _ := hex.DecodeString(id)
	if index == 0 {
		return store.Put{Bucket: entriesBucket, Key: key} // delete
	}
	return store.Put{Bucket: entriesBucket, Key: key, Value: binary.BigEndian.AppendUint64(nil, index)}
}

// keptPut records entry under its id in keptBucket, or deletes the record
// when entry is "".
func keptPut(id, entry string) store.Put {
	key, _ := hex.DecodeString(id)
	if entry == "" {
		return store.Put{Bucket: keptBucket, Key: key}
	}
	return store.Put{Bucket: keptBucket, Key: key, Value: []byte(entry)}
}

// entryIndex returns the index of the best-chain block holding entry id.
func (e *Engine) entryIndex(id string) (uint64, bool, error) {
	if at, ok := e.hand.index[id]; ok {
		return at, at != 0, nil
	}
	key, err := hex.DecodeString(id)
	if err != nil {
		return 0, false, nil
	}
	v, err := e.st.Get(entriesBucket, key)
	if errors.Is(err, store.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		e.fail(err)
		return 0, false, err
	}
	if len(v) != 8 {
		err := fmt.Errorf("pow: corrupt entry index record for %s", id)
		e.fail(err)
		return 0, false, err
	}
	return binary.BigEndian.Uint64(v), true, nil
}

// loadKept puts the entries kept from detached blocks back in the mempool.
// Records of entries the best chain holds already are stale: their
// deletion is the engine's first write, handed out like a switch's.
func (e *Engine) loadKept() error {
	var stale []store.Put
	err := e.st.Scan(keptBucket, nil, func(k, v []byte) error {
		id := hex.EncodeToString(k)
		entry := string(v)
		if block.CheckEntry(entry) != nil || block.EntryID(entry) != id {
			return fmt.Errorf("pow: corrupt kept entry %s", id)
		}
		if _, on, err := e.entryIndex(id); err != nil {
			return err
		} else if on {
			stale = append(stale, keptPut(id, ""))
			return nil
		}
		e.kept[id] = struct{}{}
		e.pool.readd([]string{entry}, []string{id})
		return nil
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("pow: load kept entries: %w", err)
	}
	if len(stale) > 0 {
		e.hand.last++
		e.hand.queue = append(e.hand.queue, consensus.Persist{Token: e.hand.last, Batch: store.Batch{Puts: stale}})
	}
	return nil
}

// handOff holds the store writes the engine hands to its caller as
// Ready.Persist (the engine never writes its switches itself), from the
// switch that makes them until they are durable.
//
// A switch is planned from the chain as the caller last applied it, and
// the engine's memory follows the plan at once; the chain follows only
// when the caller applies the Persist. In between, the engine must not
// read the chain: what a call would read after its switch (the locator
// of a getblocks) waits in deferred until the caller has applied the
// write and calls Ready again (Ready.More). A call makes at most one
// switch (a message's blocks are checked against a view, not the chain,
// and switched to once), and a caller may make many calls before one
// Ready (a node takes in what waits): a message stepped while a write is
// queued waits in deferred too, and the entry index a proposal or an
// offer of entries reads is the one the queued writes leave (index), so
// no plan is ever made, nor an entry judged, on a chain missing a write. Proposals are answered only once every write handed out is
// durable: an entry is acknowledged only from a block on disk (a later
// write may have moved it to a block not yet durable, so one Durable
// alone does not do). Durable is taken to come in token order, as the
// store makes its writes durable in order. While writes follow each other
// faster than the disk (a long sync) answers wait for the last.
type handOff struct {
	queue    []consensus.Persist // made, not handed out yet
	last     uint64              // token of the last write made
	durable  uint64              // tokens up to this one are durable
	pending  []string            // entry ids whose proposals wait for durability
	deferred []func()            // reads of the chain once queue is applied
	// index is the entry index as the writes in queue leave it (0: the
	// entry left it): a call between the switch and the caller's apply
	// (a node takes in many messages and writes before one Ready) must
	// not find an entry just put on the best chain missing from it.
	index map[string]uint64
}

// outstanding reports writes not yet durable (or not yet handed out).
func (h *handOff) outstanding() bool { return h.durable < h.last || len(h.queue) > 0 }

// writeSwitch queues p's store write for the caller, and records in the
// entry index it leaves what the write puts there.
func (e *Engine) writeSwitch(p *switchPlan) {
	e.hand.last++
	e.hand.queue = append(e.hand.queue, consensus.Persist{Token: e.hand.last, Batch: p.batch})
	if e.hand.index == nil {
		e.hand.index = make(map[string]uint64)
	}
	for _, put := range p.batch.Puts {
		if put.Bucket == entriesBucket {
			var at uint64
			if len(put.Value) == 8 {
				at = binary.BigEndian.Uint64(put.Value)
			}
			e.hand.index[hex.EncodeToString(put.Key)] = at
		}
	}
}

// writing reports a write queued and not yet applied by the caller: the
// chain and the store lag the engine's memory until the next Ready.
func (e *Engine) writing() bool { return len(e.hand.queue) > 0 }

// afterWrite runs f now, or once the caller has applied the writes handed
// out when some are queued: f reads the chain.
func (e *Engine) afterWrite(f func()) {
	if e.writing() {
		e.hand.deferred = append(e.hand.deferred, f)
		return
	}
	f()
}

// settle answers the proposals waiting for ids, now on the best chain:
// at once when every write is durable, or when the last one is.
func (e *Engine) settle(ids []string) {
	if e.hand.outstanding() {
		// Only the ids a proposal waits for: a sync's blocks, written
		// faster than the disk flushes, would otherwise pile up every
		// entry id they hold until it catches up.
		for _, id := range ids {
			if len(e.props.waits[id]) > 0 {
				e.hand.pending = append(e.hand.pending, id)
			}
		}
		return
	}
	e.resolve(ids)
}

// Durable implements consensus.Engine. A failed write stops the engine:
// the store took it back, and the engine's memory no longer matches the
// chain.
func (e *Engine) Durable(token uint64, err error) {
	if err != nil {
		e.fail(fmt.Errorf("pow: store write %d: %w", token, err))
		return
	}
	e.hand.durable = max(e.hand.durable, token)
	if !e.hand.outstanding() && len(e.hand.pending) > 0 {
		ids := e.hand.pending
		e.hand.pending = nil
		e.resolve(ids)
	}
}
