package explorer

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func get(t *testing.T, method, path string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	w := httptest.NewRecorder()
	Handler().ServeHTTP(w, req)
	return w
}

// TestServesEachFileWithItsTypeAndPolicy checks what a browser relies on:
// the Content-Type (nosniff makes a wrong one fatal), the
// Content-Security-Policy, and revalidation by ETag.
func TestServesEachFileWithItsTypeAndPolicy(t *testing.T) {
	types := map[string]string{
		"/":            "text/html; charset=utf-8",
		"/ui/app.js":   "text/javascript; charset=utf-8",
		"/ui/app.css":  "text/css; charset=utf-8",
		"/ui/icon.svg": "image/svg+xml",
	}
	for _, path := range Paths() {
		w := get(t, http.MethodGet, path, nil)
		if w.Code != http.StatusOK || w.Body.Len() == 0 {
			t.Fatalf("GET %s: %d, %d bytes", path, w.Code, w.Body.Len())
		}
		h := w.Header()
		if got := h.Get("Content-Type"); got != types[path] {
			t.Errorf("GET %s: Content-Type %q, want %q", path, got, types[path])
		}
		if got := h.Get("Content-Security-Policy"); !strings.HasPrefix(got, "default-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", path, got)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s: headers %v", path, h)
		}
		again := get(t, http.MethodGet, path, http.Header{"If-None-Match": {h.Get("ETag")}})
		if again.Code != http.StatusNotModified || again.Body.Len() != 0 {
			t.Errorf("GET %s with its ETag: %d, %d bytes; want 304 and no body", path, again.Code, again.Body.Len())
		}
		head := get(t, http.MethodHead, path, nil)
		if head.Code != http.StatusOK || head.Body.Len() != 0 {
			t.Errorf("HEAD %s: %d, %d bytes", path, head.Code, head.Body.Len())
		}
	}
}

func TestRefusesOtherPathsAndMethodsInJSON(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		code         int
	}{
		{http.MethodGet, "/ui/", 404},
		{http.MethodGet, "/ui/nope.js", 404},
		{http.MethodGet, "/index.html", 404},
		{http.MethodPost, "/", 405},
		{http.MethodDelete, "/ui/app.js", 405},
	} {
		w := get(t, tc.method, tc.path, nil)
		if w.Code != tc.code || w.Header().Get("Content-Type") != "application/json" || !strings.Contains(w.Body.String(), `"status": "ERROR"`) {
			t.Errorf("%s %s: %d %q %s; want %d and a JSON error", tc.method, tc.path, w.Code, w.Header().Get("Content-Type"), w.Body, tc.code)
		}
	}
}

// svgNamespace is the one absolute URL the files may hold: an XML
// namespace name, which identifies SVG and is never fetched.
const svgNamespace = "http://www.w3.org/2000/svg"

// TestNoExternalURL keeps the page offline: no script, style, font or
// image from another origin, and no absolute URL at all, so that nothing
// can point elsewhere.
func TestNoExternalURL(t *testing.T) {
	abs := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}|https?://`)
	for _, path := range Paths() {
		body := strings.ReplaceAll(get(t, http.MethodGet, path, nil).Body.String(), svgNamespace, "")
		for _, m := range abs.FindAllStringIndex(body, -1) {
			t.Errorf("%s holds an absolute URL: %q", path, body[max(0, m[0]-20):min(len(body), m[1]+40)])
		}
		if strings.Contains(body, "@import") || strings.Contains(body, "url(") {
			t.Errorf("%s loads a resource from CSS", path)
		}
	}
}

// TestPageReferencesOnlyServedFiles checks that every src and href of the
// page is served here or is a route inside the page.
func TestPageReferencesOnlyServedFiles(t *testing.T) {
	page := get(t, http.MethodGet, "/", nil).Body.String()
	refs := regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 3 {
		t.Fatalf("found only %d references in the page", len(refs))
	}
	for _, r := range refs {
		if ref := r[1]; !strings.HasPrefix(ref, "#/") && !slices.Contains(Paths(), ref) {
			t.Errorf("the page references %q, which is not served", ref)
		}
	}
}
