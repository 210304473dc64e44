package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

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
		nf, err := parseNodeFlags("naivechain", tc.args, io.Discard)
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
		var stderr bytes.Buffer
		_, err := parseNodeFlags("naivechain", args, &stderr)
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
	nf, err := parseNodeFlags("naivechain", []string{"--flush-delay", "20ms"}, io.Discard)
	if err != nil || nf.flushDelay != 20*time.Millisecond {
		t.Fatalf("--flush-delay 20ms: %v, delay %v", err, nf.flushDelay)
	}
	var stderr bytes.Buffer
	if _, err := parseNodeFlags("naivechain", []string{"--help"}, &stderr); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	if strings.Contains(stderr.String(), "flush-delay") || !strings.Contains(stderr.String(), "write-timeout") {
		t.Errorf("--help shows hidden flags or lacks others:\n%s", stderr.String())
	}
	if _, err := parseNodeFlags("naivechain", []string{"--flush-delay", "-1s"}, io.Discard); !errors.Is(err, errUsage) {
		t.Errorf("--flush-delay -1s: %v, want a usage error", err)
	}
}
