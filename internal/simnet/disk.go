package simnet

import (
	"bytes"
	"slices"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/store"
)

// laggingDisk is a node's store when Config.DiskLag is set: an in-memory
// store whose asynchronous writes (store.AsyncWriter) are seen at once and
// become durable some ticks later, in order, as store.Logged's do when
// their flush returns. A crash loses the writes not yet durable: the
// store goes back to what the durable ones made.
type laggingDisk struct {
	*store.Memory               // what readers see
	durable       []store.Batch // every durable batch, oldest first
	queue         []lagged      // seen, not yet durable, oldest first
}

// lagged is a write waiting to become durable at tick due.
type lagged struct {
	batch store.Batch
	done  func(error)
	due   int
}

func newLaggingDisk() *laggingDisk { return &laggingDisk{Memory: store.NewMemory()} }

// WriteAsync implements store.AsyncWriter; the write becomes durable at
// tick due (or later, after the writes before it).
func (d *laggingDisk) writeAsync(b store.Batch, done func(error), due int) error {
	if err := d.Memory.Write(b); err != nil {
		return err
	}
	if len(d.queue) > 0 {
		due = max(due, d.queue[len(d.queue)-1].due)
	}
	d.queue = append(d.queue, lagged{batch: cloneBatch(b), done: done, due: due})
	return nil
}

// settle makes durable, in order, the writes due at or before now, and
// reports whether it completed any.
func (d *laggingDisk) settle(now int) bool {
	n := 0
	for n < len(d.queue) && d.queue[n].due <= now {
		n++
	}
	done := d.queue[:n]
	d.queue = slices.Clone(d.queue[n:])
	for _, w := range done {
		d.durable = append(d.durable, w.batch)
		w.done(nil)
	}
	return n > 0
}

// crash drops the writes not yet durable: their completions never come
// (the process is gone) and the store holds what the durable ones made.
func (d *laggingDisk) crash() {
	if len(d.queue) == 0 {
		return
	}
	d.queue = nil
	d.Memory = store.NewMemory()
	for _, b := range d.durable {
		if err := d.Memory.Write(b); err != nil {
			panic("simnet: replaying a durable batch: " + err.Error())
		}
	}
}

// Write implements store.Store: the writes queued before it become durable
// first, then it, at once. Reads go to the embedded Memory.
func (d *laggingDisk) Write(b store.Batch) error {
	d.settle(int(^uint(0) >> 1))
	if err := d.Memory.Write(b); err != nil {
		return err
	}
	d.durable = append(d.durable, cloneBatch(b))
	return nil
}

// Append implements store.Store.
func (d *laggingDisk) Append(blocks ...block.Block) error {
	return d.Write(store.Batch{Blocks: blocks})
}

// nodeDisk is a node's laggingDisk as the engine sees it: its
// asynchronous writes are due a random number of ticks from now.
type nodeDisk struct {
	*laggingDisk
	net *Network
}

// WriteAsync implements store.AsyncWriter.
func (d nodeDisk) WriteAsync(b store.Batch, done func(error)) error {
	return d.writeAsync(b, done, d.net.now+d.net.rng.IntN(d.net.cfg.DiskLag+1))
}

// cloneBatch copies the byte slices of b, which the disk keeps.
func cloneBatch(b store.Batch) store.Batch {
	c := store.Batch{Detach: b.Detach, Blocks: slices.Clone(b.Blocks)}
	for _, del := range b.Deletes {
		c.Deletes = append(c.Deletes, store.DeleteRange{Bucket: del.Bucket, From: bytes.Clone(del.From), To: bytes.Clone(del.To)})
	}
	for _, p := range b.Puts {
		c.Puts = append(c.Puts, store.Put{Bucket: p.Bucket, Key: bytes.Clone(p.Key), Value: bytes.Clone(p.Value)})
	}
	return c
}
