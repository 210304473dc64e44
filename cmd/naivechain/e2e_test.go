package main

// End-to-end tests: the naivechain binary, built once with -race, run as real
// processes talking over loopback. Every process is stopped at the end of its
// test (SIGTERM, then SIGKILL), every wait polls a condition with a deadline,
// and a process that reports a data race fails its test.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Deadlines: generous, the race build on a loaded 2-core machine is slow.
const (
	startDeadline = 60 * time.Second // a process is up / a network formed
	waitDeadline  = 45 * time.Second // a state is reached (peers, replication)
	stopDeadline  = 30 * time.Second // a process exits after SIGTERM
	pollEvery     = 50 * time.Millisecond
)

// binPath is the naivechain binary built by TestMain.
var binPath string

func TestMain(m *testing.M) {
	os.Exit(e2eMain(m))
}

func e2eMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "naivechain-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binPath = filepath.Join(dir, "naivechain")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	// The test runs in the package directory: build it.
	build := exec.CommandContext(ctx, "go", "build", "-race", "-o", binPath, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: go build -race:", err)
		return 1
	}
	return m.Run()
}

// ---------------------------------------------------------------- ports

var (
	portsMu  sync.Mutex
	reserved = map[int]bool{} // ports handed out to a test of this process
)

// freePorts returns base such that base, base+1, ..., base+n-1 were all free
// on 127.0.0.1 a moment ago and were never handed out to another test here.
// The ports lie below the system's ephemeral range: a port in it that a
// killed node frees can be taken at once as the local port of any outgoing
// connection (a writer's, a peer's dial), and the node could not take it
// back on its restart.
func freePorts(t *testing.T, n int) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	lo, hi := 10000, ephemeralLow()
	if hi-lo < 1000+n {
		t.Fatalf("the ephemeral ports begin at %d: too few fixed ports below them for the tests", hi)
	}
	for range 1000 {
		base := lo + rand.IntN(hi-lo-n)
		ok := true
		for p := base; p < base+n && ok; p++ {
			ok = !reserved[p] && portFree(p)
		}
		if !ok {
			continue
		}
		for p := base; p < base+n; p++ {
			reserved[p] = true
		}
		return base
	}
	t.Fatalf("no %d consecutive free ports found in %d-%d", n, lo, hi)
	return 0
}

// ephemeralLow is the first port of the range the system picks local ports
// of outgoing connections from (Linux's ip_local_port_range; 32768 when it
// cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 32768
	}
	lo, err := strconv.Atoi(f[0])
	if err != nil {
		return 32768
	}
	return lo
}

func portFree(p int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// ---------------------------------------------------------------- processes

// syncBuffer is a bytes.Buffer safe for one writer and many readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is a running naivechain process.
type proc struct {
	name           string
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan struct{} // closed when the process has exited
	waitErr        error         // valid after done
}

// startProc starts the binary with args; the test's cleanup stops it.
func startProc(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(binPath, args...)
	// Each process gets its own home: the default data dir lives there, so
	// no test reads another's chain or writes outside its temp dirs.
	p.cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	p.cmd.WaitDelay = 5 * time.Second
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s (%s %s): %v", name, binPath, strings.Join(args, " "), err)
	}
	t.Logf("started %s (pid %d): naivechain %s", name, p.cmd.Process.Pid, strings.Join(args, " "))
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.stop(t) })
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exitCode is the exit code of an exited process (-1 if killed by a signal).
func (p *proc) exitCode() int { return p.cmd.ProcessState.ExitCode() }

