package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/naivechain/naivechain/internal/block"
)

// badRequest builds an error that is the client's fault. Errors from the
// body's reader are wrapped instead, so that the handler can find
// *http.MaxBytesError.
func badRequest(format string, args ...any) error {
	return fmt.Errorf(format, args...)
}

// DecodeWrite reads the body of POST /data, a JSON object {"data": value},
// and returns value encoded with block.EncodeData.
//
// It fails on an empty body, invalid JSON, a body that is not an object, a
// missing "data" key, anything but white space after the object, and data
// that block.EncodeData refuses. Errors from r itself (such as
// *http.MaxBytesError) are wrapped and can be found with errors.As.
func DecodeWrite(r io.Reader) (string, error) {
	// Most bodies are small and of one shape, {"data": "<printable
	// ASCII>"}: read a small body whole and recognise that shape without
	// the JSON decoder. Anything else, and any body that is larger or whose
	// reading failed, goes to the decoder with the same bytes and the same
	// error after them, so that the outcome is the decoder's.
	bp := bodyPool.Get().(*[]byte)
	defer bodyPool.Put(bp)
	buf := *bp
	n, err := io.ReadFull(r, buf)
	switch err {
	case io.EOF, io.ErrUnexpectedEOF: // the whole body is in buf[:n]
		if data, ok := fastWrite(buf[:n]); ok {
			return data, nil
		}
		return decodeWrite(bytes.NewReader(buf[:n]))
	case nil: // a larger body: the rest follows
		return decodeWrite(io.MultiReader(bytes.NewReader(buf[:n]), r))
	default:
		return decodeWrite(io.MultiReader(bytes.NewReader(buf[:n]), errReader{err}))
	}
}

// smallBody is the size of the bodies DecodeWrite reads whole before
// decoding.
const smallBody = 4096

var bodyPool = sync.Pool{New: func() any { b := make([]byte, smallBody); return &b }}

// errReader fails every read with err.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// fastWrite recognises a whole body of the shape {"data": "s"}, JSON white
// space allowed where JSON allows it, with s made of printable ASCII other
// than '"' and '\\', and returns what block.EncodeData makes of that value:
// s in its quotes, as it is. It reports false for any other body.
func fastWrite(b []byte) (string, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return "", false
	}
	i = skipSpace(b, i+1)
	if !bytes.HasPrefix(b[i:], []byte(`"data"`)) {
		return "", false
	}
	i = skipSpace(b, i+len(`"data"`))
	if i >= len(b) || b[i] != ':' {
		return "", false
	}
	i = skipSpace(b, i+1)
	if i >= len(b) || b[i] != '"' {
		return "", false
	}
	start := i
	for i++; i < len(b) && b[i] != '"'; i++ {
		if c := b[i]; c < 0x20 || c > 0x7e || c == '\\' {
			return "", false
		}
	}
	if i >= len(b) {
		return "", false
	}
	end := i + 1
	i = skipSpace(b, end)
	if i >= len(b) || b[i] != '}' {
		return "", false
	}
	if skipSpace(b, i+1) != len(b) || end-start > block.MaxDataLen {
		return "", false
	}
	return string(b[start:end]), true
}

// skipSpace returns the index of the first byte of b at or after i that is
// not JSON white space.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// decodeWrite is DecodeWrite through the JSON decoder, for any body.
func decodeWrite(r io.Reader) (string, error) {
	fields, err := decodeObject(r)
	if err != nil {
		return "", err
	}
	raw, ok := fields["data"]
	if !ok {
		return "", badRequest(`missing "data" key`)
	}
	data, err := block.EncodeData(raw)
	if err != nil {
		return "", fmt.Errorf("invalid data: %w", err)
	}
	return data, nil
}

// MaxEntries bounds the values of one POST /entries.
const MaxEntries = 1000

