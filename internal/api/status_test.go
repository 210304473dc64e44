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
		Members: []Member{{ID: "a", Host: "h1", Port: "15001", Voter: true}, {ID: "b", Host: "h2", Port: "15003"}},
		Bans:    []Ban{{ID: "m", Until: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), Reason: "invalid consensus message"}}}
	srv := httptest.NewServer(NewHandler(f, Options{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/status")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := `{"status": "OK", "data": {"engine": "vote", "role": "leader", "leader": "a", "term": 3, "pending": 1, "members": [{"id": "a", "host": "h1", "port": "15001", "voter": true}, {"id": "b", "host": "h2", "port": "15003", "voter": false}], "bans": [{"id": "m", "until": "2030-01-02T03:04:05Z", "reason": "invalid consensus message"}]}}` + "\n"
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
