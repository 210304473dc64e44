package block

import (
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends b's JSON form to dst and returns the extended slice:
// the bytes MarshalJSON returns, built without reflection or a buffer of
// its own, for answers that stream many blocks. Strings are escaped as
// encoding/json escapes them with HTML escaping off.
func (b Block) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"index":`...)
	dst = strconv.AppendUint(dst, b.Index, 10)
	dst = append(dst, `,"previous_hash":`...)
	dst = appendJSONString(dst, b.PreviousHash)
	dst = append(dst, `,"data":`...)
	dst = appendJSONString(dst, b.Data)
	dst = append(dst, `,"curr_hash":`...)
	dst = appendJSONString(dst, b.CurrHash)
	if b.IsPoW() {
		dst = append(dst, `,"timestamp":`...)
		dst = strconv.AppendInt(dst, b.Timestamp, 10)
		dst = append(dst, `,"nonce":`...)
		dst = strconv.AppendUint(dst, b.Nonce, 10)
		dst = append(dst, `,"difficulty":`...)
		dst = strconv.AppendUint(dst, uint64(b.Difficulty), 10)
	}
	return append(dst, '}')
}

// appendJSONString appends s as a JSON string the way encoding/json does
// without HTML escaping: '"' and '\\' escaped, control characters as \b,
// \f, \n, \r, \t or \u00XX, invalid UTF-8 as \ufffd, and U+2028 and U+2029
// as \u2028 and \u2029 (JavaScript line terminators).
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendPyJSON appends b's JSON form as Python's json.dumps writes it (the
// original's API answers): keys in AppendJSON's order, ", " and ": "
// between items, and every character outside printable ASCII escaped as
// \uXXXX (ensure_ascii; a surrogate pair above U+FFFF, invalid UTF-8 as
// \ufffd).
func (b Block) AppendPyJSON(dst []byte) []byte {
	dst = append(dst, `{"index": `...)
	dst = strconv.AppendUint(dst, b.Index, 10)
	dst = append(dst, `, "previous_hash": `...)
	dst = AppendPyString(dst, b.PreviousHash)
	dst = append(dst, `, "data": `...)
	dst = AppendPyString(dst, b.Data)
	dst = append(dst, `, "curr_hash": `...)
	dst = AppendPyString(dst, b.CurrHash)
	if b.IsPoW() {
		dst = append(dst, `, "timestamp": `...)
		dst = strconv.AppendInt(dst, b.Timestamp, 10)
		dst = append(dst, `, "nonce": `...)
		dst = strconv.AppendUint(dst, b.Nonce, 10)
		dst = append(dst, `, "difficulty": `...)
		dst = strconv.AppendUint(dst, uint64(b.Difficulty), 10)
	}
	return append(dst, '}')
}

// AppendPyString appends s as Python's json.dumps(s) writes it, the bytes
// PyString returns, without a buffer of its own.
func AppendPyString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f && c != '"' && c != '\\' {
			i++
			continue
		}
		dst = append(dst, s[start:i]...)
		if c < utf8.RuneSelf {
			dst = appendPyEscape(dst, rune(c))
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		dst = AppendPyRune(dst, r) // utf8.RuneError is U+FFFD
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendPyEscape appends the escape of the ASCII character c.
func appendPyEscape(dst []byte, c rune) []byte {
	switch c {
	case '"', '\\':
		return append(dst, '\\', byte(c))
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	return appendU4(dst, c)
}

// AppendPyRune appends the \uXXXX escape json.dumps writes for the
// character r outside printable ASCII: a surrogate pair above U+FFFF.
func AppendPyRune(dst []byte, r rune) []byte {
	if r > 0xffff {
		r -= 0x10000
		return appendU4(appendU4(dst, 0xd800+(r>>10)), 0xdc00+(r&0x3ff))
	}
	return appendU4(dst, r)
}

func appendU4(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}
