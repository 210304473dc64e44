package chain

import (
	"fmt"
	"testing"

	"go.uber.org/goleak"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fataler is what the helpers need of a *testing.T or a *rapid.T.
type fataler interface {
	Helper()
	Fatal(args ...any)
}

// newChain returns a chain over a fresh memory store with n blocks after
// genesis, carrying data "a1", "a2", ...
func newChain(t fataler, n int) (*Chain, *store.Memory) {
	t.Helper()
	st := store.NewMemory()
	c, err := New(st)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Extend(dataRun("a", 1, n)...); err != nil {
		t.Fatal(err)
	}
	return c, st
}

// dataRun returns n data strings tag+i, i counting from first.
func dataRun(tag string, first, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%q", fmt.Sprintf("%s%d", tag, first+i))
	}
	return out
}

// branch builds n blocks on top of prev carrying data tag+i.
func branch(prev block.Block, tag string, n int) []block.Block {
	out := make([]block.Block, n)
	for i, d := range dataRun(tag, int(prev.Index)+1, n) {
		out[i] = block.Next(prev, d)
		prev = out[i]
	}
	return out
}

// allBlocks reads the whole chain.
func allBlocks(t fataler, c *Chain) []block.Block {
	t.Helper()
	var out []block.Block
	for b, err := range c.Blocks(0) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}
