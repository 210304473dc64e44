package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/naivechain/naivechain/internal/node"
)

// fakeDevnet makes dir look like the data dir of a devnet of n nodes.
func fakeDevnet(t *testing.T, dir string, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		d := filepath.Join(dir, "node"+strconv.Itoa(i))
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, node.StoreFile), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// The default data dir of a devnet names its engine, so that a vote
// devnet and a pow one on the same port keep apart; a changed -n is
// refused at once, naming the dir, both counts and the fixes.
func TestDevnetDefaultDirHasEngine(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	port := 23001
	for _, engine := range []string{"vote", "pow"} {
		dir := filepath.Join(home, ".naivechain", "devnet-"+engine+"-"+strconv.Itoa(port))
		fakeDevnet(t, dir, 3)
		code, stdout, stderr := runIn(context.Background(), "devnet", "-n", "2", "-p", strconv.Itoa(port), "--consensus", engine)
		for _, want := range []string{dir, "devnet of 3 nodes, not 2", "-n 3", "--fresh", "--data-dir"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("%s: stderr lacks %q:\n%s", engine, want, stderr)
			}
		}
		if code != 2 || stdout != "" {
			t.Errorf("%s: exit %d, stdout %q; want 2 and nothing", engine, code, stdout)
		}
	}
}

// --fresh deletes nothing but a devnet's data dir.
func TestDevnetFreshRefusesOtherDirs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, keep, why string }{
		{"a file beside the nodes", "notes.txt", "not a devnet's data dir"},
		{"a file in a node's dir", "node1/important.txt", "not a devnet node's dir"},
		{"a dir named like a node", "node01/chain.db", "not a devnet's data dir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fakeDevnet(t, dir, 2)
			keep := filepath.Join(dir, tc.keep)
			if err := os.MkdirAll(filepath.Dir(keep), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(keep, []byte("mine"), 0o600); err != nil {
				t.Fatal(err)
			}
			code, _, stderr := runIn(context.Background(), "devnet", "--fresh", "--data-dir", dir, "-n", "2")
			if code != 2 || !strings.Contains(stderr, tc.why) || !strings.Contains(stderr, filepath.Base(filepath.Dir(keep))) && !strings.Contains(stderr, filepath.Base(keep)) {
				t.Errorf("exit %d, stderr %q; want 2 and the refusal", code, stderr)
			}
			if _, err := os.Stat(keep); err != nil {
				t.Errorf("--fresh removed what it refused: %v", err)
			}
		})
	}
}

// startDevnetIn runs `naivechain devnet` in this process until it printed
// its nodes, and returns a function that stops it (as SIGINT would) and
// returns its exit code and stderr.
func startDevnetIn(t *testing.T, args ...string) (stop func() (int, string)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"devnet"}, args...), &stdout, &stderr) }()
	deadline := time.Now().Add(startDeadline)
	for !strings.Contains(stdout.String(), "try: curl") {
		select {
		case code := <-done:
			t.Fatalf("devnet %q exited %d:\n%s", args, code, stderr.String())
		case <-time.After(pollEvery):
		}
		if time.Now().After(deadline) {
			t.Fatalf("devnet %q did not start within %v:\n%s", args, startDeadline, stderr.String())
		}
	}
	return func() (int, string) {
		cancel()
		select {
		case code := <-done:
			return code, stderr.String()
		case <-time.After(stopDeadline):
			t.Fatalf("devnet %q did not stop within %v", args, stopDeadline)
			return 0, ""
		}
	}
}

// A devnet stops on a signal with one line and exit 0; started again
// with another -n it refuses at once; --fresh starts the new one.
func TestDevnetFresh(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	port := strconv.Itoa(freePorts(t, 4))
	stop := startDevnetIn(t, "-n", "1", "-p", port, "--data-dir", dir)
	if code, stderr := stop(); code != 0 || stopLines(stderr) != 1 {
		t.Errorf("devnet -n 1 stopped with %d, stderr %q; want 0 and one line", code, stderr)
	}
	id1, err := os.ReadFile(filepath.Join(dir, "node1", "node.key"))
	if err != nil {
		t.Fatal(err)
	}

	code, _, stderr := runIn(context.Background(), "devnet", "-n", "2", "-p", port, "--data-dir", dir)
	if code != 2 || !strings.Contains(stderr, "devnet of 1 nodes, not 2") {
		t.Errorf("devnet -n 2 on a devnet of 1: exit %d, stderr %q; want 2 and why", code, stderr)
	}

	stop = startDevnetIn(t, "-n", "2", "-p", port, "--data-dir", dir, "--fresh")
	if code, stderr := stop(); code != 0 {
		t.Errorf("devnet -n 2 --fresh stopped with %d:\n%s", code, stderr)
	}
	if n, err := devnetNodes(dir); n != 2 || err != nil {
		t.Errorf("after --fresh -n 2: %d nodes (%v), want 2", n, err)
	}
	if id2, err := os.ReadFile(filepath.Join(dir, "node1", "node.key")); err != nil || string(id2) == string(id1) {
		t.Errorf("--fresh kept node 1's key (%v)", err)
	}
}
