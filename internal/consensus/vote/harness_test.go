package vote

import (
	"sync"

	"github.com/naivechain/naivechain/internal/consensus"
)

// The tests' driver: it carries out an engine's Persist as the node's
// driver does (chain.WriteAsync, then Durable in the order of the writes
// once the store reports them), and calls Ready again while the engine
// has more or a write completed, so that one drive is what one Ready was
// before engines handed out their writes.

// completions are the store's answers to an engine's writes, not yet told
// to it; a store may answer on another goroutine.
type completions struct {
	mu   sync.Mutex
	done []completion
}

type completion struct {
	token uint64
	err   error
}

var (
	harnessMu sync.Mutex
	harness   = map[*Engine]*completions{}
)

func completionsOf(e *Engine) *completions {
	harnessMu.Lock()
	defer harnessMu.Unlock()
	c := harness[e]
	if c == nil {
		c = &completions{}
		harness[e] = c
	}
	return c
}

// deliver tells e of the completed writes and reports whether there were any.
func (c *completions) deliver(e *Engine) bool {
	c.mu.Lock()
	done := c.done
	c.done = nil
	c.mu.Unlock()
	for _, d := range done {
		e.Durable(d.token, d.err)
	}
	return len(done) > 0
}

// completer is the store's completion callback of the write token.
func (c *completions) completer(token uint64) func(error) {
	return func(err error) {
		c.mu.Lock()
		c.done = append(c.done, completion{token, err})
		c.mu.Unlock()
	}
}

// drive calls e.Ready until the engine is at rest (a bounded number of
// times), carrying out each Persist, and returns the Readies merged.
func drive(e *Engine) consensus.Ready {
	c := completionsOf(e)
	var out consensus.Ready
	for range 10000 {
		delivered := c.deliver(e)
		rd := e.Ready()
		out.Messages = append(out.Messages, rd.Messages...)
		out.Results = append(out.Results, rd.Results...)
		out.Reads = append(out.Reads, rd.Reads...)
		out.MembersChanged = out.MembersChanged || rd.MembersChanged
		if rd.Err != nil {
			out.Err = rd.Err
			return out
		}
		for _, p := range rd.Persist {
			if err := e.chain.WriteAsync(p.Batch, c.completer(p.Token)); err != nil {
				c.completer(p.Token)(err) // nothing applied: no answer comes
			}
		}
		c.mu.Lock()
		more := len(c.done) > 0
		c.mu.Unlock()
		if !rd.More && !more && !delivered {
			return out
		}
	}
	return out
}
