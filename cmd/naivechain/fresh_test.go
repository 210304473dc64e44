package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/naivechain/naivechain/internal/node"
	bolt "go.etcd.io/bbolt"
)

// TestFreshRefusesRunningDevnet: `devnet --fresh` on the data dir of
// a devnet that is running (its stores open, locked) must refuse, not
// unlink the running nodes' stores from under them (they would write on
// into deleted files, and the next start finds a new network and a new
// key). Before the fix it deleted them and only then failed to bind.
func TestFreshRefusesRunningDevnet(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fakeDevnet(t, dir, 1)
	path := filepath.Join(dir, "node1", node.StoreFile)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, nil) // as a running node holds it: locked
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Cancelled: the command stops right after --fresh's work, and never
	// serves.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	code, _, stderr := runIn(ctx, "devnet", "--fresh", "-n", "1", "--data-dir", dir)
	if code != 2 || !strings.Contains(stderr, "in use") {
		t.Errorf("exit %d, stderr %q; want 2 and the store in use", code, stderr)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("--fresh deleted a running devnet's store: %v", err)
	}
}
