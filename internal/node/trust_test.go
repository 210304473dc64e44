package node

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/naivechain/naivechain/internal/api"
	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/consensus/vote"
	"github.com/naivechain/naivechain/internal/identity"
	"github.com/naivechain/naivechain/internal/p2p"
	"github.com/naivechain/naivechain/internal/store"
	"github.com/naivechain/naivechain/internal/wire"
)

// Hostile peers on real connections: what a stranger who can reach the
// peer port tried against the node before links were authenticated, and
// must now leave the chain, the membership and the writes unchanged.

// trio starts a three-node vote network and returns it once a counts three
// voters.
func trio(t *testing.T) (a, b, c *running) {
	t.Helper()
	a = start(t, Config{})
	b = joiner(t, a, Config{})
	c = joiner(t, a, Config{})
	waitFor(t, "3 voters", func() bool { return voters(a) == 3 })
	return a, b, c
}

// write proposes data on n and fails the test if it is not acknowledged.
func write(t *testing.T, n *running, data string) block.Block {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := n.Propose(ctx, data)
	if err != nil {
		t.Fatalf("write %s: %v", data, err)
	}
	return b
}

// converged waits until every node holds the same chain of length n.
func converged(t *testing.T, n int, nodes ...*running) []block.Block {
	t.Helper()
	var ref []block.Block
	waitFor(t, fmt.Sprintf("one chain of %d blocks", n), func() bool {
		ref = chainOf(t, nodes[0])
		if len(ref) != n {
			return false
		}
		for _, o := range nodes[1:] {
			if !slices.Equal(chainOf(t, o), ref) {
				return false
			}
		}
		return true
	})
	return ref
}

func TestStrangerCannotClaimAMembersID(t *testing.T) {
	a, b, _ := trio(t)
	key, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	// A Host announcing the leader's id holds no key deriving it: it can
	// only present a certificate of another key.
	h := p2p.New(p2p.Config{Self: wire.PeerInfo{ID: a.ID(), Host: "127.0.0.1", Port: "1"}, Key: key,
		Genesis: block.GenesisHash, Engine: "vote"})
	defer h.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = h.Connect(ctx, "127.0.0.1", fmt.Sprint(b.Port()), b.ID())
	if !errors.Is(err, p2p.ErrRejected) || !strings.Contains(err.Error(), "the certificate proves") {
		t.Fatalf("impostor's handshake: %v, want a refusal naming the proven id", err)
	}
	if voters(b) != 3 || slices.Contains(peerIDs(b), identity.IDFromKey(identity.Public(key))) {
		t.Fatalf("the impostor changed b's view: %d voters, peers %v", voters(b), peerIDs(b))
	}
}

// forgedAppend is a raft append of term term from raft id from, committing
// one entry with data at index at.
func forgedAppend(t *testing.T, from, to uint64, term, at uint64, data string) []byte {
	t.Helper()
	batch := []byte{1} // batchVersion
	for _, v := range []uint64{99, 1, 1, 1, uint64(len(data))} {
		batch = binary.AppendUvarint(batch, v)
	}
	batch = append(batch, data...)
	m := raftpb.Message{Type: raftpb.MsgApp, From: from, To: to, Term: term, Index: at - 1, LogTerm: term - 1, Commit: at,
		Entries: []raftpb.Entry{{Term: term, Index: at, Data: batch}}}
	buf, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte{1, 0}, buf...)
}

