package p2p

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coder/websocket"
)

// TestLegacyConnectionsGoToTheLegacyHandler: a client that does not offer
// the native subprotocol is handed to Config.Legacy; a native one is not.
func TestLegacyConnectionsGoToTheLegacyHandler(t *testing.T) {
	var legacy atomic.Int32
	a := startNode(t, "a", "", func(c *Config) {
		c.Legacy = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			legacy.Add(1)
			ws, err := websocket.Accept(w, r, nil)
			if err != nil {
				return
			}
			defer ws.CloseNow()
			_, _, _ = ws.Read(r.Context())
			_ = ws.Write(r.Context(), websocket.MessageText, []byte("ACK"))
		})
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5e9)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://127.0.0.1:"+a.port+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"CMD": "PING"}`)); err != nil {
		t.Fatal(err)
	}
	_, reply, err := ws.Read(ctx)
	if err != nil || string(reply) != "ACK" || legacy.Load() != 1 {
		t.Fatalf("reply %q, %v; legacy handler called %d times", reply, err, legacy.Load())
	}
	b := startNode(t, "b", "", nil)
	b.connect(t, a)
	if legacy.Load() != 1 {
		t.Fatal("a native connection reached the legacy handler")
	}
}

// TestConnectToALegacyServer: a WebSocket server that does not agree the
// subprotocol is reported as ErrLegacy, so the caller can speak the
// original's protocol to it.
func TestConnectToALegacyServer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil) // agrees no subprotocol
		if err != nil {
			return
		}
		ws.CloseNow()
	}))
	defer srv.Close()
	a := startNode(t, "a", "", nil)
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	_, err := a.h.Connect(context.Background(), "127.0.0.1", port, "")
	if !errors.Is(err, ErrLegacy) {
		t.Fatalf("err = %v, want ErrLegacy", err)
	}
}
