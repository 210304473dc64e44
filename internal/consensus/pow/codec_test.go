package pow

import (
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/consensus"
)

func payload(kind byte, body string) []byte { return append([]byte{kind}, body...) }

// powBlock is a block decode takes (decode checks shape, not work).
func powBlock(index uint64) block.Block {
	return block.Block{Index: index, PreviousHash: strings.Repeat("a", 64), Data: `["\"x\""]`, CurrHash: strings.Repeat("b", 64),
		Timestamp: 1_700_000_000_000, Nonce: 7, Difficulty: 8}
}

func blocksPayload(blocks ...block.Block) []byte {
	return encode(kindBlocks, blocksMsg{Blocks: blocks})
}

func locatorPayload(idx ...uint64) []byte {
	loc := make([]chain.LocatorEntry, len(idx))
	for i, x := range idx {
		loc[i] = chain.LocatorEntry{Index: x, Hash: fmt.Sprint(x)}
	}
	return encode(kindGetBlocks, getBlocksMsg{Locator: loc})
}

func groupsPayload(groups ...[]string) []byte { return encode(kindEntries, entriesMsg{Groups: groups}) }

func statusPayload(work string) []byte {
	return payload(kindStatus, fmt.Sprintf(`{"height":3,"hash":"abc","work":%q}`, work))
}

type decodeCase struct {
	name string
	p    []byte
	ok   bool
}

func decodeCases() []decodeCase {
	var many []block.Block
	for i := uint64(1); i <= maxBlocksPerMsg+1; i++ {
		many = append(many, powBlock(i))
	}
	longLoc := make([]uint64, chain.MaxLocatorEntries+1)
	for i := range longLoc {
		longLoc[i] = uint64(len(longLoc) - i)
	}
	manyGroups := make([][]string, maxGroupsPerMsg+1)
	for i := range manyGroups {
		manyGroups[i] = []string{fmt.Sprintf(`"g%d"`, i)}
	}
	onlyNonce := powBlock(1)
	onlyNonce.Timestamp, onlyNonce.Difficulty = 0, 0
	return []decodeCase{
		{"empty payload", nil, false},
		{"empty payload, not nil", []byte{}, false},
		{"unknown kind 0", payload(0, `{}`), false},
		{"unknown kind 5", payload(5, `{"groups":[["\"a\""]]}`), false},
		{"unknown kind 255", payload(255, `{}`), false},

		{"status", statusPayload("1f"), true},
		{"status, zero work", statusPayload("0"), true},
		{"status, 128 digits", statusPayload(strings.Repeat("f", maxWorkHex)), true},
		{"status, bad JSON", payload(kindStatus, `{"work":`), false},
		{"status, no body", payload(kindStatus, ``), false},
		{"status, not an object", payload(kindStatus, `[1]`), false},
		{"status, no work", payload(kindStatus, `{"height":1,"hash":"a"}`), false},
		{"status, work not a string", payload(kindStatus, `{"work":31}`), false},
		{"status, empty work", statusPayload(""), false},
		{"status, 129 digits", statusPayload(strings.Repeat("f", maxWorkHex+1)), false},
		{"status, 0x prefix", statusPayload("0x1"), false},
		{"status, leading zero", statusPayload("01"), false},
		{"status, leading zeros", statusPayload("00"), false},
		{"status, upper case", statusPayload("1F"), false},
		{"status, negative", statusPayload("-1"), false},
		{"status, plus sign", statusPayload("+1"), false},
		{"status, space", statusPayload(" 1"), false},
		{"status, underscore", statusPayload("1_0"), false},
		{"status, not hex", statusPayload("g"), false},

		{"getblocks", locatorPayload(10, 9, 0), true},
		{"getblocks, genesis only", locatorPayload(0), true},
		{"getblocks, 64 entries", locatorPayload(longLoc[1:]...), true},
		{"getblocks, bad JSON", payload(kindGetBlocks, `{"locator":[`), false},
		{"getblocks, no locator", payload(kindGetBlocks, `{}`), false},
		{"getblocks, empty locator", locatorPayload(), false},
		{"getblocks, 65 entries", locatorPayload(longLoc...), false},
		{"getblocks, repeated index", locatorPayload(5, 5, 0), false},
		{"getblocks, increasing", locatorPayload(0, 1), false},
		{"getblocks, increasing at the end", locatorPayload(9, 4, 6), false},

		{"blocks", blocksPayload(powBlock(1), powBlock(2)), true},
		{"blocks, one with only a nonce", blocksPayload(onlyNonce), true},
		{"blocks, with more", encode(kindBlocks, blocksMsg{Blocks: []block.Block{powBlock(4)}, More: true}), true},
		{"blocks, 500", blocksPayload(many[:maxBlocksPerMsg]...), true},
		{"blocks, bad JSON", payload(kindBlocks, `{"blocks":[{"index":1,]}`), false},
		{"blocks, difficulty over 255", payload(kindBlocks, `{"blocks":[{"index":1,"difficulty":256}]}`), false},
		{"blocks, none", blocksPayload(), false},
		{"blocks, null", payload(kindBlocks, `{"blocks":null}`), false},
		{"blocks, 501", blocksPayload(many...), false},
		{"blocks, a gap", blocksPayload(powBlock(1), powBlock(3)), false},
		{"blocks, repeated index", blocksPayload(powBlock(1), powBlock(1)), false},
		{"blocks, going back", blocksPayload(powBlock(2), powBlock(1)), false},
		{"blocks, classic genesis", blocksPayload(block.Genesis()), false},
		{"blocks, classic block", blocksPayload(block.Next(block.Genesis(), `"x"`)), false},
		{"blocks, classic after pow", blocksPayload(powBlock(1), block.Next(powBlock(1), `"x"`)), false},

		{"entries", groupsPayload([]string{`"a"`, `"b"`}, []string{`{"k": 1}`}), true},
		{"entries, 1000 groups", groupsPayload(manyGroups[:maxGroupsPerMsg]...), true},
		{"entries, group of 1000", groupsPayload(entries("e", block.MaxEntries)), true},
		{"entries, bad JSON", payload(kindEntries, `{"groups":[["a"]`), false},
		{"entries, no groups", groupsPayload(), false},
		{"entries, null groups", payload(kindEntries, `{"groups":null}`), false},
		{"entries, an empty group", groupsPayload([]string{`"a"`}, []string{}), false},
		{"entries, a null group", payload(kindEntries, `{"groups":[null]}`), false},
		{"entries, 1001 groups", groupsPayload(manyGroups...), false},
		{"entries, group of 1001", groupsPayload(entries("e", block.MaxEntries+1)), false},
		{"entries, empty entry", groupsPayload([]string{``}), false},
		{"entries, not JSON", groupsPayload([]string{`hello`}), false},
		{"entries, not canonical", groupsPayload([]string{`{"k":1}`}), false},
		{"entries, not ASCII", groupsPayload([]string{`"é"`}), false},
		{"entries, control byte", groupsPayload([]string{"\"a\tb\""}), false},
		{"entries, two values", groupsPayload([]string{`1 2`}), false},
		{"entries, one bad among good", groupsPayload([]string{`"a"`}, []string{`"b"`, `'c'`}), false},
	}
}

