package main

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/naivechain/naivechain/internal/node"
	"github.com/naivechain/naivechain/internal/store"
)

// TestBadDataDirDamagedLog kills a node with acknowledged writes only in
// its write-ahead log, then damages the log as a disk or an operator can:
// wal0 deleted, a bit flipped in its first record. The restart refuses the
// store (exit code 2, the file named), writes nothing into the data dir,
// and never serves a chain without the acknowledged writes.
func TestBadDataDirDamagedLog(t *testing.T) {
	t.Parallel()
	for _, damage := range []string{"wal0 deleted", "first record flipped"} {
		t.Run(strings.ReplaceAll(damage, " ", "_"), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			a := startNode(t, "A", "--data-dir", dir)
			for i := range 20 {
				write(t, a.url, "acked-"+strconv.Itoa(i), a.proc)
			}
			a.kill(t)
			wal0 := store.WALPaths(filepath.Join(dir, node.StoreFile))[0]
			data, err := os.ReadFile(wal0)
			if err != nil {
				t.Fatal(err)
			}
			if data[0] == 0 && data[1] == 0 && data[2] == 0 && data[3] == 0 {
				t.Fatal("wal0 holds no record after the kill: the test shows nothing")
			}
			switch damage {
			case "wal0 deleted":
				if err := os.Remove(wal0); err != nil {
					t.Fatal(err)
				}
			case "first record flipped":
				data[20] ^= 0x08 // in the first record's body
				if err := os.WriteFile(wal0, data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			names := dirNames(t, dir)
			sum := fileSum(t, filepath.Join(dir, node.StoreFile))

			port := freePorts(t, 2)
			p := startProc(t, "A'", "-p", strconv.Itoa(port), "--host", "127.0.0.1", "--advertise", "127.0.0.1", "--data-dir", dir)
			if code := p.waitExit(t, startDeadline); code != 2 {
				t.Errorf("exit code %d, want 2\n%s", code, p.tail())
			}
			if s := p.stderr.String(); !strings.Contains(s, wal0) {
				t.Errorf("stderr does not name %s:\n%s", wal0, p.tail())
			}
			if got := dirNames(t, dir); !slices.Equal(got, names) {
				t.Errorf("data dir holds %v, held %v", got, names)
			}
			if fileSum(t, filepath.Join(dir, node.StoreFile)) != sum {
				t.Errorf("%s changed", node.StoreFile)
			}
		})
	}
}
