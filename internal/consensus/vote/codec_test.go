package vote

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/consensus"
)

func TestBatchRoundTrip(t *testing.T) {
	cases := []batch{
		{Session: 1, Low: 1, Items: []item{}},
		{Session: 1<<64 - 1, Low: 7, Items: []item{{Seq: 7, Data: `"a"`}, {Seq: 9, Data: ""}, {Seq: 1 << 40, Data: `{"k":[1,2]}`}}},
	}
	for _, b := range cases {
		got, err := decodeBatch(encodeBatch(b))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, b) {
			t.Fatalf("round trip: got %+v, want %+v", got, b)
		}
	}
}

func TestDecodeBatchRejects(t *testing.T) {
	good := encodeBatch(batch{Session: 1, Low: 1, Items: []item{{Seq: 1, Data: "xyz"}}})
	cases := map[string][]byte{
		"empty":         nil,
		"version":       append([]byte{9}, good[1:]...),
		"truncated":     good[:len(good)-1],
		"trailing":      append(append([]byte{}, good...), 0),
		"too many":      {batchVersion, 1, 1, 0xff, 0xff, 0xff, 0x7f},
		"huge item":     {batchVersion, 1, 1, 1, 1, 0xff, 0xff, 0xff, 0x7f},
		"bad varint":    {batchVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"missing items": {batchVersion, 1, 1, 3},
	}
	for name, in := range cases {
		if _, err := decodeBatch(in); !errors.Is(err, consensus.ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func TestDedupe(t *testing.T) {
	d := newDedupe()
	admit := func(session, low uint64, seqs ...uint64) []bool {
		b := batch{Session: session, Low: low}
		for _, s := range seqs {
			b.Items = append(b.Items, item{Seq: s})
		}
		return d.admit(b)
	}
	steps := []struct {
		session, low uint64
		seqs         []uint64
		want         []bool
	}{
		{1, 1, []uint64{1, 2}, []bool{true, true}},
		{1, 1, []uint64{2, 3}, []bool{false, true}}, // 2 re-proposed
		{2, 1, []uint64{1}, []bool{true}},           // another session
		{1, 1, []uint64{5}, []bool{true}},           // a gap at 4
		{1, 1, []uint64{4, 5}, []bool{true, false}}, // 4 fills the gap
		{1, 8, []uint64{6}, []bool{false}},          // 6, 7 abandoned: below the floor
		{1, 8, []uint64{8}, []bool{true}},
	}
	for i, s := range steps {
		if got := admit(s.session, s.low, s.seqs...); !reflect.DeepEqual(got, s.want) {
			t.Fatalf("step %d: got %v, want %v", i, got, s.want)
		}
	}
	if s := d.sessions[1]; s.floor != 8 || len(s.above) != 0 {
		t.Fatalf("session 1: floor %d above %v; want 8 and nothing", s.floor, s.above)
	}
}

func TestValidateMember(t *testing.T) {
	good := consensus.Member{ID: "a-1", Host: "node1.example.org", Port: "15001"}
	if err := ValidateMember(good); err != nil {
		t.Fatal(err)
	}
	for _, m := range []consensus.Member{
		{ID: "", Host: "h", Port: "1"},
		{ID: "a b", Host: "h", Port: "1"},
		{ID: "a", Host: "", Port: "1"},
		{ID: "a", Host: "h h", Port: "1"},
		{ID: "a", Host: "h", Port: "0"},
		{ID: "a", Host: "h", Port: "65536"},
		{ID: "a", Host: "h", Port: "1x"},
		{ID: "a", Host: "h", Port: "1", HTTPPort: "-1"},
	} {
		if err := ValidateMember(m); !errors.Is(err, consensus.ErrMalformed) {
			t.Errorf("%+v: err = %v, want ErrMalformed", m, err)
		}
	}
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add(encodeBatch(batch{Session: 3, Low: 1, Items: []item{{Seq: 1, Data: `"x"`}}}))
	f.Add([]byte{batchVersion})
	f.Fuzz(func(t *testing.T, in []byte) {
		b, err := decodeBatch(in)
		if cerr := checkBatch(in); (cerr == nil) != (err == nil) || cerr != nil && cerr.Error() != err.Error() {
			t.Fatalf("checkBatch(%q) = %v, decodeBatch says %v", in, cerr, err)
		}
		if err != nil {
			return
		}
		again, err := decodeBatch(encodeBatch(b))
		if err != nil || !reflect.DeepEqual(again, b) {
			t.Fatalf("re-encoding changed %+v into %+v (%v)", b, again, err)
		}
	})
}

func FuzzDecodeBlocksEntry(f *testing.F) {
	g := block.Genesis()
	seed, err := encodeBlocks([]block.Block{block.Next(g, `"a"`)})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte{blocksVersion, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		blocks, err := decodeBlocksEntry(in)
		if err != nil {
			return
		}
		for _, b := range blocks {
			if b.IsPoW() {
				t.Fatalf("decoded a proof-of-work block %+v", b)
			}
		}
		enc, err := encodeBlocks(blocks)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", blocks, err)
		}
		again, err := decodeBlocksEntry(enc)
		if err != nil || !reflect.DeepEqual(again, blocks) {
			t.Fatalf("re-encoding changed %+v into %+v (%v)", blocks, again, err)
		}
	})
}

// powBlockOn returns a proof-of-work block on prev: the vote codec must
// refuse it whether or not it is valid, so it is not mined.
func powBlockOn(t testing.TB, prev block.Block) block.Block {
	t.Helper()
	b, err := block.Seal(block.NewPoW(prev, []string{`"pow"`}, 1_700_000_000_000, block.MinDifficulty), 0)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBlockCodecRefusesPoW: the engine's block codec carries four fields;
// it refuses a proof-of-work block rather than drop its other three.
func TestBlockCodecRefusesPoW(t *testing.T) {
	g := block.Genesis()
	classic := block.Next(g, `"a"`)
	for _, pow := range []block.Block{
		powBlockOn(t, g),
		{Index: 1, PreviousHash: g.CurrHash, Data: `"a"`, CurrHash: classic.CurrHash, Nonce: 1},
		{Index: 1, PreviousHash: g.CurrHash, Data: `"a"`, CurrHash: classic.CurrHash, Timestamp: -1},
		{Index: 1, PreviousHash: g.CurrHash, Data: `"a"`, CurrHash: classic.CurrHash, Difficulty: 1},
	} {
		prefix := []byte{0xaa}
		buf, err := appendBlock(prefix, pow)
		if !errors.Is(err, ErrPoWBlock) || !bytes.Equal(buf, prefix) {
			t.Errorf("appendBlock(%+v) = %x, %v; want the buffer unchanged and ErrPoWBlock", pow, buf, err)
		}
		if buf, err := encodeBlocks([]block.Block{classic, pow}); !errors.Is(err, ErrPoWBlock) || buf != nil {
			t.Errorf("encodeBlocks with %+v = %x, %v; want ErrPoWBlock", pow, buf, err)
		}
	}
	// Classic blocks still round trip.
	buf, err := encodeBlocks([]block.Block{classic})
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeBlocksEntry(buf)
	if err != nil || len(got) != 1 || got[0] != (block.Block{PreviousHash: classic.PreviousHash, Data: classic.Data, CurrHash: classic.CurrHash}) {
		t.Fatalf("decodeBlocksEntry = %+v, %v", got, err)
	}
}

// FuzzAdmissionDecoders: the decoders of join requests, vouches, consents,
// host requests and token and consent entries never panic, and what they
// accept encodes back to the same bytes.
func FuzzAdmissionDecoders(f *testing.F) {
	f.Add(byte(0), encodeJoin(consensus.Member{ID: "n", Host: "h", Port: "1"}, "tok"))
	f.Add(byte(1), encodeVouch(map[uint64]consensus.Member{7: {ID: "n"}}))
	f.Add(byte(2), encodeConsent("yours-token-0123456789", "mine-token-0123456789"))
	f.Add(byte(3), encodeHostRequest(announce{Cluster: 1, Height: 1, Tip: strings.Repeat("a", 64)}, "tok", "own-token-0123456789"))
	f.Add(byte(4), encodeTokenEntry("a-token-0123456789"))
	f.Add(byte(5), encodeConsentEntry(consent{Token: "a-token-0123456789", Peer: "n"}))
	f.Fuzz(func(t *testing.T, which byte, b []byte) {
		switch which % 6 {
		case 0:
			if j, err := decodeJoin(b); err == nil {
				if ValidateMember(j.Member) != nil || len(j.Token) > maxTokenLen {
					t.Fatalf("decodeJoin accepted %+v", j)
				}
			}
		case 1:
			if ms, err := decodeVouch(b); err == nil {
				back := make(map[uint64]consensus.Member, len(ms))
				for id, n := range ms {
					back[id] = consensus.Member{ID: n}
				}
				// Repeated raft ids collapse: compare the maps.
				again, err := decodeVouch(encodeVouch(back))
				if err != nil || !reflect.DeepEqual(again, ms) {
					t.Fatalf("vouch %x does not round-trip: %v", b, err)
				}
			}
		case 2:
			if y, m, err := decodeConsent(b); err == nil && !bytes.Equal(encodeConsent(y, m), b) {
				t.Fatalf("consent %x does not round-trip", b)
			}
		case 3:
			if a, tok, own, err := decodeHostRequest(b); err == nil && !bytes.Equal(encodeHostRequest(a, tok, own), b) {
				t.Fatalf("host request %x does not round-trip", b)
			}
		case 4:
			if tok, err := decodeTokenEntry(b); err == nil && !bytes.Equal(encodeTokenEntry(tok), b) {
				t.Fatalf("token entry %x does not round-trip", b)
			}
		case 5:
			if c, err := decodeConsentEntry(b); err == nil && !bytes.Equal(encodeConsentEntry(c), b) {
				t.Fatalf("consent entry %x does not round-trip", b)
			}
		}
	})
}