func TestDecode(t *testing.T) {
	for _, tc := range decodeCases() {
		t.Run(tc.name, func(t *testing.T) {
			d, err := decode(tc.p)
			if !tc.ok {
				if !errors.Is(err, consensus.ErrMalformed) {
					t.Fatalf("decode = %v, want ErrMalformed", err)
				}
				if d != (decoded{}) {
					t.Fatalf("a refused payload decoded to %+v", d)
				}
				return
			}
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			set := 0
			for _, p := range []bool{d.status != nil, d.getBlocks != nil, d.blocks != nil, d.entries != nil} {
				if p {
					set++
				}
			}
			if set != 1 {
				t.Fatalf("%d fields set: %+v", set, d)
			}
			if kind := kindOf(d); kind != tc.p[0] {
				t.Fatalf("payload of kind %d decoded as kind %d", tc.p[0], kind)
			}
		})
	}
}

func TestDecodeFields(t *testing.T) {
	d, err := decode(statusPayload("1f"))
	if err != nil || d.status.Height != 3 || d.status.Hash != "abc" || d.work.Cmp(big.NewInt(31)) != 0 {
		t.Fatalf("status = %+v, work %v, %v", d.status, d.work, err)
	}
	d, err = decode(encode(kindBlocks, blocksMsg{Blocks: []block.Block{powBlock(4), powBlock(5)}, More: true}))
	if err != nil || !d.blocks.More || !reflect.DeepEqual(d.blocks.Blocks, []block.Block{powBlock(4), powBlock(5)}) {
		t.Fatalf("blocks = %+v, %v", d.blocks, err)
	}
}

func kindOf(d decoded) byte {
	switch {
	case d.status != nil:
		return kindStatus
	case d.getBlocks != nil:
		return kindGetBlocks
	case d.blocks != nil:
		return kindBlocks
	case d.entries != nil:
		return kindEntries
	}
	return 0
}

// reencode encodes a decoded payload again.
func reencode(d decoded) []byte {
	switch {
	case d.status != nil:
		return encode(kindStatus, *d.status)
	case d.getBlocks != nil:
		return encode(kindGetBlocks, *d.getBlocks)
	case d.blocks != nil:
		return encode(kindBlocks, *d.blocks)
	default:
		return encode(kindEntries, *d.entries)
	}
}

