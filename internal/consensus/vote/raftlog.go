package vote

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
)

// raftLogger sends raft's own logging to slog: its info and debug lines at
// debug, its warnings at warning unless raft itself expects them
// (expectedRaftWarnings), its errors at error. Raft names nodes by raft id;
// the lines name them by node id where the member is known, and label the
// raft ids of the others, so that an operator never has to map one to the
// other by hand.
type raftLogger struct {
	l *slog.Logger
	// name returns the node id of a raft id, or "" if it is unknown. It
	// runs on the engine's goroutine: raft logs only inside engine calls.
	name func(raftID uint64) string
}

// expectedRaftWarnings are the fragments of raft's warnings that describe
// a normal state, logged at debug. "Pending configuration changes" comes
// after every bootstrap and restart, until the node has applied its log
// (raft campaigns again at the next election timeout); "unpromotable"
// comes from a learner, which waits to be promoted.
var expectedRaftWarnings = []string{
	"cannot campaign at term",
	"is unpromotable and can not campaign",
}

func (r raftLogger) Debug(v ...any)              { r.print(slog.LevelDebug, v) }
func (r raftLogger) Debugf(f string, v ...any)   { r.printf(slog.LevelDebug, f, v) }
func (r raftLogger) Info(v ...any)               { r.print(slog.LevelDebug, v) }
func (r raftLogger) Infof(f string, v ...any)    { r.printf(slog.LevelDebug, f, v) }
func (r raftLogger) Warning(v ...any)            { r.print(slog.LevelWarn, v) }
func (r raftLogger) Warningf(f string, v ...any) { r.printf(slog.LevelWarn, f, v) }
func (r raftLogger) Error(v ...any)              { r.print(slog.LevelError, v) }
func (r raftLogger) Errorf(f string, v ...any)   { r.printf(slog.LevelError, f, v) }
func (r raftLogger) Fatal(v ...any)              { r.print(slog.LevelError, v); panic(fmt.Sprint(v...)) }
func (r raftLogger) Fatalf(f string, v ...any)   { r.Fatal(fmt.Sprintf(f, v...)) }
func (r raftLogger) Panic(v ...any)              { r.print(slog.LevelError, v); panic(fmt.Sprint(v...)) }
func (r raftLogger) Panicf(f string, v ...any)   { r.Panic(fmt.Sprintf(f, v...)) }

func (r raftLogger) print(level slog.Level, v []any) {
	if r.enabled(level) {
		r.log(level, fmt.Sprint(v...))
	}
}

func (r raftLogger) printf(level slog.Level, f string, v []any) {
	if r.enabled(level) {
		r.log(level, fmt.Sprintf(f, v...))
	}
}

// enabled reports whether a line at level may be written. Raft logs at
// debug on every step; formatting and rewriting those lines for a node
// that does not want them would cost more than the step.
func (r raftLogger) enabled(level slog.Level) bool {
	return r.l != nil && r.l.Enabled(context.Background(), level)
}

// log writes msg at level, an expected warning at debug, with raft ids
// rewritten (nodeIDs).
func (r raftLogger) log(level slog.Level, msg string) {
	if level == slog.LevelWarn {
		for _, w := range expectedRaftWarnings {
			if strings.Contains(msg, w) {
				level = slog.LevelDebug
				break
			}
		}
	}
	r.l.Log(context.Background(), level, r.nodeIDs(msg))
}

// raftIDWord matches the words of a raft line that may be raft ids: raft
// prints them in hex (%x, up to 16 digits) and in decimal (configurations,
// up to 20 digits). Terms and indexes are far shorter.
var raftIDWord = regexp.MustCompile(`\b[0-9a-f]{10,20}\b`)

// nodeIDs rewrites the raft ids in msg: a known member's becomes its node
// id, any other is labelled "raft:<id>" so that it is not taken for one.
func (r raftLogger) nodeIDs(msg string) string {
	return raftIDWord.ReplaceAllStringFunc(msg, func(w string) string {
		if r.name != nil {
			if id, err := strconv.ParseUint(w, 16, 64); err == nil {
				if n := r.name(id); n != "" {
					return n
				}
			}
			if id, err := strconv.ParseUint(w, 10, 64); err == nil {
				if n := r.name(id); n != "" {
					return n
				}
			}
		}
		return "raft:" + w
	})
}

// nodeName returns the node id of a raft id this node knows (a member, a
// node heard from, a join request, itself), or "".
func (e *Engine) nodeName(raftID uint64) string {
	switch {
	case raftID == e.id:
		return e.cfg.Self.ID
	case e.mem.members[raftID].ID != "":
		return e.mem.members[raftID].ID
	case e.mem.contacts[raftID] != "":
		return e.mem.contacts[raftID]
	case e.mem.joins[raftID].ID != "":
		return e.mem.joins[raftID].ID
	}
	return ""
}

// raftIDText names a raft id in the engine's own lines and errors: the
// node id when known, else the labelled raft id.
func (e *Engine) raftIDText(raftID uint64) string {
	if n := e.nodeName(raftID); n != "" {
		return n
	}
	return fmt.Sprintf("raft:%x", raftID)
}

// raftIDAttr is raftIDText as a log attribute.
func (e *Engine) raftIDAttr(key string, raftID uint64) slog.Attr {
	return slog.String(key, e.raftIDText(raftID))
}
