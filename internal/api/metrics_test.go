package api

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestObserveRequestLabelsByRoute: every request is counted once under
// the pattern that matched it, never its raw path, with the status the
// client got.
func TestObserveRequestLabelsByRoute(t *testing.T) {
	seen := map[string]int{}
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, "{}") // no WriteHeader: the status is the implicit 200
	})
	h := NewHandler(newFake(), Options{Metrics: metrics, ObserveRequest: func(route string, code int) {
		seen[fmt.Sprintf("%s %d", route, code)]++
	}})
	for _, target := range []string{"/blocks/1", "/blocks/2" /* past the fake's tip: 404 */, "/blocks/x", "/node", "/metrics", "/no/such/path", "/another"} {
		do(t, h, "GET", target, "")
	}
	do(t, h, "DELETE", "/node", "")
	want := map[string]int{
		"/blocks/{index} 404": 2, "/blocks/{index} 400": 1, "/node 200": 1, "/node 405": 1,
		"/metrics 200": 1, "/ 404": 2,
	}
	if !maps.Equal(seen, want) {
		t.Fatalf("observed %v\nwant %v", seen, want)
	}
}

// TestNoMetricsRouteWithoutHandler: without Options.Metrics, /metrics is
// an unknown path like any other.
func TestNoMetricsRouteWithoutHandler(t *testing.T) {
	if rec := do(t, NewHandler(newFake(), Options{}), "GET", "/metrics", ""); rec.Code != http.StatusNotFound {
		t.Fatalf("GET /metrics: %d, want 404", rec.Code)
	}
}

// TestStatusWriterUnwraps: the handlers' deadlines and flushes reach the
// connection through the status writer.
func TestStatusWriterUnwraps(t *testing.T) {
	rec := httptest.NewRecorder()
	sw := &statusWriter{ResponseWriter: rec}
	if err := http.NewResponseController(sw).Flush(); err != nil {
		t.Fatalf("Flush through the status writer: %v", err)
	}
	if !rec.Flushed || sw.code() != http.StatusOK {
		t.Fatalf("flushed %v, code %d", rec.Flushed, sw.code())
	}
}
