package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/node"
	"github.com/naivechain/naivechain/internal/store"
)

// fillDir fills a new data dir with n blocks through `naivechain fill`,
// as a node writes them, and returns it.
func fillDir(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	f := startProc(t, "fill", "fill", "-n", strconv.Itoa(n), "--data-dir", dir, "-p", strconv.Itoa(freePorts(t, 2)))
	if code := f.waitExit(t, startDeadline); code != 0 {
		t.Fatalf("fill exited %d\n%s", code, f.tail())
	}
	return dir
}

// filledBlocks returns the blocks fill writes: block i+1 carries "fill-i".
func filledBlocks(n int) []block.Block {
	c := []block.Block{block.Genesis()}
	for i := range n {
		c = append(c, block.Next(c[len(c)-1], strconv.Quote(fmt.Sprintf("fill-%d", i))))
	}
	return c
}

// encodedV1 is a classic block's value in the blocks bucket (see the
// store package's doc).
func encodedV1(b block.Block) []byte {
	v := []byte{1}
	for _, f := range []string{b.PreviousHash, b.Data, b.CurrHash} {
		v = binary.AppendUvarint(v, uint64(len(f)))
		v = append(v, f...)
	}
	return v
}

// replaceOnce writes repl over the one occurrence of old in the file.
func replaceOnce(t *testing.T, path string, old, repl []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(data, old); n != 1 {
		t.Fatalf("found %d copies in %s, want 1", n, path)
	}
	copy(data[bytes.Index(data, old):], repl)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// flipBlock7 flips a bit of block 7's data in chain.db: "fill-6" reads
// "fill-7".
func flipBlock7(t *testing.T, dir string) {
	t.Helper()
	b := filledBlocks(7)[7]
	old := encodedV1(b)
	repl := bytes.Clone(old)
	i := bytes.Index(repl, []byte(`fill-6`)) + len(`fill-`)
	repl[i] ^= 1
	replaceOnce(t, filepath.Join(dir, node.StoreFile), old, repl)
}

// dirState describes every file of dir: name, size, mode, time and hash.
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
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&sb, "%s %d %v %v %x\n", e.Name(), fi.Size(), fi.Mode(), fi.ModTime(), sha256.Sum256(data))
	}
	return sb.String()
}

// TestStartRefusesDamagedStoreFile: a node whose chain.db is truncated
// (below the pages in use, or to 0 bytes) refuses to start with exit 2
// and a message saying so, without a panic, and leaves the data dir as it
// was: nothing created (node.key included), nothing rewritten.
func TestStartRefusesDamagedStoreFile(t *testing.T) {
	t.Parallel()
	src := fillDir(t, 1100)
	for _, tc := range []struct {
		name    string
		size    int64
		keyless bool // a data dir with nothing but chain.db
		want    string
	}{
		{"half", 128 << 10, false, "the file is truncated: 131072 bytes, its pages need"},
		{"three pages", 12288, false, "the file is truncated: 12288 bytes, its pages need"},
		{"empty", 0, false, "the file is empty (0 bytes)"},
		{"empty alone", 0, true, "the file is empty (0 bytes)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, name := range []string{node.StoreFile, node.StoreFile + "-wal0", "node.key"} {
				if tc.keyless && name != node.StoreFile {
					continue
				}
				data, err := os.ReadFile(filepath.Join(src, name))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Truncate(filepath.Join(dir, node.StoreFile), tc.size); err != nil {
				t.Fatal(err)
			}
			before := dirState(t, dir)
			p := startProc(t, "damaged", "-p", strconv.Itoa(freePorts(t, 2)), "--host", "127.0.0.1", "--data-dir", dir)
			code := p.waitExit(t, startDeadline)
			out := p.stderr.String()
			if code != 2 || !strings.Contains(out, tc.want) || strings.Contains(out, "panic") || !strings.Contains(out, "naivechain check") {
				t.Fatalf("exit %d, want 2 with %q and what to do\n%s", code, tc.want, p.tail())
			}
			if after := dirState(t, dir); after != before {
				t.Fatalf("the refused data dir changed:\n%s\nthen\n%s", before, after)
			}
		})
	}
}

// TestFlippedBlockBitAnswers500: the case through a real node: a
// bit flipped in block 7's data inside chain.db is never served; reads
// of it are 500s with the API's error shape, /node says unhealthy,
// writes are refused, and the damage is logged once.
func TestFlippedBlockBitAnswers500(t *testing.T) {
	t.Parallel()
	dir := fillDir(t, 1100)
	flipBlock7(t, dir)
	n := startNode(t, "flipped", "--data-dir", dir)
	for _, path := range []string{"/data", "/blocks/7", "/blocks?from=0"} {
		code, raw, err := httpDo(http.MethodGet, n.url+path, "")
		body := string(raw)
		if err != nil {
			t.Fatal(err)
		}
		if code != http.StatusInternalServerError || !strings.Contains(body, `"status": "ERROR"`) ||
			!strings.Contains(body, "block 7 as read from disk fails its hash") || strings.Contains(body, "fill-7") {
			t.Fatalf("GET %s: %d %s; want a 500 naming block 7", path, code, body)
		}
	}
	info, err := getNode(n)
	if err != nil || info.Health {
		t.Fatalf("GET /node: %+v, %v; want health false", info, err)
	}
	code, body, err := httpDo(http.MethodPost, n.url+"/data", `{"data":"after the damage"}`)
	if err != nil || code == http.StatusOK {
		t.Fatalf("POST /data on a damaged store: %d %s %v", code, body, err)
	}
	if c := strings.Count(n.proc.stderr.String(), "the store is damaged and refuses writes"); c != 1 {
		t.Fatalf("the damage was logged %d times, want once\n%s", c, n.proc.tail())
	}
}

