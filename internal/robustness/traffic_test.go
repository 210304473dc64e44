package robustness

// Traffic: clients that write unique values and read the whole log,
// recording every call. A client sticks to one node and moves to the next
// after a failure, as etcd's robustness clients do.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// traffic is the load of one run and its recorded history.
type traffic struct {
	c          *cluster
	clients    int
	maxOps     int64
	consistent bool // reads ask ?consistent=true
	run        int

	// pace spreads the calls over the run's traffic time, so that the
	// faults scheduled across it meet traffic on a fast machine too:
	// call k starts no earlier than start + k·pace.
	pace  time.Duration
	start time.Time

	ops     atomic.Int64
	mu      sync.Mutex
	calls   []Call
	notSent int // writes refused at dial: never reached a node, left out
}

// callTimeout bounds one call: a write waits up to the nodes' write
// timeout, and a stopped node answers nothing at all.
const callTimeout = writeTimeout + 2*time.Second

// runTraffic runs the clients until ctx ends or maxOps calls were made.
func (tr *traffic) runTraffic(ctx context.Context, seed uint64) {
	var wg sync.WaitGroup
	for cl := range tr.clients {
		rng := rand.New(rand.NewPCG(seed, uint64(cl)))
		wg.Go(func() { tr.client(ctx, cl, rng) })
	}
	wg.Wait()
}

func (tr *traffic) client(ctx context.Context, cl int, rng *rand.Rand) {
	n := len(tr.c.members)
	node := cl % n
	for i := 0; ctx.Err() == nil; i++ {
		k := tr.ops.Add(1)
		if k > tr.maxOps {
			return
		}
		if wait := time.Until(tr.start.Add(time.Duration(k) * tr.pace)); wait > 0 {
			select { // load pacing, not synchronisation
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		var ok bool
		if rng.IntN(10) < 6 {
			ok = tr.write(ctx, cl, node, fmt.Sprintf("r%d-c%d-%d", tr.run, cl, i))
		} else {
			ok = tr.read(ctx, cl, node)
		}
		if !ok {
			node = (node + 1) % n
		}
	}
}

// write POSTs value and records the call; it reports whether the write
// was acknowledged.
func (tr *traffic) write(ctx context.Context, cl, node int, value string) bool {
	m := tr.c.members[node]
	call := Call{Client: cl, Node: node, In: Input{Kind: OpAppend, Value: strconv.Quote(value)}, Start: time.Now()}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	var acked bool
	status, err := tr.c.do(cctx, http.MethodPost, m.url+"/data", fmt.Sprintf(`{"data":%q}`, value), &acked)
	cancel()
	call.End, call.Status = time.Now(), status
	if err == nil && !acked {
		err = errors.New(`answered OK with "data": false`)
	}
	if err != nil {
		if status == 0 && refusedAtDial(err) {
			tr.mu.Lock()
			tr.notSent++
			tr.mu.Unlock()
			return false
		}
		call.Err, call.Out.Unknown = err.Error(), true
	}
	tr.record(call)
	return err == nil
}

// read GETs the whole log and records the call.
func (tr *traffic) read(ctx context.Context, cl, node int) bool {
	m := tr.c.members[node]
	path := "/data"
	if tr.consistent {
		path += "?consistent=true"
	}
	call := Call{Client: cl, Node: node, In: Input{Kind: OpRead}, Start: time.Now()}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	var blocks []jsonBlock
	status, err := tr.c.do(cctx, http.MethodGet, m.url+path, "", &blocks)
	cancel()
	call.End, call.Status = time.Now(), status
	if err != nil {
		call.Err, call.Out.Unknown = err.Error(), true
	} else {
		var s LogState
		for _, b := range blocks {
			if b.Index > 0 {
				s = s.Append(b.Data)
			}
		}
		call.Out.Read = s
	}
	tr.record(call)
	return err == nil
}

func (tr *traffic) record(c Call) {
	tr.mu.Lock()
	tr.calls = append(tr.calls, c)
	tr.mu.Unlock()
}

// acknowledged returns the values of the writes node acknowledged so far.
func (tr *traffic) acknowledged(node int) []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var out []string
	for _, c := range tr.calls {
		if c.Node == node && c.In.Kind == OpAppend && !c.Out.Unknown {
			out = append(out, c.In.Value)
		}
	}
	return out
}

// refusedAtDial reports whether err is a connection that was never made
// (refused, unreachable): the request never left the client.
func refusedAtDial(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// tally counts a history's calls by kind and outcome.
type tally struct {
	writesAcked, writesUnknown, readsOK, readsFailed int
}

func tallyOf(calls []Call) tally {
	var t tally
	for _, c := range calls {
		switch {
		case c.In.Kind == OpAppend && c.Out.Unknown:
			t.writesUnknown++
		case c.In.Kind == OpAppend:
			t.writesAcked++
		case c.Out.Unknown:
			t.readsFailed++
		default:
			t.readsOK++
		}
	}
	return t
}
