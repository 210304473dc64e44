package node

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/naivechain/naivechain/internal/api"
	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/consensus/vote"
	"github.com/naivechain/naivechain/internal/identity"
	"github.com/naivechain/naivechain/internal/p2p"
	"github.com/naivechain/naivechain/internal/wire"
)

// mallory is a hand-driven native peer: a p2p.Host of its own that the
// test connects to a node and makes send whatever it likes.
type mallory struct {
	id string
	h  *p2p.Host
}

// newMallory makes a mallory for engine rules; its id is its key's, name
// only labels it in failures.
func newMallory(t *testing.T, name string) *mallory {
	return newMalloryFor(t, name, "vote")
}

func newMalloryFor(t *testing.T, name, rules string) *mallory {
	t.Helper()
	return newMalloryAt(t, name, rules, "1")
}

// newMalloryAt is newMalloryFor announcing 127.0.0.1:port as its address.
func newMalloryAt(t *testing.T, name, rules, port string) *mallory {
	t.Helper()
	key, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	id := identity.IDFromKey(identity.Public(key))
	t.Logf("%s is %s", name, id)
	h := p2p.New(p2p.Config{
		Self:    wire.PeerInfo{ID: id, Host: "127.0.0.1", Port: port},
		Key:     key,
		Genesis: block.GenesisHash,
		Engine:  rules,
	})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { // heartbeats keep the connection alive while the test works
		defer close(ran)
		_ = h.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-ran })
	return &mallory{id: id, h: h}
}

func (m *mallory) connect(n *running) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := m.h.Connect(ctx, "127.0.0.1", strconv.Itoa(n.Port()), n.ID())
	return err
}

func (m *mallory) send(t *testing.T, n *running, payload []byte) {
	t.Helper()
	if !m.h.Send(n.ID(), &wire.Consensus{Payload: payload}) {
		t.Fatalf("%s: cannot send to %s", m.id, n.ID())
	}
}

// fetch waits for the node's request for blocks (kind 4) and returns the
// first index asked for.
func (m *mallory) fetch(t *testing.T, n *running) uint64 {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case in := <-m.h.Inbound():
			p := in.Msg.(*wire.Consensus).Payload
			if in.From.ID != n.ID() || len(p) == 0 || p[0] != 4 {
				continue
			}
			from, k := binary.Uvarint(p[1:])
			if k <= 0 {
				t.Fatalf("undecodable fetch request %x", p)
			}
			return from
		case <-deadline:
			t.Fatal("the node never asked for blocks")
		}
	}
}

// join asks n to admit m with token and waits until m is a member.
func (m *mallory) join(t *testing.T, n *running, token string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"id": m.id, "host": "127.0.0.1", "port": "1", "token": token})
	m.send(t, n, append([]byte{2}, body...))
	waitFor(t, m.id+" admitted", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		ms, _ := n.Members(ctx)
		return slices.ContainsFunc(ms, func(c consensus.Member) bool { return c.ID == m.id })
	})
}

// snapshotPayload is a raft MsgSnap from mallory announcing a chain of
// height blocks ending at tip: the node must fetch the blocks it lacks
// from mallory before it hands the snapshot to raft.
func snapshotPayload(t *testing.T, from, to string, height uint64, tip string) []byte {
	t.Helper()
	desc := fmt.Sprintf(`{"height":%d,"tip":%q}`, height, tip)
	m := raftpb.Message{
		Type: raftpb.MsgSnap, From: vote.RaftID(from), To: vote.RaftID(to), Term: 1000,
		Snapshot: &raftpb.Snapshot{Data: []byte(desc), Metadata: raftpb.SnapshotMetadata{Index: 1 << 20, Term: 1000}},
	}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte{1, 0}, b...) // kind 1, network 0 (unknown)
}

// blocksPayload is a kind-5 answer, written out byte by byte: uvarint
// from, uvarint n, then each block as length-prefixed previous_hash, data
// and curr_hash. The index of each block is its position.
func blocksPayload(from uint64, blocks ...block.Block) []byte {
	p := []byte{5}
	p = binary.AppendUvarint(p, from)
	p = binary.AppendUvarint(p, uint64(len(blocks)))
	for _, b := range blocks {
		for _, f := range []string{b.PreviousHash, b.Data, b.CurrHash} {
			p = binary.AppendUvarint(p, uint64(len(f)))
			p = append(p, f...)
		}
	}
	return p
}

// lockedLog is a log sink the test can read while the node writes.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func bansOf(t *testing.T, n *running) []api.Ban {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := n.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st.Bans
}

