package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/naivechain/naivechain/internal/node"
)

// runIn runs naivechain in this process with args and returns its exit
// code and output.
func runIn(ctx context.Context, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

// flagNamesRE matches the names of a row of a flag table: "-p, --port",
// "    --pid, --peer_id".
var flagNamesRE = regexp.MustCompile(`^  (?:-(\w), |    )--([\w-]+)((?:, --[\w-]+)*)`)

// Every command has a help, with each flag once under all its names,
// each default once, and no hidden flag.
func TestHelp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want []string // in stdout
	}{
		{[]string{"--help"}, []string{"Usage:\n  naivechain [flags]", "\n  devnet ", "\n  completion ", "\n  version ", "-p, --port int", "--pid, --peer_id string", "--pport, --peer_port int"}},
		{[]string{"-h"}, []string{"Usage:\n  naivechain [flags]"}},
		{[]string{"-help"}, []string{"Usage:\n  naivechain [flags]"}},
		{[]string{"help"}, []string{"Usage:\n  naivechain [flags]"}},
		{[]string{"node", "--help"}, []string{"Usage:\n  naivechain node [flags]", "--pid, --peer_id string"}},
		{[]string{"help", "devnet"}, []string{"Usage:\n  naivechain devnet [flags]", "-n, --nodes int", "--fresh"}},
		{[]string{"devnet", "-help"}, []string{"Usage:\n  naivechain devnet [flags]"}},
		{[]string{"help", "bench"}, []string{"Usage:\n  naivechain bench [flags]", "--targets string"}},
		{[]string{"fill", "--help"}, []string{"Usage:\n  naivechain fill [flags]", "-n, --blocks int"}},
		{[]string{"check", "-h"}, []string{"Usage:\n  naivechain check [flags]", "--timeout duration"}},
		{[]string{"help", "version"}, []string{"Usage:\n  naivechain version"}},
		{[]string{"help", "completion"}, []string{"naivechain completion <command>", "bash"}},
	} {
		code, stdout, stderr := runIn(context.Background(), tc.args...)
		if code != 0 || stderr != "" {
			t.Errorf("%q: exit %d, stderr %q; want 0 and nothing", tc.args, code, stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(stdout, w) {
				t.Errorf("%q: help lacks %q:\n%s", tc.args, w, stdout)
			}
		}
		if strings.Contains(stdout, "flush-delay") || strings.Contains(stdout, "hidden") {
			t.Errorf("%q: help shows a hidden flag:\n%s", tc.args, stdout)
		}
		seen := map[string]bool{}
		for _, line := range strings.Split(stdout, "\n") {
			m := flagNamesRE.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			names := append([]string{m[1], m[2]}, strings.Split(strings.ReplaceAll(m[3], ", --", " "), " ")...)
			for _, n := range names {
				if n != "" && seen[n] {
					t.Errorf("%q: flag %s listed twice:\n%s", tc.args, n, stdout)
				}
				seen[n] = true
			}
			if strings.Count(line, "(default") > 1 {
				t.Errorf("%q: two defaults in %q", tc.args, line)
			}
		}
	}
}

// --http-port says its default once, in words.
func TestHelpOneDefault(t *testing.T) {
	t.Parallel()
	_, stdout, _ := runIn(context.Background(), "--help")
	for _, line := range strings.Split(stdout, "\n") {
		if strings.Contains(line, "--http-port") && (!strings.Contains(line, "(default: port + 1)") || strings.Contains(line, "-1")) {
			t.Errorf("--http-port row: %q", line)
		}
	}
}

// The README shows `naivechain --help` as it is.
func TestHelpInREADME(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const start = "<!-- naivechain --help: kept equal by TestHelpInREADME -->\n```text\n"
	_, after, ok := strings.Cut(string(readme), start)
	shown, _, ok2 := strings.Cut(after, "```\n")
	if !ok || !ok2 {
		t.Fatalf("README.md has no %q block", start)
	}
	_, stdout, _ := runIn(context.Background(), "--help")
	if shown != stdout {
		t.Errorf("README's naivechain --help differs from the real one; paste this:\n%s", stdout)
	}
}

var versionRE = regexp.MustCompile(`^naivechain \S+\ncommit: [0-9a-f]+(-dirty)?|unknown\ngo: go1\.\S+ \w+/\w+\n$`)

func TestVersion(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}, {"-v"}} {
		code, stdout, stderr := runIn(context.Background(), args...)
		if code != 0 || stderr != "" || !versionRE.MatchString(stdout) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 0 and the version", args, code, stdout, stderr)
		}
	}
}

