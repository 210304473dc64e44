package api

import (
	"bytes"
	"errors"
	"io"
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
		`{"host": "h", "port": 1, "join_token": "abcdefghijklmnopqrstuvwxyz"}`,
		`{"host": "h", "port": 1, "join_token": 5}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		host, port, token, err := decodeConnect(bytes.NewReader(body))
		if err != nil {
			return
		}
		if host == "" || port == "" || port[0] == '0' || len(token) > 128 {
			t.Fatalf("decodeConnect(%q) = %q, %q, %q", body, host, port, token)
		}
	})
}

// decodeWriteSame checks that DecodeWrite, with its fast path, answers
// body exactly as the JSON decoder alone does.
func decodeWriteSame(t *testing.T, body []byte) {
	t.Helper()
	got, err := DecodeWrite(bytes.NewReader(body))
	want, wantErr := decodeWrite(bytes.NewReader(body))
	if got != want || (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
		t.Fatalf("DecodeWrite(%q) = %q, %v; the decoder says %q, %v", body, got, err, want, wantErr)
	}
}

func TestDecodeWriteFastPathSame(t *testing.T) {
	for _, body := range []string{
		`{"data": "Testing String Again"}`,
		`{"data":"x"}`,
		" \t\r\n{ \n\"data\"\t:\r\"x y\" \n}\n ",
		`{"data": ""}`,
		`{"data": "a\"b"}`,
		`{"data": "a\\b"}`,
		`{"data": "a\u0041"}`,
		"{\"data\": \"a\x7fb\"}",
		"{\"data\": \"a\x1fb\"}",
		"{\"data\": \"é\"}",
		"{\"data\": \"\xff\"}",
		`{"data": "x"} `,
		`{"data": "<a &amp; b>"}`,
		`{"data": "<script>"}`,
		`{"data": "x"}}`,
		`{"data": "x"} x`,
		`{"data": "x", "data": "y"}`,
		`{"data": "x", "other": 1}`,
		`{"other": 1, "data": "x"}`,
		`{"Data": "x"}`,
		`{"d\u0061ta": "x"}`,
		`{"data": "x"`,
		`{"data": "x`,
		`{"data" "x"}`,
		`{"data": x}`,
		`{"data": 1}`,
		`["data", "x"]`,
		`{}`,
		``,
		` `,
		`{"data": "` + strings.Repeat("a", smallBody) + `"}`,
		`{"data": "` + strings.Repeat("a", smallBody-len(`{"data": ""}`)) + `"}`,
		`{"data": "` + strings.Repeat("a", smallBody-len(`{"data": ""}`)-1) + `"}`,
		`{"data": "x"}` + strings.Repeat(" ", 2*smallBody),
	} {
		decodeWriteSame(t, []byte(body))
	}
}

func TestDecodeWriteFastPathReaderError(t *testing.T) {
	boom := errors.New("connection reset")
	r := io.MultiReader(strings.NewReader(`{"data": "x"}`), iotest.ErrReader(boom))
	if _, err := DecodeWrite(r); !errors.Is(err, boom) {
		t.Errorf("DecodeWrite of a whole object then a failing read = %v, want it to wrap %v", err, boom)
	}
}

func FuzzDecodeWriteFastPath(f *testing.F) {
	for _, seed := range []string{
		`{"data": "Testing String Again"}`,
		" {\"data\"\t:\"x\"}\n",
		`{"data": "a\"b"}`,
		`{"data": "x"} x`,
		`{"data": "x", "data": 1}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) { decodeWriteSame(t, body) })
}

func BenchmarkDecodeWrite(b *testing.B) {
	body := []byte(`{"data": "bench-12345"}`)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeWrite(bytes.NewReader(body)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decoder", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeWrite(bytes.NewReader(body)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