func FuzzDecode(f *testing.F) {
	for _, tc := range decodeCases() {
		if len(tc.p) < 4096 {
			f.Add(tc.p)
		}
	}
	f.Add(payload(kindBlocks, `{"blocks":[{"index":1,"nonce":1,"data":"\xff"}],"BLOCKS":[]}`))
	f.Add(payload(kindStatus, `{"work":"a","Work":"b","height":18446744073709551615}`))
	f.Fuzz(func(t *testing.T, p []byte) {
		d, err := decode(p)
		if err != nil {
			if !errors.Is(err, consensus.ErrMalformed) {
				t.Fatalf("decode error %v does not wrap ErrMalformed", err)
			}
			return
		}
		again, err := decode(reencode(d))
		if err != nil {
			t.Fatalf("re-encoded payload refused: %v", err)
		}
		if d.work != nil && d.work.Cmp(again.work) != 0 {
			t.Fatalf("work %v became %v", d.work, again.work)
		}
		d.work, again.work = nil, nil
		if !reflect.DeepEqual(d, again) {
			t.Fatalf("decoded %+v, after re-encoding %+v", d, again)
		}
	})
}

// fuzzChain is a valid 3-block chain and blocks that could follow or
// fork from it.
type fuzzChain struct {
	blocks []block.Block // genesis to the tip
	now    time.Time
}

func newFuzzChain(t testing.TB) fuzzChain {
	now := time.UnixMilli(1_700_000_000_000)
	blocks := []block.Block{block.Genesis()}
	for i := 0; i < 3; i++ {
		now = now.Add(time.Second)
		blocks = append(blocks, mineBlock(t, blocks[len(blocks)-1], []string{fmt.Sprintf(`"c%d"`, i)}, now.UnixMilli(), block.MinDifficulty))
	}
	return fuzzChain{blocks: blocks, now: now}
}

func FuzzStep(f *testing.F) {
	fc := newFuzzChain(f)
	tip := fc.blocks[3]
	ts := fc.now.UnixMilli()
	next := mineBlock(f, tip, []string{`"n"`}, ts+1000, block.MinDifficulty)
	fork2 := mineBlock(f, fc.blocks[1], []string{`"f2"`}, ts+1, block.MinDifficulty)
	fork3 := mineBlock(f, fork2, []string{`"f3"`}, ts+2, block.MinDifficulty)
	fork4 := mineBlock(f, fork3, []string{`"f4"`}, ts+3, block.MinDifficulty)
	dup := mineBlock(f, tip, []string{`"c0"`}, ts+1000, block.MinDifficulty)
	hard := mineBlock(f, tip, []string{`"h"`}, ts+1000, block.MinDifficulty+1)
	future := mineBlock(f, tip, []string{`"t"`}, ts+int64(time.Hour/time.Millisecond), block.MinDifficulty)
	for _, p := range [][]byte{
		blocksPayload(next),
		blocksPayload(fork2, fork3, fork4),
		blocksPayload(fork2, fork3),
		blocksPayload(fork4),
		blocksPayload(fc.blocks[1:]...),
		encode(kindBlocks, blocksMsg{Blocks: []block.Block{fork2}, More: true}),
		blocksPayload(dup),
		blocksPayload(hard),
		blocksPayload(future),
		encode(kindStatus, statusMsg{Height: 9, Hash: fork4.CurrHash, Work: "ffff"}),
		encode(kindStatus, statusMsg{Height: 4, Hash: next.CurrHash, Work: "400"}),
		encode(kindGetBlocks, getBlocksMsg{Locator: []chain.LocatorEntry{{Index: 1, Hash: fc.blocks[1].CurrHash}, {Index: 0, Hash: block.GenesisHash}}}),
		encode(kindGetBlocks, getBlocksMsg{Locator: []chain.LocatorEntry{{Index: 99, Hash: "x"}}}),
		groupsPayload([]string{`"c0"`, `"new"`}, []string{`"c1"`}, []string{`"n"`}),
		statusPayload("0"),
	} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		now := fc.now
		e := newEngine(t, func() time.Time { return now }, nil)
		e.Greet([]string{"peer"})
		if err := stepDriven(t, e, "peer", blocksPayload(fc.blocks[1:]...)); err != nil {
			t.Fatal(err)
		}
		if e.chain.Tip() != tip {
			t.Fatal("the chain did not load")
		}
		work := new(big.Int).Set(e.idx.work)
		err := e.Step("peer", p)
		if err != nil && !errors.Is(err, consensus.ErrMalformed) && !errors.Is(err, consensus.ErrInvalidBlock) {
			t.Fatalf("Step error %v is neither malformed nor invalid", err)
		}
		e.Tick()
		e.Mining()
		if rd := drive(t, e); rd.Err != nil {
			t.Fatalf("engine failed: %v", rd.Err)
		}
		if e.idx.work.Cmp(work) < 0 {
			t.Fatalf("work fell from %x to %x", work, e.idx.work)
		}
		checkEngine(t, e)
	})
}
