package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/naivechain/naivechain/internal/node"
	"github.com/naivechain/naivechain/internal/store"
)

// errCheckFailed reports that check found a problem: exit code 1.
var errCheckFailed = errors.New("check found problems")

func newCheckCmd(a *app) *cobra.Command {
	var dataDir string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Verify the store of a stopped node, read-only",
		Args:  noArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			if dataDir == "" {
				return fmt.Errorf("%w: check needs --data-dir", errUsage)
			}
			return runCheck(a.stdout, dataDir, timeout)
		},
	}
	fs := newFlagSet(cmd)
	fs.stringVar(&dataDir, []string{"data-dir"}, "", "data dir of the stopped node to check")
	fs.durationVar(&timeout, []string{"timeout"}, time.Second, "how long to wait for a node holding the store to let go before refusing")
	return cmd
}

// runCheck verifies the store of a stopped node, read-only, and prints
// what it checked and every problem (see store.Check). A store held by a
// running node is refused (store.ErrLocked: exit 2).
func runCheck(stdout io.Writer, dataDir string, timeout time.Duration) error {
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
