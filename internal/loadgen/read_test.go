package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestReadMix: with Reads 25 a quarter of the requests GET the read path
// with ?consistent=true, counted apart from the writes; a read answered
// 503 is an error of its kind.
func TestReadMix(t *testing.T) {
	var gets, consistent, posts atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost {
			posts.Add(1)
			_, _ = w.Write([]byte(`{"status": "OK", "data": true}`))
			return
		}
		if r.URL.Path != "/blocks" || r.URL.Query().Get("limit") != "1" {
			t.Errorf("read of %s", r.URL)
		}
		if r.URL.Query().Get("consistent") == "true" {
			consistent.Add(1)
		}
		if gets.Add(1)%10 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status": "ERROR", "error": "no leader"}`))
			return
		}
		_, _ = w.Write([]byte(`{"status":"OK","data":[{"index":0}]}`))
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Config{Targets: []string{srv.URL}, Clients: 4, Count: 200, Duration: time.Minute, Size: 8,
		Reads: 25, ReadPath: "/blocks?limit=1", Consistent: true})
	if err != nil {
		t.Fatal(err)
	}
	rr := res.Reads
	if rr == nil || rr.Sent != 50 || rr.OK != 45 || rr.Errors["http_503"] != 5 || rr.ErrorsTotal != 5 {
		t.Fatalf("reads %+v, want 50 sent, 45 ok, 5 http_503", rr)
	}
	if res.Sent != 150 || res.Acknowledged != 150 || posts.Load() != 150 {
		t.Fatalf("writes: sent %d, acknowledged %d, posted %d; want 150", res.Sent, res.Acknowledged, posts.Load())
	}
	if consistent.Load() != 50 || rr.Path != "/blocks?limit=1&consistent=true" || !rr.Consistent {
		t.Fatalf("%d consistent reads, path %q", consistent.Load(), rr.Path)
	}
	var table strings.Builder
	if err := res.WriteTable(&table); err != nil || !strings.Contains(table.String(), "reads/s") || !strings.Contains(table.String(), "read latency p99") {
		t.Fatalf("table without the reads: %v\n%s", err, table.String())
	}
}

// TestIsRead: Reads of every 100 requests are reads, spread evenly.
func TestIsRead(t *testing.T) {
	for _, p := range []int{0, 1, 25, 50, 99, 100} {
		r := &run{cfg: Config{Reads: p}}
		n, run := 0, 0
		for i := int64(1); i <= 1000; i++ {
			if r.isRead(i) {
				n++
				run++
			} else {
				run = 0
			}
			if p <= 50 && run > 1 {
				t.Fatalf("reads %d%%: two reads in a row at %d", p, i)
			}
		}
		if n != 10*p {
			t.Fatalf("reads %d%%: %d of 1000", p, n)
		}
	}
}