// stop ends the process if it still runs: SIGTERM, and SIGKILL if it does
// not exit in time. A data race reported by the process fails the test.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	if !p.exited() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
			if code := p.exitCode(); code != 0 {
				t.Errorf("%s exited with code %d after SIGTERM (want 0)\n%s", p.name, code, p.tail())
			}
		case <-time.After(stopDeadline):
			t.Errorf("%s did not exit within %v of SIGTERM; killing it\n%s", p.name, stopDeadline, p.tail())
			_ = p.cmd.Process.Kill()
			select {
			case <-p.done:
			case <-time.After(stopDeadline):
				t.Errorf("%s (pid %d) did not exit after SIGKILL", p.name, p.cmd.Process.Pid)
			}
		}
	}
	if strings.Contains(p.stderr.String(), "WARNING: DATA RACE") {
		t.Errorf("%s reported a data race:\n%s", p.name, p.stderr.String())
	}
}

// kill SIGKILLs the process and waits for it to be gone.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
	case <-time.After(stopDeadline):
		t.Fatalf("%s (pid %d) did not exit after SIGKILL", p.name, p.cmd.Process.Pid)
	}
}

// waitExit waits for the process to exit by itself and returns its code.
func (p *proc) waitExit(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.exitCode()
	case <-time.After(d):
		t.Fatalf("%s did not exit within %v\n%s", p.name, d, p.tail())
		return 0
	}
}

// tail is the end of the process's output, for failure messages.
func (p *proc) tail() string {
	const max = 4000
	tailOf := func(s string) string {
		if len(s) > max {
			return "..." + s[len(s)-max:]
		}
		return s
	}
	state := "running"
	if p.exited() {
		state = fmt.Sprintf("exited: %v", p.waitErr)
	}
	out := fmt.Sprintf("--- %s (%s) stderr:\n%s", p.name, state, tailOf(p.stderr.String()))
	if s := p.stdout.String(); s != "" {
		out += fmt.Sprintf("--- %s stdout:\n%s", p.name, tailOf(s))
	}
	return out
}

func tails(ps []*proc) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.tail())
		b.WriteString("\n")
	}
	return b.String()
}

// waitFor polls cond every 50ms until it holds or d passes; then it fails
// the test with what, cond's last explanation and the processes' output.
func waitFor(t *testing.T, d time.Duration, what string, ps []*proc, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %s\n%s", d, what, why, tails(ps))
		}
		time.Sleep(pollEvery)
	}
}

// ---------------------------------------------------------------- nodes

// node is a naivechain node process.
type nodeProc struct {
	*proc
	id       string
	port     int // WebSocket (peer) port
	httpPort int
	url      string // http://127.0.0.1:<httpPort>
	token    string // join token of its network, when known
}

var liveRE = regexp.MustCompile(`\[INFO\]: BLOCKCHAIN-Node (\S+) live on 127\.0\.0\.1:(\d+)`)

// startNode starts a node on free loopback ports with the extra args and
// waits until it logged its id and its HTTP API answers. A node that loses a
// race for its ports against another program is restarted on others.
func startNode(t *testing.T, name string, extra ...string) *nodeProc {
	t.Helper()
	for attempt := 1; ; attempt++ {
		n, lostPorts := launchNode(t, name, freePorts(t, 2), extra...)
		if n != nil {
			return n
		}
		if attempt >= 3 || !lostPorts {
			t.Fatalf("%s could not start", name)
		}
		t.Logf("%s lost its ports to another program; retrying", name)
	}
}

