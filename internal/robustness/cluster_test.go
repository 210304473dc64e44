package robustness

// The cluster: real naivechain processes, each in a network namespace of
// its own on a bridge the test creates (or all on loopback when namespaces
// are not available), each with its data dir on a tmpfs the test mounts
// (or a plain temp dir). Everything it creates is removed by t.Cleanup,
// on failure too.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Deadlines of the harness: generous, the machine is small and busy.
const (
	startDeadline = 60 * time.Second // a process answers, a network formed
	stopDeadline  = 20 * time.Second // a process exits after a signal
	pollEvery     = 50 * time.Millisecond
	writeTimeout  = 3 * time.Second // the nodes' --write-timeout
)

// env is what this machine lets the suite do.
type env struct {
	netns bool   // network namespaces, a bridge and veth pairs work
	tmpfs bool   // tmpfs mounts work
	why   string // why a capability is missing, for the log
}

// probeEnv finds out, once per run, whether namespaces and tmpfs mounts
// work here (root, iproute2); it leaves nothing behind.
func probeEnv(t *testing.T) env {
	var e env
	if os.Geteuid() != 0 {
		e.why = "not root: loopback only, no partitions and no full disks"
		return e
	}
	ns := fmt.Sprintf("nrprobe%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		e.why = fmt.Sprintf("ip netns add: %v %s: loopback only, no partitions", err, bytes.TrimSpace(out))
	} else {
		_ = exec.Command("ip", "netns", "del", ns).Run()
		e.netns = true
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir).CombinedOutput(); err != nil {
		e.why += fmt.Sprintf("; mount tmpfs: %v %s: no full disks", err, bytes.TrimSpace(out))
	} else {
		_ = exec.Command("umount", dir).Run()
		e.tmpfs = true
	}
	return e
}

// run runs a command of the harness (ip, mount) and fails the test if it
// fails.
func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// cluster is one network of naivechain processes.
type cluster struct {
	t       *testing.T
	env     env
	prefix  string // names of this run's namespaces and links
	members []*member
	http    *http.Client
	tr      *http.Transport
	diskMiB int
	logDir  string // the nodes' logs
}

// member is one node: its addresses, data dir and current process.
type member struct {
	idx      int
	name     string
	ns       string // its network namespace, "" on loopback
	ip       string
	port     int // peer port
	httpPort int
	url      string
	dataDir  string
	logPath  string // its processes' output, appended across restarts
	args     []string

	mu      sync.Mutex
	proc    *proc
	id      string
	token   string
	expired bool // the current process was ended on purpose
}

// proc is one process of a member.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// newCluster sets up n members (namespaces, bridge, mounts) without
// starting them.
func newCluster(t *testing.T, e env, n, runIdx int, diskMiB int) *cluster {
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	c := &cluster{t: t, env: e, prefix: fmt.Sprintf("nr%d%c", os.Getpid()%100000, 'a'+runIdx%26), diskMiB: diskMiB,
		tr: tr, http: &http.Client{Transport: tr}}
	t.Cleanup(tr.CloseIdleConnections)
	if e.netns {
		c.setupNetwork(n)
	}
	base := t.TempDir()
	// The nodes' logs outlive a failed run, for its write-up.
	logs, err := os.MkdirTemp("", fmt.Sprintf("naivechain-robustness-run%d-", runIdx))
	if err != nil {
		t.Fatal(err)
	}
	c.logDir = logs
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the nodes' logs are kept in %s", logs)
			return
		}
		os.RemoveAll(logs)
	})
	for i := range n {
		m := &member{idx: i, name: fmt.Sprintf("n%d", i), dataDir: filepath.Join(base, fmt.Sprintf("n%d", i)),
			logPath: filepath.Join(logs, fmt.Sprintf("n%d.log", i))}
		if err := os.MkdirAll(m.dataDir, 0o700); err != nil {
			t.Fatal(err)
		}
		if e.tmpfs {
			run(t, "mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%dm,mode=0700", diskMiB), "tmpfs", m.dataDir)
			dir := m.dataDir
			t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
		}
		if e.netns {
			m.ns, m.ip = c.nsName(i), c.nodeIP(i)
			m.port, m.httpPort = 7001, 7002
		} else {
			m.ip = "127.0.0.1"
			m.port, m.httpPort = freePort(t), freePort(t)
		}
		m.url = "http://" + net.JoinHostPort(m.ip, strconv.Itoa(m.httpPort))
		c.members = append(c.members, m)
	}
	t.Cleanup(c.stopAll)
	return c
}

