package api

import (
	"unicode/utf8"

	"github.com/naivechain/naivechain/internal/block"
)

// appendPyJSON appends compact JSON, as encoding/json writes it with HTML
// escaping off, the way Python's json.dumps writes the same value, which is
// how the original (Flask-RESTful) answers: ", " between items, ": "
// after keys, and every character outside printable ASCII in a string as a
// \uXXXX escape (ensure_ascii). Escapes already in compact are kept; bytes
// between values (the newline after an Encode) are copied.
func appendPyJSON(dst, compact []byte) []byte {
	inString := false
	start := 0
	for i := 0; i < len(compact); {
		c := compact[i]
		if !inString {
			switch c {
			case '"':
				inString = true
			case ',', ':':
				dst = append(dst, compact[start:i+1]...)
				dst = append(dst, ' ')
				start = i + 1
			}
			i++
			continue
		}
		switch {
		case c == '\\':
			i += 2 // an escape is two bytes, or six for \uXXXX whose rest is plain
		case c == '"':
			inString = false
			i++
		case c < 0x7f:
			i++
		default:
			dst = append(dst, compact[start:i]...)
			r, size := rune(c), 1
			if c >= utf8.RuneSelf {
				r, size = utf8.DecodeRune(compact[i:])
			}
			dst = block.AppendPyRune(dst, r)
			i += size
			start = i
		}
	}
	return append(dst, compact[start:]...)
}
