// Command naivechain runs a naivechain node, or a local network of nodes.
//
//	naivechain -p 15001                          start a node (WebSocket 15001, HTTP 15002)
//	naivechain -p 9803 -pid <id> -pport 15001    join the network of the node at port 15001
//	naivechain devnet -n 3                       run a local network of 3 nodes
//	naivechain check --data-dir DIR              verify a stopped node's store
//	naivechain help [command]                    what every command and flag does
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/identity"
	"github.com/naivechain/naivechain/internal/logging"
	"github.com/naivechain/naivechain/internal/node"
	"github.com/naivechain/naivechain/internal/p2p"
	"github.com/naivechain/naivechain/internal/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A second signal ends the process at once (Go's default), should the
	// clean stop the first one started hang.
	context.AfterFunc(ctx, stop)
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// Exit codes, one rule for every command (README's "Exit codes").
const (
	exitOK      = 0 // done, or stopped by SIGINT/SIGTERM, or help shown
	exitFailure = 1 // failed at run time: retrying as is may work
	exitUsage   = 2 // the user must change something before retrying
)

// run is main without the process: it returns the exit code. A cancelled
// ctx (main's on SIGINT or SIGTERM) stops the command cleanly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr, noted: make(chan struct{})}
	stopNote := context.AfterFunc(ctx, func() { a.noteStop(ctx) })
	root := newRootCmd(a)
	root.SetArgs(normalizeArgs(root, args))
	cmd, err := root.ExecuteContextC(ctx)
	if !stopNote() {
		<-a.noted // the stop line is written before anything else
	}
	// Stopped by a signal: what failed for that (a dial cancelled, the
	// peer host closed under a starting node) is no failure.
	if ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled) || errors.Is(err, p2p.ErrClosed)) {
		return exitOK
	}
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "naivechain:", err)
	code := exitCode(err)
	if errors.Is(err, errUsage) {
		fmt.Fprintf(stderr, "see '%s'\n", helpLine(cmd))
	}
	return code
}

// exitCode maps a command's error to the process's exit code.
func exitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errUsage), errors.Is(err, store.ErrNotAStore), errors.Is(err, store.ErrLocked), errors.Is(err, store.ErrCorrupt),
		errors.Is(err, chain.ErrWrongGenesis), errors.Is(err, node.ErrKeyMismatch), errors.Is(err, identity.ErrBadKeyFile),
		errors.Is(err, node.ErrJoinRefused), errors.Is(err, node.ErrPeerMismatch), errors.Is(err, node.ErrBadJoinToken), errors.Is(err, node.ErrPprofAddr),
		errors.Is(err, p2p.ErrIDMismatch), errors.Is(err, p2p.ErrIncompatible), errors.Is(err, p2p.ErrSelf):
		return exitUsage
	default:
		return exitFailure
	}
}

// errUsage marks the errors of a command line the user must change:
// an unknown flag or command, a bad value, a refused combination.
var errUsage = errors.New("usage")

// app is what the commands of one run share: their output, and the
// logger of the command running, for the line that says it stops.
type app struct {
	stdout, stderr io.Writer
	noted          chan struct{} // closed once noteStop wrote its line

	mu  sync.Mutex
	log *slog.Logger
}

// newLogger returns the logger a command logs with and keeps it for the
// stop line.
func (a *app) newLogger(format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("%w: --log-level %q: %v", errUsage, level, err)
	}
	log, err := loggingNew(a.stderr, format, lv)
	if err != nil {
		return nil, fmt.Errorf("%w: --log-format: %v", errUsage, err)
	}
	a.mu.Lock()
	a.log = log
	a.mu.Unlock()
	return log, nil
}

// noteStop writes the one line of a stop by signal: through the command's
// logger when it has one that logs at info, else plainly on stderr.
func (a *app) noteStop(ctx context.Context) {
	defer close(a.noted)
	why := "stopping"
	// signal.NotifyContext's cause names the signal (and Is
	// context.Canceled); a plain cancel has nothing more to say.
	if cause := context.Cause(ctx); cause != nil && cause != context.Canceled {
		why += " on " + cause.Error()
	}
	a.mu.Lock()
	log := a.log
	a.mu.Unlock()
	if log != nil && log.Enabled(context.Background(), slog.LevelInfo) {
		logging.Actor(log, "NODE").Info(why)
		return
	}
	fmt.Fprintln(a.stderr, "naivechain:", why)
}