// subnet is this run's /24: derived from the process id, so that two test
// processes on one machine do not collide.
func (c *cluster) subnet() string {
	pid := os.Getpid()
	return fmt.Sprintf("10.%d.%d", 200+pid%50, (pid/50)%250)
}

func (c *cluster) nsName(i int) string { return fmt.Sprintf("%s-%d", c.prefix, i) }
func (c *cluster) nodeIP(i int) string { return fmt.Sprintf("%s.%d", c.subnet(), 10+i) }

// setupNetwork creates a bridge in the test's namespace, with the
// subnet's .1, and one namespace per node joined to it by a veth pair.
// The test reaches every node over the bridge; nodes reach each other
// unless a blackhole route (partition) says otherwise.
func (c *cluster) setupNetwork(n int) {
	t := c.t
	br := c.prefix + "br"
	t.Cleanup(func() {
		for i := range n {
			_ = exec.Command("ip", "netns", "del", c.nsName(i)).Run() // takes its veth pair along
		}
		_ = exec.Command("ip", "link", "del", br).Run()
	})
	run(t, "ip", "link", "add", br, "type", "bridge")
	run(t, "ip", "addr", "add", c.subnet()+".1/24", "dev", br)
	run(t, "ip", "link", "set", br, "up")
	for i := range n {
		ns, host, peer := c.nsName(i), fmt.Sprintf("%sv%d", c.prefix, i), fmt.Sprintf("%sp%d", c.prefix, i)
		run(t, "ip", "netns", "add", ns)
		run(t, "ip", "link", "add", host, "type", "veth", "peer", "name", peer)
		run(t, "ip", "link", "set", host, "master", br)
		run(t, "ip", "link", "set", host, "up")
		run(t, "ip", "link", "set", peer, "netns", ns)
		run(t, "ip", "-n", ns, "addr", "add", c.nodeIP(i)+"/24", "dev", peer)
		run(t, "ip", "-n", ns, "link", "set", peer, "up")
		run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
}

// freePort is a TCP port that was free on loopback a moment ago.
func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// start founds the network on member 0 and joins the others to it, one
// after the other, then waits until every node lists all as voters and
// names one leader.
func (c *cluster) start() {
	t := c.t
	m0 := c.members[0]
	m0.args = c.baseArgs(m0)
	c.launch(m0, 0)
	c.waitFor("the founder's join token", func() (bool, string) {
		b, err := os.ReadFile(filepath.Join(m0.dataDir, "join-token"))
		if err != nil {
			return false, err.Error()
		}
		m0.token = strings.TrimSpace(string(b))
		return m0.token != "", "empty join token"
	})
	for _, m := range c.members[1:] {
		m.args = append(c.baseArgs(m), "-pid", m0.id, "-phost", m0.ip, "-pport", strconv.Itoa(m0.port), "--join-token", m0.token)
		c.launch(m, 0)
	}
	c.waitFor("every node to list all as voters under one leader", c.formed)
	t.Logf("network of %d formed: %s", len(c.members), c.describe())
}

func (c *cluster) baseArgs(m *member) []string {
	return []string{"-p", strconv.Itoa(m.port), "--http-port", strconv.Itoa(m.httpPort),
		"--host", m.ip, "--advertise", m.ip, "--http-host", m.ip, "--data-dir", m.dataDir,
		"--write-timeout", writeTimeout.String(), "--remove-after", "0"}
}

func (c *cluster) describe() string {
	var parts []string
	for _, m := range c.members {
		parts = append(parts, fmt.Sprintf("%s=%s@%s", m.name, m.id, m.url))
	}
	return strings.Join(parts, " ")
}

// launch starts m's process with its args (and a flush delay when not
// zero), and waits until its HTTP API answers GET /node. A port still
// held by a killed predecessor is retried until the deadline.
func (c *cluster) launch(m *member, flushDelay time.Duration) {
	t := c.t
	deadline := time.Now().Add(startDeadline)
	for attempt := 1; ; attempt++ {
		args := m.args
		if flushDelay > 0 {
			args = append(slicesClone(args), "--flush-delay", flushDelay.String())
		}
		p := c.spawn(m, args)
		err := c.waitUp(m, p, deadline)
		if err == nil {
			return
		}
		if !errors.Is(err, errLostPort) || time.Now().After(deadline) || attempt >= 100 {
			t.Fatalf("%s did not start: %v\n%s", m.name, err, m.tail())
		}
	}
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

var errLostPort = errors.New("address already in use")

// spawn starts a process of m, in its namespace if it has one; its output
// is appended to m's log file.
func (c *cluster) spawn(m *member, args []string) *proc {
	t := c.t
	bin, all := binPath, args
	if m.ns != "" {
		// ip netns exec enters the namespace and execs the binary: the
		// process keeps the pid we signal.
		bin, all = "ip", append([]string{"netns", "exec", m.ns, binPath}, args...)
	}
	out, err := os.OpenFile(m.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(out, "=== %s start: naivechain %s\n", time.Now().Format(time.TimeOnly), strings.Join(args, " "))
	cmd := exec.Command(bin, all...)
	cmd.Env = append(os.Environ(), "HOME="+m.dataDir)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		t.Fatalf("start %s: %v", m.name, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		out.Close()
		close(p.done)
	}()
	m.mu.Lock()
	m.proc, m.expired = p, false
	m.mu.Unlock()
	return p
}

// waitUp waits until m answers GET /node with its id, or p exits.
func (c *cluster) waitUp(m *member, p *proc, deadline time.Time) error {
	for {
		if p.exited() {
			if strings.Contains(m.tail(), "address already in use") {
				return errLostPort
			}
			return fmt.Errorf("exited before it answered: %v", p.cmd.ProcessState)
		}
		var info nodeInfo
		if err := c.get(m, "/node", &info); err == nil && info.PeerID != "" {
			m.mu.Lock()
			m.id = info.PeerID
			m.mu.Unlock()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer to GET /node within %v", startDeadline)
		}
		time.Sleep(pollEvery) // polled, not waited for
	}
}

// tail is the end of m's log, for failure messages.
func (m *member) tail() string {
	b, _ := os.ReadFile(m.logPath)
	const max = 3000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return fmt.Sprintf("--- %s log (%s):\n%s", m.name, m.logPath, b)
}

func (c *cluster) tails() string {
	var b strings.Builder
	for _, m := range c.members {
		b.WriteString(m.tail())
		b.WriteString("\n")
	}
	return b.String()
}

// signal sends sig to m's current process.
func (m *member) signal(sig syscall.Signal) error {
	m.mu.Lock()
	p := m.proc
	m.mu.Unlock()
	if p == nil || p.exited() {
		return errors.New("not running")
	}
	return p.cmd.Process.Signal(sig)
}

// end stops m's current process on purpose with sig (SIGKILL or
// SIGTERM, SIGKILL after stopDeadline) and waits for it to be gone.
func (m *member) end(sig syscall.Signal) error {
	m.mu.Lock()
	p := m.proc
	m.expired = true
	m.mu.Unlock()
	if p == nil || p.exited() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGCONT) // a stopped process cannot act on SIGTERM
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return nil
	case <-time.After(stopDeadline):
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
		return fmt.Errorf("%s did not exit within %v of %v; killed", m.name, stopDeadline, sig)
	case <-time.After(stopDeadline):
		return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", m.name, p.cmd.Process.Pid)
	}
}

// unexpectedExit reports whether m's process exited without the test
// ending it.
func (m *member) unexpectedExit() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.proc != nil && !m.expired && m.proc.exited()
}

