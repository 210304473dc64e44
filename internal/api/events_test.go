package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/store"
)

// sseEvent is one event of a text/event-stream; a comment has Name ":".
type sseEvent struct{ Name, Data string }

// eventStream is a GET /events response being read.
type eventStream struct {
	t    *testing.T
	resp *http.Response
	r    *bufio.Reader
	tip  string // data of the stream's first event, "tip"
}

// openEvents starts GET /events on url. Reads fail, rather than hang, once
// the test's deadline passes; cancel ends the request.
func openEvents(t *testing.T, url string) (*eventStream, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	req, err := http.NewRequestWithContext(ctx, "GET", url+"/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		cancel()
		t.Fatalf("GET /events = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &eventStream{t: t, resp: resp, r: bufio.NewReader(resp.Body)}
	if first := s.next(); first.Name != "tip" {
		cancel()
		t.Fatalf("first event %q %s, want tip", first.Name, first.Data)
	} else {
		s.tip = first.Data
	}
	return s, cancel
}

// next reads the next event or comment.
func (s *eventStream) next() sseEvent {
	s.t.Helper()
	var ev sseEvent
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			s.t.Fatalf("reading the stream: %v (so far %+v)", err, ev)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			return ev
		case strings.HasPrefix(line, ":"):
			ev.Name = ":"
		case strings.HasPrefix(line, "event: "):
			ev.Name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.Data = strings.TrimPrefix(line, "data: ")
		default:
			s.t.Fatalf("unexpected line %q", line)
		}
	}
}

// blockJSON is b as GET /blocks shows it.
func blockJSON(t *testing.T, b block.Block) string {
	t.Helper()
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(b); err != nil {
		t.Fatal(err)
	}
	return pySpaced(strings.TrimSuffix(sb.String(), "\n"))
}

// expect reads events, skipping keep-alives, and compares them with want.
func (s *eventStream) expect(want ...chain.Event) {
	s.t.Helper()
	for _, w := range want {
		got := s.next()
		for got.Name == ":" {
			got = s.next()
		}
		if data := blockJSON(s.t, w.Block); got.Name != w.Kind.String() || got.Data != data {
			s.t.Fatalf("event %q %s\nwant  %q %s", got.Name, got.Data, w.Kind, data)
		}
	}
}

// end checks that the stream ends with nothing more.
func (s *eventStream) end() {
	s.t.Helper()
	b, err := io.ReadAll(s.r)
	if err != nil || len(b) > 0 {
		s.t.Fatalf("after the last event: %q, %v; want the end of the stream", b, err)
	}
}

