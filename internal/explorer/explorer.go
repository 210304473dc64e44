package explorer

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
)

// AssetPrefix is the path under which the page's script, style sheet and
// icon are served; the page itself is served at "/".
const AssetPrefix = "/ui/"

// ContentSecurityPolicy is sent with every file: the page may load and
// connect to its own origin only, may not be framed (clickjacking a write
// form), and runs no inline script or style.
const ContentSecurityPolicy = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

//go:embed static
var static embed.FS

// file is one served file, read once at start.
type file struct {
	body        []byte
	contentType string
	etag        string
}

// files maps each served path to its file.
var files = map[string]file{
	"/":                      load("static/index.html", "text/html; charset=utf-8"),
	AssetPrefix + "app.js":   load("static/app.js", "text/javascript; charset=utf-8"),
	AssetPrefix + "app.css":  load("static/app.css", "text/css; charset=utf-8"),
	AssetPrefix + "icon.svg": load("static/icon.svg", "image/svg+xml"),
}

func load(name, contentType string) file {
	b, err := static.ReadFile(name)
	if err != nil {
		panic("explorer: missing embedded file " + name) // a build without it is broken
	}
	sum := sha256.Sum256(b)
	return file{body: b, contentType: contentType, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

// Paths returns the paths Handler serves, the page first.
func Paths() []string {
	return []string{"/", AssetPrefix + "app.js", AssetPrefix + "app.css", AssetPrefix + "icon.svg"}
}

// Handler returns the handler of the page and its assets. Every file is
// revalidated on each load (Cache-Control: no-cache with an ETag), so a node
// upgraded in place never serves a stale script with a new page; a 304
// costs one small round trip. Any other path gets the API's JSON 404, and
// any method but GET and HEAD a JSON 405.
func Handler() http.Handler {
	return http.HandlerFunc(serve)
}

func serve(w http.ResponseWriter, r *http.Request) {
	f, ok := files[r.URL.Path]
	h := w.Header()
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	switch {
	case !ok:
		jsonError(w, http.StatusNotFound, "not found")
		return
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		h.Set("Allow", "GET, HEAD")
		jsonError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed; use GET")
		return
	}
	h.Set("Content-Type", f.contentType)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", f.etag)
	if matchesETag(r.Header.Get("If-None-Match"), f.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(f.body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(f.body) // a failed write means the client is gone
}

// matchesETag reports whether an If-None-Match header names etag.
func matchesETag(header, etag string) bool {
	for v := range strings.SplitSeq(header, ",") {
		v = strings.TrimPrefix(strings.TrimSpace(v), "W/")
		if v == etag || v == "*" {
			return true
		}
	}
	return false
}

// jsonError answers as the API answers an error, so that a client cannot
// tell the page's 404 from the API's.
func jsonError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"status": "ERROR", "error": "` + msg + `"}` + "\n"))
}
