package store

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/naivechain/naivechain/internal/block"
)

// minedChain returns genesis and n proof-of-work blocks of two entries each.
func minedChain(t *testing.T, n int) []block.Block {
	t.Helper()
	c := []block.Block{block.Genesis()}
	for i := range n {
		entries := []string{fmt.Sprintf("%q", fmt.Sprintf("e%d-a", i)), fmt.Sprintf("%q", fmt.Sprintf("e%d-b", i))}
		b, err := block.Mine(block.NewPoW(c[len(c)-1], entries, int64(1000+i), block.MinDifficulty), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		c = append(c, b)
	}
	return c
}

// indexPuts returns the pow_entries records of blocks, as the pow engine
// writes them.
func indexPuts(t *testing.T, blocks []block.Block) []Put {
	t.Helper()
	var puts []Put
	for _, b := range blocks {
		if !b.IsPoW() {
			continue
		}
		entries, err := block.DecodeEntries(b.Data)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			id, _ := hex.DecodeString(block.EntryID(e))
			puts = append(puts, Put{Bucket: checkPowEntries, Key: id, Value: binary.BigEndian.AppendUint64(nil, b.Index)})
		}
	}
	return puts
}

// TestCheckIndexes: Check finds what is wrong in the engines' buckets it
// knows, and nothing in a consistent store.
func TestCheckIndexes(t *testing.T) {
	c := minedChain(t, 4)
	firstID := indexPuts(t, c)[0].Key
	keptEntry := `"kept"`
	keptID, _ := hex.DecodeString(block.EntryID(keptEntry))
	raft := func(i uint64) Put {
		return Put{Bucket: checkRaftLog, Key: binary.BigEndian.AppendUint64(nil, i), Value: []byte("entry")}
	}
	for _, tc := range []struct {
		name  string
		extra Batch
		want  string // "" for no problem
	}{
		{"clean", Batch{Puts: []Put{raft(5), raft(6), raft(7), {Bucket: checkPowKept, Key: keptID, Value: []byte(keptEntry)}}}, ""},
		{"raft log gap", Batch{Puts: []Put{raft(5), raft(7)}}, "raft_log: entries 6 to 6 are missing"},
		{"entry not indexed", Batch{Puts: []Put{{Bucket: checkPowEntries, Key: firstID}}}, "of block 1 is not indexed"},
		{"entry indexed elsewhere", Batch{Puts: []Put{{Bucket: checkPowEntries, Key: firstID, Value: binary.BigEndian.AppendUint64(nil, 3)}}},
			"of block 1 is indexed under 0000000000000003"},
		{"stale index entry", Batch{Puts: []Put{{Bucket: checkPowEntries, Key: keptID, Value: binary.BigEndian.AppendUint64(nil, 9)}}},
			"pow_entries: 9 entries, but the chain's blocks hold 8"},
		{"kept under another id", Batch{Puts: []Put{{Bucket: checkPowKept, Key: firstID, Value: []byte(keptEntry)}}}, "pow_kept: the entry under"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "chain.db")
			b := mustOpenBolt(t, path, BoltOptions{})
			if err := b.Write(Batch{Blocks: c, Puts: indexPuts(t, c)}); err != nil {
				t.Fatal(err)
			}
			if err := b.Write(tc.extra); err != nil {
				t.Fatal(err)
			}
			b.Close()
			r, err := Check(path, CheckOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var sb strings.Builder
			r.WriteTo(&sb)
			switch {
			case tc.want == "" && !r.OK():
				t.Fatalf("problems in a consistent store:\n%s", sb.String())
			case tc.want != "" && !strings.Contains(sb.String(), tc.want):
				t.Fatalf("report lacks %q:\n%s", tc.want, sb.String())
			}
			if r.Blocks != 5 || r.PoW != 4 {
				t.Fatalf("checked %d blocks, %d pow; want 5 and 4", r.Blocks, r.PoW)
			}
		})
	}
}

// TestCheckRefusesHeldStore: a store a running node holds is refused
// with ErrLocked once the timeout passes.
func TestCheckRefusesHeldStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chain.db")
	b := mustOpenBolt(t, path, BoltOptions{})
	if err := b.Append(block.Genesis()); err != nil {
		t.Fatal(err)
	}
	if _, err := Check(path, CheckOptions{Timeout: 20 * time.Millisecond}); !errors.Is(err, ErrLocked) {
		t.Fatalf("Check of a held store = %v, want ErrLocked", err)
	}
}

// TestCheckDamagedFixedPages: damage to the header of a meta page or of
// the free-page list, which bbolt opens past (it reads the other meta, or
// the list is loaded by the check), is a problem Check reports. Before,
// bbolt's consistency check asserted these headers on a goroutine of its
// own and the panic ended the process.
func TestCheckDamagedFixedPages(t *testing.T) {
	for _, tc := range []struct {
		name string
		page func(m boltMeta) uint64
		off  int // in the page header: 0 its id, 8 its flags
	}{
		{"meta 0 id", func(boltMeta) uint64 { return 0 }, 0},
		{"meta 1 id", func(boltMeta) uint64 { return 1 }, 0},
		{"meta 0 flags", func(boltMeta) uint64 { return 0 }, 8},
		{"free-page list id", func(m boltMeta) uint64 { return m.freelist }, 0},
		{"free-page list flags", func(m boltMeta) uint64 { return m.freelist }, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "chain.db")
			b := mustOpenBolt(t, path, BoltOptions{})
			if err := b.Append(chain(10)...); err != nil {
				t.Fatal(err)
			}
			b.Close()
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			m0, ok0 := parseBoltMeta(data)
			m1, ok1 := parseBoltMeta(data[m0.pageSize:])
			if !ok0 || !ok1 {
				t.Fatal("no valid meta pages in a fresh store")
			}
			m := m0
			if m1.txid > m0.txid {
				m = m1
			}
			data[tc.page(m)*uint64(m.pageSize)+uint64(tc.off)] ^= 0x40
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			r, err := Check(path, CheckOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if r.OK() {
				t.Fatalf("no problem found in a store with a damaged page header: %+v", r)
			}
		})
	}
}
