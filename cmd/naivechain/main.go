// Command naivechain runs a naivechain node, or a local network of nodes.
//
//	naivechain -p 15001                          start a node (WebSocket 15001, HTTP 15002)
//	naivechain -p 9803 -pid <id> -pport 15001    join the network of the node at port 15001
//	naivechain devnet -n 3                       run a local network of 3 nodes
//	naivechain check --data-dir DIR              verify a stopped node's store
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/identity"
	"github.com/naivechain/naivechain/internal/node"
	"github.com/naivechain/naivechain/internal/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "node"
	if len(args) > 0 && (args[0] == "node" || args[0] == "devnet" || args[0] == "fill" || args[0] == "bench" || args[0] == "check") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "devnet":
		err = runDevnet(ctx, args, stdout, stderr)
	case "fill":
		err = runFill(ctx, args, stdout, stderr)
	case "bench":
		err = runBench(ctx, args, stdout, stderr)
	case "check":
		err = runCheck(ctx, args, stdout, stderr)
	default:
		err = runNode(ctx, args, stdout, stderr)
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage), errors.Is(err, store.ErrNotAStore), errors.Is(err, store.ErrLocked), errors.Is(err, store.ErrCorrupt),
		errors.Is(err, chain.ErrWrongGenesis), errors.Is(err, node.ErrKeyMismatch), errors.Is(err, identity.ErrBadKeyFile),
		errors.Is(err, node.ErrJoinRefused), errors.Is(err, node.ErrBadJoinToken):
		fmt.Fprintln(stderr, "naivechain:", err)
		return 2
	default:
		fmt.Fprintln(stderr, "naivechain:", err)
		return 1
	}
}

var errUsage = errors.New("usage")

// aliases registers one flag under several names (-pid and --peer_id).
type flagSet struct{ *flag.FlagSet }

func (f flagSet) stringVar(p *string, names []string, def, usage string) {
	for _, n := range names {
		f.StringVar(p, n, def, usage)
	}
}

func (f flagSet) intVar(p *int, names []string, def int, usage string) {
	for _, n := range names {
		f.IntVar(p, n, def, usage)
	}
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("%w: --log-level %q: %v", errUsage, level, err)
	}
	return loggingNew(w, format, lv)
}
