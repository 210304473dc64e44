package chain

import (
	"errors"
	"testing"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/store"
)

func TestNewWritesGenesis(t *testing.T) {
	c, err := New(store.NewMemory())
	if err != nil {
		t.Fatal(err)
	}
	if c.Len() != 1 || c.Tip() != block.Genesis() || !c.Healthy() {
		t.Fatalf("fresh chain: len %d tip %+v", c.Len(), c.Tip())
	}
}

func TestNewRefusesForeignGenesis(t *testing.T) {
	st := store.NewMemory()
	if err := st.Append(block.Block{Index: 0, PreviousHash: "x", Data: "y", CurrHash: block.Hash("x", "y")}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(st); !errors.Is(err, ErrWrongGenesis) {
		t.Fatalf("err = %v, want ErrWrongGenesis", err)
	}
}

func TestExtendAndAppend(t *testing.T) {
	c, _ := New(store.NewMemory())
	bs, err := c.Extend(`"Testing String Again"`, `"two"`)
	if err != nil {
		t.Fatal(err)
	}
	if bs[0].CurrHash != "c8a8924ed4d8c58638b9f4fcbb7609bb0edb4a509d1514246a04ebba680d5a1f" || c.Len() != 3 {
		t.Fatalf("extend: %+v len %d", bs, c.Len())
	}
	good := block.Next(c.Tip(), `"three"`)
	bad := good
	bad.CurrHash = block.Hash("no", "pe")
	if err := c.Append(good, block.Next(good, `4`), bad); !errors.Is(err, block.ErrBadIndex) && !errors.Is(err, block.ErrBadHash) {
		t.Fatalf("append with a bad block: %v", err)
	}
	if c.Len() != 3 {
		t.Fatalf("a failed append stored blocks: len %d", c.Len())
	}
	if err := c.Append(good); err != nil || c.Len() != 4 {
		t.Fatalf("append good: %v len %d", err, c.Len())
	}
	var n int
	for b, err := range c.Blocks(0) {
		if err != nil || b.Index != uint64(n) {
			t.Fatalf("blocks: %v at %d", err, n)
		}
		n++
	}
	if n != 4 || !c.Healthy() {
		t.Fatalf("iterated %d blocks, healthy %v", n, c.Healthy())
	}
}

func TestHealthDetectsCorruption(t *testing.T) {
	mem := store.NewMemory()
	c, _ := New(mem)
	if _, err := c.Extend(`"a"`, `"b"`); err != nil {
		t.Fatal(err)
	}
	if !c.Healthy() {
		t.Fatal("healthy chain reported unhealthy")
	}
	// A block appended behind the chain's back that does not link.
	if err := mem.Append(block.Block{Index: 3, PreviousHash: "zz", Data: `"c"`, CurrHash: block.Hash("zz", `"c"`)}); err != nil {
		t.Fatal(err)
	}
	if c.Healthy() {
		t.Fatal("broken link not detected")
	}
}

// lostStore is an in-memory store whose asynchronous writes are never
// seen and fail when the test says so: a store whose flush failed and
// that took back what it had applied.
type lostStore struct {
	*store.Memory
	done []func(error)
}

func (l *lostStore) WriteAsync(_ store.Batch, done func(error)) error {
	l.done = append(l.done, done)
	return nil
}

// TestWriteAsyncFailureMovesTheTipBack: the chain's tip moves with an
// asynchronous write at once, and back to the store's when the write fails.
func TestWriteAsyncFailureMovesTheTipBack(t *testing.T) {
	st := &lostStore{Memory: store.NewMemory()}
	c, err := New(st)
	if err != nil {
		t.Fatal(err)
	}
	next := block.Next(c.Tip(), `"lost"`)
	var got error
	if err := c.WriteAsync(store.Batch{Blocks: []block.Block{next}}, func(err error) { got = err }); err != nil {
		t.Fatal(err)
	}
	if c.Tip() != next {
		t.Fatalf("tip %+v right after the write, want %+v", c.Tip(), next)
	}
	st.done[0](errors.New("disk gone"))
	if got == nil {
		t.Fatal("the failure did not reach the caller")
	}
	if c.Tip() != block.Genesis() || c.Len() != 1 {
		t.Fatalf("after the failure: tip %+v, len %d; want genesis", c.Tip(), c.Len())
	}
}
