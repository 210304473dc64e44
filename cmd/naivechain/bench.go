package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/naivechain/naivechain/internal/api"
	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/loadgen"
)

// benchFlags are the flags of `naivechain bench`.
type benchFlags struct {
	targets, dataDir, logLevel, cpuProfile, readPath       string
	nodes, port, clients, count, size, batch, reads        int
	consistentReads, asJSON, floor, withFloor, allowRemote bool
	duration                                               time.Duration
}

func newBenchCmd(a *app) *cobra.Command {
	var bf benchFlags
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load a devnet it starts (or --targets, or the bare-HTTP floor) with writes and report",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runBench(c.Context(), a, &bf, c.Flags().Changed)
		},
	}
	fs := newFlagSet(cmd)
	fs.stringVar(&bf.targets, []string{"targets"}, "", "comma-separated base URLs to load (http://127.0.0.1:15002,...); default: start a devnet")
	fs.intVar(&bf.nodes, []string{"n", "nodes"}, 3, "nodes of the devnet bench starts")
	fs.intVar(&bf.port, []string{"p", "port"}, 0, "WebSocket port of the devnet's first node (node i: port + 2i, HTTP on the port after it), or of the floor's HTTP server; 0 picks free ports")
	fs.stringVar(&bf.dataDir, []string{"data-dir"}, "", "directory of the devnet's stores (default: a temporary directory, removed at the end)")
	fs.intVar(&bf.clients, []string{"clients"}, 48, "concurrent clients (keep-alive connections), spread round-robin over the targets")
	fs.intVar(&bf.count, []string{"count"}, 20000, "stop after sending this many writes")
	fs.durationVar(&bf.duration, []string{"duration"}, 30*time.Second, "stop sending after this long")
	fs.intVar(&bf.size, []string{"size"}, 32, "bytes of data per write")
	fs.intVar(&bf.batch, []string{"batch"}, 0, "values per request: POST /entries of this many values (each committed with the others or not at all) instead of POST /data of one; reports entries/s")
	fs.intVar(&bf.reads, []string{"reads"}, 0, "percentage of the requests that are reads (GET --read-path) instead of writes, 0 to 100; reports reads/s and read latency apart")
	fs.stringVar(&bf.readPath, []string{"read-path"}, loadgen.DefaultReadPath, "path (and query) the reads GET, such as /node, /data or /blocks?limit=1")
	fs.boolVar(&bf.consistentReads, []string{"consistent"}, false, "reads ask for ?consistent=true (linearizable, vote engine only)")
	fs.boolVar(&bf.asJSON, []string{"json"}, false, "print one JSON object instead of a table")
	fs.boolVar(&bf.floor, []string{"floor"}, false, "load a bare net/http handler in this process instead of nodes (the floor)")
	fs.boolVar(&bf.withFloor, []string{"with-floor"}, false, "after the load (and the devnet's stop), load the floor with the same clients for 5 x --count writes, and report the ratio")
	fs.boolVar(&bf.allowRemote, []string{"allow-remote"}, false, "allow targets that are not on loopback")
	fs.stringVar(&bf.logLevel, []string{"log-level"}, "error", "log level of the devnet's nodes")
	fs.stringVar(&bf.cpuProfile, []string{"cpuprofile"}, "", "write a CPU profile (pprof) of this process during the load to this file (not of the --with-floor load)")
	return cmd
}