// DecodeEntries reads the body of POST /entries, a JSON array of 1 to
// MaxEntries values, and returns each value encoded with block.EncodeData.
// It fails like DecodeWrite on bad JSON or trailing data, and on a body that
// is not an array, an empty array or one over MaxEntries values.
func DecodeEntries(r io.Reader) ([]string, error) {
	dec := json.NewDecoder(r)
	var raws []json.RawMessage
	if err := dec.Decode(&raws); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return nil, badRequest("body must be a JSON array of values")
		}
		if errors.Is(err, io.EOF) {
			return nil, badRequest("empty body")
		}
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if raws == nil {
		return nil, badRequest("body must be a JSON array of values")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, fmt.Errorf("invalid JSON after the array: %w", err)
		}
		return nil, badRequest("trailing data after the array")
	}
	if len(raws) == 0 || len(raws) > MaxEntries {
		return nil, badRequest("between 1 and %d entries, not %d", MaxEntries, len(raws))
	}
	out := make([]string, len(raws))
	for i, raw := range raws {
		d, err := block.EncodeData(raw)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		out[i] = d
	}
	return out, nil
}

// decodeConnect reads the body of POST /peers, {"host": "...", "port": P}
// with P a string or a number, and returns the host and the port as a
// decimal string.
func decodeConnect(r io.Reader) (host, port, token string, err error) {
	fields, err := decodeObject(r)
	if err != nil {
		return "", "", "", err
	}
	if raw, ok := fields["join_token"]; ok {
		if err := json.Unmarshal(raw, &token); err != nil || len(token) > 128 {
			return "", "", "", badRequest(`"join_token" must be a string of at most 128 characters`)
		}
	}
	host, port, err = decodeHostPort(fields)
	return host, port, token, err
}

// decodeHostPort reads the "host" and "port" keys of a POST /peers body.
func decodeHostPort(fields map[string]json.RawMessage) (host, port string, err error) {
	rawHost, ok := fields["host"]
	if !ok {
		return "", "", badRequest(`missing "host" key`)
	}
	if err := json.Unmarshal(rawHost, &host); err != nil {
		return "", "", badRequest(`"host" must be a string`)
	}
	if host == "" || len(host) > 255 || strings.ContainsAny(host, " \t\r\n/") {
		return "", "", badRequest(`"host" must be a host name or address`)
	}
	rawPort, ok := fields["port"]
	if !ok {
		return "", "", badRequest(`missing "port" key`)
	}
	var s string
	if json.Unmarshal(rawPort, &s) != nil {
		s = string(bytes.TrimSpace(rawPort)) // a number, or junk caught below
	}
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return "", "", badRequest(`"port" must be a port number from 1 to 65535, as a string or a number`)
	}
	return host, strconv.FormatUint(n, 10), nil
}

// decodeObject reads exactly one JSON object from r and nothing after it
// but white space.
func decodeObject(r io.Reader) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(r)
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, jsonError(err)
	}
	if raw[0] != '{' {
		return nil, badRequest("body must be a JSON object")
	}
	// Keys outside "data" are checked too: a host or a token read with
	// U+FFFD in place of what was sent is a different one.
	if err := block.CheckJSONText(raw); err != nil {
		return nil, badRequest("invalid JSON text: %v", err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err != nil && !isSyntaxError(err) {
			return nil, fmt.Errorf("reading body: %w", err)
		}
		return nil, badRequest("unexpected data after the JSON object")
	}
	return fields, nil
}

// jsonError sorts a decoding error into the client's fault (bad JSON) and
// the reader's (too large, connection lost).
func jsonError(err error) error {
	switch {
	case err == io.EOF:
		return badRequest("empty body")
	case err == io.ErrUnexpectedEOF, isSyntaxError(err):
		return badRequest("invalid JSON: %v", err)
	default:
		return fmt.Errorf("reading body: %w", err)
	}
}

func isSyntaxError(err error) bool {
	var se *json.SyntaxError
	return errors.As(err, &se)
}
