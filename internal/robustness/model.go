package robustness

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"time"

	"github.com/anishathalye/porcupine"
)

// LogState is the state of an append-only log as the model sees it: its
// length and a hash chained over its values in order. Two logs with the
// same values in the same order have the same LogState, so the checker
// compares states with == and a read's answer with one comparison.
type LogState struct {
	Len  int
	Hash uint64
}

// Append returns the state of the log after v is appended.
func (s LogState) Append(v string) LogState {
	h := fnv.New64a()
	var prev [8]byte
	binary.LittleEndian.PutUint64(prev[:], s.Hash)
	h.Write(prev[:])
	h.Write([]byte(v))
	return LogState{Len: s.Len + 1, Hash: h.Sum64()}
}

// StateOf is the state of the log holding values, in order.
func StateOf(values []string) LogState {
	var s LogState
	for _, v := range values {
		s = s.Append(v)
	}
	return s
}

// OpKind tells a write from a read.
type OpKind int

// The operations on the log.
const (
	OpAppend OpKind = iota // POST /data: append Value
	OpRead                 // GET /data: the whole log
)

// Input is what a client asked.
type Input struct {
	Kind  OpKind
	Value string // OpAppend: the value written
}

// Output is what a client was answered.
type Output struct {
	// Unknown marks a write whose outcome the client could not learn (a
	// 503, a timeout, a broken connection): it may or may not have taken
	// effect, at any time after its call.
	Unknown bool
	// Read is the log a read returned.
	Read LogState
}

// Call is one recorded client call.
type Call struct {
	Client       int
	Node         int // the node asked
	In           Input
	Out          Output
	Start, End   time.Time
	Status       int    // the HTTP status, 0 when none came
	Err          string // the transport error, if any
	Acknowledged bool   // a write answered 200 {"data": true}
}

// LogModel is the porcupine model of the chain as an append-only log: an
// append always succeeds (the log grows by its value); a read must return
// the log as it stands. A write of unknown outcome may take effect at any
// time after its call, or never, as etcd's robustness tests model failed
// requests; HistoryOperations bounds it by the reads that saw it.
var LogModel = porcupine.Model{
	Init: func() any { return LogState{} },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(LogState), input.(Input), output.(Output)
		switch in.Kind {
		case OpAppend:
			return true, s.Append(in.Value)
		default:
			return out.Read == s, s
		}
	},
	Hash: func(state any) uint64 { return state.(LogState).Hash },
	DescribeOperation: func(input, output any) string {
		in, out := input.(Input), output.(Output)
		if in.Kind == OpAppend {
			if out.Unknown {
				return fmt.Sprintf("append(%q) -> unknown", in.Value)
			}
			return fmt.Sprintf("append(%q)", in.Value)
		}
		return fmt.Sprintf("read() -> %d values", out.Read.Len)
	},
	DescribeState: func(state any) string { return fmt.Sprintf("%d values", state.(LogState).Len) },
}

// HistoryOperations turns recorded calls into porcupine operations, times
// in nanoseconds since origin. Reads that failed are left out: they saw
// nothing. A write of unknown outcome is bounded by what the reads saw,
// judged against final, the values of the final chain (Audit checks that
// every read was a prefix of it):
//
//   - one that no read saw is left out: it took effect after every read,
//     or never, and either way a linearization with it last exists;
//   - one that a read saw returns at the end of the first read that saw
//     it: every linearization places it before that read.
//
// Both are what a linearization must satisfy anyway; they spare the
// checker from trying every place for writes the history already pins,
// the search that made long histories run out of its time.
func HistoryOperations(calls []Call, origin time.Time, final []string) []porcupine.Operation {
	// first[l]: the earliest end of a read that saw the final chain's
	// first l values; then the earliest end of one that saw at least l.
	prefix := make(map[LogState]int, len(final)+1)
	var st LogState
	prefix[st] = 0
	for i, v := range final {
		st = st.Append(v)
		prefix[st] = i + 1
	}
	const never = int64(math.MaxInt64)
	first := make([]int64, len(final)+2)
	for i := range first {
		first[i] = never
	}
	for _, c := range calls {
		if c.In.Kind != OpRead || c.Out.Unknown {
			continue
		}
		if l, ok := prefix[c.Out.Read]; ok {
			first[l] = min(first[l], int64(c.End.Sub(origin)))
		}
	}
	for l := len(final) - 1; l >= 0; l-- {
		first[l] = min(first[l], first[l+1])
	}
	at := make(map[string]int, len(final))
	for i, v := range final {
		at[v] = i
	}
	ops := make([]porcupine.Operation, 0, len(calls))
	for _, c := range calls {
		ret := int64(c.End.Sub(origin))
		switch {
		case c.In.Kind == OpRead && c.Out.Unknown:
			continue
		case c.Out.Unknown:
			i, onChain := at[c.In.Value]
			if !onChain || first[i+1] == never {
				continue // seen by no read
			}
			// A read that ended before the write began is a violation
			// the checker must still see: the write cannot end first.
			ret = max(first[i+1], int64(c.Start.Sub(origin)))
		}
		ops = append(ops, porcupine.Operation{ClientId: c.Client, Input: c.In, Output: c.Out, Call: int64(c.Start.Sub(origin)), Return: ret})
	}
	return ops
}

// CheckLinearizable checks calls against LogModel within timeout. The
// answer is porcupine.Unknown when the checker ran out of time: neither
// a pass nor a failure.
func CheckLinearizable(calls []Call, origin time.Time, final []string, timeout time.Duration) porcupine.CheckResult {
	return porcupine.CheckOperationsTimeout(LogModel, HistoryOperations(calls, origin, final), timeout)
}
