package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestGuarded checks the answers to a browser's cross-site request and to
// a DNS rebinding (a Host that is a name the node was not told), and that
// clients addressing the node as they always did pass.
func TestGuarded(t *testing.T) {
	for _, tt := range []struct {
		name, host, origin string
		vhosts             []string
		code               int
		want               string
	}{
		{"loopback address", "127.0.0.1:15002", "", nil, 200, ""},
		{"localhost", "localhost:15002", "", nil, 200, ""},
		{"IPv6", "[::1]:15002", "", nil, 200, ""},
		{"another IP", "192.0.2.7:15002", "", nil, 200, ""},
		{"the explorer's own page", "127.0.0.1:15002", "http://127.0.0.1:15002", nil, 200, ""},
		{"rebound name", "attacker.example:15002", "http://attacker.example:15002", nil, 403, "attacker.example:15002"},
		{"name given", "node1.example:15002", "", []string{"node1.example"}, 200, ""},
		{"name given, other case", "NODE1.example.:15002", "", []string{"node1.example"}, 200, ""},
		{"any name", "attacker.example", "", []string{"*"}, 200, ""},
		{"cross-site page", "127.0.0.1:15002", "http://attacker.example", nil, 403, "cross-origin request refused"},
		{"cross-site page, any name", "127.0.0.1:15002", "https://attacker.example", []string{"*"}, 403, "cross-origin request refused"},
		{"another port", "127.0.0.1:15002", "http://127.0.0.1:15004", nil, 403, "cross-origin"},
		{"sandboxed page", "127.0.0.1:15002", "null", nil, 403, "cross-origin"},
		{"empty host", "", "", nil, 403, "is not one"},
		{"control characters", "a\x01b", "", nil, 403, "a?b"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			for _, method := range []string{"GET", "POST"} {
				target, body := "/node", ""
				if method == "POST" {
					target, body = "/data", `{"data": "x"}`
				}
				req := httptest.NewRequest(method, target, strings.NewReader(body))
				req.Host = tt.host
				if tt.origin != "" {
					req.Header.Set("Origin", tt.origin)
				}
				rec := httptest.NewRecorder()
				NewHandler(f, Options{VHosts: tt.vhosts}).ServeHTTP(rec, req)
				if rec.Code != tt.code || !strings.Contains(rec.Body.String(), tt.want) {
					t.Errorf("%s %s: %d %s, want %d with %q", method, target, rec.Code, rec.Body, tt.code, tt.want)
				}
			}
			f.mu.Lock()
			n := len(f.chain)
			f.mu.Unlock()
			if want := 1 + btoi(tt.code == http.StatusOK); n != want {
				t.Errorf("chain of %d blocks after the POST, want %d", n, want)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
