package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestDiskFullKeepsAcknowledgedWrites runs a node whose data dir is a 2 MiB
// tmpfs and writes 7 KB blocks until the disk is full: every write
// answered true is served by GET /data and counted by GET /node on the node
// that answered it, the node answers 503 and keeps serving reads. Needs
// root for the mount; skipped otherwise.
func TestDiskFullKeepsAcknowledgedWrites(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "full")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=2m"); err != nil {
		t.Skipf("no tmpfs mount (needs root): %v", err)
	}
	a := startNode(t, "A", "--data-dir", filepath.Join(dir, "d"))
	// Cleanups run last registered first: this one stops the node before
	// it unmounts its data dir.
	t.Cleanup(func() {
		a.stop(t)
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	var acked []string
	full := false
	for i := 0; i < 400 && !full; i++ {
		data := fmt.Sprintf("w%04d-%s", i, strings.Repeat("x", 7000))
		body, _ := json.Marshal(map[string]string{"data": data})
		code, b, err := httpDo(http.MethodPost, a.url+"/data", string(body))
		switch {
		case err != nil:
			t.Fatalf("POST %d: %v\n%s", i, err, a.tail())
		case code == http.StatusOK && compact(t, b) == `{"status":"OK","data":true}`:
			acked = append(acked, `"`+data+`"`)
		case code == http.StatusServiceUnavailable:
			full = true
		default:
			t.Fatalf("POST %d: %d %s\n%s", i, code, b, a.tail())
		}
	}
	if !full || len(acked) == 0 {
		t.Fatalf("after %d acknowledged writes the disk never filled (full %v)", len(acked), full)
	}
	_, blocks, err := getData(a.url)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, b := range blocks {
		seen[b.Data]++
	}
	for _, d := range acked {
		if seen[d] != 1 {
			t.Errorf("acknowledged write %.10s… is served %d times", d, seen[d])
		}
	}
	info, err := getNode(a)
	if err != nil {
		t.Fatal(err)
	}
	if info.DataCount < len(acked)+1 {
		t.Errorf("GET /node data_count %d, want at least %d", info.DataCount, len(acked)+1)
	}
	t.Logf("%d writes acknowledged before the disk filled; %d blocks served", len(acked), len(blocks))
}
