package explorer_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.uber.org/goleak"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/consensus/pow"
	"github.com/naivechain/naivechain/internal/consensus/vote"
	"github.com/naivechain/naivechain/internal/node"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// running is a node started by a test, stopped at cleanup or by halt.
type running struct {
	*node.Node
	stop context.CancelFunc
	done chan error
	once sync.Once
}

func start(t *testing.T, cfg node.Config) *running {
	t.Helper()
	cfg.Host, cfg.Advertise = "127.0.0.1", "127.0.0.1"
	cfg.Tick = 10 * time.Millisecond
	cfg.WriteTimeout = 10 * time.Second
	if cfg.Engine == nil {
		cfg.Engine = vote.Factory
	}
	n, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Node: n, stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- n.Run(ctx) }()
	t.Cleanup(func() { r.halt(t) })
	return r
}

func (r *running) halt(t *testing.T) {
	r.once.Do(func() {
		r.stop()
		select {
		case <-r.done:
		case <-time.After(20 * time.Second):
			t.Errorf("node %s did not stop", r.ID())
		}
	})
}

func joiner(t *testing.T, via *running) *running {
	t.Helper()
	var token string
	waitFor(t, "the network's join token", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		token, _ = via.NetworkToken(ctx)
		return token != ""
	})
	return start(t, node.Config{PeerHost: "127.0.0.1", PeerPort: via.Port(), PeerID: via.ID(), JoinToken: token})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not a wait for an outcome
	}
}

func voters(n *running) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	ms, err := n.Members(ctx)
	if err != nil {
		return -1
	}
	v := 0
	for _, m := range ms {
		if m.Voter {
			v++
		}
	}
	return v
}

// chromium returns the path of Debian's chromium, or skips the test when
// there is none and NAIVECHAIN_REQUIRE_TOOLS is not 1.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("NAIVECHAIN_REQUIRE_TOOLS") == "1" {
		t.Fatal("chromium is not installed (NAIVECHAIN_REQUIRE_TOOLS=1)")
	}
	t.Skip("chromium is not installed; apt-get install chromium")
	return ""
}

// page is one browser tab and the console errors it reported.
type page struct {
	t    *testing.T
	name string
	ctx  context.Context
	mu   sync.Mutex
	errs []string
	// offline is set once the test stops the page's node: the browser
	// then logs each failed request, and only those are expected.
	offline bool
}

// openPage opens url in a new tab of the browser of parent and records
// every console error and uncaught exception of that tab.
func openPage(t *testing.T, parent context.Context, name, url string) *page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(parent)
	t.Cleanup(cancel)
	p := &page{t: t, name: name, ctx: ctx}
	messages := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				p.mu.Lock()
				if !p.offline || m.Source != "network" {
					p.errs = append(p.errs, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line))
				}
				p.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	p.do("open "+url, chromedp.EmulateViewport(1280, 860), chromedp.Navigate(url))
	return p
}

// do runs steps with a deadline and fails the test on an error or on a
// console error reported so far.
func (p *page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("page %s: %s: %v", p.name, what, err)
	}
	p.checkConsole()
}

// until polls a JavaScript condition of the page, with a deadline.
func (p *page) until(what, cond string) {
	p.t.Helper()
	p.do(what, chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second)))
}

func (p *page) eval(expr string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("page %s: %s: %v", p.name, expr, err)
	}
	return v
}

func (p *page) checkConsole() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.errs {
		p.t.Errorf("page %s: console: %s", p.name, e)
	}
	if len(p.errs) > 0 {
		p.t.FailNow()
	}
}

// startBrowser starts a headless chromium for the test and returns its
// context; every page of the test is a tab of it.
func startBrowser(t *testing.T, path string) context.Context {
	t.Helper()
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 860))
	t.Cleanup(cancelAlloc)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browser); err != nil { // starts the browser
		t.Fatal(err)
	}

	return browser
}

