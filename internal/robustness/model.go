package robustness

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
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
	ReadValues   []string
	Acknowledged bool // a write answered 200 {"data": true}
}

// LogModel is the porcupine model of the chain as an append-only log: an
// append always succeeds (the log grows by its value); a read must return
// the log as it stands. A write of unknown outcome is given a return time
// after every other call (HistoryOperations), as etcd's robustness tests
// model failed requests: the checker may then place it anywhere after its
// call, or in effect never, since nothing reads after the end.
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
// nothing. Writes of unknown outcome return after everything else.
func HistoryOperations(calls []Call, origin time.Time) []porcupine.Operation {
	var end int64
	for _, c := range calls {
		end = max(end, int64(c.End.Sub(origin)))
	}
	ops := make([]porcupine.Operation, 0, len(calls))
	for _, c := range calls {
		ret := int64(c.End.Sub(origin))
		switch {
		case c.In.Kind == OpRead && c.Out.Unknown:
			continue
		case c.Out.Unknown:
			ret = end + 1
		}
		ops = append(ops, porcupine.Operation{ClientId: c.Client, Input: c.In, Output: c.Out, Call: int64(c.Start.Sub(origin)), Return: ret})
	}
	return ops
}

// CheckLinearizable checks calls against LogModel within timeout. The
// answer is porcupine.Unknown when the checker ran out of time: neither
// a pass nor a failure.
func CheckLinearizable(calls []Call, origin time.Time, timeout time.Duration) porcupine.CheckResult {
	return porcupine.CheckOperationsTimeout(LogModel, HistoryOperations(calls, origin), timeout)
}
