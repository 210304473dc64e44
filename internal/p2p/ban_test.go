package p2p

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/naivechain/naivechain/internal/wire"
)

// manualClock is a clock the test moves by hand.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func newManualClock() *manualClock {
	return &manualClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestDecayed(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tests := []struct {
		score float64
		after time.Duration
		want  float64
	}{
		{80, 0, 80},
		{80, -time.Second, 80}, // a clock that went back does not grow a score
		{80, 30 * time.Second, 80 / math.Sqrt2},
		{80, time.Minute, 40},
		{80, 2 * time.Minute, 20},
		{80, 10 * time.Minute, 80.0 / 1024},
	}
	for _, tt := range tests {
		if got := decayed(tt.score, t0, t0.Add(tt.after)); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("decayed(%v, after %v) = %v, want %v", tt.score, tt.after, got, tt.want)
		}
	}
}

func TestBanTable(t *testing.T) {
	t0 := time.Unix(1000, 0)
	bt := newBanTable(10*time.Minute, 16)

	if total, b, fresh := bt.penalize("p", 60, "first", t0); total != 60 || !b.Until.IsZero() || fresh {
		t.Fatalf("penalize 60 = %v %+v %v", total, b, fresh)
	}
	// A minute later 60 has decayed to 30: 90 does not ban.
	if total, b, _ := bt.penalize("p", 60, "second", t0.Add(time.Minute)); math.Abs(total-90) > 1e-9 || !b.Until.IsZero() {
		t.Fatalf("penalize 60 a minute later = %v %+v", total, b)
	}
	at := t0.Add(time.Minute)
	total, b, fresh := bt.penalize("p", 10, "third", at)
	want := Ban{ID: "p", Until: at.Add(10 * time.Minute), Reason: "third"}
	if total != 0 || b != want || !fresh {
		t.Fatalf("penalize to 100 = %v %+v %v, want a fresh %+v", total, b, fresh, want)
	}
	// A penalty during the ban keeps it as it is.
	if _, b, fresh := bt.penalize("p", 100, "late", at.Add(time.Minute)); b != want || fresh {
		t.Fatalf("penalize while banned = %+v %v, want %+v kept", b, fresh, want)
	}
	if got := bt.bans(at.Add(time.Minute)); !slices.Equal(got, []Ban{want}) {
		t.Fatalf("bans = %+v", got)
	}
	if _, banned := bt.ban("p", want.Until.Add(-time.Nanosecond)); !banned {
		t.Fatal("ban ended early")
	}
	if _, banned := bt.ban("p", want.Until); banned {
		t.Fatal("ban still in force at Until")
	}
	if got := bt.bans(want.Until); len(got) != 0 {
		t.Fatalf("bans after the end = %+v", got)
	}
	// The ban took the place of the score: the peer starts from zero.
	if total, _, _ := bt.penalize("p", 20, "again", want.Until); total != 20 {
		t.Fatalf("score after the ban = %v, want 20", total)
	}
	if _, b, fresh := bt.penalize("q", BanThreshold, "garbage", at); b.Until != at.Add(10*time.Minute) || !fresh {
		t.Fatalf("a penalty of BanThreshold did not ban at once: %+v", b)
	}
	if _, b, _ := bt.penalize("r", -50, "negative", at); !b.Until.IsZero() || bt.recs["r"].score != 0 {
		t.Fatal("a negative penalty lowered or banned")
	}
}

