package api

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"testing/iotest"
)

func TestDecodeWriteReaderError(t *testing.T) {
	boom := errors.New("connection reset")
	_, err := DecodeWrite(iotest.ErrReader(boom))
	if !errors.Is(err, boom) {
		t.Errorf("DecodeWrite on a failing reader = %v, want it to wrap %v", err, boom)
	}
	_, err = DecodeWrite(iotest.TimeoutReader(strings.NewReader(`{"data": 1}` + strings.Repeat(" ", 600))))
	if !errors.Is(err, iotest.ErrTimeout) {
		t.Errorf("DecodeWrite failing while reading past the object = %v, want it to wrap %v", err, iotest.ErrTimeout)
	}
}

func FuzzDecodeWrite(f *testing.F) {
	for _, seed := range []string{
		`{"data": "Testing String Again"}`,
		`{"data": 123}`,
		`{"data": {"a": [1, 2.5e3, true, null, "é\u2028"]}}`,
		`{"data": "\ud83d\ude00"}`,
		`{"data": 1} x`,
		`{"data": 1}}`,
		`{"dat": 1}`,
		`[{"data": 1}]`,
		`"x"`,
		``,
		`{"data": "\xff"}`,
		`{"data": 1, "data": 2}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := DecodeWrite(bytes.NewReader(body))
		if err != nil {
			return
		}
		if got == "" {
			t.Fatalf("DecodeWrite(%q) succeeded with an empty string", body)
		}
		again, err := DecodeWrite(bytes.NewReader(body))
		if err != nil || again != got {
			t.Fatalf("DecodeWrite(%q) not deterministic: %q then %q, %v", body, got, again, err)
		}
	})
}

func FuzzDecodeConnect(f *testing.F) {
	for _, seed := range []string{
		`{"host": "0.0.0.0", "port": "9803"}`,
		`{"host": "h", "port": 9803}`,
		`{"host": "h", "port": 1e3}`,
		`{"host": "h", "port": "0"}`,
		`{"host": "", "port": 1}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		host, port, err := decodeConnect(bytes.NewReader(body))
		if err != nil {
			return
		}
		if host == "" || port == "" || port[0] == '0' {
			t.Fatalf("decodeConnect(%q) = %q, %q", body, host, port)
		}
	})
}