// launchNode starts one node process on port (HTTP on port+1) and waits until
// it logged its id and its HTTP API answers. When the process exits before
// it is live, launchNode returns nil and whether it failed for lack of its
// ports ("address already in use"), so that the caller may try again; any
// other early exit fails the test.
func launchNode(t *testing.T, name string, port int, extra ...string) (n *nodeProc, lostPorts bool) {
	t.Helper()
	args := append([]string{"-p", strconv.Itoa(port), "--host", "127.0.0.1", "--advertise", "127.0.0.1"}, extra...)
	p := startProc(t, name, args...)
	var id string
	waitFor(t, startDeadline, name+" to log that it is live", []*proc{p}, func() (bool, string) {
		if m := liveRE.FindStringSubmatch(p.stderr.String()); m != nil {
			id = m[1]
			return true, ""
		}
		return p.exited(), "no live line yet"
	})
	if id == "" { // exited before it was live
		if strings.Contains(p.stderr.String(), "address already in use") {
			return nil, true
		}
		t.Fatalf("%s exited before it was live\n%s", name, p.tail())
	}
	n = &nodeProc{proc: p, id: id, port: port, httpPort: port + 1, url: fmt.Sprintf("http://127.0.0.1:%d", port+1)}
	waitFor(t, startDeadline, name+"'s HTTP API to answer", []*proc{p}, func() (bool, string) {
		if p.exited() {
			t.Fatalf("%s exited while starting\n%s", name, p.tail())
		}
		code, body, err := httpDo(http.MethodGet, n.url+"/node", "")
		if err != nil {
			return false, err.Error()
		}
		return code == http.StatusOK, fmt.Sprintf("GET /node: %d %s", code, body)
	})
	// A founder logs its network's join token right after its live line;
	// a joiner passes on the one it was given, so nodes join through it
	// too.
	if m := tokenRE.FindStringSubmatch(p.stderr.String()); m != nil {
		n.token = m[1]
	}
	for i, a := range extra {
		if a == "--join-token" && i+1 < len(extra) {
			n.token = extra[i+1]
		}
	}
	return n, false
}

// joinArgs are the flags that make a node join n.
func (n *nodeProc) joinArgs() []string {
	args := []string{"-pid", n.id, "-pport", strconv.Itoa(n.port)}
	if n.token != "" {
		args = append(args, "--join-token", n.token)
	}
	return args
}

// tokenRE finds the join token in a founder's log.
var tokenRE = regexp.MustCompile(`--join-token ([A-Za-z0-9_-]+)`)

// ---------------------------------------------------------------- HTTP

var client = &http.Client{Timeout: 60 * time.Second}

// httpDo sends a request with a JSON body (none when body is "") and returns
// the status and the whole answer.
func httpDo(method, url, body string) (int, []byte, error) {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return 0, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, b, err
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return resp.StatusCode, b, fmt.Errorf("%s %s: Content-Type %q, want application/json", method, url, ct)
	}
	return resp.StatusCode, b, nil
}

// mustDo is httpDo failing the test on a transport error.
func mustDo(t *testing.T, method, url, body string) (int, []byte) {
	t.Helper()
	code, b, err := httpDo(method, url, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return code, b
}

// compact is the JSON b without insignificant whitespace.
func compact(t *testing.T, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatalf("not JSON (%v): %q", err, b)
	}
	return buf.String()
}

// okData decodes an answer {"status":"OK","data":...} into data.
func okData(body []byte, data any) error {
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("bad JSON answer %q: %v", body, err)
	}
	if env.Status != "OK" {
		return fmt.Errorf("status %q, want OK: %s", env.Status, body)
	}
	if err := json.Unmarshal(env.Data, data); err != nil {
		return fmt.Errorf("data of %s: %v", body, err)
	}
	return nil
}

type jsonBlock struct {
	Index        int    `json:"index"`
	PreviousHash string `json:"previous_hash"`
	Data         string `json:"data"`
	CurrHash     string `json:"curr_hash"`
}

type peerEntry struct {
	Host string `json:"host"`
	Port string `json:"port"` // a number here fails decoding: ports are strings
}

// getPeers returns n's GET /peers data.
func getPeers(n *nodeProc) (map[string]peerEntry, error) {
	code, b, err := httpDo(http.MethodGet, n.url+"/peers", "")
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("GET /peers: %d %s", code, b)
	}
	var peers map[string]peerEntry
	if err := okData(b, &peers); err != nil {
		return nil, err
	}
	return peers, nil
}

