package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/consensus/vote"
	"github.com/naivechain/naivechain/internal/driver"
	"github.com/naivechain/naivechain/internal/node"
	"github.com/naivechain/naivechain/internal/store"
)

func newFillCmd(a *app) *cobra.Command {
	var count, port int
	var dataDir string
	cmd := &cobra.Command{
		Use:   "fill",
		Short: "Write blocks into a new single-node store (to measure start-up on big chains)",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runFill(c.Context(), a.stdout, count, port, dataDir)
		},
	}
	fs := newFlagSet(cmd)
	fs.intVar(&count, []string{"n", "blocks"}, 10000, "number of blocks to write")
	fs.stringVar(&dataDir, []string{"data-dir"}, "", "data dir of the node to fill (must not hold a store yet)")
	fs.intVar(&port, []string{"p", "port"}, 15001, "peer port the node will be started with")
	return cmd
}

// runFill writes N blocks into a new single-node store, through the vote
// engine as a running node would, so that a node can then start from it.
// It exists to measure start-up time and memory on big chains.
func runFill(ctx context.Context, stdout io.Writer, count, port int, dataDir string) error {
	if dataDir == "" || count < 0 {
		return fmt.Errorf("%w: fill needs --data-dir and -n >= 0", errUsage)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	st, err := store.OpenLogged(filepath.Join(dataDir, node.StoreFile), store.LoggedOptions{})
	if err != nil {
		return err
	}
	defer st.Close()
	if st.Len() > 0 {
		return fmt.Errorf("%w: %s already holds a chain", errUsage, dataDir)
	}
	c, err := chain.New(st)
	if err != nil {
		return err
	}
	_, id, _, err := node.Identity(st, dataDir, nil)
	if err != nil {
		return err
	}
	e, err := vote.New(vote.Config{
		Self:      consensus.Member{ID: id, Host: "127.0.0.1", Port: strconv.Itoa(port), HTTPPort: strconv.Itoa(port + 1)},
		Bootstrap: true, Chain: c, Store: st, Session: uint64(time.Now().UnixNano()),
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return err
	}
	wake := make(chan struct{}, 1)
	d := driver.New(driver.Config{Engine: e, Chain: c, Wake: func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}})
	defer d.Stop(nil)
	start := time.Now()
	done, proposed := 0, 0
	answered := func(driver.Outcome) { done++ }
	for done < count {
		if err := ctx.Err(); err != nil {
			return err
		}
		for proposed < count && proposed-done < 8192 {
			if _, err := d.Propose([]string{strconv.Quote(fmt.Sprintf("fill-%d", proposed))}, 0, answered); err != nil {
				return err
			}
			proposed++
		}
		before := done
		if err := d.Process(); err != nil {
			return err
		}
		if done > before {
			continue
		}
		if d.Inflight() > 0 {
			// The engine waits for its store writes: wait for the disk.
			select {
			case <-wake:
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		}
		d.Tick()
	}
	el := time.Since(start)
	fmt.Fprintf(stdout, "filled %s with %d blocks in %v (%.0f blocks/s); node id %s\n", dataDir, count, el.Round(time.Millisecond), float64(count)/el.Seconds(), id)
	return nil
}