// runBench is `naivechain bench`: it loads a devnet it starts (or the given
// targets, or the bare-HTTP floor) with writes and reports the figures.
// set reports whether a flag was given.
func runBench(ctx context.Context, a *app, bf *benchFlags, set func(string) bool) error {
	stdout, stderr := a.stdout, a.stderr
	targets, dataDir, logLevel, cpuProfile, readPath := bf.targets, bf.dataDir, bf.logLevel, bf.cpuProfile, bf.readPath
	nodes, port, clients, count, size, batch, reads := bf.nodes, bf.port, bf.clients, bf.count, bf.size, bf.batch, bf.reads
	consistentReads, asJSON, floor, withFloor, allowRemote := bf.consistentReads, bf.asJSON, bf.floor, bf.withFloor, bf.allowRemote
	duration := bf.duration
	switch {
	case clients < 1 || clients > 10000:
		return fmt.Errorf("%w: --clients must be between 1 and 10000", errUsage)
	case count < 1 || count > 10_000_000:
		return fmt.Errorf("%w: --count must be between 1 and 10000000", errUsage)
	case duration <= 0:
		return fmt.Errorf("%w: --duration must be positive", errUsage)
	case size < 1 || size > block.MaxDataLen-2:
		return fmt.Errorf("%w: --size must be between 1 and %d", errUsage, block.MaxDataLen-2)
	case batch < 0 || batch > maxBatch:
		return fmt.Errorf("%w: --batch must be between 0 and %d", errUsage, maxBatch)
	case reads < 0 || reads > 100:
		return fmt.Errorf("%w: --reads must be between 0 and 100", errUsage)
	case reads == 0 && (consistentReads || set("read-path")):
		return fmt.Errorf("%w: --consistent and --read-path need --reads", errUsage)
	case !strings.HasPrefix(readPath, "/"):
		return fmt.Errorf("%w: --read-path must start with /", errUsage)
	case floor && reads > 0:
		return fmt.Errorf("%w: --reads does not apply to --floor (the floor answers writes only)", errUsage)
	case floor && withFloor:
		return fmt.Errorf("%w: --floor and --with-floor exclude each other", errUsage)
	case floor && targets != "":
		return fmt.Errorf("%w: --floor and --targets exclude each other", errUsage)
	case (floor || targets != "") && (set("nodes") || set("data-dir")):
		return fmt.Errorf("%w: -n and --data-dir apply only to the devnet bench starts (no --targets, no --floor)", errUsage)
	case targets != "" && set("port"):
		return fmt.Errorf("%w: -p does not apply with --targets", errUsage)
	case nodes < 1 || nodes > 64:
		return fmt.Errorf("%w: -n must be between 1 and 64", errUsage)
	case port < 0 || port+2*nodes > 65535:
		return fmt.Errorf("%w: ports out of range", errUsage)
	}

	var profile *os.File
	if cpuProfile != "" {
		// Created before any node starts, so that a bad path fails at once.
		f, err := os.Create(cpuProfile)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		profile = f
		defer f.Close() // profiledRun closes it and reports the error; this covers the early returns
	}

	res := &loadgen.Result{}
	var urls []string
	var stop func() error
	switch {
	case targets != "":
		var err error
		if urls, err = loadgen.ParseTargets(targets); err != nil {
			return fmt.Errorf("%w: --targets: %v", errUsage, err)
		}
		if !allowRemote {
			if err := loadgen.CheckLoopback(ctx, nil, urls); err != nil {
				return fmt.Errorf("%w: %w", errUsage, err)
			}
		}
		res.Mode = "targets"
	case floor:
		url, stopFloor, err := loadgen.StartFloor(port)
		if err != nil {
			return fmt.Errorf("floor: %w", err)
		}
		urls, stop, res.Mode = []string{url}, stopFloor, "floor"
	default:
		log, err := a.newLogger("text", logLevel)
		if err != nil {
			return err
		}
		dir := dataDir
		if dir == "" {
			if dir, err = os.MkdirTemp("", "naivechain-bench-"); err != nil {
				return err
			}
		}
		removeDir := func() error {
			if dataDir == "" {
				return os.RemoveAll(dir)
			}
			return nil
		}
		start := time.Now()
		d, err := startDevnet(ctx, devnetOpts{
			count: nodes, port: port, host: "127.0.0.1", dataDir: dir, log: log,
			// Room for every client on any one node, and for the lag and
			// check clients after them.
			httpConns: max(clients, api.DefaultMaxConnsPerAddr) + 64,
		})
		if err != nil {
			return errors.Join(err, removeDir())
		}
		fmt.Fprintf(stderr, "bench: devnet of %d node(s) formed in %v, data in %s\n", nodes, time.Since(start).Round(time.Millisecond), dir)
		urls, res.Mode, res.Nodes = d.urls(), "devnet", nodes
		stop = func() error { return errors.Join(d.stop(), removeDir()) }
	}

	cfg := loadgen.Config{
		Targets: urls, Clients: clients, Count: count, Duration: duration, Size: size, Batch: batch,
		Reads: reads, ReadPath: readPath, Consistent: consistentReads, AllowRemote: allowRemote,
	}
	if isTerminal(stderr) {
		cfg.Progress = stderr
	}
	scope := map[string]string{"devnet": loadgen.ScopeDevnet, "floor": loadgen.ScopeFloor, "targets": loadgen.ScopeClients}[res.Mode]
	var out *loadgen.Result
	var runErr error
	if profile != nil {
		out, runErr = profiledRun(ctx, cfg, scope, profile)
	} else {
		out, runErr = measuredRun(ctx, cfg, scope)
	}
	if out != nil && runErr == nil && !out.Succeeded() && ctx.Err() == nil {
		runErr = fmt.Errorf("bench: no request succeeded (%d sent): are the targets up, and do they have a majority?", out.Sent)
	}
	if out != nil && runErr == nil && res.Mode != "floor" {
		tr := loadgen.NewTransport(len(urls), allowRemote)
		out.Lag = loadgen.MeasureLag(ctx, &http.Client{Transport: tr, Timeout: 5 * time.Second}, urls, 5*time.Millisecond, 10*time.Second)
		if out.Lag.Converged {
			out.Check = loadgen.Verify(ctx, &http.Client{Transport: tr, Timeout: 5 * time.Minute}, urls, out, out.Lag.DataCounts[0])
			if !out.Check.OK() && out.Check.Error == "" {
				runErr = errors.New("bench: the chains after the load are not one chain holding every acknowledged write once")
			}
		}
		tr.CloseIdleConnections()
	}
	var stopErr error
	if stop != nil {
		stopErr = stop()
	}
	if out != nil && runErr == nil && withFloor {
		// The floor runs on the machine the nodes just left.
		fcfg := cfg
		fcfg.Count, fcfg.Progress, fcfg.AllowRemote = min(5*count, 10_000_000), nil, false
		fcfg.Reads, fcfg.Consistent = 0, false // the floor answers writes only
		f, err := runFloor(ctx, fcfg)
		if err != nil {
			runErr = fmt.Errorf("floor: %w", err)
		} else {
			out.CompareFloor(f)
		}
	}
	if out != nil {
		out.Mode, out.Nodes = res.Mode, res.Nodes
		var err error
		if asJSON {
			err = out.WriteJSON(stdout)
		} else {
			err = out.WriteTable(stdout)
		}
		runErr = errors.Join(runErr, err)
	}
	return errors.Join(runErr, stopErr)
}

