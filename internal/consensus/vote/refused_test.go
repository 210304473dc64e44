package vote

import (
	"errors"
	"strings"
	"testing"

	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/driver"
	"github.com/naivechain/naivechain/internal/store"
)

// stallingStore is a memory store whose asynchronous writes are seen at
// once and become durable one at a time when the test says, and that can
// refuse a write outright (store.Logged writes a large batch to its bolt
// file before WriteAsync returns: a disk error then refuses it).
type stallingStore struct {
	*store.Memory
	hold   bool
	held   []func(error)
	refuse error
}

// WriteAsync implements store.AsyncWriter.
func (s *stallingStore) WriteAsync(b store.Batch, done func(error)) error {
	if s.refuse != nil {
		return s.refuse
	}
	if err := s.Memory.Write(b); err != nil {
		return err
	}
	if !s.hold {
		done(nil)
		return nil
	}
	s.held = append(s.held, done)
	return nil
}

// releaseOldest makes the oldest held write durable.
func (s *stallingStore) releaseOldest() {
	done := s.held[0]
	s.held = s.held[1:]
	done(nil)
}

// TestReadNotReleasedOverARefusedWrite: a write the store refuses while
// an earlier one is in flight never reached the chain; a read whose index
// needs it is not released as if the chain held it.
func TestReadNotReleasedOverARefusedWrite(t *testing.T) {
	st := &stallingStore{Memory: store.NewMemory()}
	e, c := newFounderOn(t, st, "solo", testJoinToken)
	d := driver.New(driver.Config{Engine: e, Chain: c})
	process := func() {
		for range 8 {
			_ = d.Process()
		}
	}
	process()
	d.Tick()
	process()
	if st := e.Status(); st.Role != "leader" {
		t.Fatalf("lone node status %+v, want leader", st)
	}
	st.hold = true
	var writes []driver.Outcome
	for _, data := range []string{`"x"`, `"z"`} {
		if _, err := d.Propose([]string{data}, 0, func(o driver.Outcome) { writes = append(writes, o) }); err != nil {
			t.Fatal(err)
		}
		process()
	}
	if len(st.held) < 2 {
		t.Fatalf("%d writes in flight, want the appends of x and z", len(st.held))
	}
	// x's append becomes durable: x commits, and the write applying its
	// block is refused while z's append is still in flight.
	st.refuse = errors.New("disk failed")
	st.releaseOldest()
	var read []error
	if err := d.ReadIndex(func(err error) { read = append(read, err) }); err != nil {
		t.Fatal(err)
	}
	process()
	if len(read) == 1 && read[0] == nil && !strings.Contains(c.Tip().Data, "x") {
		t.Fatalf("a read was released over a write the store refused: the chain's tip is block %d %q", c.Tip().Index, c.Tip().Data)
	}
	// Once z's append is durable, the refusal stops the engine: the read
	// and the writes fail, the writes as ones that may still commit.
	st.releaseOldest()
	if err := d.Process(); err == nil {
		t.Fatal("the engine goes on after a refused write")
	}
	if len(read) != 1 || read[0] == nil {
		t.Fatalf("read answered %v, want one failure", read)
	}
	if len(writes) != 2 {
		t.Fatalf("%d writes answered, want 2", len(writes))
	}
	for _, o := range writes {
		var we *consensus.WriteError
		if !errors.As(o.Err, &we) || !we.MayCommit {
			t.Fatalf("write answered %+v, want a failure that may commit", o)
		}
	}
}