func TestBanTableIsBounded(t *testing.T) {
	const size = 8
	t0 := time.Unix(1000, 0)
	bt := newBanTable(time.Hour, size)
	// All banned: a new peer evicts the least recently penalised.
	for i := range size + 3 {
		bt.penalize(fmt.Sprintf("p%d", i), BanThreshold, "bad", t0.Add(time.Duration(i)*time.Second))
		if len(bt.recs) > size {
			t.Fatalf("%d records, bound %d", len(bt.recs), size)
		}
	}
	now := t0.Add(time.Minute)
	var ids []string
	for _, b := range bt.bans(now) {
		ids = append(ids, b.ID)
	}
	want := []string{"p10", "p3", "p4", "p5", "p6", "p7", "p8", "p9"}
	if !slices.Equal(ids, want) {
		t.Fatalf("bans kept %v, want %v", ids, want)
	}

	// Peers whose score decayed away go before any ban.
	bt = newBanTable(time.Hour, size)
	bt.penalize("banned", BanThreshold, "bad", t0)
	for i := range size - 1 {
		bt.penalize(fmt.Sprintf("minor%d", i), 10, "slip", t0.Add(time.Second))
	}
	bt.penalize("new", 10, "slip", t0.Add(30*time.Minute))
	if _, ok := bt.ban("banned", t0.Add(30*time.Minute)); !ok || len(bt.recs) != 2 {
		t.Fatalf("after eviction: %d records, banned kept: %v", len(bt.recs), ok)
	}
}

func TestPenalizeScoresDecayOnTheHostClock(t *testing.T) {
	clock := newManualClock()
	h := New(Config{Self: wire.PeerInfo{ID: "x", Host: "127.0.0.1", Port: "1"}, Genesis: testGenesis, Engine: "vote", Now: clock.Now})
	defer h.Close()
	if h.Penalize("p", 60, "slip") {
		t.Fatal("60 banned")
	}
	clock.Advance(time.Minute)
	if h.Penalize("p", 60, "slip") {
		t.Fatal("30 + 60 banned")
	}
	if !h.Penalize("p", 10, "one too many") {
		t.Fatal("90 + 10 did not ban")
	}
	if bans := h.Bans(); len(bans) != 1 || bans[0].ID != "p" || !bans[0].Until.Equal(clock.Now().Add(10*time.Minute)) {
		t.Fatalf("Bans() = %+v, want p for the default 10m", bans)
	}
	if h.Penalize("x", BanThreshold, "self") || len(h.Bans()) != 1 {
		t.Fatal("the host banned itself")
	}
}

// readReject reads until a Reject arrives and returns its reason.
func readReject(t *testing.T, r *rawPeer) string {
	t.Helper()
	for {
		m, err := r.read()
		if err != nil {
			t.Fatalf("connection closed without a Reject: %v", err)
		}
		if rej, ok := m.(*wire.Reject); ok {
			return rej.Reason
		}
	}
}

func TestPenaltyBelowThresholdOnlyDisconnects(t *testing.T) {
	a := startNode(t, "a", "", nil)
	r := dialRaw(t, a.port)
	r.handshake(t, "raw")
	waitFor(t, "raw connected", func() bool { return hasPeer(a.h, "raw") }, 10*time.Second)
	if a.h.Penalize("raw", 20, "stale message") {
		t.Fatal("a penalty of 20 banned")
	}
	if reason := readReject(t, r); reason != "stale message" {
		t.Fatalf("Reject reason %q", reason)
	}
	if err := r.readUntilClosed(t); websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
		t.Fatalf("closed with %v, want a policy close", err)
	}
	if hasPeer(a.h, "raw") {
		t.Fatal("raw still listed")
	}
	if m := dialRaw(t, a.port).handshake(t, "raw"); m.Type() != wire.TypeHello {
		t.Fatalf("reconnect answered %v, want Hello", m.Type())
	}
	if bans := a.h.Bans(); len(bans) != 0 {
		t.Fatalf("Bans() = %+v", bans)
	}
}

