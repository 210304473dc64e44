package node

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/naivechain/naivechain/internal/api"
)

// getJSON GETs path from n's API and returns the status code and body.
func getRaw(t *testing.T, n *running, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(n.HTTPURL() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// statusOf is n's GET /status, through the Backend.
func statusOf(t *testing.T, n *running) api.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := n.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// memberOf finds id among st's members.
func memberOf(st api.Status, id string) (api.Member, bool) {
	for _, m := range st.Members {
		if m.ID == id {
			return m, true
		}
	}
	return api.Member{}, false
}

// TestReadyLostMajority: a 3-node vote network is ready on every node and
// shows every member reachable; once two members stop, the last one's
// GET /ready answers 503 with a reason naming the leader or the quorum,
// and its GET /status shows the two unreachable, while GET /health stays
// 200 and /node's health (the chain's validity) stays true.
func TestReadyLostMajority(t *testing.T) {
	a := start(t, Config{})
	b := joiner(t, a, Config{})
	c := joiner(t, a, Config{})
	nodes := []*running{a, b, c}
	for _, n := range nodes {
		waitFor(t, "3 voters on "+n.ID(), func() bool { return voters(n) == 3 })
	}
	for _, n := range nodes {
		waitFor(t, n.ID()+" ready", func() bool {
			code, body := getRaw(t, n, "/ready")
			return code == 200 && body == `{"status": "OK", "data": true}`+"\n"
		})
		waitFor(t, "every member reachable from "+n.ID(), func() bool {
			st := statusOf(t, n)
			for _, m := range st.Members {
				if !m.Reachable || m.Since.IsZero() {
					return false
				}
			}
			return len(st.Members) == 3
		})
	}
	stoppedAt := time.Now().Round(0) // wall clock, as Since is
	b.halt(t)
	c.halt(t)
	var reason string
	waitFor(t, "a not ready", func() bool {
		code, body := getRaw(t, a, "/ready")
		var ans struct{ Status, Error string }
		if code != http.StatusServiceUnavailable || json.Unmarshal([]byte(body), &ans) != nil || ans.Status != "ERROR" {
			return false
		}
		reason = ans.Error
		return true
	})
	if !strings.Contains(reason, "1 of 3 voters reachable") || !strings.Contains(reason, "leader") && !strings.Contains(reason, "quorum") {
		t.Fatalf("GET /ready reason %q, want one naming the leader or the quorum and 1 of 3 voters reachable", reason)
	}
	st := statusOf(t, a)
	for _, n := range []*running{b, c} {
		m, ok := memberOf(st, n.ID())
		if !ok || m.Reachable || m.Since.Before(stoppedAt) {
			t.Fatalf("member %s on a's /status: %+v (listed %v), want unreachable since it stopped", n.ID(), m, ok)
		}
	}
	if m, _ := memberOf(st, a.ID()); !m.Reachable {
		t.Fatalf("a does not show itself reachable: %+v", m)
	}
	if code, body := getRaw(t, a, "/health"); code != 200 || body != `{"status": "OK", "data": true}`+"\n" {
		t.Fatalf("GET /health = %d %s", code, body)
	}
	if !a.Info().Health {
		t.Fatal("/node health false on a valid chain that lost its majority")
	}
}

// TestStatusFollowsRestartedMemberPort: a member restarted on another
// port is shown at its new address once it has connected (and so proved
// its id) there, not at the one it joined with.
func TestStatusFollowsRestartedMemberPort(t *testing.T) {
	dirB := t.TempDir()
	a := start(t, Config{DataDir: t.TempDir()})
	b := joiner(t, a, Config{DataDir: dirB})
	waitFor(t, "2 voters", func() bool { return voters(a) == 2 })
	idB, oldPort := b.ID(), strconv.Itoa(b.Port())
	b.halt(t)
	b2 := start(t, Config{DataDir: dirB}) // a new free port
	newPort := strconv.Itoa(b2.Port())
	if newPort == oldPort {
		t.Skip("the system gave the same port again")
	}
	waitFor(t, "a to show b at its new port", func() bool {
		m, ok := memberOf(statusOf(t, a), idB)
		return ok && m.Reachable && m.Port == newPort
	})
}

// TestReadyPoW: a pow node that mines and has no peers is ready; one
// that neither mines nor has peers says why it is not.
func TestReadyPoW(t *testing.T) {
	miner := start(t, powConfig(true))
	waitFor(t, "the miner ready", func() bool { code, _ := getRaw(t, miner, "/ready"); return code == 200 })
	idle := start(t, powConfig(false))
	code, body := getRaw(t, idle, "/ready")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "no peers and not mining") {
		t.Fatalf("GET /ready of a lone non-mining pow node = %d %s", code, body)
	}
}
