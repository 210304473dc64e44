package node

import (
	"bytes"
	"iter"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/logging"
)

// TestBlockLogSummaries drives the block log with a manual clock: a block
// after a quiet second is news at once; then one line per 100 blocks or
// per second, whichever comes first; nothing for a tip that did not grow.
func TestBlockLogSummaries(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	bl := newBlockLog(logging.Actor(slog.New(logging.NewLineHandler(&buf, nil)), "BLOCKCHAIN"), func() time.Time { return now }, nil, 10)
	lines := func() []string {
		defer buf.Reset()
		return strings.FieldsFunc(buf.String(), func(r rune) bool { return r == '\n' })
	}
	expect := func(step string, want ...string) {
		t.Helper()
		if got := lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: got %q, want %q", step, got, want)
		}
	}

	bl.observe(10)
	expect("the blocks on disk at start are history")

	bl.observe(11)
	expect("a block after a quiet second", "[INFO]: BLOCKCHAIN-New blocks height=11 blocks=1")

	for tip := uint64(12); tip <= 110; tip++ {
		now = now.Add(time.Millisecond)
		bl.observe(tip)
	}
	expect("99 blocks within the second")
	bl.observe(111)
	expect("the 100th", "[INFO]: BLOCKCHAIN-New blocks height=111 blocks=100")

	bl.observe(150) // one step of 39 blocks
	bl.observe(150)
	expect("39 blocks within the second")
	now = now.Add(blockSummaryEvery)
	bl.observe(150)
	expect("a second later", "[INFO]: BLOCKCHAIN-New blocks height=150 blocks=39")

	now = now.Add(time.Hour)
	bl.observe(148) // a rollback
	bl.observe(148)
	expect("a lower tip adds no block")
	bl.observe(400) // a catch-up: one line, however many blocks
	expect("a catch-up", "[INFO]: BLOCKCHAIN-New blocks height=400 blocks=252")
}

func TestBlockLogDebugLinePerBlock(t *testing.T) {
	chain := []block.Block{block.Genesis()}
	for i := 0; i < 3; i++ {
		chain = append(chain, block.Next(chain[len(chain)-1], `"x"`))
	}
	blocks := func(from uint64) iter.Seq2[block.Block, error] {
		return func(yield func(block.Block, error) bool) {
			for _, b := range chain[from:] {
				if !yield(b, nil) {
					return
				}
			}
		}
	}
	var buf bytes.Buffer
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	log := logging.Actor(slog.New(logging.NewLineHandler(&buf, &logging.LineOptions{Level: slog.LevelDebug})), "BLOCKCHAIN")
	bl := newBlockLog(log, func() time.Time { return now }, blocks, 0)
	bl.observe(2)
	want := "[DEBUG]: BLOCKCHAIN-Block added index=1 hash=" + chain[1].CurrHash + " bytes=3\n" +
		"[DEBUG]: BLOCKCHAIN-Block added index=2 hash=" + chain[2].CurrHash + " bytes=3\n" +
		"[INFO]: BLOCKCHAIN-New blocks height=2 blocks=2\n"
	if got := buf.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
