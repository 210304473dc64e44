package main

import (
	"strconv"
	"strings"
	"testing"
)

// TestFillThenStart: `naivechain fill` writes a store a node then starts
// from, with every block, healthy, under the id fill printed.
func TestFillThenStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	port := freePorts(t, 2)
	f := startProc(t, "fill", "fill", "-n", "500", "--data-dir", dir, "-p", strconv.Itoa(port))
	if code := f.waitExit(t, startDeadline); code != 0 {
		t.Fatalf("fill exited %d\n%s", code, f.tail())
	}
	if !strings.Contains(f.stdout.String(), "with 500 blocks") {
		t.Fatalf("fill said: %s", f.stdout.String())
	}
	n, _ := launchNode(t, "filled", port, "--data-dir", dir)
	if n == nil {
		t.Fatal("the node did not start on the filled store")
	}
	if !strings.Contains(f.stdout.String(), n.id) {
		t.Fatalf("fill printed another id than the node's %s: %s", n.id, f.stdout.String())
	}
	info, err := getNode(n)
	if err != nil || info.DataCount != 501 || !info.Health {
		t.Fatalf("GET /node: %+v, %v; want 501 healthy blocks", info, err)
	}
	write(t, n.url, "after fill", n.proc)
	// Filling a store a node is running on is refused.
	again := startProc(t, "fill again", "fill", "-n", "5", "--data-dir", dir, "-p", strconv.Itoa(port))
	if code := again.waitExit(t, startDeadline); code != 2 || !strings.Contains(again.stderr.String(), "in use") {
		t.Fatalf("fill of a store in use exited %d\n%s", code, again.tail())
	}
}
