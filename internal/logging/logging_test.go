package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLineHandler(t *testing.T) {
	tests := []struct {
		name string
		log  func(l *slog.Logger)
		want string
	}{
		{
			name: "original start-up line",
			log:  func(l *slog.Logger) { Actor(l, "BLOCKCHAIN").Info("Node X live on 0.0.0.0:15001") },
			want: "[INFO]: BLOCKCHAIN-Node X live on 0.0.0.0:15001\n",
		},
		{
			name: "actor as a record attribute",
			log:  func(l *slog.Logger) { l.Info("RPC server waiting for connections", AttrActor, "RPC_SERVER") },
			want: "[INFO]: RPC_SERVER-RPC server waiting for connections\n",
		},
		{
			name: "no actor",
			log:  func(l *slog.Logger) { l.Info("hello") },
			want: "[INFO]: NODE-hello\n",
		},
		{
			name: "levels use Python's names",
			log: func(l *slog.Logger) {
				l.Debug("d")
				l.Info("i")
				l.Warn("w")
				l.Error("e")
				l.Log(context.Background(), slog.LevelWarn+2, "between")
			},
			want: "[DEBUG]: NODE-d\n[INFO]: NODE-i\n[WARNING]: NODE-w\n[ERROR]: NODE-e\n[WARNING]: NODE-between\n",
		},
		{
			name: "attributes follow, quoted when needed",
			log: func(l *slog.Logger) {
				Actor(l, "PROTOCOL_PROCESSOR").Info("peer added", "peer", "01cf", "port", 9803, "host", "a b", "empty", "", "ok", true)
			},
			want: `[INFO]: PROTOCOL_PROCESSOR-peer added peer=01cf port=9803 host="a b" empty="" ok=true` + "\n",
		},
		{
			name: "attributes from With keep their order before record attributes",
			log: func(l *slog.Logger) {
				l = Actor(l.With("node", "A"), "BLOCKCHAIN").With("n", 1)
				l.Info("block added", "index", 7)
			},
			want: "[INFO]: BLOCKCHAIN-block added node=A n=1 index=7\n",
		},
		{
			name: "record actor overrides the With actor",
			log:  func(l *slog.Logger) { Actor(l, "BLOCKCHAIN").Info("x", AttrActor, "HTTP_SERVER") },
			want: "[INFO]: HTTP_SERVER-x\n",
		},
		{
			name: "groups give dotted keys and an actor inside a group is not the actor",
			log: func(l *slog.Logger) {
				l.WithGroup("req").With("method", "GET", AttrActor, "X").Info("served",
					slog.Group("resp", "status", 200), slog.Group("empty"))
			},
			want: "[INFO]: NODE-served req.method=GET req.actor=X req.resp.status=200\n",
		},
		{
			name: "errors, values with '=' or quotes, and LogValuers",
			log: func(l *slog.Logger) {
				l.Error("failed", "err", errors.New("dial tcp: refused"), "eq", "a=b", "q", `say "hi"`, "lv", lazy("resolved"))
			},
			want: `[ERROR]: NODE-failed err="dial tcp: refused" eq="a=b" q="say \"hi\"" lv=resolved` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(slog.New(NewLineHandler(&buf, &LineOptions{Level: slog.LevelDebug})))
			if got := buf.String(); got != tt.want {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

type lazy string

func (s lazy) LogValue() slog.Value { return slog.StringValue(string(s)) }

func TestLineHandlerLevelAndTime(t *testing.T) {
	var buf bytes.Buffer
	h := NewLineHandler(&buf, &LineOptions{Level: slog.LevelWarn, Time: true})
	l := slog.New(h)
	l.Info("dropped")
	at := time.Date(2018, 6, 2, 12, 42, 13, 860551000, time.Local)
	r := slog.NewRecord(at, slog.LevelWarn, "kept", 0)
	if err := h.Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), "2018-06-02 12:42:13,860 [WARNING]: NODE-kept\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestNew(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(&buf, "", slog.LevelInfo)
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	Actor(l, "BLOCKCHAIN").Debug("hidden")
	Actor(l, "BLOCKCHAIN").Info("Setting up naive chain server")
	after := time.Now()
	// The text format stamps the time, then keeps the original's shape.
	m := regexp.MustCompile(`^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) (\[INFO\]: BLOCKCHAIN-Setting up naive chain server\n)$`).FindStringSubmatch(buf.String())
	if m == nil {
		t.Fatalf("text: got %q, want a time and then the original's line", buf.String())
	}
	at, err := time.ParseInLocation("2006-01-02 15:04:05", m[1], time.Local)
	if err != nil {
		t.Fatal(err)
	}
	if at.Before(before.Truncate(time.Second)) || at.After(after) {
		t.Errorf("text: stamped %v, logged between %v and %v", at, before, after)
	}

	buf.Reset()
	l, err = New(&buf, "json", slog.LevelDebug)
	if err != nil {
		t.Fatal(err)
	}
	Actor(l, "BLOCKCHAIN").Debug("hi", "n", 1)
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("json: %v in %q", err, buf.String())
	}
	if rec["level"] != "DEBUG" || rec["msg"] != "hi" || rec[AttrActor] != "BLOCKCHAIN" || rec["n"] != 1.0 {
		t.Errorf("json record = %v", rec)
	}

	if _, err := New(&buf, "xml", slog.LevelInfo); err == nil {
		t.Error("New with format xml: want an error")
	}
}

// TestLineHandlerConcurrent checks that concurrent records never interleave
// within a line (run with -race).
func TestLineHandlerConcurrent(t *testing.T) {
	var buf bytes.Buffer
	base := slog.New(NewLineHandler(&buf, nil))
	const goroutines, each = 8, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		l := Actor(base, "A").With("g", g)
		wg.Go(func() {
			for i := range each {
				l.Info("msg", "i", i)
			}
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != goroutines*each {
		t.Fatalf("got %d lines, want %d", len(lines), goroutines*each)
	}
	for _, line := range lines {
		if !strings.HasPrefix(line, "[INFO]: A-msg g=") {
			t.Fatalf("mangled line %q", line)
		}
	}
}
