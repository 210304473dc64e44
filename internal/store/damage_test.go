package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/naivechain/naivechain/internal/block"
)

// intactChain returns n blocks from genesis whose data, "intact-%06d",
// is the same length in every block, so that a test can find one in the
// file and change it in place.
func intactChain(n int) []block.Block {
	c := []block.Block{block.Genesis()}
	for len(c) < n {
		c = append(c, block.Next(c[len(c)-1], fmt.Sprintf("intact-%06d", len(c))))
	}
	return c
}

// writeStore writes blocks into a new Logged store at path, as a node
// does, and closes it, which copies them into the bolt file.
func writeStore(t *testing.T, path string, blocks []block.Block) {
	t.Helper()
	l, err := OpenLogged(path, LoggedOptions{BoltOptions: BoltOptions{Logger: slog.New(slog.DiscardHandler)}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(blocks); i += 100 {
		if err := l.Append(blocks[i:min(i+100, len(blocks))]...); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// editFile finds old, once, in the file at path and writes repl (of the
// same length) over it.
func editFile(t *testing.T, path string, old, repl []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(data, old); n != 1 {
		t.Fatalf("%q is %d times in %s, want once", old, n, path)
	}
	copy(data[bytes.Index(data, old):], repl)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// flipBlockBit flips the lowest bit of the last digit of block index's
// data in the bolt file: "intact-000006" reads "intact-000007".
func flipBlockBit(t *testing.T, path string, index int) {
	t.Helper()
	old := []byte(fmt.Sprintf("intact-%06d", index))
	repl := bytes.Clone(old)
	repl[len(repl)-1] ^= 1
	editFile(t, path, old, repl)
}

// logLines is a slog handler's output, safe for concurrent writes.
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logLines) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.buf.String(), s)
}

// TestFlippedBlockBitIsNeverServed is the case: 1,100 blocks, a
// bit flipped in block 6's data in the bolt file, older than the blocks
// checked at open. Every read of it fails with ErrCorrupt naming the
// block, the damage is logged once, and the store refuses writes.
func TestFlippedBlockBitIsNeverServed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chain.db")
	c := intactChain(1100)
	writeStore(t, path, c)
	flipBlockBit(t, path, 6)

	var logs logLines
	l, err := OpenLogged(path, LoggedOptions{BoltOptions: BoltOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if Damage(l) != nil {
		t.Fatal("damaged before any read of block 6")
	}
	for range 3 {
		blk, err := l.Block(6)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "block 6 ") {
			t.Fatalf("Block(6) = %q, %v; want ErrCorrupt naming block 6", blk.Data, err)
		}
	}
	var iterErr error
	for b, err := range l.Blocks(0) {
		if err != nil {
			iterErr = err
			break
		}
		if b.Index >= 6 {
			t.Fatalf("Blocks yielded block %d (%q) past the damaged one", b.Index, b.Data)
		}
	}
	if !errors.Is(iterErr, ErrCorrupt) || !strings.Contains(iterErr.Error(), "block 6 ") {
		t.Fatalf("Blocks ended with %v, want ErrCorrupt naming block 6", iterErr)
	}
	if b, err := l.Block(5); err != nil || b != c[5] {
		t.Fatalf("Block(5) = %v, %v; an intact block must still read", b, err)
	}
	if err := Damage(l); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Damage = %v, want ErrCorrupt", err)
	}
	next := block.Next(c[len(c)-1], "after")
	if err := l.Append(next); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Append on a damaged store = %v, want a refusal wrapping ErrCorrupt", err)
	}
	if l.Len() != 1100 {
		t.Fatalf("Len = %d after a refused write", l.Len())
	}
	if n := logs.count("the store is damaged"); n != 1 {
		t.Fatalf("the damage was logged %d times, want once:\n%s", n, logs.buf.String())
	}
}

// TestBrokenLinkIsCorrupt stores a block whose own hash holds but whose
// previous_hash names another block: a read that walks the chain fails
// there, a read of the block alone cannot know.
func TestBrokenLinkIsCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chain.db")
	c := intactChain(3000)
	writeStore(t, path, c)
	for _, at := range []uint64{7, chunkBlocks, chunkBlocks + 1} { // inside a chunk, first of one, just after
		t.Run(fmt.Sprint(at), func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "chain.db")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, data, 0o600); err != nil {
				t.Fatal(err)
			}
			other := block.Next(block.Next(block.Genesis(), "elsewhere"), c[at].Data)
			other.Index = at
			corruptBlock(t, p, at, encodeBlock(other))
			b := mustOpenBolt(t, p, BoltOptions{Logger: slog.New(slog.DiscardHandler)})
			if got, err := b.Block(at); err != nil || got != other {
				t.Fatalf("Block(%d) = %v, %v; its own hash holds", at, got, err)
			}
			var last uint64
			var iterErr error
			for blk, err := range b.Blocks(1) {
				if err != nil {
					iterErr = err
					break
				}
				last = blk.Index
			}
			want := fmt.Sprintf("block %d as read from disk does not link to block %d", at, at-1)
			if !errors.Is(iterErr, ErrCorrupt) || !strings.Contains(iterErr.Error(), want) {
				t.Fatalf("Blocks ended with %v after block %d, want ErrCorrupt: %s", iterErr, last, want)
			}
			if last >= at {
				t.Fatalf("Blocks yielded block %d", last)
			}
			if Damage(b) == nil {
				t.Fatal("a broken link did not mark the store damaged")
			}
		})
	}
}

