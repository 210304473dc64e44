package vote

import (
	"encoding/binary"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/store"
)

func TestBetterIsAStrictTotalOrder(t *testing.T) {
	lo, hi := strings.Repeat("1", 64), strings.Repeat("2", 64)
	cases := []struct {
		a, b announce
		want bool
	}{
		{announce{Cluster: 9, Height: 5, Tip: hi}, announce{Cluster: 1, Height: 4, Tip: lo}, true},  // longer wins
		{announce{Cluster: 9, Height: 5, Tip: lo}, announce{Cluster: 1, Height: 5, Tip: hi}, true},  // smaller tip
		{announce{Cluster: 1, Height: 5, Tip: lo}, announce{Cluster: 9, Height: 5, Tip: lo}, true},  // same chain: smaller network
		{announce{Cluster: 1, Height: 4, Tip: lo}, announce{Cluster: 9, Height: 5, Tip: hi}, false}, // shorter loses
	}
	for _, c := range cases {
		if got := better(c.a, c.b); got != c.want {
			t.Errorf("better(%+v, %+v) = %v, want %v", c.a, c.b, got, c.want)
		}
		if c.want && better(c.b, c.a) {
			t.Errorf("both %+v and %+v are better than the other", c.a, c.b)
		}
	}
}

func FuzzDecodeAnnounce(f *testing.F) {
	f.Add(encodeAnnounce(announce{Cluster: 7, Height: 3, Tip: block.GenesisHash}))
	f.Add([]byte{1, 1, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		a, err := decodeAnnounce(in)
		if err != nil {
			return
		}
		again, err := decodeAnnounce(encodeAnnounce(a))
		if err != nil || again != a {
			t.Fatalf("re-encoding changed %+v into %+v (%v)", a, again, err)
		}
	})
}

func FuzzDecodeLocator(f *testing.F) {
	f.Add(encodeLocator([]chain.LocatorEntry{{Index: 3, Hash: "x"}, {Index: 0, Hash: block.GenesisHash}}))
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, in []byte) {
		loc, err := decodeLocator(in)
		if err != nil {
			return
		}
		if len(loc) == 0 || len(loc) > chain.MaxLocatorEntries {
			t.Fatalf("decoded a locator of %d entries", len(loc))
		}
		again, err := decodeLocator(encodeLocator(loc))
		if err != nil || !reflect.DeepEqual(again, loc) {
			t.Fatalf("re-encoding changed %+v into %+v (%v)", loc, again, err)
		}
	})
}

func FuzzDecodeOrphan(f *testing.F) {
	o := orphan{session: 5, seq: 9, hash: block.GenesisHash, data: `"x"`, at: -1}
	f.Add(o.key(), o.value())
	f.Add([]byte{1}, []byte{})
	f.Fuzz(func(t *testing.T, k, v []byte) {
		o, err := decodeOrphan(k, v)
		if err != nil {
			return
		}
		again, err := decodeOrphan(o.key(), o.value())
		if err != nil || again != o {
			t.Fatalf("re-encoding changed %+v into %+v (%v)", o, again, err)
		}
	})
}

// TestLocateIsAnsweredFromTheForkPoint: a node asked with a locator of a
// chain that shares its first blocks answers with its blocks from the
// highest shared locator entry on; a locator from another genesis or out
// of shape is a malformed message.
func TestLocateIsAnsweredFromTheForkPoint(t *testing.T) {
	e := newLone(t)
	if _, err := e.chain.Extend(`"a"`, `"b"`, `"c"`); err != nil {
		t.Fatal(err)
	}
	st := store.NewMemory()
	other, err := chain.New(st)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Extend(`"a"`, `"z"`); err != nil {
		t.Fatal(err)
	}
	loc, err := other.Locator()
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Step("peer", append([]byte{kindLocate}, encodeLocator(loc)...)); err != nil {
		t.Fatal(err)
	}
	rd := drive(e)
	var start uint64
	var blocks []block.Block
	for _, m := range rd.Messages {
		if m.To == "peer" && m.Payload[0] == kindBlocks {
			if start, blocks, err = decodeBlocks(m.Payload[1:]); err != nil {
				t.Fatal(err)
			}
		}
	}
	if start != 2 || len(blocks) != 2 || blocks[0].Data != `"b"` {
		t.Fatalf("answered from %d with %d blocks, want from 2 with b and c", start, len(blocks))
	}
	e.Tick() // a stranger gets one block answer a tick
	drive(e)
	bad := []chain.LocatorEntry{{Index: 0, Hash: strings.Repeat("0", 64)}}
	if err := e.Step("peer", append([]byte{kindLocate}, encodeLocator(bad)...)); !errors.Is(err, consensus.ErrMalformed) {
		t.Fatalf("locator of another genesis: err = %v", err)
	}
	e.Tick()
	drive(e)
	up := []chain.LocatorEntry{{Index: 0, Hash: block.GenesisHash}, {Index: 1, Hash: "x"}}
	if err := e.Step("peer", append([]byte{kindLocate}, encodeLocator(up)...)); !errors.Is(err, consensus.ErrMalformed) {
		t.Fatalf("locator going up: err = %v", err)
	}
}

