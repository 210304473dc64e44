package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/naivechain/naivechain/internal/api"
)

// The HTTP API binds loopback unless --http-host says otherwise, whatever
// --host the peer port binds.
func TestNodeFlagsHTTPHost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args           []string
		host, httpHost string
	}{
		{nil, "0.0.0.0", "127.0.0.1"},
		{[]string{"--host", "0.0.0.0"}, "0.0.0.0", "127.0.0.1"},
		{[]string{"--http-host", "0.0.0.0"}, "0.0.0.0", "0.0.0.0"},
		{[]string{"-http-host", "::1", "--host", "127.0.0.1"}, "127.0.0.1", "::1"},
	} {
		nf, err := parseNodeFlags(tc.args)
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if nf.host != tc.host || nf.httpHost != tc.httpHost {
			t.Errorf("%q: host %q, http host %q; want %q, %q", tc.args, nf.host, nf.httpHost, tc.host, tc.httpHost)
		}
		if nf.maxConns != api.DefaultMaxConns || nf.maxConnsAddr != api.DefaultMaxConnsPerAddr {
			t.Errorf("%q: connection caps %d, %d; want the defaults", tc.args, nf.maxConns, nf.maxConnsAddr)
		}
	}
}

func TestNodeFlagsRefuseZeroCaps(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--http-max-conns", "0"}, {"--http-max-conns-per-addr", "0"}} {
		_, err := parseNodeFlags(args)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "-1 for no limit") {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
	if code := run(context.Background(), []string{"--http-max-conns", "0"}, io.Discard, io.Discard); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
}

// --flush-delay is for tests: parsed, but left out of --help.
func TestNodeFlagsFlushDelayHidden(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--flush-delay", "20ms"}, {"-flush-delay", "20ms"}, {"--flush-delay=20ms"}} {
		nf, err := parseNodeFlags(args)
		if err != nil || nf.flushDelay != 20*time.Millisecond {
			t.Fatalf("%q: %v, delay %v", args, err, nf.flushDelay)
		}
	}
	var stdout bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, &stdout, io.Discard); code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	if strings.Contains(stdout.String(), "flush-delay") || !strings.Contains(stdout.String(), "write-timeout") {
		t.Errorf("--help shows hidden flags or lacks others:\n%s", stdout.String())
	}
	// The value starts with '-': a value still, not a flag.
	if _, err := parseNodeFlags([]string{"--flush-delay", "-1s"}); !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "must not be negative") {
		t.Errorf("--flush-delay -1s: %v, want a usage error", err)
	}
}

// parseNodeFlags parses args as the root command does and returns the
// node's flags, validated.
func parseNodeFlags(args []string) (*nodeFlags, error) {
	nf := &nodeFlags{}
	cmd := &cobra.Command{Use: "naivechain"}
	nf.register(newFlagSet(cmd))
	if err := cmd.ParseFlags(normalizeArgs(cmd, args)); err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	if err := noArgs(cmd, cmd.Flags().Args()); err != nil {
		return nil, err
	}
	return nf, nf.validate()
}

// The original's single-dash flags parse as they always did, and so do
// their long forms, with one dash or two.
func TestNodeFlagsOriginalForms(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"-p", "9803", "-pid", "abc", "-pport", "15001", "-phost", "::1"},
		{"--port", "9803", "--peer_id", "abc", "--peer_port", "15001", "--peer_host", "::1"},
		{"-port", "9803", "-peer_id", "abc", "-peer_port", "15001", "-peer_host", "::1"},
		{"--p", "9803", "--pid", "abc", "--pport", "15001", "--phost", "::1"},
		{"-p=9803", "-pid=abc", "-pport=15001", "--phost=::1"},
		{"-p9803", "--peer_id=abc", "-peer_port=15001", "-phost", "::1"},
	} {
		nf, err := parseNodeFlags(args)
		if err != nil {
			t.Errorf("%q: %v", args, err)
			continue
		}
		if nf.port != 9803 || nf.peerID != "abc" || nf.peerPort != 15001 || nf.peerHost != "::1" {
			t.Errorf("%q: port %d, pid %q, pport %d, phost %q", args, nf.port, nf.peerID, nf.peerPort, nf.peerHost)
		}
	}
}

// normalizeArgs gives a second dash to single-dash long flags only:
// values, even those starting with '-', and words after "--" are kept.
func TestNormalizeArgs(t *testing.T) {
	t.Parallel()
	root := newRootCmd(&app{stdout: io.Discard, stderr: io.Discard})
	for _, tc := range []struct{ in, want []string }{
		{[]string{"-pid", "x", "-pport", "1"}, []string{"--pid", "x", "--pport", "1"}},
		{[]string{"-pid", "-pport", "-pport", "1"}, []string{"--pid", "-pport", "--pport", "1"}},
		{[]string{"-p", "-5", "-data-dir", "-d"}, []string{"-p", "-5", "--data-dir", "-d"}},
		{[]string{"-p", "1", "--", "-pid"}, []string{"-p", "1", "--", "-pid"}},
		{[]string{"-mine", "-pid", "x"}, []string{"--mine", "--pid", "x"}},
		{[]string{"devnet", "-n", "2", "-fresh", "-nodes", "3"}, []string{"devnet", "-n", "2", "--fresh", "--nodes", "3"}},
		{[]string{"-help"}, []string{"--help"}},
		{[]string{"--p", "1", "--n=2"}, []string{"-p", "1", "--n=2"}}, // the root has no -n
		{[]string{"-version"}, []string{"--version"}},
		{[]string{"devnet", "-pid"}, []string{"devnet", "-pid"}}, // not a devnet flag: pflag refuses it
	} {
		if got := normalizeArgs(root, tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("normalizeArgs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
