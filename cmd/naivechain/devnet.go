package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/naivechain/naivechain/internal/consensus/vote"
	"github.com/naivechain/naivechain/internal/logging"
	"github.com/naivechain/naivechain/internal/node"
	"github.com/naivechain/naivechain/internal/store"
)

// devnetFlags are the flags of `naivechain devnet`.
type devnetFlags struct {
	count, port                              int
	host, httpHost, logFormat, logLevel, dir string
	fresh                                    bool
	engine                                   engineFlags
}

func newDevnetCmd(a *app) *cobra.Command {
	var df devnetFlags
	cmd := &cobra.Command{
		Use:   "devnet",
		Short: "Run a local network of nodes in one process",
		Long: `devnet runs a local network of nodes in one process: node i uses peer port port + 2i and HTTP on
the port after it, and keeps its data in <data-dir>/node<i>. Ctrl-C stops it; run it again with the
same flags and the same network comes back; --fresh starts over.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error { return runDevnet(c.Context(), a, &df) },
	}
	fs := newFlagSet(cmd)
	fs.intVar(&df.count, []string{"n", "nodes"}, 3, "number of nodes")
	fs.intVar(&df.port, []string{"p", "port"}, 15001, "WebSocket port of the first node; node i uses port + 2i and HTTP on the port after it")
	fs.stringVar(&df.host, []string{"host"}, "127.0.0.1", "address every node's peer port binds and advertises")
	fs.stringVar(&df.httpHost, []string{"http-host"}, "127.0.0.1", "address every node's HTTP API binds")
	fs.stringVar(&df.dir, []string{"data-dir"}, "", "directory of the devnet; node i keeps its data in node<i> below it (default $HOME/.naivechain/devnet-<consensus>-<port>)")
	fs.boolVar(&df.fresh, []string{"fresh"}, false, "delete the devnet's data dir first (only one that holds a devnet's node<i> dirs), and start a new network")
	fs.stringVar(&df.logFormat, []string{"log-format"}, "text", "log format: text or json")
	fs.stringVar(&df.logLevel, []string{"log-level"}, "warn", "log level of the nodes")
	df.engine.register(fs, time.Second)
	return cmd
}

func runDevnet(ctx context.Context, a *app, df *devnetFlags) error {
	if df.count < 1 || df.count > 64 {
		return fmt.Errorf("%w: -n must be between 1 and 64", errUsage)
	}
	if df.port < 1 || df.port+2*df.count > 65535 {
		return fmt.Errorf("%w: ports out of range", errUsage)
	}
	log, err := a.newLogger(df.logFormat, df.logLevel)
	if err != nil {
		return err
	}
	var engine node.Config
	if err := df.engine.apply(&engine); err != nil {
		return err
	}
	dataDir := df.dir
	if dataDir == "" {
		if dataDir, err = defaultDataDir(fmt.Sprintf("devnet-%s-%d", df.engine.consensus, df.port)); err != nil {
			return err
		}
	}
	if df.fresh {
		if err := removeDevnetDir(dataDir); err != nil {
			return err
		}
	}
	if err := checkDevnetSize(dataDir, df.count); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err // stopped before it started
	}
	d, err := startDevnet(ctx, devnetOpts{count: df.count, port: df.port, host: df.host, httpHost: df.httpHost, dataDir: dataDir, log: log, engine: engine, consensus: df.engine.consensus})
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "devnet: %d nodes on %s, data in %s (Ctrl-C to stop)\n", df.count, df.host, dataDir)
	for i, n := range d.nodes {
		fmt.Fprintf(a.stdout, "node %d  id %s  peer port %d  HTTP %s\n", i+1, n.ID(), n.Port(), n.HTTPURL())
	}
	fmt.Fprintf(a.stdout, "try: curl -X POST %s/data -H 'Content-Type: application/json' -d '{\"data\": \"Testing String Again\"}'\n", d.nodes[0].HTTPURL())
	<-d.done()
	return d.stop()
}

// devnetNodes returns how many nodes the devnet in dir had: its node<i>
// subdirs holding a store. It fails when dir holds anything else, so
// that --fresh never deletes what is not a devnet's. A missing dir has
// no nodes.
func devnetNodes(dir string) (int, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	nodes := 0
	for _, e := range entries {
		i, err := strconv.Atoi(strings.TrimPrefix(e.Name(), "node"))
		if !e.IsDir() || err != nil || i < 1 || e.Name() != "node"+strconv.Itoa(i) {
			return 0, fmt.Errorf("%w: %s is not a devnet's data dir: it holds %s, not only node<i> dirs", errUsage, dir, e.Name())
		}
		if err := onlyNodeFiles(filepath.Join(dir, e.Name())); err != nil {
			return 0, err
		}
		if _, err := os.Stat(filepath.Join(dir, e.Name(), node.StoreFile)); err == nil {
			nodes++
		}
	}
	return nodes, nil
}

// onlyNodeFiles refuses a node dir holding anything but what a node
// keeps there (its store and log, its key, its join token, and their
// temporary files), so that --fresh deletes nothing else.
func onlyNodeFiles(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !(strings.HasPrefix(name, node.StoreFile) || strings.HasPrefix(name, "node.key") || strings.HasPrefix(name, node.TokenFile)) {
			return fmt.Errorf("%w: %s is not a devnet node's dir: it holds %s", errUsage, dir, name)
		}
	}
	return nil
}

// removeDevnetDir deletes the devnet data dir dir, refusing a dir that is
// not a devnet's, or one whose nodes are running.
func removeDevnetDir(dir string) error {
	if _, err := devnetNodes(dir); err != nil {
		return fmt.Errorf("--fresh: %w", err)
	}
	stores, _ := filepath.Glob(filepath.Join(dir, "node*", node.StoreFile))
	for _, path := range stores {
		if storeInUse(path) {
			return fmt.Errorf("--fresh: %w: %s (stop the devnet first)", store.ErrLocked, path)
		}
	}
	return os.RemoveAll(dir)
}

// storeInUse reports whether a running node holds the store at path: the
// lock a read-only open takes is refused. Deleting it would leave that
// node writing into files nobody can find again.
func storeInUse(path string) (inUse bool) {
	defer func() {
		if recover() != nil {
			inUse = false // a damaged file is no running node's
		}
	}()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 100 * time.Millisecond})
	if err == nil {
		db.Close()
	}
	return errors.Is(err, berrors.ErrTimeout)
}

// checkDevnetSize refuses to start count nodes on the data dir of a
// devnet of another size: its members would wait for the missing ones.
func checkDevnetSize(dir string, count int) error {
	had, err := devnetNodes(dir)
	if err != nil || had == 0 || had == count {
		return err
	}
	return fmt.Errorf("%w: %s holds a devnet of %d nodes, not %d: run it with -n %d, start over with --fresh (deletes its chain), or give another --data-dir",
		errUsage, dir, had, count, had)
}

// devnetOpts says what startDevnet starts.
type devnetOpts struct {
	count int // number of nodes
	// port is the WebSocket port of the first node; node i uses port + 2i
	// and HTTP on the port after it. 0 lets every node pick free ports.
	port int
	host string // address every node's peer port binds and advertises
	// httpHost is the address every node's HTTP API binds; empty means
	// 127.0.0.1.
	httpHost string
	// httpConns, when positive, is the most HTTP connections a node
	// takes, from one client address too (bench's clients all come from
	// one); zero keeps the node's defaults.
	httpConns int
	dataDir   string // node i keeps its data in dataDir/node<i>
	log       *slog.Logger
	// engine holds the consensus fields (Engine, Mine, Miners) every node
	// gets; the zero value is the vote engine.
	engine node.Config
	// consensus names the engine ("" is vote): pow nodes need no
	// admission, so the devnet waits for links rather than members.
	consensus string
}

// devnet is a network of nodes running in this process.
type devnet struct {
	nodes  []*node.Node
	ctx    context.Context // cancelled when the parent is, a node fails or stop is called
	cancel context.CancelFunc
	wg     sync.WaitGroup
	errc   chan error
}

// startDevnet starts o.count nodes forming one network and returns once
// the first node counts every node as a voter. On error nothing it started
// is left running.
func startDevnet(ctx context.Context, o devnetOpts) (*devnet, error) {
	d := &devnet{errc: make(chan error, o.count), nodes: make([]*node.Node, 0, o.count)}
	d.ctx, d.cancel = context.WithCancel(ctx)
	for i := 0; i < o.count; i++ {
		cfg := node.Config{
			DataDir: filepath.Join(o.dataDir, fmt.Sprintf("node%d", i+1)),
			Host:    o.host, Advertise: o.host, Port: o.port + 2*i, HTTPPort: -1, HTTPHost: o.httpHost,
			HTTPMaxConns: o.httpConns, HTTPMaxConnsPerAddr: o.httpConns,
			Logger: logging.Actor(o.log, fmt.Sprintf("node%d", i+1)).With("node", i+1),
			Engine: o.engine.Engine, Mine: o.engine.Mine, Miners: o.engine.Miners,
		}
		if cfg.Engine == nil {
			cfg.Engine = vote.Factory
		}
		if o.port == 0 {
			cfg.Port, cfg.HTTPPort = 0, 0
		}
		if i > 0 {
			cfg.PeerHost, cfg.PeerPort, cfg.PeerID = o.host, d.nodes[0].Port(), d.nodes[0].ID()
			cfg.JoinToken = d.nodes[0].JoinToken() // the devnet's operator consents for every node
		}
		n, err := node.New(cfg)
		if err != nil {
			d.cancel()
			d.wg.Wait()
			return nil, fmt.Errorf("devnet node %d: %w", i+1, err)
		}
		d.nodes = append(d.nodes, n)
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			if err := n.Run(d.ctx); err != nil {
				d.errc <- fmt.Errorf("devnet node %d: %w", i+1, err)
				d.cancel()
			}
		}()
	}
	wait := waitMembers
	if o.consensus == "pow" {
		wait = waitConnected
	}
	if err := wait(d.ctx, d.nodes); err != nil {
		d.cancel()
		d.wg.Wait()
		return nil, joinErr(d.errc, err)
	}
	return d, nil
}

// done is closed when the devnet stops or must stop: its parent context
// ended or a node failed.
func (d *devnet) done() <-chan struct{} { return d.ctx.Done() }

// urls returns the nodes' HTTP API URLs, node 1 first.
func (d *devnet) urls() []string {
	us := make([]string, len(d.nodes))
	for i, n := range d.nodes {
		us[i] = n.HTTPURL()
	}
	return us
}

// stop stops every node, waits for them and returns what they failed with.
func (d *devnet) stop() error {
	d.cancel()
	d.wg.Wait()
	return joinErr(d.errc, nil)
}

// waitMembers waits until the first node counts every node as a voter.
func waitMembers(ctx context.Context, nodes []*node.Node) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		ms, err := nodes[0].Members(ctx)
		if err != nil {
			return fmt.Errorf("devnet did not form: %w", err)
		}
		voters := 0
		for _, m := range ms {
			if m.Voter {
				voters++
			}
		}
		if voters == len(nodes) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("devnet did not form: %d of %d nodes are voters: %w", voters, len(nodes), ctx.Err())
		case <-t.C:
		}
	}
}

// waitConnected waits until every node is connected to every other (a pow
// network has no membership to wait for).
func waitConnected(ctx context.Context, nodes []*node.Node) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		least := len(nodes)
		for _, n := range nodes {
			least = min(least, len(n.Peers()))
		}
		if least >= len(nodes)-1 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("devnet did not connect: a node has %d of %d peers: %w", least, len(nodes)-1, ctx.Err())
		case <-t.C:
		}
	}
}

func joinErr(errc chan error, err error) error {
	for {
		select {
		case e := <-errc:
			err = errors.Join(err, e)
		default:
			return err
		}
	}
}