// runFloor loads the bare-HTTP floor on a free loopback port with cfg.
func runFloor(ctx context.Context, cfg loadgen.Config) (*loadgen.Result, error) {
	url, stop, err := loadgen.StartFloor(0)
	if err != nil {
		return nil, err
	}
	cfg.Targets = []string{url}
	res, err := measuredRun(ctx, cfg, loadgen.ScopeFloor)
	return res, errors.Join(err, stop())
}

// profiledRun is measuredRun with a CPU profile of the process written to
// f, which it closes.
func profiledRun(ctx context.Context, cfg loadgen.Config, scope string, f *os.File) (*loadgen.Result, error) {
	if err := pprof.StartCPUProfile(f); err != nil {
		return nil, errors.Join(fmt.Errorf("--cpuprofile: %w", err), f.Close())
	}
	res, err := measuredRun(ctx, cfg, scope)
	pprof.StopCPUProfile()
	if cerr := f.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("--cpuprofile: %w", cerr))
	}
	return res, err
}

// measuredRun is loadgen.Run with the process's CPU use during the load
// recorded in the result.
func measuredRun(ctx context.Context, cfg loadgen.Config, scope string) (*loadgen.Result, error) {
	cpu0, ok0 := loadgen.ProcessCPU()
	start := time.Now()
	res, err := loadgen.Run(ctx, cfg)
	elapsed := time.Since(start)
	if cpu1, ok1 := loadgen.ProcessCPU(); res != nil && ok0 && ok1 {
		res.SetCPU(cpu1-cpu0, elapsed, scope)
	}
	return res, err
}

// maxBatch is the most values POST /entries takes in one request.
const maxBatch = api.MaxEntries

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
