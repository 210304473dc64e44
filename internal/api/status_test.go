package api

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestStatus(t *testing.T) {
	f := newFake()
	f.status = Status{Engine: "vote", Role: "leader", Leader: "a", Term: 3, Pending: 1,
		Members: []Member{{ID: "a", Host: "h1", Port: "15001", Voter: true, Reachable: true, Since: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
			{ID: "b", Host: "h2", Port: "15003", Since: time.Date(2030, 1, 2, 3, 4, 5, 600, time.UTC)}},
		Bans: []Ban{{ID: "m", Until: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), Reason: "invalid consensus message"}}}
	srv := httptest.NewServer(NewHandler(f, Options{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/status")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := `{"status": "OK", "data": {"engine": "vote", "role": "leader", "leader": "a", "term": 3, "pending": 1, "members": [{"id": "a", "host": "h1", "port": "15001", "voter": true, "reachable": true, "since": "2030-01-01T00:00:00Z"}, {"id": "b", "host": "h2", "port": "15003", "voter": false, "reachable": false, "since": "2030-01-02T03:04:05.0000006Z"}], "bans": [{"id": "m", "until": "2030-01-02T03:04:05Z", "reason": "invalid consensus message"}]}}` + "\n"
	if resp.StatusCode != 200 || string(body) != want {
		t.Fatalf("GET /status = %d %s\nwant %s", resp.StatusCode, body, want)
	}

	// With nothing to list, members and bans are empty lists, not null.
	f.status = Status{Engine: "vote", Role: "joining"}
	resp, err = http.Get(srv.URL + "/status")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	want = `{"status": "OK", "data": {"engine": "vote", "role": "joining", "leader": "", "term": 0, "pending": 0, "members": [], "bans": []}}` + "\n"
	if resp.StatusCode != 200 || string(body) != want {
		t.Fatalf("GET /status = %d %s\nwant %s", resp.StatusCode, body, want)
	}

	f.statusErr = errors.New("node stopping")
	resp, err = http.Get(srv.URL + "/status")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || string(body) != `{"status": "ERROR", "error": "node stopping"}`+"\n" {
		t.Fatalf("GET /status on error = %d %s", resp.StatusCode, body)
	}
}

// TestHealthAndReady: /health answers 200 whatever the node's state;
// /ready answers 200, or 503 with the backend's reason.
func TestHealthAndReady(t *testing.T) {
	f := newFake()
	h := NewHandler(f, Options{})
	for _, notReady := range []error{nil, errors.New("no leader; no quorum: 1 of 3 voters reachable, 2 needed")} {
		f.notReady = notReady
		if rec := do(t, h, "GET", "/health", ""); rec.Code != 200 || rec.Body.String() != `{"status": "OK", "data": true}`+"\n" {
			t.Fatalf("GET /health = %d %s", rec.Code, rec.Body)
		}
		code, want := 200, `{"status": "OK", "data": true}`+"\n"
		if notReady != nil {
			code, want = 503, `{"status": "ERROR", "error": "no leader; no quorum: 1 of 3 voters reachable, 2 needed"}`+"\n"
		}
		if rec := do(t, h, "GET", "/ready", ""); rec.Code != code || rec.Body.String() != want {
			t.Fatalf("GET /ready = %d %s, want %d %s", rec.Code, rec.Body, code, want)
		}
	}
	if rec := do(t, h, "POST", "/ready", ""); rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST /ready = %d", rec.Code)
	}
}
