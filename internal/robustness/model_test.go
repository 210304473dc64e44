package robustness

import (
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// at builds calls on a millisecond scale from origin.
var origin = time.Unix(1_700_000_000, 0)

func ms(n int) time.Time { return origin.Add(time.Duration(n) * time.Millisecond) }

func appendCall(client int, v string, start, end int, unknown bool) Call {
	return Call{Client: client, In: Input{Kind: OpAppend, Value: v}, Out: Output{Unknown: unknown}, Start: ms(start), End: ms(end)}
}

func readCall(client int, start, end int, values ...string) Call {
	return Call{Client: client, In: Input{Kind: OpRead}, Out: Output{Read: StateOf(values)}, Start: ms(start), End: ms(end)}
}

// The model accepts exactly the histories an append-only log can give,
// and treats a write of unknown outcome as one that may or may not have
// happened.
func TestLogModel(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		calls []Call
		final []string // the final chain's values
		want  porcupine.CheckResult
	}{
		{"sequential", []Call{appendCall(0, "a", 0, 1, false), appendCall(0, "b", 2, 3, false), readCall(1, 4, 5, "a", "b")}, []string{"a", "b"}, porcupine.Ok},
		{"concurrent writes in either order", []Call{appendCall(0, "a", 0, 10, false), appendCall(1, "b", 0, 10, false), readCall(2, 11, 12, "b", "a")}, []string{"b", "a"}, porcupine.Ok},
		{"read during a write may miss it", []Call{appendCall(0, "a", 0, 10, false), readCall(1, 1, 2)}, []string{"a"}, porcupine.Ok},
		{"stale read after the acknowledgement", []Call{appendCall(0, "a", 0, 1, false), readCall(1, 2, 3)}, []string{"a"}, porcupine.Illegal},
		{"read goes back in time", []Call{appendCall(0, "a", 0, 10, false), readCall(1, 1, 2, "a"), readCall(2, 3, 4)}, []string{"a"}, porcupine.Illegal},
		{"writes out of order", []Call{appendCall(0, "a", 0, 1, false), appendCall(0, "b", 2, 3, false), readCall(1, 4, 5, "b", "a")}, []string{"b", "a"}, porcupine.Illegal},
		{"unknown write never seen", []Call{appendCall(0, "a", 0, 1, true), readCall(1, 2, 3)}, nil, porcupine.Ok},
		{"unknown write never seen, on the chain", []Call{appendCall(0, "a", 0, 1, true), readCall(1, 2, 3)}, []string{"a"}, porcupine.Ok},
		{"unknown write seen later", []Call{appendCall(0, "a", 0, 1, true), readCall(1, 2, 3), readCall(1, 4, 5, "a")}, []string{"a"}, porcupine.Ok},
		{"unknown write seen, then not", []Call{appendCall(0, "a", 0, 1, true), readCall(1, 2, 3, "a"), readCall(1, 4, 5)}, []string{"a"}, porcupine.Illegal},
		{"unknown write seen before its call", []Call{readCall(1, 0, 1, "a"), appendCall(0, "a", 2, 3, true)}, []string{"a"}, porcupine.Illegal},
		{"unknown writes pinned by a read, in their order", []Call{appendCall(0, "a", 0, 1, true), appendCall(1, "b", 0, 1, true), appendCall(2, "c", 0, 1, true),
			readCall(3, 2, 3, "b", "a"), readCall(3, 4, 5, "b", "a", "c")}, []string{"b", "a", "c"}, porcupine.Ok},
		{"value no one wrote", []Call{readCall(1, 0, 1, "x")}, []string{"x"}, porcupine.Illegal},
	} {
		if got := CheckLinearizable(tc.calls, origin, tc.final, 10*time.Second); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

// Audit names what is wrong between a history and the final chain.
func TestAudit(t *testing.T) {
	t.Parallel()
	calls := []Call{
		appendCall(0, "a", 0, 1, false),
		appendCall(0, "b", 2, 3, false),
		appendCall(0, "c", 4, 5, true),
		readCall(1, 6, 7, "a"), // stale: b was acknowledged at 3
		readCall(1, 10, 11, "a", "b"),
	}
	f := Audit(calls, []string{"a", "b"})
	if !f.OK() || len(f.Stale) != 1 || f.Stale[0].Missing != "b" || f.Stale[0].Read != 3 {
		t.Errorf("one stale read, nothing lost: %+v", f)
	}
	diverged := append(calls, readCall(1, 8, 9, "a", "x")) // not a prefix of the final chain
	if f := Audit(diverged, []string{"a", "b"}); f.OK() || len(f.Diverged) != 1 || f.Diverged[0] != 5 {
		t.Errorf("a read of another chain: %+v", f)
	}
	f = Audit(calls, []string{"a", "c", "c", "z"})
	if f.OK() || len(f.Lost) != 1 || f.Lost[0] != "b" || len(f.Duplicated) != 1 || f.Duplicated[0] != "c" || len(f.Foreign) != 1 || f.Foreign[0] != "z" {
		t.Errorf("lost b, c twice, foreign z: %+v", f)
	}
	if s := f.String(); s == "nothing wrong" {
		t.Errorf("String of findings: %q", s)
	}
}
