package driver

import (
	"errors"
	"fmt"
	"slices"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/consensus"
)

// Links carries the engine's messages to peers and names the peers
// connected now. transport.Transport implements it.
type Links interface {
	// Send queues payload for the peer with node id to; it never blocks
	// and may drop the payload (consensus tolerates loss).
	Send(to string, payload []byte)
	// Peers returns the node ids of the peers with a link now, in an
	// order that stays the same while they do (sorted).
	Peers() []string
}

// Config configures a Driver.
type Config struct {
	Engine consensus.Engine
	// Chain is where the engine's Persist writes go (chain.WriteAsync).
	Chain *chain.Chain
	// Links sends the engine's messages; nil drops them (a lone node).
	Links Links
	// GreetEvery is how often, in ticks, the engine is greeted with the
	// connected peers (Engine.Greet), besides at the first tick after
	// they changed. 0: never.
	GreetEvery int
	// Wake, when set, is called from the store's goroutine when a write
	// became durable (or failed): the owner then calls Process soon. It
	// must not block. Without it the owner calls Process after whatever
	// completes its store's writes (simnet settles its disk).
	Wake func()
	// MembersChanged, when set, hears the engine's members each time a
	// Ready says they changed.
	MembersChanged func([]consensus.Member)
}

// Outcome is what a proposal came to: its blocks (one per write of the
// proposal), or why not.
type Outcome struct {
	Blocks []block.Block
	Err    error
}

// Work is the header a miner searches a nonce for (block.Search): the
// engine's consensus.Miner work of generation Gen.
type Work = block.Work

// ErrTimeout is the cause of a write's failure when its deadline passed
// (Expire).
var ErrTimeout = errors.New("timeout")

// ErrNoReads answers ReadIndex on an engine that is no consensus.Reader.
var ErrNoReads = errors.New("driver: the engine serves no consistent reads")

// maxRounds bounds the Ready calls of one Process: an engine that keeps
// setting More (or a store that completes its writes at once) gets the
// owner's loop back in between, through Wake.
const maxRounds = 64

// Driver carries out one engine's Ready. See the package doc.
type Driver struct {
	cfg     Config
	miner   consensus.Miner // nil when the engine mines not
	reader  consensus.Reader
	ticks   int
	greeted []string // the peers of the last Greet
	waiting map[uint64]write
	reading map[uint64]func(error)
	work    Work
	working bool // work is the engine's current work
	stopped bool
	persist persistQueue
	// eager: the engine's Step and Mined may hand out writes
	// (consensus.StepWriter), so each is followed by a Process.
	eager bool
}

// write is a proposal waiting for its result.
type write struct {
	done     func(Outcome)
	deadline int // in the driver's ticks; 0: none
}

// New returns a driver of cfg.Engine. The owner calls Process at once: a
// founder's first Ready makes it a member.
func New(cfg Config) *Driver {
	d := &Driver{cfg: cfg, waiting: make(map[uint64]write), reading: make(map[uint64]func(error))}
	d.miner, _ = cfg.Engine.(consensus.Miner)
	d.reader, _ = cfg.Engine.(consensus.Reader)
	d.persist.wake = cfg.Wake
	if sw, ok := cfg.Engine.(consensus.StepWriter); ok {
		d.eager = sw.WritesOnStep()
	}
	return d
}

// Engine returns the driven engine. Its owner may call it directly (on
// the owner's goroutine) and then calls Process.
func (d *Driver) Engine() consensus.Engine { return d.cfg.Engine }

// Ticks returns the ticks since the driver began.
func (d *Driver) Ticks() int { return d.ticks }

// Tick advances the engine's clock by one tick and greets it with the
// connected peers every GreetEvery ticks and at the first tick after they
// changed: an engine that sends to the peers it was greeted with (pow)
// reaches a new one at once.
func (d *Driver) Tick() {
	d.cfg.Engine.Tick()
	d.ticks++
	if d.cfg.GreetEvery <= 0 || d.cfg.Links == nil {
		return
	}
	if ids := d.cfg.Links.Peers(); d.ticks%d.cfg.GreetEvery == 0 || !slices.Equal(ids, d.greeted) {
		d.cfg.Engine.Greet(ids)
		d.greeted = ids
	}
}

// Step hands the engine a payload from the peer from and returns the
// engine's verdict: an error means the owner should penalise the peer.
// For an engine whose Step may hand out writes (consensus.StepWriter) it
// carries out the Ready at once, so that the next call finds them
// applied; a fatal error then comes back from the owner's next Process.
func (d *Driver) Step(from string, payload []byte) error {
	err := d.cfg.Engine.Step(from, payload)
	d.afterWrite()
	return err
}

// afterWrite carries out the Ready of an engine whose calls other than
// Ready may hand out writes.
func (d *Driver) afterWrite() {
	if d.eager {
		_ = d.Process() // a fatal error sticks: the next Process returns it too
	}
}

// Propose proposes data as one group (Engine.ProposeAll) and calls done
// once, from a later Process, Expire, Abandon or Stop, with its outcome.
// timeout, when positive, is how many ticks the write waits before Expire
// abandons it. On an error done is never called.
func (d *Driver) Propose(data []string, timeout int, done func(Outcome)) (uint64, error) {
	id, err := d.cfg.Engine.ProposeAll(data)
	if err != nil {
		return 0, err
	}
	w := write{done: done}
	if timeout > 0 {
		w.deadline = d.ticks + timeout
	}
	d.waiting[id] = w
	return id, nil
}