// stopAll ends every process: SIGTERM, SIGKILL when it does not exit.
func (c *cluster) stopAll() {
	var wg sync.WaitGroup
	for _, m := range c.members {
		wg.Go(func() {
			if err := m.end(syscall.SIGTERM); err != nil {
				c.t.Errorf("cleanup: %v\n%s", err, m.tail())
			}
		})
	}
	wg.Wait()
}

// waitFor polls cond until it holds, failing the test after startDeadline.
func (c *cluster) waitFor(what string, cond func() (bool, string)) {
	c.t.Helper()
	if why, ok := c.pollUntil(startDeadline, cond); !ok {
		c.t.Fatalf("timed out after %v waiting for %s: %s\n%s", startDeadline, what, why, c.tails())
	}
}

// pollUntil polls cond every pollEvery until it holds or d passes, and
// returns its last explanation.
func (c *cluster) pollUntil(d time.Duration, cond func() (bool, string)) (string, bool) {
	deadline := time.Now().Add(d)
	for {
		ok, why := cond()
		if ok {
			return "", true
		}
		if time.Now().After(deadline) {
			return why, false
		}
		time.Sleep(pollEvery)
	}
}

// ---------------------------------------------------------------- HTTP

type nodeInfo struct {
	PeerID    string `json:"peer_id"`
	DataCount int    `json:"data_count"`
	Health    bool   `json:"health"`
}

