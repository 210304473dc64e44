package node

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/naivechain/naivechain/internal/logging"
)

// TestLogsOfAStartAndARestart reads what an operator sees at info: the data
// dir on every start, no raft warning when a network is founded, a line for
// a new block, and a restart that does not announce the old members again.
func TestLogsOfAStartAndARestart(t *testing.T) {
	dir := t.TempDir()
	infoLog := func(l *lockedLog) *slog.Logger {
		return slog.New(logging.NewLineHandler(l, &logging.LineOptions{Level: slog.LevelInfo}))
	}
	var first lockedLog
	a := start(t, Config{DataDir: dir, Logger: infoLog(&first)})
	waitFor(t, "the founder a member", func() bool { return strings.Contains(first.String(), "member added") })
	// The leader is logged at the first tick that sees it, which may come
	// after the write below is committed.
	waitFor(t, "the founder logged as leader", func() bool {
		return strings.Contains(first.String(), "[INFO]: CONSENSUS-This node is the leader term=")
	})
	if _, err := a.Propose(context.Background(), `"logged"`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the block logged", func() bool {
		return strings.Contains(first.String(), "[INFO]: BLOCKCHAIN-New blocks height=1 blocks=1")
	})
	port := a.Port()
	a.halt(t)
	logs := first.String()
	for _, want := range []string{
		"[INFO]: BLOCKCHAIN-Setting up naive chain server data_dir=" + dir + "\n",
		"[INFO]: CONSENSUS-member added peer=" + a.ID(),
		"[INFO]: CONSENSUS-This node is the leader term=",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("the first start does not log %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "[WARNING]") || strings.Contains(logs, "[ERROR]") {
		t.Errorf("founding a network logged a warning:\n%s", logs)
	}

	var again lockedLog
	b := start(t, Config{DataDir: dir, Port: port, Logger: infoLog(&again)})
	waitFor(t, "the replay summed up", func() bool {
		return strings.Contains(again.String(), "[INFO]: CONSENSUS-restored members from the raft log members=1")
	})
	b.halt(t)
	logs = again.String()
	if strings.Contains(logs, "member added") {
		t.Errorf("the restart announced an old member as news:\n%s", logs)
	}
	if !strings.Contains(logs, "[INFO]: BLOCKCHAIN-Setting up naive chain server data_dir="+dir+"\n") {
		t.Errorf("the restart does not log its data dir:\n%s", logs)
	}
	if strings.Contains(logs, "New blocks") {
		t.Errorf("the restart announced the blocks on disk as new:\n%s", logs)
	}
}