// Abandon gives up waiting for proposal id: its done is never called. It
// reports whether the write may still be committed, and whether it was
// still waiting (false: done was called already).
func (d *Driver) Abandon(id uint64) (mayCommit, waited bool) {
	if _, ok := d.waiting[id]; !ok {
		return false, false
	}
	delete(d.waiting, id)
	return d.cfg.Engine.Abandon(id), true
}

// Expire abandons the writes whose timeout has passed and answers each
// with a *consensus.WriteError caused by ErrTimeout.
func (d *Driver) Expire() {
	for id, w := range d.waiting {
		if w.deadline > 0 && d.ticks >= w.deadline {
			may := d.cfg.Engine.Abandon(id)
			delete(d.waiting, id)
			w.done(Outcome{Err: &consensus.WriteError{MayCommit: may, Cause: ErrTimeout}})
		}
	}
}

// ReadIndex asks the engine (a consensus.Reader) for a read barrier and
// calls done once, from a later Process or Stop, when it is released (nil)
// or failed. On an error done is never called.
func (d *Driver) ReadIndex(done func(error)) error {
	if d.reader == nil {
		return ErrNoReads
	}
	id, err := d.reader.ReadIndex()
	if err != nil {
		return err
	}
	d.reading[id] = done
	return nil
}

// Waiting returns how many writes and reads wait for the engine.
func (d *Driver) Waiting() (writes, reads int) { return len(d.waiting), len(d.reading) }

// Mining returns the work a miner should search now, as of the last
// Process; ok is false when there is none (or the engine mines not).
func (d *Driver) Mining() (w Work, ok bool) { return d.work, d.working }

// Mined hands the engine a nonce found for the work of generation gen; a
// stale generation is ignored by the engine. The owner then calls Process
// (the driver already did for a consensus.StepWriter).
func (d *Driver) Mined(gen, nonce uint64) {
	if d.miner != nil {
		d.miner.Mined(gen, nonce)
		d.afterWrite()
	}
}

// Process carries out the engine's Ready: it tells the engine which of
// its store writes became durable, then answers the results and reads,
// sends the messages, reports a change of members and applies the store
// writes; while the engine has More (or writes completed at once) it does
// so again, a bounded number of times. It returns the engine's fatal
// error (Ready.Err), after failing every waiting write and read with it;
// the engine then refuses every later write. After Stop it does nothing
// and returns consensus.ErrStopped.
func (d *Driver) Process() error {
	if d.stopped {
		return consensus.ErrStopped
	}
	for round := 1; ; round++ {
		d.persist.deliver(d.cfg.Engine)
		rd := d.cfg.Engine.Ready()
		d.resolve(rd)
		if d.cfg.Links != nil {
			for _, m := range rd.Messages {
				d.cfg.Links.Send(m.To, m.Payload)
			}
		}
		if rd.MembersChanged && d.cfg.MembersChanged != nil {
			d.cfg.MembersChanged(d.cfg.Engine.Members())
		}
		if rd.Err != nil {
			d.fail(rd.Err)
			return rd.Err
		}
		d.persist.apply(d.cfg.Engine, d.cfg.Chain, rd.Persist)
		if !rd.More && !d.persist.deliverable() {
			break
		}
		if round == maxRounds {
			if d.cfg.Wake != nil {
				d.cfg.Wake()
			}
			break
		}
	}
	d.updateWork()
	return nil
}

// resolve answers the reads and results of rd.
func (d *Driver) resolve(rd consensus.Ready) {
	for _, r := range rd.Reads {
		if done, ok := d.reading[r.ID]; ok {
			delete(d.reading, r.ID)
			done(r.Err)
		}
	}
	for _, r := range rd.Results {
		w, ok := d.waiting[r.ID]
		if !ok {
			continue
		}
		delete(d.waiting, r.ID)
		if r.Err != nil {
			w.done(Outcome{Err: r.Err})
			continue
		}
		blocks := r.Blocks
		if blocks == nil {
			blocks = []block.Block{r.Block}
		}
		w.done(Outcome{Blocks: blocks})
	}
}

// fail answers every waiting write and read with the engine's fatal
// error. The batch holding a write may or may not have reached the disk,
// so the write may still be committed.
func (d *Driver) fail(err error) {
	for id, w := range d.waiting {
		delete(d.waiting, id)
		w.done(Outcome{Err: &consensus.WriteError{MayCommit: true, Cause: err}})
	}
	for id, done := range d.reading {
		delete(d.reading, id)
		done(fmt.Errorf("consistent read: %w", err))
	}
}

// updateWork takes the engine's current mining work.
func (d *Driver) updateWork() {
	if d.miner == nil {
		return
	}
	gen, header, diff, ok := d.miner.Mining()
	d.working = ok
	if ok {
		d.work = Work{Gen: gen, Header: header, Difficulty: diff}
	}
}

// Stop answers every waiting write and read with cause (nil:
// consensus.ErrStopped), and makes the driver drop the completions of
// store writes still in flight and refuse to Process: the engine is gone.
func (d *Driver) Stop(cause error) {
	if cause == nil {
		cause = consensus.ErrStopped
	}
	d.stopped = true
	d.persist.stop()
	for id, w := range d.waiting {
		delete(d.waiting, id)
		w.done(Outcome{Err: cause})
	}
	for id, done := range d.reading {
		delete(d.reading, id)
		done(cause)
	}
}

// Inflight returns how many store writes the driver applied whose
// Durable the engine has not heard yet.
func (d *Driver) Inflight() int { return len(d.persist.pending) }