// hasPeers reports whether n's peers are exactly want, with host 127.0.0.1
// and their ports.
func hasPeers(n *nodeProc, want ...*nodeProc) (bool, string) {
	peers, err := getPeers(n)
	if err != nil {
		return false, err.Error()
	}
	if len(peers) != len(want) {
		return false, fmt.Sprintf("%s has peers %v, want %d", n.name, peers, len(want))
	}
	for _, w := range want {
		e, ok := peers[w.id]
		if !ok {
			return false, fmt.Sprintf("%s's peers %v lack %s (%s)", n.name, peers, w.name, w.id)
		}
		if e.Host != "127.0.0.1" || e.Port != strconv.Itoa(w.port) {
			return false, fmt.Sprintf("%s lists %s at %s:%s, want 127.0.0.1:%d", n.name, w.name, e.Host, e.Port, w.port)
		}
	}
	return true, ""
}

// getData returns url's GET /data answer, compacted, and its blocks.
func getData(url string) (string, []jsonBlock, error) {
	code, b, err := httpDo(http.MethodGet, url+"/data", "")
	if err != nil {
		return "", nil, err
	}
	if code != http.StatusOK {
		return "", nil, fmt.Errorf("GET /data: %d %s", code, b)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return "", nil, fmt.Errorf("GET /data: not JSON (%v): %q", err, b)
	}
	var blocks []jsonBlock
	if err := okData(b, &blocks); err != nil {
		return "", nil, err
	}
	return buf.String(), blocks, nil
}

// sameChains reports whether every url answers the same GET /data with
// length blocks; it returns that chain.
func sameChains(length int, urls ...string) (bool, string, []jsonBlock) {
	var first string
	var blocks []jsonBlock
	for i, u := range urls {
		s, bs, err := getData(u)
		if err != nil {
			return false, err.Error(), nil
		}
		if len(bs) != length {
			return false, fmt.Sprintf("%s has %d blocks, want %d", u, len(bs), length), nil
		}
		if i == 0 {
			first, blocks = s, bs
		} else if s != first {
			return false, fmt.Sprintf("%s's chain differs from %s's:\n%s\n%s", u, urls[0], s, first), nil
		}
	}
	return true, "", blocks
}

// write POSTs {"data": data} to url and requires 200 {"status":"OK","data":true}.
func write(t *testing.T, url, data string, ps ...*proc) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"data": data})
	code, b, err := httpDo(http.MethodPost, url+"/data", string(body))
	if err != nil {
		t.Fatalf("POST %s/data %s: %v\n%s", url, body, err, tails(ps))
	}
	if code != http.StatusOK || compact(t, b) != `{"status":"OK","data":true}` {
		t.Fatalf("POST %s/data %s: %d %s, want 200 {\"status\":\"OK\",\"data\":true}\n%s", url, body, code, b, tails(ps))
	}
}

// ---------------------------------------------------------------- tests

// readmeData is the README's GET /data answer after its POST.
const readmeData = `{
   "status":"OK",
   "data":[
      {
         "index":0,
         "previous_hash":"ioiiiuasyi891qbduquiuqwiqwiupwe",
         "data":"\"random\"",
         "curr_hash":"71fbc6a1c90d94050b32ab9f9d6a11fc41724f8f954905c120c4c16b71f1f80f"
      },
      {
         "index":1,
         "previous_hash":"71fbc6a1c90d94050b32ab9f9d6a11fc41724f8f954905c120c4c16b71f1f80f",
         "data":"\"Testing String Again\"",
         "curr_hash":"c8a8924ed4d8c58638b9f4fcbb7609bb0edb4a509d1514246a04ebba680d5a1f"
      }
   ]
}`