func TestEventsShowWrites(t *testing.T) {
	f := newFake()
	srv := httptest.NewServer(NewHandler(f, Options{}))
	defer srv.Close()
	s, cancel := openEvents(t, srv.URL)
	defer cancel()
	if want := blockJSON(t, block.Genesis()); s.tip != want {
		t.Fatalf("tip event %s, want %s", s.tip, want)
	}

	resp, err := http.Post(srv.URL+"/data", "application/json", strings.NewReader(`{"data": "<b>&</b>"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	b1 := block.Next(block.Genesis(), `"<b>&</b>"`)
	s.expect(chain.Event{Kind: chain.BlockConnected, Block: b1})
	// The same bytes as GET /blocks/1 shows.
	rec := do(t, NewHandler(f, Options{}), "GET", "/blocks/1", "")
	if want := `{"status": "OK", "data": ` + blockJSON(t, b1) + "}\n"; rec.Body.String() != want {
		t.Fatalf("GET /blocks/1 = %s, want %s", rec.Body, want)
	}
}

func TestEventsShowReorg(t *testing.T) {
	f := newFake()
	old, err := f.events.Extend(`"a1"`, `"a2"`, `"a3"`)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewHandler(f, Options{}))
	defer srv.Close()
	s, cancel := openEvents(t, srv.URL)
	defer cancel()

	attach := make([]block.Block, 3)
	prev := old[0]
	for i := range attach {
		attach[i] = block.Next(prev, fmt.Sprintf(`"b%d"`, i+2))
		prev = attach[i]
	}
	r, err := f.events.PlanReorg(1, attach)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.events.ApplyReorg(r, store.Batch{}); err != nil {
		t.Fatal(err)
	}
	s.expect(
		chain.Event{Kind: chain.BlockDisconnected, Block: old[2]},
		chain.Event{Kind: chain.BlockDisconnected, Block: old[1]},
		chain.Event{Kind: chain.BlockConnected, Block: attach[0]},
		chain.Event{Kind: chain.BlockConnected, Block: attach[1]},
		chain.Event{Kind: chain.BlockConnected, Block: attach[2]},
	)
}

func TestEventsKeepAlive(t *testing.T) {
	f := newFake()
	srv := httptest.NewServer(NewHandler(f, Options{EventKeepAlive: time.Millisecond}))
	defer srv.Close()
	s, cancel := openEvents(t, srv.URL)
	defer cancel()
	for range 3 {
		if ev := s.next(); ev != (sseEvent{Name: ":"}) {
			t.Fatalf("got %+v on an idle stream, want a comment", ev)
		}
	}
}

func TestEventsLagged(t *testing.T) {
	f := newFake()
	// The subscription lags before the handler reads it: the second
	// event of the write does not fit.
	f.subscribe = func(int) *chain.Subscription {
		sub := f.events.Subscribe(1)
		if _, err := f.events.Extend(`"a1"`, `"a2"`); err != nil {
			t.Error(err)
		}
		return sub
	}
	srv := httptest.NewServer(NewHandler(f, Options{}))
	defer srv.Close()
	s, cancel := openEvents(t, srv.URL)
	defer cancel()
	b1, _ := f.events.Block(1)
	s.expect(chain.Event{Kind: chain.BlockConnected, Block: b1})
	if ev := s.next(); ev != (sseEvent{Name: "lagged", Data: laggedData}) {
		t.Fatalf("got %+v, want the lagged event", ev)
	}
	s.end()
}

// TestEventsClientGone checks that a stream whose client leaves ends and
// gives up its subscription.
func TestEventsClientGone(t *testing.T) {
	f := newFake()
	subs := make(chan *chain.Subscription, 1)
	f.subscribe = func(n int) *chain.Subscription {
		sub := f.events.Subscribe(n)
		subs <- sub
		return sub
	}
	srv := httptest.NewServer(NewHandler(f, Options{}))
	defer srv.Close()
	_, cancel := openEvents(t, srv.URL)
	sub := <-subs
	cancel()
	select {
	case _, ok := <-sub.C():
		if ok {
			t.Fatal("an event on an idle chain")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the subscription is still open 10s after the client left")
	}
	if !errors.Is(sub.Err(), chain.ErrUnsubscribed) {
		t.Fatalf("Err = %v", sub.Err())
	}
}

// TestEventsEndOnShutdown checks that a server shutting down ends its
// streams instead of waiting for them.
func TestEventsEndOnShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: NewHandler(newFake(), Options{})}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	s, cancel := openEvents(t, "http://"+ln.Addr().String())
	defer cancel()

	ctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v (the stream held it)", err)
	}
	s.end()
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Fatal(err)
	}
	// A second Shutdown runs the hooks again; they must not panic.
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestEventsStreamLimit(t *testing.T) {
	f := newFake()
	srv := httptest.NewServer(NewHandler(f, Options{MaxEventStreams: 2}))
	defer srv.Close()
	_, cancel1 := openEvents(t, srv.URL)
	_, cancel2 := openEvents(t, srv.URL)
	defer cancel2()

	get := func() (int, string) {
		resp, err := http.Get(srv.URL + "/events")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode == 200 {
			return 200, ""
		}
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get()
	if want := `{"status": "ERROR", "error": "too many event streams (limit 2); try again later"}` + "\n"; code != 503 || body != want {
		t.Fatalf("a third stream: %d %s, want 503 %s", code, body, want)
	}
	// A stream that ends gives its place back; its handler returns
	// shortly after the client leaves.
	cancel1()
	deadline := time.Now().Add(10 * time.Second)
	for code != 200 {
		if time.Now().After(deadline) {
			t.Fatal("the place of a closed stream was not given back within 10s")
		}
		code, _ = get()
	}
}