func TestStrangersRaftMessagesChangeNothing(t *testing.T) {
	a, b, c := trio(t)
	write(t, a, `"before"`)
	converged(t, 2, a, b, c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := b.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := newMallory(t, "mallory")
	if err := m.connect(b); err != nil {
		t.Fatal(err)
	}
	// Under its own raft id, with the current term and with the next:
	// never stepped. Under the leader's raft id: banned on the spot.
	for _, term := range []uint64{st.Term, st.Term + 1} {
		m.send(t, b, forgedAppend(t, vote.RaftID(m.id), vote.RaftID(b.ID()), term, 3, `"forged"`))
	}
	m.send(t, b, forgedAppend(t, vote.RaftID(a.ID()), vote.RaftID(b.ID()), st.Term+1, 3, `"forged"`))
	waitFor(t, "the impostor banned", func() bool {
		return slices.ContainsFunc(bansOf(t, b), func(x api.Ban) bool { return x.ID == m.id })
	})
	after := write(t, a, `"after"`)
	chain := converged(t, 3, a, b, c)
	if chain[2] != after {
		t.Fatalf("block 2 is %+v, want the acknowledged write %+v", chain[2], after)
	}
	for _, blk := range chain {
		if strings.Contains(blk.Data, "forged") {
			t.Fatalf("a forged entry became block %d", blk.Index)
		}
	}
	if got, _ := b.Status(ctx); got.Leader != st.Leader {
		t.Fatalf("leader changed from %s to %s", st.Leader, got.Leader)
	}
}

func TestStrangersRemovalNoticeChangesNothing(t *testing.T) {
	a, b, c := trio(t)
	m := newMallory(t, "mallory")
	if err := m.connect(b); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 2 {
		m.send(t, b, binary.AppendUvarint([]byte{6}, vote.RaftID(b.ID())))
		m.send(t, b, binary.AppendUvarint([]byte{6}, vote.RaftID(c.ID())))
	}
	write(t, b, `"written through b after the notices"`)
	converged(t, 2, a, b, c)
	if v := voters(a); v != 3 {
		t.Fatalf("%d voters, want 3", v)
	}
	for _, n := range []*running{a, b, c} {
		st, err := n.Status(ctx)
		if err != nil || st.Role == "removed" || st.Role == "joining" {
			t.Fatalf("%s: %+v %v", n.ID(), st, err)
		}
	}
}

func TestJoinWithoutTheTokenIsRefused(t *testing.T) {
	a, b, _ := trio(t)
	for _, token := range []string{"", "not-the-token-of-this-network"} {
		m := newMallory(t, "stranger")
		if err := m.connect(b); err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(map[string]string{"id": m.id, "host": "127.0.0.1", "port": "1", "token": token})
		m.send(t, b, append([]byte{2}, body...))
		deadline := time.After(20 * time.Second)
	wait:
		for {
			select {
			case in := <-m.h.Inbound():
				if p := in.Msg.(*wire.Consensus).Payload; len(p) > 0 && p[0] == 11 {
					break wait // the denial
				}
			case <-deadline:
				t.Fatalf("token %q: no denial", token)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ms, err := a.Members(ctx)
		cancel()
		if err != nil || len(ms) != 3 {
			t.Fatalf("token %q: members %+v %v, want the three", token, ms, err)
		}
	}
	// A real node with a wrong token stops with ErrJoinRefused.
	n, err := newNode(Config{Host: "127.0.0.1", Advertise: "127.0.0.1", HTTPPort: 0, Tick: 10 * time.Millisecond,
		PeerHost: "127.0.0.1", PeerPort: a.Port(), PeerID: a.ID(), JoinToken: "not-the-token-of-this-network"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Run(ctx); !errors.Is(err, ErrJoinRefused) {
		t.Fatalf("Run: %v, want ErrJoinRefused", err)
	}
	if v := voters(a); v != 3 {
		t.Fatalf("%d voters after the refused join, want 3", v)
	}
}

// makeKeyless turns dir, a stopped node's data dir, into one made before
// node keys: a random version-4 id and no key file.
func makeKeyless(t *testing.T, dir string) string {
	t.Helper()
	st, err := openStore(dir, nil, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	old := uuid.NewString()
	if err := st.Write(store.Batch{Puts: []store.Put{{Bucket: bucketNode, Key: keyID, Value: []byte(old)}}}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, identity.KeyFile)); err != nil {
		t.Fatal(err)
	}
	return old
}

// TestUpgradeOfADataDirMadeBeforeKeys: a network whose data dirs hold ids
// made before node keys upgrades node by node. The founder comes back
// with a key-derived id and its chain, founding the network anew; the
// other node joins it with the new id and the token, and keeps every
// acknowledged block.
func TestUpgradeOfADataDirMadeBeforeKeys(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	a := start(t, Config{DataDir: dirA})
	b := joiner(t, a, Config{DataDir: dirB})
	waitFor(t, "2 voters", func() bool { return voters(a) == 2 })
	for i := range 3 {
		write(t, b, fmt.Sprintf(`"before the upgrade %d"`, i))
	}
	before := converged(t, 4, a, b)
	portA, portB := a.Port(), b.Port()
	a.halt(t)
	b.halt(t)
	oldA, oldB := makeKeyless(t, dirA), makeKeyless(t, dirB)

	a2 := start(t, Config{DataDir: dirA, Port: portA})
	if a2.ID() == oldA || !identity.IsKeyID(a2.ID()) {
		t.Fatalf("upgraded id %s (was %s), want a key-derived one", a2.ID(), oldA)
	}
	if got := chainOf(t, a2); !slices.Equal(got, before) {
		t.Fatalf("the founder's chain changed in the upgrade: %d blocks", len(got))
	}
	b2 := joiner(t, a2, Config{DataDir: dirB, Port: portB})
	if b2.ID() == oldB || !identity.IsKeyID(b2.ID()) {
		t.Fatalf("upgraded id %s (was %s), want a key-derived one", b2.ID(), oldB)
	}
	waitFor(t, "2 voters after the upgrade", func() bool { return voters(a2) == 2 })
	after := write(t, b2, `"after the upgrade"`)
	chain := converged(t, 5, a2, b2)
	if chain[4] != after {
		t.Fatalf("block 4 is %+v, want the acknowledged write", chain[4])
	}
	if !slices.Equal(chain[:4], before) {
		t.Fatal("an acknowledged block changed in the upgrade")
	}
}