// The exit codes of README's table: 2 when the user must change
// something, 1 for a failure at run time; an error is said once, with
// where to read more for a usage error, never the whole usage.
func TestExitCodes(t *testing.T) {
	t.Parallel()
	junk := t.TempDir()
	if err := os.WriteFile(filepath.Join(junk, node.StoreFile), []byte("not a store, not at all, no"), 0o600); err != nil {
		t.Fatal(err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)

	for _, tc := range []struct {
		args []string
		code int
		want string // in stderr
		hint string // the help to read, for usage errors
	}{
		{[]string{"--no-such-flag"}, 2, "unknown flag: --no-such-flag", "naivechain help"},
		{[]string{"-x"}, 2, "unknown shorthand flag", "naivechain help"},
		{[]string{"-p", "abc"}, 2, `invalid argument "abc"`, "naivechain help"},
		{[]string{"-p", "70000"}, 2, "ports must be", "naivechain help"},
		{[]string{"--log-level", "verbose"}, 2, "--log-level", "naivechain help"},
		{[]string{"--log-format", "xml"}, 2, "--log-format", "naivechain help"},
		{[]string{"-pid", "x"}, 2, "-pid needs -pport", "naivechain help"},
		{[]string{"nosuch"}, 2, `unknown command "nosuch"`, "naivechain help"},
		{[]string{"devnt"}, 2, `did you mean "devnet"`, "naivechain help"},
		{[]string{"help", "nosuch"}, 2, `unknown command "nosuch"`, "naivechain help help"},
		{[]string{"version", "extra"}, 2, `unexpected argument "extra"`, "naivechain help version"},
		{[]string{"devnet", "-n", "0"}, 2, "-n must be", "naivechain help devnet"},
		{[]string{"devnet", "--consensus", "raft"}, 2, "--consensus", "naivechain help devnet"},
		{[]string{"devnet", "extra"}, 2, `unexpected argument "extra"`, "naivechain help devnet"},
		{[]string{"bench", "--count", "x"}, 2, "invalid argument", "naivechain help bench"},
		{[]string{"fill"}, 2, "needs --data-dir", "naivechain help fill"},
		{[]string{"check"}, 2, "needs --data-dir", "naivechain help check"},
		// Refused data dir: not the user's flags, so no help to read.
		{[]string{"--data-dir", junk, "-p", "0", "--http-port", "0", "--host", "127.0.0.1"}, 2, "is not a naivechain store", ""},
		{[]string{"check", "--data-dir", junk}, 2, "not a naivechain store", ""},
		{[]string{"--data-dir", t.TempDir(), "-p", "0", "--http-port", "0", "--host", "127.0.0.1", "--pprof-addr", "0.0.0.0:6060"}, 2, "pprof", ""},
		{[]string{"--data-dir", t.TempDir(), "-p", "0", "--http-port", "0", "--host", "127.0.0.1", "--join-token", "short"}, 2, "bad join token", ""},
		// At run time: the port is taken.
		{[]string{"--data-dir", t.TempDir(), "-p", busyPort, "--http-port", "0", "--host", "127.0.0.1"}, 1, "address already in use", ""},
	} {
		code, stdout, stderr := runIn(context.Background(), tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", tc.args, code, stderr, tc.code, tc.want)
			continue
		}
		if n := strings.Count(stderr, "naivechain:"); n != 1 {
			t.Errorf("%q: the error is said %d times:\n%s", tc.args, n, stderr)
		}
		hint := fmt.Sprintf("see '%s'\n", tc.hint)
		if tc.hint != "" && !strings.HasSuffix(stderr, hint) || tc.hint == "" && strings.Contains(stderr, "see '") {
			t.Errorf("%q: stderr %q; want the hint %q", tc.args, stderr, tc.hint)
		}
		if strings.Contains(stderr, "Usage:") || stdout != "" {
			t.Errorf("%q: usage or output shown on an error: stdout %q, stderr %q", tc.args, stdout, stderr)
		}
	}
}

// stopLines counts the lines of out that say the command stops.
func stopLines(out string) int {
	n := 0
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "stopping") {
			n++
		}
	}
	return n
}

// A signal before anything started is a clean stop: one line, exit 0.
func TestStopBeforeStart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("interrupt signal received")) // what signal.NotifyContext gives
	code, _, stderr := runIn(ctx, "--data-dir", t.TempDir(), "-p", "0", "--http-port", "0", "--host", "127.0.0.1")
	if code != 0 || stopLines(stderr) != 1 || !strings.Contains(stderr, "stopping on interrupt signal received") || strings.Contains(stderr, "context canceled") {
		t.Errorf("exit %d, stderr %q; want 0 and one line saying it stops on the signal", code, stderr)
	}
}

// A signal while the node joins a peer (one that never answers) is a
// clean stop too: one line, through the node's logger, exit 0.
func TestStopDuringStartup(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--data-dir", t.TempDir(), "-p", "0", "--http-port", "0", "--host", "127.0.0.1",
			"-pid", "5a1b2c3d-0000-4000-8000-000000000000", "-pport", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)}, io.Discard, &stderr)
	}()
	var conn net.Conn
	select {
	case conn = <-accepted: // the node is joining: in its start-up
	case code := <-done:
		t.Fatalf("run ended with %d before joining:\n%s", code, stderr.String())
	case <-time.After(startDeadline):
		t.Fatalf("the node did not dial its peer within %v:\n%s", startDeadline, stderr.String())
	}
	defer conn.Close()
	cancel()
	select {
	case code := <-done:
		out := stderr.String()
		if code != 0 || stopLines(out) != 1 || !strings.Contains(out, "[INFO]: NODE-stopping") || strings.Contains(out, "canceled") || strings.Contains(out, "WARN") {
			t.Errorf("exit %d, stderr:\n%s\nwant 0 and one INFO line saying it stops", code, out)
		}
	case <-time.After(stopDeadline):
		t.Fatalf("run did not return within %v of the cancel:\n%s", stopDeadline, stderr.String())
	}
	ln.Close()
	for c := range accepted {
		c.Close()
	}
}
