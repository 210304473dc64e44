package node

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// getJSON GETs url and decodes its body into v; it returns the status.
func getJSON(t *testing.T, c *http.Client, url string, v any) int {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v: %s", url, err, body)
	}
	return resp.StatusCode
}

// chainData is GET /data's body.
type chainData struct {
	Status string `json:"status"`
	Data   []struct {
		Data string `json:"data"`
	} `json:"data"`
	Error string `json:"error"`
}

// TestConsistentReadSeesEveryAcknowledgedWrite: on a three-node network,
// a write acknowledged by one node is in the answer of a consistent read
// asked of another node right after, whichever nodes they are, leader or
// not; GET /node?consistent=true counts it too.
func TestConsistentReadSeesEveryAcknowledgedWrite(t *testing.T) {
	a := start(t, Config{})
	b := joiner(t, a, Config{})
	c := joiner(t, a, Config{})
	nodes := []*running{a, b, c}
	waitFor(t, "3 voters", func() bool { return voters(a) == 3 && voters(b) == 3 && voters(c) == 3 })
	client := &http.Client{Timeout: time.Minute}
	for i := range 30 {
		writer, reader := nodes[i%3], nodes[(i+1+i/3)%3]
		if writer == reader {
			reader = nodes[(i+2)%3]
		}
		value := fmt.Sprintf("read-%d", i)
		resp, err := client.Post(writer.HTTPURL()+"/data", "application/json", strings.NewReader(`{"data":"`+value+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		ack, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("write %d on %s: %d %s", i, writer.ID(), resp.StatusCode, ack)
		}
		var got chainData
		if code := getJSON(t, client, reader.HTTPURL()+"/data?consistent=true", &got); code != 200 {
			t.Fatalf("consistent read %d on %s: %d %s", i, reader.ID(), code, got.Error)
		}
		if !slices.ContainsFunc(got.Data, func(d struct {
			Data string `json:"data"`
		}) bool {
			return d.Data == `"`+value+`"`
		}) {
			t.Fatalf("write %d acknowledged by %s is missing from the consistent read of %s (%d blocks)", i, writer.ID(), reader.ID(), len(got.Data))
		}
		var info struct {
			Data struct {
				DataCount int `json:"data_count"`
			} `json:"data"`
		}
		if code := getJSON(t, client, reader.HTTPURL()+"/node?consistent=1", &info); code != 200 || info.Data.DataCount < i+2 {
			t.Fatalf("GET /node?consistent=1 on %s after %d writes: %d, data_count %d", reader.ID(), i+1, code, info.Data.DataCount)
		}
	}
}

// TestConsistentReadWithoutMajority: a node whose peers are gone answers
// a consistent read 503 (no leader, or no quorum in time) and a local read
// 200.
func TestConsistentReadWithoutMajority(t *testing.T) {
	a := start(t, Config{WriteTimeout: 2 * time.Second})
	b := joiner(t, a, Config{})
	c := joiner(t, a, Config{})
	waitFor(t, "3 voters", func() bool { return voters(a) == 3 })
	b.halt(t)
	c.halt(t)
	client := &http.Client{Timeout: time.Minute}
	var got chainData
	if code := getJSON(t, client, a.HTTPURL()+"/data?consistent=true", &got); code != 503 || got.Status != "ERROR" ||
		!(strings.Contains(got.Error, "no leader") || strings.Contains(got.Error, "no quorum")) {
		t.Fatalf("consistent read without a majority: %d %+v", code, got)
	}
	if code := getJSON(t, client, a.HTTPURL()+"/data", &got); code != 200 || len(got.Data) != 1 {
		t.Fatalf("local read without a majority: %d, %d blocks", code, len(got.Data))
	}
}

// TestConsistentReadOnPoW: a pow node refuses consistent reads with a 400
// that says why; a bad value is a 400 on a vote node too.
func TestConsistentReadOnPoW(t *testing.T) {
	p := start(t, powConfig(false))
	v := start(t, Config{})
	client := &http.Client{Timeout: time.Minute}
	var got chainData
	if code := getJSON(t, client, p.HTTPURL()+"/data?consistent=true", &got); code != 400 || !strings.Contains(got.Error, "need the vote engine") {
		t.Fatalf("pow consistent read: %d %+v", code, got)
	}
	if code := getJSON(t, client, p.HTTPURL()+"/data", &got); code != 200 {
		t.Fatalf("pow local read: %d", code)
	}
	if code := getJSON(t, client, v.HTTPURL()+"/blocks?consistent=maybe", &got); code != 400 {
		t.Fatalf("bad consistent value: %d %+v", code, got)
	}
	if code := getJSON(t, client, v.HTTPURL()+"/blocks?consistent=true", &got); code != 200 {
		t.Fatalf("a lone vote node's consistent read: %d %+v", code, got)
	}
}