func TestBanRefusesThePeerUntilItEnds(t *testing.T) {
	clock := newManualClock()
	a := startNode(t, "a", "", func(c *Config) {
		c.Now = clock.Now
		c.BanDuration = 5 * time.Minute
		c.DeadAfter = 10 * time.Second // the watcher never pings
	})
	b := startNode(t, "b", "", nil)
	b.connect(t, a)
	watcher := dialRaw(t, a.port)
	watcher.handshake(t, "watcher")
	waitFor(t, "a connected to b and watcher", func() bool { return hasPeer(a.h, "b") && hasPeer(a.h, "watcher") }, 10*time.Second)

	if !a.h.Penalize("b", BanThreshold, "invalid block") {
		t.Fatal("a penalty of BanThreshold did not ban")
	}
	until := clock.Now().Add(5 * time.Minute)
	if hasPeer(a.h, "b") {
		t.Fatal("b still connected once banned")
	}
	want := []Ban{{ID: "b", Until: until, Reason: "invalid block"}}
	if got := a.h.Bans(); !slices.Equal(got, want) {
		t.Fatalf("Bans() = %+v, want %+v", got, want)
	}
	waitFor(t, "b sees the disconnection", func() bool { return !hasPeer(b.h, "a") }, 10*time.Second)

	// Gossip no longer names b: every Peers message queued after the ban
	// leaves it out.
	if !a.h.Send("watcher", &wire.Consensus{Payload: []byte("mark")}) {
		t.Fatal("Send to watcher failed")
	}
	for marked := false; ; {
		m, err := watcher.read()
		if err != nil {
			t.Fatal(err)
		}
		if c, ok := m.(*wire.Consensus); ok && string(c.Payload) == "mark" {
			marked = true
		}
		if p, ok := m.(*wire.Peers); ok && marked {
			if slices.ContainsFunc(p.Peers, func(p wire.PeerInfo) bool { return p.ID == "b" }) {
				t.Fatalf("gossip after the ban names b: %+v", p.Peers)
			}
			break
		}
	}

	// a does not redial b, though it still knows it.
	a.h.mu.Lock()
	skip := a.h.skipDial("b")
	a.h.mu.Unlock()
	if !skip || !slices.ContainsFunc(a.h.Known(), func(p wire.PeerInfo) bool { return p.ID == "b" }) {
		t.Fatalf("a would dial b (%v) or forgot it", !skip)
	}
	// Handshakes are refused both ways, and told why.
	_, err := b.h.Connect(context.Background(), "127.0.0.1", a.port, "a")
	wantWhy := "banned until " + until.Format(time.RFC3339) + ": invalid block"
	if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), wantWhy) {
		t.Fatalf("b dialing a: %v, want ErrRejected with %q", err, wantWhy)
	}
	if m := dialRaw(t, a.port).handshake(t, "b"); m.Type() != wire.TypeReject || !strings.Contains(m.(*wire.Reject).Reason, wantWhy) {
		t.Fatalf("raw handshake as b answered %+v", m)
	}
	if _, err := a.h.Connect(context.Background(), "127.0.0.1", b.port, "b"); !errors.Is(err, ErrBanned) {
		t.Fatalf("a dialing b by id: %v, want ErrBanned", err)
	}
	if _, err := a.h.Connect(context.Background(), "127.0.0.1", b.port, ""); !errors.Is(err, ErrBanned) {
		t.Fatalf("a dialing b's address: %v, want ErrBanned", err)
	}
	if hasPeer(a.h, "b") {
		t.Fatal("a banned peer got connected")
	}
	// b accepted a's dial to its address before a read b's Hello and
	// hung up: b drops the connection once it sees the close.
	waitFor(t, "b to drop the connection a hung up", func() bool { return !hasPeer(b.h, "a") }, 10*time.Second)

	// Once the ban is over, the peers find each other again.
	clock.Advance(5 * time.Minute)
	if bans := a.h.Bans(); len(bans) != 0 {
		t.Fatalf("Bans() after the ban = %+v", bans)
	}
	waitFor(t, "a and b connected again", func() bool { return hasPeer(a.h, "b") && hasPeer(b.h, "a") }, 10*time.Second)
}

func TestBanLogged(t *testing.T) {
	var logs lockedBuffer
	a := startNode(t, "a", "", func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	a.h.Penalize("b", BanThreshold, "garbage")
	if !strings.Contains(logs.String(), `level=WARN msg="peer banned" actor=RPC_SERVER id=b until=`) ||
		!strings.Contains(logs.String(), `reason=garbage`) {
		t.Fatalf("ban not logged at warn:\n%s", logs.String())
	}
}
