package legacy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/coder/websocket"

	"github.com/naivechain/naivechain/internal/block"
)

// exchange sends one raw frame of type typ to ws://addr/ and returns the
// reply, as a sender that does not use Encode would.
func exchange(t *testing.T, addr string, typ websocket.MessageType, frame string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+addr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if err := ws.Write(ctx, typ, []byte(frame)); err != nil {
		t.Fatal(err)
	}
	_, reply, err := ws.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = ws.Close(websocket.StatusNormalClosure, "")
	return string(reply)
}

type call struct {
	remoteHost string
	msg        Message
}

// recordingServer serves a Server with a handle that records its calls and
// answers reply.
func recordingServer(t *testing.T, reply string) (*httptest.Server, func() []call) {
	var mu sync.Mutex
	var calls []call
	srv := httptest.NewServer(NewServer(Limits{}, func(remoteHost string, m Message) string {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, call{remoteHost, m})
		return reply
	}))
	t.Cleanup(srv.Close)
	return srv, func() []call {
		mu.Lock()
		defer mu.Unlock()
		return append([]call(nil), calls...)
	}
}

func hostPort(t *testing.T, srv *httptest.Server) (string, string) {
	t.Helper()
	host, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return host, port
}

func TestSendServe(t *testing.T) {
	srv, calls := recordingServer(t, ReplyACK)
	host, port := hostPort(t, srv)
	join := Join{PeerID: idB, PeerHost: "0.0.0.0", PeerPort: "9803"}
	reply, err := Send(context.Background(), host, port, join)
	if err != nil {
		t.Fatal(err)
	}
	if reply != ReplyACK {
		t.Fatalf("reply = %q", reply)
	}
	got := calls()
	if len(got) != 1 || got[0].msg != join || got[0].remoteHost != "127.0.0.1" {
		t.Fatalf("calls = %#v", got)
	}
}

// TestSendRefusesPoW: a proof-of-work block never leaves for a legacy
// peer; Send refuses it before sending anything.
func TestSendRefusesPoW(t *testing.T) {
	srv, calls := recordingServer(t, ReplyACK)
	host, port := hostPort(t, srv)
	for _, m := range []Message{Validate{Block: powBlock}, DataUpload{Blocks: []block.Block{block.Genesis(), powBlock}}} {
		if reply, err := Send(context.Background(), host, port, m); !errors.Is(err, ErrPoWBlock) || reply != "" {
			t.Fatalf("Send(%#v) = %q, %v; want ErrPoWBlock", m, reply, err)
		}
	}
	if got := calls(); len(got) != 0 {
		t.Fatalf("the peer received %#v", got)
	}
}

func TestServeRefusesMalformedFrames(t *testing.T) {
	srv, calls := recordingServer(t, ReplyACK)
	addr := srv.Listener.Addr().String()
	for _, frame := range []string{`ACK`, `[]`, `{"CMD": "ADD_BLOCK"}`, `{"CMD": "NEW_PEER_JOIN", "peer_id": "a b", "peer_host": "h", "peer_port": "1"}`} {
		if reply := exchange(t, addr, websocket.MessageText, frame); reply != ReplyKCA {
			t.Errorf("reply to %s = %q, want KCA", frame, reply)
		}
	}
	if reply := exchange(t, addr, websocket.MessageBinary, `{"CMD": "PING"}`); reply != ReplyKCA {
		t.Errorf("reply to a binary frame = %q, want KCA", reply)
	}
	if got := calls(); len(got) != 0 {
		t.Fatalf("handle called for malformed frames: %#v", got)
	}
}

// TestSendEndsWithItsContext checks that a node that never answers holds
// Send only as long as its context: cancelled once the node holds the
// exchange, Send returns the context's error, not Timeout's.
func TestSendEndsWithItsContext(t *testing.T) {
	release := make(chan struct{})
	accepted := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		accepted <- struct{}{}
		<-release
	}))
	defer srv.Close()
	defer close(release)
	host, port := hostPort(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-accepted:
			cancel()
		case <-ctx.Done():
		}
	}()
	_, err := Send(ctx, host, port, Ping{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Send to a silent node whose context was cancelled = %v, want context.Canceled", err)
	}
}

func TestSendUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	if _, err := Send(context.Background(), "127.0.0.1", port, Ping{}); err == nil {
		t.Fatal("Send to a closed port succeeded")
	}
}

func TestSendRefusesBinaryReply(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		if _, _, err := ws.Read(r.Context()); err != nil {
			return
		}
		_ = ws.Write(r.Context(), websocket.MessageBinary, []byte(ReplyACK))
		_ = ws.Close(websocket.StatusNormalClosure, "")
	}))
	defer srv.Close()
	host, port := hostPort(t, srv)
	if _, err := Send(context.Background(), host, port, Ping{}); !errors.Is(err, ErrReply) {
		t.Fatalf("err = %v, want ErrReply", err)
	}
}
