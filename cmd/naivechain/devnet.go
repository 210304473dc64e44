package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"time"

	"naivechain/internal/logging"
	"naivechain/internal/node"
)

func runDevnet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flagSet{newFlagSet("naivechain devnet", stderr)}
	var count, port int
	var host, logFormat, logLevel, dataDir string
	fs.intVar(&count, []string{"n", "nodes"}, 3, "number of nodes")
	fs.intVar(&port, []string{"p", "port"}, 15001, "WebSocket port of the first node; node i uses port + 2i and HTTP on the port after it")
	fs.stringVar(&host, []string{"host"}, "127.0.0.1", "address every node binds and advertises")
	fs.stringVar(&dataDir, []string{"data-dir"}, "", "directory of the devnet; node i keeps its data in node<i> below it (default $HOME/.naivechain/devnet-<port>)")
	fs.stringVar(&logFormat, []string{"log-format"}, "text", "log format: text or json")
	fs.stringVar(&logLevel, []string{"log-level"}, "warn", "log level of the nodes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if count < 1 || count > 64 {
		return fmt.Errorf("%w: -n must be between 1 and 64", errUsage)
	}
	if port < 1 || port+2*count > 65535 {
		return fmt.Errorf("%w: ports out of range", errUsage)
	}
	log, err := newLogger(stderr, logFormat, logLevel)
	if err != nil {
		return err
	}
	if dataDir == "" {
		if dataDir, err = defaultDataDir(fmt.Sprintf("devnet-%d", port)); err != nil {
			return err
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, count)
	nodes := make([]*node.Node, 0, count)
	for i := 0; i < count; i++ {
		cfg := node.Config{
			DataDir: filepath.Join(dataDir, fmt.Sprintf("node%d", i+1)),
			Host:    host, Advertise: host, Port: port + 2*i, HTTPPort: -1,
			Logger: logging.Actor(log, fmt.Sprintf("node%d", i+1)).With("node", i+1),
		}
		if i > 0 {
			cfg.PeerHost, cfg.PeerPort, cfg.PeerID = host, nodes[0].Port(), nodes[0].ID()
		}
		n, err := node.New(cfg)
		if err != nil {
			cancel()
			wg.Wait()
			return fmt.Errorf("devnet node %d: %w", i+1, err)
		}
		nodes = append(nodes, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := n.Run(ctx); err != nil {
				errc <- fmt.Errorf("devnet node %d: %w", i+1, err)
				cancel()
			}
		}()
	}
	if err := waitMembers(ctx, nodes); err != nil {
		cancel()
		wg.Wait()
		return joinErr(errc, err)
	}
	fmt.Fprintf(stdout, "devnet: %d nodes on %s, data in %s (Ctrl-C to stop)\n", count, host, dataDir)
	for i, n := range nodes {
		fmt.Fprintf(stdout, "node %d  id %s  peer port %d  HTTP %s\n", i+1, n.ID(), n.Port(), n.HTTPURL())
	}
	fmt.Fprintf(stdout, "try: curl -X POST %s/data -H 'Content-Type: application/json' -d '{\"data\": \"Testing String Again\"}'\n", nodes[0].HTTPURL())
	<-ctx.Done()
	wg.Wait()
	return joinErr(errc, nil)
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
