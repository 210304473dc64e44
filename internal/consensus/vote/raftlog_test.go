package vote

import (
	"bytes"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/logging"
	"github.com/naivechain/naivechain/internal/store"
)

func TestRaftLoggerNamesNodes(t *testing.T) {
	const known, other = 0x4a843fa3218e7840, 0x26c174921030980
	r := raftLogger{name: func(id uint64) string {
		if id == known {
			return "node-a"
		}
		return ""
	}}
	tests := []struct{ in, want string }{
		{"4a843fa3218e7840 became leader at term 2", "node-a became leader at term 2"},
		{fmt.Sprintf("switched to configuration voters=(%d)", uint64(known)), "switched to configuration voters=(node-a)"},
		{"4a843fa3218e7840 [logterm: 1, index: 3] sent MsgVote request to 26c174921030980 at term 2",
			"node-a [logterm: 1, index: 3] sent MsgVote request to raft:26c174921030980 at term 2"},
		{fmt.Sprintf("voters=(%d %d)", uint64(known), uint64(other)), fmt.Sprintf("voters=(node-a raft:%d)", uint64(other))},
		{"commit 12345 term 7 index 1000000", "commit 12345 term 7 index 1000000"},
	}
	for _, tt := range tests {
		if got := r.nodeIDs(tt.in); got != tt.want {
			t.Errorf("nodeIDs(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

func TestRaftLoggerLevels(t *testing.T) {
	var buf bytes.Buffer
	r := raftLogger{l: slog.New(logging.NewLineHandler(&buf, &logging.LineOptions{Level: slog.LevelDebug}))}
	r.Warningf("%x cannot campaign at term %d since there are still pending configuration changes to apply", uint64(0x4a843fa3218e7840), 1)
	r.Warningf("%x is unpromotable and can not campaign", uint64(0x4a843fa3218e7840))
	r.Infof("%x became follower at term %d", uint64(0x4a843fa3218e7840), 1)
	r.Warningf("%x stepped down to follower since quorum is not active", uint64(0x4a843fa3218e7840))
	r.Errorf("boom")
	want := "[DEBUG]: NODE-raft:4a843fa3218e7840 cannot campaign at term 1 since there are still pending configuration changes to apply\n" +
		"[DEBUG]: NODE-raft:4a843fa3218e7840 is unpromotable and can not campaign\n" +
		"[DEBUG]: NODE-raft:4a843fa3218e7840 became follower at term 1\n" +
		"[WARNING]: NODE-raft:4a843fa3218e7840 stepped down to follower since quorum is not active\n" +
		"[ERROR]: NODE-boom\n"
	if got := buf.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestRaftLinesNameTheNode founds a network and restarts its founder: raft's
// own lines name it by node id, no raft id is left bare, and the restart
// replays the founding as old news (debug), summed up in one INFO line.
func TestRaftLinesNameTheNode(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(logging.NewLineHandler(&buf, &logging.LineOptions{Level: slog.LevelDebug}))
	st := store.NewMemory()
	open := func() *Engine {
		c, err := chain.New(st)
		if err != nil {
			t.Fatal(err)
		}
		e, err := New(Config{Self: consensus.Member{ID: "solo", Host: "127.0.0.1", Port: "15001"}, Bootstrap: true,
			Chain: c, Store: st, JoinToken: testJoinToken, Session: 1, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 100 && e.Status().Role != "leader"; i++ {
			drive(e)
			e.Tick()
		}
		drive(e)
		if e.Status().Role != "leader" {
			t.Fatal("the lone node did not lead")
		}
		return e
	}
	open()
	first := buf.String()
	if !strings.Contains(first, "[DEBUG]: NODE-solo became leader") {
		t.Errorf("raft's lines do not name the node:\n%s", first)
	}
	if !strings.Contains(first, "[INFO]: NODE-member added peer=solo") {
		t.Errorf("the founding is not logged as news:\n%s", first)
	}
	if bare := regexp.MustCompile(`(^|[^:0-9a-f])[0-9a-f]{14,16}\b`).FindString(first); bare != "" {
		t.Errorf("a bare raft id %q in:\n%s", bare, first)
	}
	if strings.Contains(first, "[WARNING]") {
		t.Errorf("founding a network logged a warning:\n%s", first)
	}

	buf.Reset()
	open()
	again := buf.String()
	if strings.Contains(again, "[INFO]: NODE-member added") {
		t.Errorf("the restart logged old members as news:\n%s", again)
	}
	if !strings.Contains(again, "[DEBUG]: NODE-member added peer=solo") ||
		!strings.Contains(again, "[INFO]: NODE-restored members from the raft log members=1 changes=1") {
		t.Errorf("the restart does not sum up the members it replayed:\n%s", again)
	}
}