// TestE2EReadmeFlow replays the README's single-node session.
func TestE2EReadmeFlow(t *testing.T) {
	t.Parallel()
	a := startNode(t, "A")

	code, b := mustDo(t, http.MethodPost, a.url+"/data", `{"data": "Testing String Again"}`)
	if got, want := compact(t, b), compact(t, []byte(`{"status": "OK", "data": true}`)); code != http.StatusOK || got != want {
		t.Fatalf("POST /data: %d %s, want 200 %s\n%s", code, b, want, a.tail())
	}

	code, b = mustDo(t, http.MethodGet, a.url+"/data", "")
	if got, want := compact(t, b), compact(t, []byte(readmeData)); code != http.StatusOK || got != want {
		t.Errorf("GET /data: %d\n got %s\nwant %s", code, got, want)
	}

	code, b = mustDo(t, http.MethodGet, a.url+"/node", "")
	var info struct {
		PeerID    string          `json:"peer_id"`
		DataCount int             `json:"data_count"`
		Health    bool            `json:"health"`
		RPCPort   json.RawMessage `json:"rpc_port"`
		Age       string          `json:"age"`
	}
	if err := okData(b, &info); code != http.StatusOK || err != nil {
		t.Fatalf("GET /node: %d %s: %v", code, b, err)
	}
	if info.PeerID != a.id {
		t.Errorf("GET /node peer_id = %q, want %q (the id in the log)", info.PeerID, a.id)
	}
	if info.DataCount != 2 || !info.Health {
		t.Errorf("GET /node data_count = %d, health = %v; want 2, true", info.DataCount, info.Health)
	}
	if want := strconv.Quote(strconv.Itoa(a.port)); string(info.RPCPort) != want {
		t.Errorf("GET /node rpc_port = %s, want the string %s", info.RPCPort, want)
	}
	if _, err := time.Parse("2006-01-02 15:04:05.000000", info.Age); err != nil {
		t.Errorf("GET /node age %q: %v", info.Age, err)
	}

	code, b = mustDo(t, http.MethodGet, a.url+"/peers", "")
	if got := compact(t, b); code != http.StatusOK || got != `{"status":"OK","data":{}}` {
		t.Errorf("GET /peers: %d %s, want 200 {\"status\":\"OK\",\"data\":{}}", code, got)
	}
}

// TestE2EJoin joins B to A, writes on both, and has C join B: A learns C.
func TestE2EJoin(t *testing.T) {
	t.Parallel()
	a := startNode(t, "A")
	b := startNode(t, "B", a.joinArgs()...)
	ps := []*proc{a.proc, b.proc}
	waitFor(t, waitDeadline, "A and B to list each other as peers", ps, func() (bool, string) {
		if ok, why := hasPeers(a, b); !ok {
			return false, why
		}
		return hasPeers(b, a)
	})

	start := time.Now()
	write(t, b.url, "written on B", ps...)
	t.Logf("write on B answered after %v", time.Since(start).Round(time.Millisecond))
	write(t, a.url, "written on A", ps...)
	var chain []jsonBlock
	waitFor(t, waitDeadline, "A and B to have the same 3 blocks", ps, func() (ok bool, why string) {
		ok, why, chain = sameChains(3, a.url, b.url)
		return ok, why
	})
	if chain[1].Data != `"written on B"` || chain[2].Data != `"written on A"` {
		t.Errorf("chain data = %q, %q; want %q, %q", chain[1].Data, chain[2].Data, `"written on B"`, `"written on A"`)
	}

	c := startNode(t, "C", b.joinArgs()...)
	ps = append(ps, c.proc)
	start = time.Now()
	waitFor(t, waitDeadline, "A to learn C through B (gossip)", ps, func() (bool, string) {
		return hasPeers(a, b, c)
	})
	t.Logf("A listed C %v after C was up", time.Since(start).Round(time.Millisecond))
	waitFor(t, waitDeadline, "B and C to list the two others", ps, func() (bool, string) {
		if ok, why := hasPeers(b, a, c); !ok {
			return false, why
		}
		return hasPeers(c, a, b)
	})
	waitFor(t, waitDeadline, "C to have the chain", ps, func() (bool, string) {
		ok, why, _ := sameChains(3, a.url, c.url)
		return ok, why
	})
}

