package block

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// ErrBadData reports a value that cannot be stored as block data.
var ErrBadData = errors.New("block: invalid data value")

// EncodeData turns a posted JSON value into the string a block stores.
//
// The rule: data is the JSON encoding of the value in Python's default
// json.dumps style with ensure_ascii. A string therefore keeps its quotes and
// matches PyNaive Chain byte for byte ("Testing String Again" is stored as
// "\"Testing String Again\""). Any other value (number, bool, null, array,
// object) is stored as Python's json.dumps writes it: separators ", " and
// ": ", object keys in the order
// given, every string inside escaped the same way. Unlike the original,
// non-strings are not passed through Python's str().
//
// Text that CheckJSONText refuses is refused: encoding/json would store
// something else than was sent.
func EncodeData(raw json.RawMessage) (string, error) {
	if err := CheckJSONText(raw); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadData, err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var sb strings.Builder
	// stack tracks, per open container, whether it is an object and how
	// many tokens it has seen, to place ',' and ':' correctly.
	type frame struct {
		object bool
		n      int
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrBadData, err)
		}
		if sb.Len() > MaxDataLen {
			// Stop early: a long value read to its end would cost
			// tokens for nothing.
			return "", ErrDataTooLong
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			sb.WriteByte(byte(d))
			continue
		}
		if len(stack) > 0 {
			top := &stack[len(stack)-1]
			switch {
			case top.object && top.n%2 == 1:
				sb.WriteString(": ")
			case top.n > 0:
				sb.WriteString(", ")
			}
			top.n++
		} else if sb.Len() > 0 {
			return "", fmt.Errorf("%w: more than one value", ErrBadData)
		}
		switch v := tok.(type) {
		case json.Delim:
			sb.WriteByte(byte(v))
			stack = append(stack, frame{object: v == '{'})
		case string:
			writePyString(&sb, v)
		case json.Number:
			sb.WriteString(string(v))
		case bool:
			if v {
				sb.WriteString("true")
			} else {
				sb.WriteString("false")
			}
		case nil:
			sb.WriteString("null")
		}
	}
	if sb.Len() == 0 {
		return "", fmt.Errorf("%w: empty", ErrBadData)
	}
	if len(stack) > 0 {
		return "", fmt.Errorf("%w: unexpected end of JSON input", ErrBadData)
	}
	if sb.Len() > MaxDataLen {
		return "", ErrDataTooLong
	}
	return sb.String(), nil
}

// PyString returns s as Python's json.dumps(s) writes it (ensure_ascii).
func PyString(s string) string {
	var sb strings.Builder
	writePyString(&sb, s)
	return sb.String()
}

const hexDigits = "0123456789abcdef"

func writePyString(sb *strings.Builder, s string) {
	sb.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			sb.WriteString(`\"`)
		case r == '\\':
			sb.WriteString(`\\`)
		case r == '\n':
			sb.WriteString(`\n`)
		case r == '\r':
			sb.WriteString(`\r`)
		case r == '\t':
			sb.WriteString(`\t`)
		case r == '\b':
			sb.WriteString(`\b`)
		case r == '\f':
			sb.WriteString(`\f`)
		case r >= 0x20 && r < 0x7f:
			sb.WriteRune(r)
		case r > 0xffff:
			r -= 0x10000
			writeU4(sb, 0xd800+(r>>10))
			writeU4(sb, 0xdc00+(r&0x3ff))
		default:
			if r == utf8.RuneError {
				r = 0xfffd
			}
			writeU4(sb, r)
		}
	}
	sb.WriteByte('"')
}

func writeU4(sb *strings.Builder, r rune) {
	sb.WriteString(`\u`)
	sb.WriteByte(hexDigits[r>>12&0xf])
	sb.WriteByte(hexDigits[r>>8&0xf])
	sb.WriteByte(hexDigits[r>>4&0xf])
	sb.WriteByte(hexDigits[r&0xf])
}
