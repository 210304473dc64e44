package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRootServesOnlyItsPaths checks that Options.Root gets GET / and the
// paths under /ui/, and that everything else keeps the API's JSON answers.
func TestRootServesOnlyItsPaths(t *testing.T) {
	root := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("root " + r.URL.Path))
	})
	h := NewHandler(newFake(), Options{Root: root})
	for _, tt := range []struct {
		method, target string
		code           int
		body           string
	}{
		{"GET", "/", 200, "root /"},
		{"GET", "/ui/app.js", 200, "root /ui/app.js"},
		{"GET", "/?x=1", 200, "root /"},
		{"POST", "/", 405, `"error"`},
		{"PUT", "/ui/app.js", 405, `"error"`},
		{"GET", "/index.html", 404, `"not found"`},
		{"GET", "/ui", 404, `"not found"`},
		{"GET", "/ui/", 404, `"not found"`},
		{"GET", "/ui/a/b", 404, `"not found"`},
		{"GET", "/node", 200, `"peer_id"`},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, loopbackRequest(tt.method, tt.target, nil))
		if rec.Code != tt.code || !strings.Contains(rec.Body.String(), tt.body) {
			t.Errorf("%s %s = %d %s, want %d with %s", tt.method, tt.target, rec.Code, rec.Body, tt.code, tt.body)
		}
		if tt.code != 200 && rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: Content-Type %q, want JSON", tt.method, tt.target, rec.Header().Get("Content-Type"))
		}
	}
}
