package node

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/consensus/pow"
)

func powParams() pow.Params {
	p := pow.DefaultParams(time.Second)
	p.StartDifficulty = block.MinDifficulty
	return p
}

func powConfig(mine bool) Config {
	return Config{Engine: pow.Factory(powParams()), Mine: mine, Miners: 1}
}

// powMallory is a hand-driven peer speaking the pow engine's rules.
func powMallory(t *testing.T, name string) *mallory {
	t.Helper()
	return newMalloryFor(t, name, powParams().Rules())
}

// sealed mines b (at its difficulty when meet, else a nonce that misses it).
func sealed(t *testing.T, b block.Block, meet bool) block.Block {
	t.Helper()
	for nonce := uint64(0); nonce < 1<<24; nonce++ {
		s, err := block.Seal(b, nonce)
		if err != nil {
			t.Fatal(err)
		}
		entries, _ := block.DecodeEntries(s.Data)
		h, _ := block.Header(s, block.EntriesRoot(entries))
		sum := sha256.Sum256(h[:])
		if (block.LeadingZeros(&sum) >= int(s.Difficulty)) == meet {
			return s
		}
	}
	t.Fatal("no nonce found")
	return block.Block{}
}

func powBlocksPayload(t *testing.T, blocks ...block.Block) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"blocks": blocks})
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte{3}, b...) // kind 3: blocks
}

// TestPoWNodeWritesAndBansInvalidWork runs a mining pow node: a write is
// answered once its entry is mined, and peers sending blocks that break
// the chain's rules are banned with the chain unchanged.
func TestPoWNodeWritesAndBansInvalidWork(t *testing.T) {
	n := start(t, powConfig(true))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := n.Propose(ctx, `"mined"`)
	if err != nil {
		t.Fatal(err)
	}
	if !b.IsPoW() || b.Index != 1 || b.Data != `["\"mined\""]` {
		t.Fatalf("write answered with %+v", b)
	}
	st, err := n.Entry(ctx, block.EntryID(`"mined"`))
	if err != nil || st.State != "confirmed" || st.Index != 1 {
		t.Fatalf("entry: %+v, %v", st, err)
	}
	before := chainOf(t, n)
	tip := before[len(before)-1]
	now := max(time.Now().UnixMilli(), tip.Timestamp+1)
	next := block.NewPoW(tip, []string{`"evil"`}, now, block.MinDifficulty)

	tests := []struct {
		name  string
		block block.Block
		want  string
	}{
		{"insufficient work", sealed(t, next, false), block.ErrInsufficient.Error()},
		{"difficulty off the retarget rule", sealed(t, block.NewPoW(tip, []string{`"evil"`}, now, block.MinDifficulty+1), true), "retarget rule"},
		{"timestamp not above the median", sealed(t, block.NewPoW(tip, []string{`"evil"`}, tip.Timestamp-1, block.MinDifficulty), true), "median"},
		{"entry already on the chain", sealed(t, block.NewPoW(tip, []string{`"mined"`}, now, block.MinDifficulty), true), "already in block"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := powMallory(t, fmt.Sprintf("pow-mallory-%d", i))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := m.h.Connect(ctx, "127.0.0.1", strconv.Itoa(n.Port()), n.ID()); err != nil {
				t.Fatal(err)
			}
			m.send(t, n, powBlocksPayload(t, tt.block))
			waitFor(t, m.id+" banned", func() bool {
				for _, b := range bansOf(t, n) {
					if b.ID == m.id {
						if !strings.Contains(b.Reason, tt.want) {
							t.Fatalf("ban reason %q, want %q", b.Reason, tt.want)
						}
						return true
					}
				}
				return false
			})
			waitFor(t, m.id+" disconnected", func() bool { return !slices.Contains(peerIDs(n), m.id) })
			if got := chainOf(t, n); !slices.Equal(got, before) {
				t.Fatalf("chain changed to %d blocks", len(got))
			}
		})
	}
	if !n.Info().Health {
		t.Fatal("chain unhealthy")
	}
}

// TestPoWNodesAgree has a relay (not mining) join a miner: the relay's
// write is mined by the miner and answered on the relay; both hold one
// chain. A vote node and a pow node refuse each other.
func TestPoWNodesAgree(t *testing.T) {
	miner := start(t, powConfig(true))
	relay := joiner(t, miner, powConfig(false))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	waitFor(t, "connected", func() bool { return len(relay.Peers()) == 1 })
	for i := range 5 {
		if _, err := relay.Propose(ctx, fmt.Sprintf(`"relay %d"`, i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "one chain", func() bool { return miner.chain.Tip() == relay.chain.Tip() })
	if got := chainOf(t, relay); len(got) < 2 {
		t.Fatalf("relay chain has %d blocks", len(got))
	}
	ids, err := relay.Submit(ctx, []string{`"no wait"`})
	if err != nil || len(ids) != 1 || ids[0] != block.EntryID(`"no wait"`) {
		t.Fatalf("submit: %v, %v", ids, err)
	}
	waitFor(t, "entry confirmed", func() bool {
		st, err := relay.Entry(ctx, ids[0])
		return err == nil && st.State == "confirmed"
	})

	// A vote node cannot join a pow network.
	v, err := newNode(Config{Host: "127.0.0.1", Advertise: "127.0.0.1", HTTPPort: 0,
		PeerHost: "127.0.0.1", PeerPort: miner.Port(), PeerID: miner.ID(), JoinTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = v.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "engine mismatch") {
		t.Fatalf("vote node joining a pow node: %v, want an engine mismatch", err)
	}
}
