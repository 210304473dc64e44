package api

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/naivechain/naivechain/internal/block"
)

// BenchmarkGetData measures GET /data of a 10,000-block chain, the
// encoding included (the network excluded).
func BenchmarkGetData(b *testing.B) {
	f := newFake()
	for i := range 10_000 {
		f.chain = append(f.chain, block.Next(f.chain[len(f.chain)-1], `"a payment of `+string(rune('a'+i%26))+` coins from alice to bob"`))
	}
	h := NewHandler(f, Options{})
	req := loopbackRequest("GET", "/data", nil)
	w := &countingWriter{header: make(http.Header)}
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
	b.ReportMetric(float64(w.n)/float64(b.N), "bytes/op")
}

// countingWriter is a ResponseWriter that keeps nothing but a count, so
// that a benchmark measures the handler rather than a recorder's buffer.
type countingWriter struct {
	header http.Header
	n      int
}

func (w *countingWriter) Header() http.Header         { return w.header }
func (w *countingWriter) WriteHeader(int)             {}
func (w *countingWriter) Flush()                      {}
func (w *countingWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

// BenchmarkAnswer measures a small answer (POST /data's), the encoding
// that every write pays.
func BenchmarkAnswer(b *testing.B) {
	rec := httptest.NewRecorder()
	for b.Loop() {
		rec.Body.Reset()
		writeOK(rec, true)
	}
}
