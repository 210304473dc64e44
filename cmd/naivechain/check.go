package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/naivechain/naivechain/internal/node"
	"github.com/naivechain/naivechain/internal/store"
)

// errCheckFailed reports that check found a problem: exit code 1.
var errCheckFailed = errors.New("check found problems")

// runCheck verifies the store of a stopped node, read-only, and prints
// what it checked and every problem (see store.Check). A store held by a
// running node is refused (store.ErrLocked: exit 2).
func runCheck(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flagSet{newFlagSet("naivechain check", stderr)}
	var dataDir string
	var timeout time.Duration
	fs.stringVar(&dataDir, []string{"data-dir"}, "", "data dir of the stopped node to check")
	fs.DurationVar(&timeout, "timeout", time.Second, "how long to wait for a node holding the store to let go before refusing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if dataDir == "" || fs.NArg() > 0 {
		return fmt.Errorf("%w: check needs --data-dir and no other argument", errUsage)
	}
	path := filepath.Join(dataDir, node.StoreFile)
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("%w: no store in %s: %v", errUsage, dataDir, err)
	}
	report, err := store.Check(path, store.CheckOptions{Timeout: timeout})
	if err != nil {
		return err
	}
	if _, err := report.WriteTo(stdout); err != nil {
		return err
	}
	if !report.OK() {
		return fmt.Errorf("%w: %d in %s", errCheckFailed, len(report.Problems)+report.Dropped, path)
	}
	return nil
}
