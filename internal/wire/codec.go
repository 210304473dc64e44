package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/naivechain/naivechain/internal/block"
)

// ErrMalformed is wrapped by every error Decode returns, and by Encode's
// errors for messages that would not decode.
var ErrMalformed = errors.New("wire: malformed message")

// MalformedError says what is wrong with a message. It matches ErrMalformed
// with errors.Is, and also the *FieldError behind it when there is one.
type MalformedError struct {
	Type   Type  // 0 when the type byte itself is missing
	Reason error // what is wrong
}

func (e *MalformedError) Error() string {
	if e.Type == 0 {
		return fmt.Sprintf("wire: malformed message: %v", e.Reason)
	}
	return fmt.Sprintf("wire: malformed %v message: %v", e.Type, e.Reason)
}

// Unwrap returns ErrMalformed and the underlying reason.
func (e *MalformedError) Unwrap() []error { return []error{ErrMalformed, e.Reason} }

func malformed(t Type, format string, args ...any) error {
	return &MalformedError{Type: t, Reason: fmt.Errorf(format, args...)}
}

// validator is implemented by every message type of this package.
type validator interface {
	Message
	validate() error
}

// Encode validates m and returns its wire form: the type byte then the
// payload. It refuses what Decode would refuse, so a node never sends a
// message its peers must drop.
func Encode(m Message) ([]byte, error) {
	v, ok := m.(validator)
	if !ok || m == nil {
		return nil, fmt.Errorf("wire: cannot encode %T", m)
	}
	if err := v.validate(); err != nil {
		return nil, &MalformedError{Type: m.Type(), Reason: err}
	}
	var out []byte
	switch m := m.(type) {
	case *Ping:
		out = []byte{byte(TypePing)}
	case *Consensus:
		out = make([]byte, 1+len(m.Payload))
		out[0] = byte(TypeConsensus)
		copy(out[1:], m.Payload)
	default:
		payload, err := json.Marshal(m)
		if err != nil {
			return nil, fmt.Errorf("wire: encode %v: %w", m.Type(), err)
		}
		out = append([]byte{byte(m.Type())}, payload...)
	}
	if len(out) > MaxMessageSize {
		return nil, malformed(m.Type(), "%d bytes, more than %d", len(out), MaxMessageSize)
	}
	return out, nil
}

// Decode parses and validates one message. Any error wraps ErrMalformed:
// empty or over-size input, an unknown type, bad JSON or trailing data after
// it, a payload where none belongs, or an invalid field. The returned message
// does not alias b.
func Decode(b []byte) (Message, error) {
	if len(b) == 0 {
		return nil, malformed(0, "empty")
	}
	if len(b) > MaxMessageSize {
		return nil, malformed(0, "%d bytes, more than %d", len(b), MaxMessageSize)
	}
	t, payload := Type(b[0]), b[1:]
	var m validator
	switch t {
	case TypePing:
		if len(payload) != 0 {
			return nil, malformed(t, "%d bytes of trailing data", len(payload))
		}
		return &Ping{}, nil
	case TypeConsensus:
		var p []byte
		if len(payload) > 0 {
			p = bytes.Clone(payload)
		}
		return &Consensus{Payload: p}, nil
	case TypeHello:
		m = &Hello{}
	case TypeReject:
		m = &Reject{}
	case TypePeers:
		m = &Peers{}
	default:
		return nil, malformed(0, "unknown type %d", uint8(t))
	}
	if err := decodeJSON(payload, m); err != nil {
		return nil, &MalformedError{Type: t, Reason: err}
	}
	if err := m.validate(); err != nil {
		return nil, &MalformedError{Type: t, Reason: err}
	}
	return m, nil
}

// decodeJSON reads exactly one JSON object into v. Unknown fields are
// ignored so that a later protocol version may add optional ones.
func decodeJSON(payload []byte, v any) error {
	if len(bytes.TrimSpace(payload)) == 0 || bytes.TrimSpace(payload)[0] != '{' {
		return errors.New("payload is not a JSON object")
	}
	// encoding/json reads bad UTF-8 and unpaired surrogates as U+FFFD:
	// refuse them rather than pass on a string that was not sent.
	if err := block.CheckJSONText(payload); err != nil {
		return fmt.Errorf("bad JSON: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("bad JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}