type statusInfo struct {
	Role    string `json:"role"`
	Leader  string `json:"leader"`
	Members []struct {
		ID    string `json:"id"`
		Voter bool   `json:"voter"`
	} `json:"members"`
}

type jsonBlock struct {
	Index    int    `json:"index"`
	Data     string `json:"data"`
	CurrHash string `json:"curr_hash"`
}

// get GETs path on m within a short deadline and decodes the data of an
// answer {"status":"OK","data":...} into data.
func (c *cluster) get(m *member, path string, data any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.do(ctx, http.MethodGet, m.url+path, "", data)
	return err
}

// do sends a request and decodes an OK answer's data into data. It
// returns the HTTP status (0 when none came) and, for anything but an OK
// answer, an error.
func (c *cluster) do(ctx context.Context, method, url, body string, data any) (int, error) {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return 0, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
		Error  string          `json:"error"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return resp.StatusCode, fmt.Errorf("%d, not JSON: %.200q", resp.StatusCode, b)
	}
	if resp.StatusCode != http.StatusOK || env.Status != "OK" {
		return resp.StatusCode, fmt.Errorf("%d %s: %s", resp.StatusCode, env.Status, env.Error)
	}
	if data != nil {
		if err := json.Unmarshal(env.Data, data); err != nil {
			return resp.StatusCode, fmt.Errorf("data of %.200q: %v", b, err)
		}
	}
	return resp.StatusCode, nil
}

// formed reports whether every member lists all members as voters and
// all name the same leader.
func (c *cluster) formed() (bool, string) {
	leader := ""
	for i, m := range c.members {
		var st statusInfo
		if err := c.get(m, "/status", &st); err != nil {
			return false, fmt.Sprintf("%s: %v", m.name, err)
		}
		voters := map[string]bool{}
		for _, v := range st.Members {
			if v.Voter {
				voters[v.ID] = true
			}
		}
		for _, o := range c.members {
			if !voters[o.id] {
				return false, fmt.Sprintf("%s: voters lack %s (%s)", m.name, o.name, o.id)
			}
		}
		if st.Leader == "" || i > 0 && st.Leader != leader {
			return false, fmt.Sprintf("%s names leader %q, %s named %q", m.name, st.Leader, c.members[0].name, leader)
		}
		leader = st.Leader
	}
	return true, ""
}

// chainValues returns m's chain as GET /data (plain) gives it: the data
// of every block after genesis, and the blocks' hashes.
func (c *cluster) chainValues(m *member) (values []string, hashes string, err error) {
	var blocks []jsonBlock
	if err := c.get(m, "/data", &blocks); err != nil {
		return nil, "", err
	}
	var h strings.Builder
	for _, b := range blocks {
		h.WriteString(b.CurrHash)
		if b.Index > 0 {
			values = append(values, b.Data)
		}
	}
	return values, h.String(), nil
}

// logsContain reports which members' logs contain s.
func (c *cluster) logsContain(s string) []string {
	var names []string
	for _, m := range c.members {
		if b, err := os.ReadFile(m.logPath); err == nil && bytes.Contains(b, []byte(s)) {
			names = append(names, m.name)
		}
	}
	return names
}