// TestMoveAfterTheHostAgrees walks a lone network through a move: a better
// announce makes the leader ask to be hosted; only the host's yes commits
// the move; a bad branch is refused as malformed and leaves the chain as
// it was, and the move is tried again later.
func TestMoveAfterTheHostAgrees(t *testing.T) {
	e := newLone(t)
	if _, err := e.Propose(`"mine"`); err != nil {
		t.Fatal(err)
	}
	drive(e)
	before := e.chain.Tip()
	sent := func(kind byte) (bodies [][]byte) {
		for _, m := range drive(e).Messages {
			if m.To == "peer" && m.Payload[0] == kind {
				bodies = append(bodies, m.Payload[1:])
			}
		}
		return bodies
	}
	const theirs = "their-network-token-0123456789"
	ann := announce{Cluster: 1, Height: 10, Tip: strings.Repeat("a", 64), TokenHash: tokenHash(theirs)}
	if err := e.Step("peer", append([]byte{kindAnnounce}, encodeAnnounce(ann)...)); err != nil {
		t.Fatal(err)
	}
	if len(sent(kindHostRequest)) != 0 {
		t.Fatal("a better network this one never consented to was asked to host it")
	}
	if err := e.AllowMerge(theirs, "peer"); err != nil {
		t.Fatal(err)
	}
	drive(e)
	// The announce's token hash is public: a stranger announcing the same
	// network and hash gets no request, so never the token.
	if err := e.Step("stranger", append([]byte{kindAnnounce}, encodeAnnounce(ann)...)); err != nil {
		t.Fatal(err)
	}
	for _, m := range drive(e).Messages {
		if m.To == "stranger" {
			t.Fatalf("a stranger announcing the consented network's hash was sent kind %d", m.Payload[0])
		}
	}
	if err := e.Step("peer", append([]byte{kindAnnounce}, encodeAnnounce(ann)...)); err != nil {
		t.Fatal(err)
	}
	reqs := sent(kindHostRequest)
	if len(reqs) != 1 {
		t.Fatal("a better announce did not make the leader ask to be hosted")
	}
	if _, tok, _, err := decodeHostRequest(reqs[0]); err != nil || tok != theirs {
		t.Fatalf("host request carries token %q (%v), want theirs", tok, err)
	}
	if e.Status().Role != "leader" {
		t.Fatalf("role %q before the host agreed, want leader", e.Status().Role)
	}
	if err := e.Step("peer", append([]byte{kindHostAnswer}, appendString([]byte{1}, "")...)); err != nil {
		t.Fatal(err)
	}
	if len(sent(kindLocate)) != 1 {
		t.Fatal("the committed move did not send a block locator")
	}
	if e.Status().Role != "moving" {
		t.Fatalf("role %q after the move, want moving", e.Status().Role)
	}
	if e.presentedToken() != theirs {
		t.Fatalf("the move would join with %q, want the host's token", e.presentedToken())
	}
	if _, err := e.Propose(`"late"`); !errors.Is(err, consensus.ErrNotMember) {
		t.Fatalf("write while moving: err = %v, want ErrNotMember", err)
	}
	g := block.Genesis()
	b1 := block.Next(g, `"theirs"`)
	b2 := block.Next(b1, `"more"`)
	b2.CurrHash = strings.Repeat("f", 64) // does not match its contents
	body := binary.AppendUvarint(nil, 1)
	body = binary.AppendUvarint(body, 2)
	body, err := appendBlock(body, b1)
	if err != nil {
		t.Fatal(err)
	}
	if body, err = appendBlock(body, b2); err != nil {
		t.Fatal(err)
	}
	if err := e.Step("peer", append([]byte{kindBlocks}, body...)); !errors.Is(err, consensus.ErrMalformed) {
		t.Fatalf("bad branch: err = %v", err)
	}
	if e.chain.Tip() != before {
		t.Fatal("a bad branch changed the chain")
	}
	for i := 0; i <= e.leaveTimeoutTicks(); i++ {
		e.Tick()
	}
	if len(sent(kindLocate)) != 1 {
		t.Fatal("the move was not tried again")
	}
}

