package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/naivechain/naivechain/internal/api"
	"github.com/naivechain/naivechain/internal/logging"
	"github.com/naivechain/naivechain/internal/node"
)

var loggingNew = logging.New

// nodeFlags are the flags of a node, shared by devnet where they apply.
type nodeFlags struct {
	port, httpPort, peerPort int
	host, advertise, dataDir string
	httpHost                 string
	maxConns, maxConnsAddr   int
	peerHost, peerID         string
	joinToken                string
	logFormat, logLevel      string
	writeTimeout, removeAft  time.Duration
	flushDelay               time.Duration
	pprofAddr                string
	vhosts                   string
	pprofPublic              bool
	engine                   engineFlags
}

// newNodeCmd returns a command running a node: the root command and
// `naivechain node`.
func newNodeCmd(a *app, use, short string) *cobra.Command {
	nf := &nodeFlags{}
	cmd := &cobra.Command{
		Use: use, Short: short, Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := nf.validate(); err != nil {
				return err
			}
			return runNode(c.Context(), a, nf)
		},
	}
	nf.register(newFlagSet(cmd))
	return cmd
}

// register adds a node's flags to fs.
func (nf *nodeFlags) register(fs flagSet) {
	fs.intVar(&nf.port, []string{"p", "port"}, 15001, "WebSocket (peer) port of this node")
	fs.intVar(&nf.httpPort, []string{"http-port"}, -1, "HTTP API port (default: port + 1)")
	fs.stringVar(&nf.host, []string{"host"}, "0.0.0.0", "address the peer port binds")
	fs.stringVar(&nf.httpHost, []string{"http-host"}, "127.0.0.1", "address the HTTP API binds; 0.0.0.0 exposes it on every interface to anyone who can reach them, and it writes to the chain")
	fs.intVar(&nf.maxConns, []string{"http-max-conns"}, api.DefaultMaxConns, "HTTP API connections open at once; more are answered 503 and closed (-1: no limit)")
	fs.intVar(&nf.maxConnsAddr, []string{"http-max-conns-per-addr"}, api.DefaultMaxConnsPerAddr, "HTTP API connections open at once from one IP address (-1: no limit)")
	fs.stringVar(&nf.vhosts, []string{"http-vhosts"}, "", "comma-separated host names the HTTP API answers to besides IP addresses and localhost (*: any); other names are refused, against DNS rebinding")
	fs.stringVar(&nf.advertise, []string{"advertise"}, "", "host other nodes dial to reach this node (default: the bind address, or this machine's first non-loopback address)")
	fs.stringVar(&nf.dataDir, []string{"data-dir"}, "", "directory holding everything the node owns (default $HOME/.naivechain/<port>)")
	fs.stringVar(&nf.peerID, []string{"pid", "peer_id"}, "", "id of the peer to join (checked when given)")
	fs.intVar(&nf.peerPort, []string{"pport", "peer_port"}, 0, "port of the peer to join")
	fs.stringVar(&nf.peerHost, []string{"phost", "peer_host"}, "127.0.0.1", "host of the peer to join")
	// The token's default is not the environment's value: --help would
	// print the secret.
	fs.stringVar(&nf.joinToken, []string{"join-token"}, "", "token of the vote network to join, from its founder's data dir; a founder given one keeps it as its network's (default $NAIVECHAIN_JOIN_TOKEN)")
	fs.stringVar(&nf.logFormat, []string{"log-format"}, "text", "log format: text or json")
	fs.stringVar(&nf.logLevel, []string{"log-level"}, "info", "log level: debug, info, warn, error")
	fs.durationVar(&nf.writeTimeout, []string{"write-timeout"}, 10*time.Second, "how long POST /data waits for a majority")
	fs.durationVar(&nf.removeAft, []string{"remove-after"}, 60*time.Second, "remove a member unreachable this long from the network (0: never)")
	fs.stringVar(&nf.pprofAddr, []string{"pprof-addr"}, "", "serve Go's profiler (net/http/pprof) on this host:port; loopback only unless --pprof-allow-public (default off)")
	fs.boolVar(&nf.pprofPublic, []string{"pprof-allow-public"}, false, "let --pprof-addr bind a non-loopback address: anyone who reaches it can read the heap and load the CPU")
	fs.durationVar(&nf.flushDelay, []string{"flush-delay"}, 0, "added to every flush of the store's log: a slow disk, for the robustness suite")
	fs.hidden("flush-delay")
	nf.engine.register(fs, 10*time.Second)
}

// validate refuses values the flags' types let through.
func (nf *nodeFlags) validate() error {
	if nf.joinToken == "" {
		nf.joinToken = os.Getenv("NAIVECHAIN_JOIN_TOKEN")
	}
	if nf.peerID != "" && nf.peerPort == 0 {
		return fmt.Errorf("%w: -pid needs -pport", errUsage)
	}
	if nf.flushDelay < 0 {
		return fmt.Errorf("%w: --flush-delay must not be negative", errUsage)
	}
	if nf.maxConns == 0 || nf.maxConnsAddr == 0 {
		return fmt.Errorf("%w: --http-max-conns and --http-max-conns-per-addr must be positive, or -1 for no limit", errUsage)
	}
	if nf.port < 0 || nf.port > 65535 || nf.peerPort < 0 || nf.peerPort > 65535 || nf.httpPort < -1 || nf.httpPort > 65535 {
		return fmt.Errorf("%w: ports must be between 1 and 65535", errUsage)
	}
	return nil
}

func (nf *nodeFlags) removeAfter() time.Duration {
	if nf.removeAft == 0 {
		return -1
	}
	return nf.removeAft
}

func runNode(ctx context.Context, a *app, nf *nodeFlags) error {
	log, err := a.newLogger(nf.logFormat, nf.logLevel)
	if err != nil {
		return err
	}
	if nf.dataDir == "" {
		if nf.dataDir, err = defaultDataDir(strconv.Itoa(nf.port)); err != nil {
			return err
		}
	}
	cfg := node.Config{
		DataDir: nf.dataDir,
		Host:    nf.host, Advertise: nf.advertise, Port: nf.port, HTTPPort: nf.httpPort, HTTPHost: nf.httpHost,
		HTTPMaxConns: nf.maxConns, HTTPMaxConnsPerAddr: nf.maxConnsAddr,
		PeerHost: nf.peerHost, PeerPort: nf.peerPort, PeerID: nf.peerID, JoinToken: nf.joinToken,
		WriteTimeout: nf.writeTimeout, RemoveAfter: nf.removeAfter(), FlushDelay: nf.flushDelay,
		PprofAddr: nf.pprofAddr, PprofAllowPublic: nf.pprofPublic, HTTPVHosts: splitList(nf.vhosts),
		Logger: log,
	}
	if err := nf.engine.apply(&cfg); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err // stopped before it started
	}
	n, err := node.New(cfg)
	if err != nil {
		return err
	}
	return n.Run(ctx)
}

// defaultDataDir is $HOME/.naivechain/<name>.
func defaultDataDir(name string) (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("%w: no home directory for the default data dir; give --data-dir", errUsage)
	}
	return filepath.Join(home, ".naivechain", name), nil
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