// runCheckCmd runs `naivechain check --data-dir dir` and returns its
// exit code and output.
func runCheckCmd(t *testing.T, dir string, extra ...string) (int, string) {
	t.Helper()
	p := startProc(t, "check", append([]string{"check", "--data-dir", dir}, extra...)...)
	code := p.waitExit(t, startDeadline)
	return code, p.stdout.String() + p.stderr.String()
}

// TestCheckCleanStore: a store fill wrote checks clean, read-only.
func TestCheckCleanStore(t *testing.T) {
	t.Parallel()
	dir := fillDir(t, 1100)
	before := dirState(t, dir)
	code, out := runCheckCmd(t, dir)
	if code != 0 || !strings.Contains(out, "blocks: 1101 checked from genesis") || !strings.Contains(out, "no problems found") ||
		!strings.Contains(out, "bucket raft_log") || !strings.Contains(out, "bbolt's consistency check ran") {
		t.Fatalf("check exited %d:\n%s", code, out)
	}
	if after := dirState(t, dir); after != before {
		t.Fatalf("check changed the data dir:\n%s\nthen\n%s", before, after)
	}
}

// TestCheckFindsDamage: each kind of damage makes check exit 1 with a
// message naming it, and check changes nothing.
func TestCheckFindsDamage(t *testing.T) {
	t.Parallel()
	src := fillDir(t, 1100)
	copyDir := func(t *testing.T, from string) string {
		dir := t.TempDir()
		ents, err := os.ReadDir(from)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			data, err := os.ReadFile(filepath.Join(from, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T) string // returns the data dir
		want   string
	}{
		{"flipped block bit", func(t *testing.T) string {
			dir := copyDir(t, src)
			flipBlock7(t, dir)
			return dir
		}, "block 7 as read from disk fails its hash"},
		{"broken link", func(t *testing.T) string {
			dir := copyDir(t, src)
			b := filledBlocks(7)[7]
			other := block.Block{Index: 7, PreviousHash: strings.Repeat("a", 64), Data: b.Data}
			other.CurrHash = block.Hash(other.PreviousHash, other.Data)
			replaceOnce(t, filepath.Join(dir, node.StoreFile), encodedV1(b), encodedV1(other))
			return dir
		}, "block 7 as read from disk does not link to block 6"},
		{"truncated file", func(t *testing.T) string {
			dir := copyDir(t, src)
			if err := os.Truncate(filepath.Join(dir, node.StoreFile), 12288); err != nil {
				t.Fatal(err)
			}
			return dir
		}, "the file is truncated: 12288 bytes"},
		{"damaged log record", damagedLogDir, "write-ahead log chain.db-wal0: damaged record"},
		{"log file deleted", lostLogDir, "write-ahead log chain.db-wal0 is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.damage(t)
			before := dirState(t, dir)
			code, out := runCheckCmd(t, dir)
			if code != 1 || !strings.Contains(out, tc.want) {
				t.Fatalf("check exited %d, want 1 with %q:\n%s", code, tc.want, out)
			}
			if after := dirState(t, dir); after != before {
				t.Fatalf("check changed the data dir:\n%s\nthen\n%s", before, after)
			}
		})
	}
}

// damagedLogDir makes a data dir as a kill -9 leaves it, with records in
// the log the bolt file does not hold yet, and damages the second: its
// checksum fails and the third record follows it.
func damagedLogDir(t *testing.T) string {
	t.Helper()
	dir := loggedDir(t)
	wal := filepath.Join(dir, node.StoreFile+"-wal0")
	data, err := os.ReadFile(wal)
	if err != nil {
		t.Fatal(err)
	}
	second := 8 + int(binary.BigEndian.Uint32(data)) // a record: length, checksum, body
	data[second+8+10] ^= 0x10
	if err := os.WriteFile(wal, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// lostLogDir is loggedDir with chain.db-wal0 deleted.
func lostLogDir(t *testing.T) string {
	t.Helper()
	dir := loggedDir(t)
	if err := os.Remove(filepath.Join(dir, node.StoreFile+"-wal0")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// loggedDir returns a data dir whose store holds blocks only in its
// write-ahead log, as a crash leaves it.
func loggedDir(t *testing.T) string {
	t.Helper()
	live, dir := t.TempDir(), t.TempDir()
	st, err := store.OpenLogged(filepath.Join(live, node.StoreFile), store.LoggedOptions{BoltOptions: store.BoltOptions{Logger: slog.New(slog.DiscardHandler)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range filledBlocks(5) {
		if err := st.Append(b); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{node.StoreFile, node.StoreFile + "-wal0", node.StoreFile + "-wal1"} {
		data, err := os.ReadFile(filepath.Join(live, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestCheckRefusesRunningNode: check does not read a store a node holds
// (exit 2), and says so; usage errors are exit 2 too.
func TestCheckRefusesRunningNode(t *testing.T) {
	t.Parallel()
	dir := fillDir(t, 10)
	st, err := store.OpenBolt(filepath.Join(dir, node.StoreFile), store.BoltOptions{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if code, out := runCheckCmd(t, dir, "--timeout", "50ms"); code != 2 || !strings.Contains(out, "in use") {
		t.Fatalf("check of a store in use exited %d:\n%s", code, out)
	}
	if code, out := runCheckCmd(t, t.TempDir()); code != 2 || !strings.Contains(out, "no store in") {
		t.Fatalf("check of an empty dir exited %d:\n%s", code, out)
	}
	p := startProc(t, "check", "check")
	if code := p.waitExit(t, startDeadline); code != 2 {
		t.Fatalf("check without --data-dir exited %d", code)
	}
}