// TestE2EWrongPeerID starts B with an id A does not have: B must give up.
func TestE2EWrongPeerID(t *testing.T) {
	t.Parallel()
	a := startNode(t, "A")
	port := freePorts(t, 2)
	b := startProc(t, "B", "-p", strconv.Itoa(port), "--host", "127.0.0.1", "--advertise", "127.0.0.1",
		"-pid", "not-the-id", "-pport", strconv.Itoa(a.port))
	if code := b.waitExit(t, startDeadline); code != 2 {
		t.Errorf("B exited with code %d, want 2 (the user must change -pid)\n%s", code, b.tail())
	}
	stderr := b.stderr.String()
	if !strings.Contains(stderr, a.id) || !strings.Contains(stderr, "not-the-id") {
		t.Errorf("B's stderr does not name both A's id %s and not-the-id\n%s", a.id, b.tail())
	}
	if ok, why := hasPeers(a); !ok {
		t.Errorf("after B gave up: %s", why)
	}
	// A is still alone: it adds data without anyone's vote.
	write(t, a.url, "alone", a.proc)
	if ok, why := hasPeers(a); !ok {
		t.Errorf("after a write on A: %s", why)
	}
}

var devnetLineRE = regexp.MustCompile(`(?m)^node (\d+)\s+id (\S+)\s+peer port (\d+)\s+HTTP (http://127\.0\.0\.1:\d+)\s*$`)

// TestE2EDevnet writes concurrently on a 3-node devnet and stops it with SIGTERM.
// startDevnetProc runs `naivechain devnet -n 3` with extra flags on free
// ports and returns it with its nodes' HTTP URLs, once it printed them.
func startDevnetProc(t *testing.T, extra ...string) (*proc, []string) {
	t.Helper()
	var d *proc
	for attempt := 1; ; attempt++ {
		port := freePorts(t, 6) // node i: port+2i and port+2i+1
		args := append([]string{"devnet", "-n", "3", "-p", strconv.Itoa(port), "--host", "127.0.0.1"}, extra...)
		d = startProc(t, "devnet", args...)
		waitFor(t, startDeadline, "the devnet to print its nodes", []*proc{d}, func() (bool, string) {
			return d.exited() || strings.Contains(d.stdout.String(), "\ntry: curl"), "no try: line yet"
		})
		if !d.exited() {
			break
		}
		if attempt < 3 && strings.Contains(d.stderr.String(), "address already in use") {
			t.Logf("devnet lost its ports to another program; retrying")
			continue
		}
		t.Fatalf("devnet exited while starting\n%s", d.tail())
	}
	out := d.stdout.String()
	if !strings.HasPrefix(out, "devnet: 3 nodes ") {
		t.Errorf("devnet stdout does not start with the header %q:\n%s", "devnet: 3 nodes ", out)
	}
	var urls []string
	for i, m := range devnetLineRE.FindAllStringSubmatch(out, -1) {
		if m[1] != strconv.Itoa(i+1) {
			t.Fatalf("devnet line %d is node %s:\n%s", i+1, m[1], out)
		}
		urls = append(urls, m[4])
	}
	if len(urls) != 3 {
		t.Fatalf("found %d node lines in the devnet's stdout, want 3:\n%s", len(urls), out)
	}
	return d, urls
}