// TestExplorerInABrowser drives the page of a 3-node vote network in
// chromium: a write through node A's form appears live on node B's page,
// the block page verifies its hash, a search by hash finds it, and a
// stopped node shows as unreachable on A's page; with B stopped too A's
// page says no quorum, and with A stopped, that its node is gone.
func TestExplorerInABrowser(t *testing.T) {
	path := chromium(t)
	a := start(t, node.Config{})
	b := joiner(t, a)
	c := joiner(t, b)
	waitFor(t, "3 voters", func() bool { return voters(a) == 3 })

	browser := startBrowser(t, path)

	pa := openPage(t, browser, "A", a.HTTPURL()+"/")
	pb := openPage(t, browser, "B", b.HTTPURL()+"/")
	for _, p := range []*page{pa, pb} {
		p.until("the page is live", `document.querySelector('#state').dataset.state === 'live' && document.querySelectorAll('#blocks tbody tr').length > 0 && document.querySelectorAll('#members li').length === 3`)
	}
	// A mark that a reload would lose: the block must arrive without one.
	pb.eval(`window.notReloaded = 'yes'`)

	pa.do("write through the form",
		chromedp.SendKeys(chromedp.CSS("#data"), "hello explorer"),
		chromedp.Click(chromedp.CSS("#write-form button")))
	pa.until("the write is committed", `document.querySelector('#write-out').textContent.startsWith('committed')`)

	row := `[...document.querySelectorAll('#blocks tbody tr')].find(r => r.textContent.includes('hello explorer'))`
	pb.until("the block appears live on B", row+` && window.notReloaded === 'yes'`)
	hash := pb.eval(row + `.dataset.hash`)
	index := pb.eval(row + `.dataset.index`)

	pb.do("open the block page", chromedp.Click(chromedp.CSS(`#blocks tr[data-hash="`+hash+`"] a`)))
	pb.until("the hash is verified", `location.hash === '#/block/`+index+`' && document.querySelector('#verify').dataset.ok === 'true'`)
	if got := pb.eval(`document.querySelector('#data-out').textContent`); got != "hello explorer" {
		t.Errorf("block %s data shown as %q", index, got)
	}
	pb.do("go to the previous block", chromedp.Click(chromedp.CSS("#prev")))
	pb.until("the previous block is verified", `document.querySelector('#block-h').textContent !== 'Block `+index+`' && document.querySelector('#verify').dataset.ok === 'true'`)

	pa.do("search by hash",
		chromedp.SendKeys(chromedp.CSS("#q"), hash),
		chromedp.Click(chromedp.CSS("#search button")))
	pa.until("the search finds the block", `location.hash === '#/block/`+index+`' && document.querySelector('#verify').dataset.ok === 'true'`)

	c.halt(t)
	pa.until("C shows as unreachable on A", `document.querySelector('#members li[data-id="`+c.ID()+`"]')?.dataset.reachable === 'false'`)
	pa.until("A keeps its quorum", `document.querySelector('#state').dataset.state === 'live'`)

	pa.do("go back to the chain", chromedp.Navigate(a.HTTPURL()+"/#/"))
	pa.until("the chain is shown", `!document.querySelector('#chain-view').hidden && document.querySelectorAll('#blocks tbody tr').length > 1`)
	pa.do("a phone's width", chromedp.EmulateViewport(390, 844))
	if w := pa.eval(`String(document.documentElement.scrollWidth - innerWidth)`); w != "0" {
		t.Errorf("at a phone's width the page scrolls sideways by %s px", w)
	}
	pa.do("a laptop's width", chromedp.EmulateViewport(1280, 860))
	if os.Getenv("NAIVECHAIN_SCREENSHOT") == "1" {
		screenshot(t, pa)
	}

	// Without B, A is alone of three voters; without A, its page has no node.
	pb.goOffline()
	b.halt(t)
	pa.until("A shows no quorum", `document.querySelector('#state').dataset.state === 'noquorum'`)
	pa.goOffline()
	a.halt(t)
	pa.until("A's page shows the node gone", `document.querySelector('#state').dataset.state === 'disconnected'`)
	pa.checkConsole()
	pb.checkConsole()
}

func (p *page) goOffline() {
	p.mu.Lock()
	p.offline = true
	p.mu.Unlock()
}

// screenshot writes a few more blocks, so that the chart has a line, and
// saves A's page as docs/explorer.png.
func screenshot(t *testing.T, p *page) {
	p.eval(`(async () => {
		for (let i = 1; i <= 12; i++) {
			await new Promise(ok => setTimeout(ok, 250 * (i % 4))); // spreads the points of the chart
			await fetch('/data', {method: 'POST', headers: {'Content-Type': 'application/json'},
				body: JSON.stringify({data: {sensor: 'greenhouse-' + (i % 3), celsius: 18 + i / 4}})});
		}
		return 'ok';
	})()`)
	p.until("the writes are shown", `[...document.querySelectorAll('#blocks tbody tr')].some(r => r.textContent.includes('celsius":21')) && document.getAnimations().length === 0`)
	p.eval(`document.querySelector('#q').value = ''`)
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join("..", "..", "docs", "explorer.png")
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", out, len(png))
}

// TestExplorerPoWInABrowser drives the page of a pow node: a write through
// the form is followed from pending to confirmed, its block's header hash
// is verified in the browser, and a search by entry id finds the block.
func TestExplorerPoWInABrowser(t *testing.T) {
	path := chromium(t)
	params := pow.DefaultParams(time.Second)
	params.StartDifficulty = block.MinDifficulty
	n := start(t, node.Config{Engine: pow.Factory(params), Mine: true, Miners: 1})
	p := openPage(t, startBrowser(t, path), "pow", n.HTTPURL()+"/")
	p.until("the page is live", `document.querySelector('#state').dataset.state === 'live' && document.querySelector('#node-dl').textContent.includes('difficulty')`)

	p.do("write through the form",
		chromedp.SendKeys(chromedp.CSS("#data"), `{"hello": ["pow", 1]}`),
		chromedp.Click(chromedp.CSS("#as-json")),
		chromedp.Click(chromedp.CSS("#write-form button")))
	p.until("the entry is confirmed", `document.querySelector('#write-out a')`)
	p.do("open its block", chromedp.Click(chromedp.CSS("#write-out a")))
	p.until("the hash is verified", `document.querySelector('#verify').dataset.ok === 'true'`)
	if got := p.eval(`document.querySelector('#data-out pre').textContent`); got != "{\n  \"hello\": [\n    \"pow\",\n    1\n  ]\n}" {
		t.Errorf("entry shown as %q", got)
	}
	index := p.eval(`location.hash`)
	id := p.eval(`document.querySelector('#data-out h4').textContent.replace('entry ', '')`)
	p.do("go to the chain", chromedp.Navigate(n.HTTPURL()+"/#/"))
	p.until("the chain is shown", `!document.querySelector('#chain-view').hidden`)
	p.do("search by entry id",
		chromedp.SendKeys(chromedp.CSS("#q"), id),
		chromedp.Click(chromedp.CSS("#search button")))
	p.until("the search finds the block", `location.hash === '`+index+`' && document.querySelector('#verify').dataset.ok === 'true'`)
	p.checkConsole()
}
