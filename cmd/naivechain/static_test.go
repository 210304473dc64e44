package main

import (
	"context"
	"debug/elf"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStaticBinaryRunsFromEmptyDir builds the binary as the Dockerfile
// does (CGO_ENABLED=0) and runs it as the image's scratch stage would: from
// an empty directory, with nothing in its environment but HOME (an empty
// directory too) and no PATH. It must be a static executable, start a node
// on its default data dir, take a write, and stop cleanly on SIGTERM.
func TestStaticBinaryRunsFromEmptyDir(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "naivechain")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("the binary is not an ELF file: %v", err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("the binary names a dynamic loader (PT_INTERP): it is not static")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary links shared libraries %v: it is not static", libs)
	}
	f.Close()

	work, home := filepath.Join(dir, "work"), filepath.Join(dir, "home")
	for _, d := range []string{work, home} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	port := freePorts(t, 2)
	p := &proc{name: "static", stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, "-p", strconv.Itoa(port), "--host", "127.0.0.1", "--advertise", "127.0.0.1")
	p.cmd.Dir = work
	p.cmd.Env = []string{"HOME=" + home}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	p.cmd.WaitDelay = 5 * time.Second
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	url := fmt.Sprintf("http://127.0.0.1:%d", port+1)
	waitFor(t, startDeadline, "the static binary's HTTP API", []*proc{p}, func() (bool, string) {
		if p.exited() {
			t.Fatalf("the static binary exited while starting\n%s", p.tail())
		}
		code, body, err := httpDo(http.MethodPost, url+"/data", `{"data": "from an empty dir"}`)
		if err != nil {
			return false, err.Error()
		}
		return code == http.StatusOK && strings.Contains(string(body), "true"), fmt.Sprintf("POST /data: %d %s", code, body)
	})
	if _, err := os.Stat(filepath.Join(home, ".naivechain", strconv.Itoa(port), "chain.db")); err != nil {
		t.Errorf("no store in the default data dir under HOME: %v\n%s", err, p.tail())
	}
	if entries, _ := os.ReadDir(work); len(entries) != 0 {
		t.Errorf("the node wrote into its working directory: %v", entries)
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.waitExit(t, stopDeadline); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0\n%s", code, p.tail())
	}
}