// postConcurrently POSTs {"data": fmt.Sprintf(format, i)} for i below
// writes, all at once, round-robin over urls, and requires every answer to
// be 200 with data true.
func postConcurrently(t *testing.T, d *proc, urls []string, writes int, format string) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, writes)
	for i := range writes {
		wg.Go(func() {
			url := urls[i%len(urls)]
			body := fmt.Sprintf(`{"data": "`+format+`"}`, i)
			code, b, err := httpDo(http.MethodPost, url+"/data", body)
			switch {
			case err != nil:
				errs <- fmt.Errorf("POST %s/data %s: %v", url, body, err)
			case code != http.StatusOK:
				errs <- fmt.Errorf("POST %s/data %s: %d %s", url, body, code, b)
			default:
				var ok bool
				if err := okData(b, &ok); err != nil || !ok {
					errs <- fmt.Errorf("POST %s/data %s: %s (%v), want data true", url, body, b, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.Fatalf("writes failed\n%s", d.tail())
	}
}

func TestE2EDevnet(t *testing.T) {
	t.Parallel()
	start := time.Now()
	d, urls := startDevnetProc(t)
	t.Logf("devnet formed after %v", time.Since(start).Round(time.Millisecond))
	start = time.Now()

	const writes = 30
	postConcurrently(t, d, urls, writes, "w-%d")
	t.Logf("%d concurrent writes answered after %v", writes, time.Since(start).Round(time.Millisecond))
	start = time.Now()

	var chain []jsonBlock
	waitFor(t, waitDeadline, "the 3 nodes to have the same 31 blocks", []*proc{d}, func() (ok bool, why string) {
		ok, why, chain = sameChains(writes+1, urls...)
		return ok, why
	})
	t.Logf("chains converged after %v", time.Since(start).Round(time.Millisecond))
	seen := map[string]int{}
	for _, bl := range chain[1:] {
		seen[bl.Data]++
	}
	for i := range writes {
		if n := seen[fmt.Sprintf(`"w-%d"`, i)]; n != 1 {
			t.Errorf("write w-%d is %d times in the chain, want once", i, n)
		}
	}

	start = time.Now()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM devnet: %v", err)
	}
	if code := d.waitExit(t, stopDeadline); code != 0 {
		t.Errorf("devnet exited with code %d after SIGTERM, want 0\n%s", code, d.tail())
	}
	t.Logf("devnet exited after SIGTERM in %v", time.Since(start).Round(time.Millisecond))
}

// TestE2EBadInput sends malformed requests; the node answers JSON errors and
// its chain is unchanged.
func TestE2EBadInput(t *testing.T) {
	t.Parallel()
	a := startNode(t, "A")

	type errAnswer struct {
		Status string  `json:"status"`
		Error  *string `json:"error"`
	}
	check := func(method, path, body string, want int) {
		t.Helper()
		code, b := mustDo(t, method, a.url+path, body)
		shown := b
		if len(shown) > 200 {
			shown = shown[:200]
		}
		if code != want {
			t.Errorf("%s %s %.40q: %d %s, want %d", method, path, body, code, shown, want)
			return
		}
		var e errAnswer
		if err := json.Unmarshal(b, &e); err != nil || e.Status != "ERROR" || e.Error == nil || *e.Error == "" {
			t.Errorf("%s %s %.40q: %d %s, want {\"status\":\"ERROR\",\"error\":...}", method, path, body, code, shown)
		}
	}
	check(http.MethodPost, "/data", `{bad`, http.StatusBadRequest)
	check(http.MethodPost, "/data", `[1]`, http.StatusBadRequest)
	check(http.MethodPost, "/data", `{"x":1}`, http.StatusBadRequest)
	check(http.MethodPost, "/data", `{"data":"`+strings.Repeat("a", 2<<20)+`"}`, http.StatusRequestEntityTooLarge)
	check(http.MethodGet, "/nope", "", http.StatusNotFound)
	check(http.MethodPut, "/data", `{"data":"x"}`, http.StatusMethodNotAllowed)

	if ok, why, _ := sameChains(1, a.url); !ok {
		t.Errorf("after bad input: %s", why)
	}
	code, b := mustDo(t, http.MethodGet, a.url+"/node", "")
	var info struct {
		DataCount int  `json:"data_count"`
		Health    bool `json:"health"`
	}
	if err := okData(b, &info); code != http.StatusOK || err != nil || info.DataCount != 1 || !info.Health {
		t.Errorf("GET /node after bad input: %d %s (%v), want data_count 1 and health true", code, b, err)
	}
}

// TestE2ENodeDown kills one of three voting nodes: the two others still
// write. GET /peers shows connections, not votes: a node counts toward the
// majority once GET /status lists it as a voter, so that is what it waits
// for before killing one.
func TestE2ENodeDown(t *testing.T) {
	t.Parallel()
	a := startNode(t, "A")
	b := startNode(t, "B", a.joinArgs()...)
	c := startNode(t, "C", a.joinArgs()...)
	nodes := []*nodeProc{a, b, c}
	ps := []*proc{a.proc, b.proc, c.proc}
	waitFor(t, waitDeadline, "every node to have the 2 others as peers", ps, func() (bool, string) {
		for _, n := range [][]*nodeProc{{a, b, c}, {b, a, c}, {c, a, b}} {
			if ok, why := hasPeers(n[0], n[1:]...); !ok {
				return false, why
			}
		}
		return true, ""
	})
	waitFor(t, waitDeadline, "GET /status on every node to list the three as voters", ps, func() (bool, string) {
		for _, n := range nodes {
			code, body := mustDo(t, http.MethodGet, n.url+"/status", "")
			var st struct {
				Members []struct {
					ID    string `json:"id"`
					Voter bool   `json:"voter"`
				} `json:"members"`
			}
			if err := okData(body, &st); code != http.StatusOK || err != nil {
				return false, fmt.Sprintf("%s: GET /status: %d %s", n.name, code, body)
			}
			voters := 0
			for _, m := range st.Members {
				if m.Voter {
					voters++
				}
			}
			if voters != 3 {
				return false, fmt.Sprintf("%s: %d voters: %s", n.name, voters, body)
			}
		}
		return true, ""
	})
	write(t, a.url, "before", ps...)

	c.kill(t)
	write(t, a.url, "after C died", ps...)
	waitFor(t, waitDeadline, "B to have A's chain", ps, func() (bool, string) {
		ok, why, _ := sameChains(3, a.url, b.url)
		return ok, why
	})
	_, chain, err := getData(b.url)
	if err != nil {
		t.Fatal(err)
	}
	if chain[1].Data != `"before"` || chain[2].Data != `"after C died"` {
		t.Errorf("B's chain data = %q, %q; want %q, %q", chain[1].Data, chain[2].Data, `"before"`, `"after C died"`)
	}
}

// TestE2EFlags checks --help and a -pid without -pport.
func TestE2EFlags(t *testing.T) {
	t.Parallel()
	run := func(args ...string) (int, string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), startDeadline)
		defer cancel()
		cmd := exec.CommandContext(ctx, binPath, args...)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("naivechain %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if ctx.Err() != nil {
			t.Fatalf("naivechain %s did not exit within %v\n%s", strings.Join(args, " "), startDeadline, out)
		}
		return cmd.ProcessState.ExitCode(), string(out)
	}

	code, out := run("--help")
	if code != 0 {
		t.Errorf("naivechain --help exited %d, want 0\n%s", code, out)
	}
	for _, f := range []string{"--pid, --peer_id ", "--pport, --peer_port ", "-p, --port "} {
		if !strings.Contains(out, f) {
			t.Errorf("naivechain --help does not list %s:\n%s", strings.TrimSpace(f), out)
		}
	}

	code, out = run("-pid", "x")
	if code != 2 {
		t.Errorf("naivechain -pid x exited %d, want 2\n%s", code, out)
	}
	if !strings.Contains(out, "-pport") {
		t.Errorf("naivechain -pid x does not say -pport is needed:\n%s", out)
	}
}

// TestE2ESignalStop: SIGINT stops a running node cleanly, with one line
// naming the signal, exit 0.
func TestE2ESignalStop(t *testing.T) {
	t.Parallel()
	a := startNode(t, "A")
	if err := a.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := a.waitExit(t, stopDeadline); code != 0 {
		t.Errorf("exit %d after SIGINT, want 0\n%s", code, a.tail())
	}
	out := a.stderr.String()
	if n := stopLines(out); n != 1 || !strings.Contains(out, "[INFO]: NODE-stopping on interrupt signal received") {
		t.Errorf("%d lines say it stops, want one naming the signal:\n%s", n, a.tail())
	}
}
