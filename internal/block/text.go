package block

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf8"
)

// CheckJSONText reports JSON text that
// encoding/json would read as something else than was sent: bytes that are
// not UTF-8, and \u escapes of UTF-16 surrogates that do not form a pair.
// encoding/json replaces both with U+FFFD without an error, so a value
// holding them would be stored altered; Python's json (and so Flask and the
// original) refuses the first and cannot hash the second. CheckJSONText does
// not check that text is valid JSON otherwise: that is the decoder's job.
func CheckJSONText(text []byte) error {
	if !utf8.Valid(text) {
		return errors.New("not valid UTF-8")
	}
	for i := bytes.IndexByte(text, '\\'); i >= 0; {
		n, ok := escapeLen(text[i:])
		if !ok {
			return fmt.Errorf("unpaired surrogate escape %.6q at byte %d", text[i:], i)
		}
		if i+n >= len(text) {
			break
		}
		next := bytes.IndexByte(text[i+n:], '\\')
		if next < 0 {
			break
		}
		i += n + next
	}
	return nil
}

// escapeLen returns the length of the escape at the start of b, which starts
// with a backslash, and false when it is a surrogate escape without its
// other half. An escape that is not valid JSON is left for the decoder to
// refuse: its length is taken as 2.
func escapeLen(b []byte) (int, bool) {
	if len(b) < 6 || b[1] != 'u' {
		return 2, true
	}
	r, ok := hex4(b[2:6])
	switch {
	case !ok:
		return 2, true
	case r < 0xd800 || r > 0xdfff:
		return 6, true
	case r >= 0xdc00: // a low half with no high half before it
		return 0, false
	}
	if len(b) < 12 || b[6] != '\\' || b[7] != 'u' {
		return 0, false
	}
	if lo, ok := hex4(b[8:12]); !ok || lo < 0xdc00 || lo > 0xdfff {
		return 0, false
	}
	return 12, true
}

// hex4 reads 4 hex digits.
func hex4(b []byte) (rune, bool) {
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
