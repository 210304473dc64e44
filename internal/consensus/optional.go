package consensus

import "errors"

// The optional abilities below let the node runtime show and use what an
// engine has beyond Engine without naming the engine's package: the node
// asks with a type assertion, and an engine without the ability gets the
// default each one names.

// Ruler is implemented by engines whose networks agree on parameters
// beyond the engine's name (pow: its block interval and retarget rules).
// Two nodes talk only when their rules are equal; an engine without it is
// known by its Name in handshakes.
type Ruler interface {
	// Rules names the engine and its parameters, within the characters
	// a Hello's engine field allows.
	Rules() string
}

// RoleLister is implemented by engines that name every role their Status
// may report, so that the role metric shows each one (0 when not held)
// rather than only the current one.
type RoleLister interface {
	Roles() []string
}

// Syncer is implemented by engines whose nodes follow the network's best
// chain as peers announce it (pow). The node is not ready for writes while
// it is behind. An engine without it is ready when its Status shows a
// leader this node reaches and a reachable majority of voting members.
type Syncer interface {
	// Behind reports a connected peer that claims a better chain than
	// this node's, one it has not taken (yet).
	Behind() (peer string, behind bool)
}

// StepWriter is implemented by engines whose Step and Mined may hand out
// store writes (pow: a block received or mined switches the best chain at
// once, and the next block is checked against the chain it made). Their
// caller carries out Ready after each Step and Mined, rather than once
// for many calls, so that every call finds the writes of the calls before
// it applied to the chain. An engine without it makes its writes only in
// Ready (vote), and its caller may gather many calls into one Ready.
type StepWriter interface {
	// WritesOnStep reports whether Step and Mined may hand out writes.
	WritesOnStep() bool
}

// WorkStats are the counters of an engine whose blocks take work
// (GET /status's pow object, the pow metrics).
type WorkStats struct {
	Height     uint64
	Work       string // cumulative work of the best chain, lower-case hex
	Difficulty uint8  // of the tip
	Mempool    int    // entries waiting for a block
	Side       int    // blocks kept off the best chain
	Mined      uint64 // blocks this node mined since it started
	Reorgs     uint64 // switches of the best chain since it started
}

// WorkReporter is implemented by engines whose blocks take work (pow).
type WorkReporter interface {
	WorkStats() WorkStats
}

// ErrConflict marks a write that no retry can cure: it contradicts writes
// the engine already holds (pow: a group that shares some, not all, of its
// entries with pending groups). The API answers it 409.
var ErrConflict = errors.New("consensus: the write conflicts with writes already pending")

// Conflict returns an error reading msg that is ErrConflict for errors.Is,
// so that an engine keeps its own message and sentinel.
func Conflict(msg string) error { return conflictError(msg) }

type conflictError string

func (e conflictError) Error() string        { return string(e) }
func (e conflictError) Is(target error) bool { return target == ErrConflict }

// Bounds of a join token (Admission).
const (
	MinTokenLen = 16
	MaxTokenLen = 128
)

// ValidJoinToken reports whether s can be a join token: MinTokenLen to
// MaxTokenLen printable ASCII bytes without spaces.
func ValidJoinToken(s string) bool {
	if len(s) < MinTokenLen || len(s) > MaxTokenLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}