// TestHostRequestNeedsABetterChain: a leader refuses to host a network
// whose chain is better than its own, and says yes to a worse one only
// once the host entry is committed.
func TestHostRequestNeedsABetterChain(t *testing.T) {
	e := newLone(t)
	answer := func() []byte {
		for _, m := range drive(e).Messages {
			if m.To == "peer" && m.Payload[0] == kindHostAnswer {
				return m.Payload[1:]
			}
		}
		return nil
	}
	request := func(a announce, token string) []byte {
		return append([]byte{kindHostRequest}, encodeHostRequest(a, token, "their-own-token-0123456789")...)
	}
	better := announce{Cluster: 1, Height: 50, Tip: strings.Repeat("a", 64)}
	if err := e.Step("peer", request(better, testJoinToken)); err != nil {
		t.Fatal(err)
	}
	if a := answer(); a == nil || a[0] != 0 {
		t.Fatalf("answer to a better network: %v, want a refusal", a)
	}
	if _, err := e.Propose(`"x"`); err != nil {
		t.Fatal(err)
	}
	drive(e)
	worse := announce{Cluster: 1, Height: 1, Tip: block.GenesisHash}
	if err := e.Step("peer", request(worse, "not-this-networks-token-000")); err != nil {
		t.Fatal(err)
	}
	if a := answer(); a == nil || a[0] != 0 || e.merge.hosting[1] {
		t.Fatalf("answer to a network without our token: %v (hosting %v), want a refusal", a, e.merge.hosting[1])
	}
	if err := e.Step("peer", request(worse, testJoinToken)); err != nil {
		t.Fatal(err)
	}
	if a := answer(); a == nil || a[0] != 1 {
		t.Fatalf("answer to a worse network: %v, want yes", a)
	}
	if !e.merge.hosting[1] {
		t.Fatal("no host entry applied")
	}
	// A member of the hosted network, away during the move, enters with
	// its own network's token; any other token is still denied.
	sentTo := func(peer string) (kinds []byte) {
		for _, m := range drive(e).Messages {
			if m.To == peer {
				kinds = append(kinds, m.Payload[0])
			}
		}
		return kinds
	}
	join := func(id, token string) []byte {
		return append([]byte{kindJoin}, encodeJoin(consensus.Member{ID: id, Host: "h", Port: "1"}, token)...)
	}
	if err := e.Step("late", join("late", "their-own-token-0123456789")); err != nil {
		t.Fatal(err)
	}
	if k := sentTo("late"); !slices.Contains(k, kindVouch) {
		t.Fatalf("a member of the hosted network got %v, want a vouch", k)
	}
	if err := e.Step("other", join("other", "some-other-token-0123456789")); err != nil {
		t.Fatal(err)
	}
	if k := sentTo("other"); !slices.Contains(k, kindJoinDenied) {
		t.Fatalf("another token got %v, want a denial", k)
	}
}

// TestConsentGivenOnTheBetterSide: the operator of the better network
// gives the worse one's token. The better leader proves it to the worse
// network (kind 13, carrying both tokens), which records the better
// network's token and then asks to be hosted with it. A consent message
// without the receiver's own token changes nothing.
func TestConsentGivenOnTheBetterSide(t *testing.T) {
	const tokA, tokB = "token-of-network-a-0123456789", "token-of-network-b-0123456789"
	a, b := newLoneWith(t, "a", tokA), newLoneWith(t, "b", tokB)
	if _, err := a.Propose(`"a is longer"`); err != nil {
		t.Fatal(err)
	}
	drive(a)
	to := func(e *Engine, peer string, kind byte) [][]byte {
		var out [][]byte
		for _, m := range drive(e).Messages {
			if m.To == peer && m.Payload[0] == kind {
				out = append(out, m.Payload[1:])
			}
		}
		return out
	}
	annB, _ := b.appliedAnnounce()
	annA, _ := a.appliedAnnounce()
	// A stranger's consent message without b's token: nothing.
	if err := b.Step("x", append([]byte{kindConsent}, encodeConsent("not-b-token-0123456789", tokA)...)); err != nil {
		t.Fatal(err)
	}
	drive(b)
	if b.Consented(tokA, "x") {
		t.Fatal("b consented on a message without its token")
	}
	if err := a.AllowMerge(tokB, "b"); err != nil {
		t.Fatal(err)
	}
	drive(a)
	if err := a.Step("b", append([]byte{kindAnnounce}, encodeAnnounce(annB)...)); err != nil {
		t.Fatal(err)
	}
	proofs := to(a, "b", kindConsent)
	if len(proofs) != 1 {
		t.Fatalf("a sent %d consent messages to the worse network, want 1", len(proofs))
	}
	if err := b.Step("a", append([]byte{kindConsent}, proofs[0]...)); err != nil {
		t.Fatal(err)
	}
	drive(b)
	if !b.Consented(tokA, "a") {
		t.Fatal("b did not record a's token")
	}
	if err := b.Step("a", append([]byte{kindAnnounce}, encodeAnnounce(annA)...)); err != nil {
		t.Fatal(err)
	}
	reqs := to(b, "a", kindHostRequest)
	if len(reqs) != 1 {
		t.Fatal("b did not ask the better network to host it")
	}
	if _, tok, _, err := decodeHostRequest(reqs[0]); err != nil || tok != tokA {
		t.Fatalf("host request carries %q (%v), want a's token", tok, err)
	}
}