// TestInvalidConsensusDataBansThePeer has hand-made peers send a node
// consensus payloads it must refuse. Each is banned at once: disconnected,
// listed in the node's bans, refused when it dials again; and the chain
// does not change.
func TestInvalidConsensusDataBansThePeer(t *testing.T) {
	var logs lockedLog
	n := start(t, Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := n.Propose(ctx, `"before the attack"`); err != nil {
		t.Fatal(err)
	}
	before := chainOf(t, n)
	tip := before[len(before)-1]
	good := block.Next(tip, `"evil"`)
	height := uint64(len(before))

	tests := []struct {
		name string
		// attack sends what the peer sends once connected.
		attack func(t *testing.T, m *mallory)
		want   string // in the ban's reason
	}{
		{"undecodable raft message", func(t *testing.T, m *mallory) {
			m.send(t, n, []byte{1, 0x0a, 0xff, 0x01, 'x'})
		}, "raft message"},
		{"unknown payload kind", func(t *testing.T, m *mallory) {
			m.send(t, n, []byte{0xee, 1, 2, 3})
		}, "unknown kind"},
		{"block with a bad hash", func(t *testing.T, m *mallory) {
			m.send(t, n, snapshotPayload(t, m.id, n.ID(), height+1, good.CurrHash))
			bad := good
			bad.CurrHash = strings.Repeat("0", 64)
			m.send(t, n, blocksPayload(m.fetch(t, n), bad))
		}, block.ErrBadHash.Error()},
		{"block with a broken link", func(t *testing.T, m *mallory) {
			m.send(t, n, snapshotPayload(t, m.id, n.ID(), height+1, good.CurrHash))
			bad := good
			bad.PreviousHash = strings.Repeat("1", 64)
			bad.CurrHash = block.Hash(bad.PreviousHash, bad.Data)
			m.send(t, n, blocksPayload(m.fetch(t, n), bad))
		}, block.ErrBrokenLink.Error()},
		{"genesis again at the next index", func(t *testing.T, m *mallory) {
			m.send(t, n, snapshotPayload(t, m.id, n.ID(), height+1, good.CurrHash))
			m.send(t, n, blocksPayload(m.fetch(t, n), block.Genesis()))
		}, block.ErrBrokenLink.Error()},
		{"blocks at a wrong index", func(t *testing.T, m *mallory) {
			// Blocks placed at another index than the one asked for are
			// dropped unread (a late answer looks the same); the invalid
			// block that follows them earns the ban.
			m.send(t, n, snapshotPayload(t, m.id, n.ID(), height+2, good.CurrHash))
			from := m.fetch(t, n)
			m.send(t, n, blocksPayload(from+1, good))
			m.send(t, n, blocksPayload(0, block.Genesis(), good))
			bad := good
			bad.CurrHash = strings.Repeat("2", 64)
			m.send(t, n, blocksPayload(from, bad))
		}, block.ErrBadHash.Error()},
	}
	token := networkToken(t, n)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMallory(t, fmt.Sprintf("mallory-%d", i))
			if err := m.connect(n); err != nil {
				t.Fatal(err)
			}
			if i >= 2 {
				// Only a member's raft messages reach raft (a stranger's
				// snapshot is dropped unread): the peer is admitted with
				// the token first, a member gone rogue.
				m.join(t, n, token)
			}
			tt.attack(t, m)

			var ban api.Ban
			waitFor(t, m.id+" banned", func() bool {
				for _, b := range bansOf(t, n) {
					if b.ID == m.id {
						ban = b
						return true
					}
				}
				return false
			})
			if !strings.Contains(ban.Reason, tt.want) || !ban.Until.After(time.Now().Add(9*time.Minute)) {
				t.Fatalf("ban %+v, want a reason with %q for 10 minutes", ban, tt.want)
			}
			waitFor(t, m.id+" disconnected", func() bool {
				return !slices.Contains(peerIDs(n), m.id) && len(m.h.Peers()) == 0
			})
			err := m.connect(n)
			if !errors.Is(err, p2p.ErrRejected) || !strings.Contains(err.Error(), "banned until") {
				t.Fatalf("reconnect: %v, want a refusal saying banned until", err)
			}
			if got := chainOf(t, n); !slices.Equal(got, before) {
				t.Fatalf("chain changed: %d blocks, tip %s; want %d, tip %s", len(got), got[len(got)-1].CurrHash, len(before), tip.CurrHash)
			}
			if !n.Info().Health {
				t.Fatal("chain unhealthy")
			}
			// One penalty, of the full threshold: nothing before it counted.
			if c := strings.Count(logs.String(), "peer="+m.id+" score="); c != 1 ||
				!strings.Contains(logs.String(), "peer="+m.id+" score=100 banned=true") {
				t.Fatalf("%d penalties logged for %s, want one of 100", c, m.id)
			}
		})
	}
	if got := len(bansOf(t, n)); got != len(tests) {
		t.Fatalf("%d bans, want %d", got, len(tests))
	}
	// An honest node still joins and the network still writes.
	j := joiner(t, n, Config{})
	waitFor(t, "2 voters", func() bool { return voters(n) == 2 })
	if _, err := j.Propose(ctx, `"after the attack"`); err != nil {
		t.Fatal(err)
	}
}