// TestOpenRefusesTruncatedFile truncates a real store's bolt file below
// the pages its meta page says are in use, and to 0 bytes: open refuses
// with ErrCorrupt saying so, without a panic, and changes no file.
func TestOpenRefusesTruncatedFile(t *testing.T) {
	src := filepath.Join(t.TempDir(), "chain.db")
	writeStore(t, src, intactChain(20000))
	var need int64
	db, err := bolt.Open(src, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.View(func(tx *bolt.Tx) error { need = tx.Size(); return nil }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if need < 64<<10 {
		t.Fatalf("the store uses only %d bytes; the test wants more pages", need)
	}
	for _, tc := range []struct {
		name string
		size int64
		want string
	}{
		{"half", need / 2, fmt.Sprintf("the file is truncated: %d bytes, its pages need %d", need/2, need)},
		{"last page short", need - 1, fmt.Sprintf("the file is truncated: %d bytes, its pages need %d", need-1, need)},
		{"three pages", 3 * 4096, fmt.Sprintf("the file is truncated: %d bytes, its pages need %d", 3*4096, need)},
		{"one page", 4096, "the file is truncated"},
		{"empty", 0, "the file is empty (0 bytes)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "chain.db")
			copyFile(t, src, path)
			if err := os.Truncate(path, tc.size); err != nil {
				t.Fatal(err)
			}
			before := dirState(t, dir)
			for _, open := range []func() error{
				func() error { b, err := OpenBolt(path, BoltOptions{}); closeIf(b, err); return err },
				func() error { l, err := OpenLogged(path, LoggedOptions{}); closeIf(l, err); return err },
			} {
				err := open()
				if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("open = %v, want ErrCorrupt: %s", err, tc.want)
				}
			}
			if after := dirState(t, dir); after != before {
				t.Fatalf("the refused data dir changed:\n%s\nthen\n%s", before, after)
			}
		})
	}
}

// closeIf closes s when err is nil.
func closeIf(s io.Closer, err error) {
	if err == nil {
		s.Close()
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// dirState describes every file of dir: name, size, mode and content hash.
func dirState(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&sb, "%s %d %v %x\n", e.Name(), fi.Size(), fi.Mode(), fileSum(t, filepath.Join(dir, e.Name())))
	}
	return sb.String()
}

// TestDamagedPageIsAnErrorNotAPanic damages the header of a page of the
// blocks bucket, which makes bbolt panic ("assertion failed: Page
// expected to be ..."): the read fails with ErrCorrupt instead, and the
// store refuses writes.
func TestDamagedPageIsAnErrorNotAPanic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chain.db")
	writeStore(t, path, intactChain(5000))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	off := bytes.Index(data, []byte("intact-000006"))
	page := off / 4096 * 4096
	copy(data[page:page+8], "garbage!") // the page's id
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	b := mustOpenBolt(t, path, BoltOptions{Logger: slog.New(slog.DiscardHandler)})
	if _, err := b.Block(6); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "bbolt failed on a damaged page") {
		t.Fatalf("Block(6) = %v, want ErrCorrupt from bbolt's panic", err)
	}
	if err := b.Append(block.Next(intactChain(5000)[4999], "x")); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Append = %v, want a refusal", err)
	}
}

// FuzzParseBoltMeta feeds the meta page decoder, which reads a file
// before bbolt does: it never panics, and what it accepts is a page size
// bbolt could have written.
func FuzzParseBoltMeta(f *testing.F) {
	dir := f.TempDir()
	path := filepath.Join(dir, "chain.db")
	b, err := OpenBolt(path, BoltOptions{})
	if err != nil {
		f.Fatal(err)
	}
	b.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data[:4096])
	f.Add(data[4096:8192])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, p []byte) {
		m, ok := parseBoltMeta(p)
		if ok && (m.pageSize < 512 || m.pageSize&(m.pageSize-1) != 0 || m.pgid < 2) {
			t.Fatalf("accepted %+v", m)
		}
	})
}
