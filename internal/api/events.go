package api

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/chain"
)

const (
	// eventBuffer is how many events a GET /events stream may fall behind
	// by before it is dropped; it holds a full POST /entries write.
	eventBuffer = 1024
	// eventWriteTimeout bounds each write to an events client, so that a
	// client that stopped reading cannot hold a stream forever.
	eventWriteTimeout = 10 * time.Second
	// eventBurstBytes bounds what one flush carries when events queue up.
	eventBurstBytes = 64 << 10
)

// laggedData is the data of the last event of a stream that fell behind.
const laggedData = `{"status": "ERROR", "error": "the stream fell behind the chain and is closed; re-read /blocks and reconnect"}`

// getEvents answers GET /events with a Server-Sent Events stream of the
// chain's events: first "tip", the tip at the moment of subscribing, then
// "connected" and "disconnected", each with a block as GET /blocks shows
// it. A stream that falls behind gets a "lagged" event and
// is closed: its client has missed events and must re-read the chain. The
// stream also ends when the client leaves or the server shuts down.
func (h *handler) getEvents(w http.ResponseWriter, r *http.Request) {
	select {
	case h.streams <- struct{}{}:
		defer func() { <-h.streams }()
	default:
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("too many event streams (limit %d); try again later", cap(h.streams)))
		return
	}
	stop := h.shutdownSignal(r)
	sub := h.b.Subscribe(eventBuffer)
	defer sub.Close()

	// The last send's write deadline also bounds the end of the response;
	// the next request on the connection sets its own.
	rc := http.NewResponseController(w)
	var buf bytes.Buffer
	send := func() error {
		// Not every ResponseWriter has deadlines (a recorder has none);
		// without one the write simply waits.
		_ = rc.SetWriteDeadline(time.Now().Add(eventWriteTimeout))
		if _, err := w.Write(buf.Bytes()); err != nil {
			return err
		}
		buf.Reset()
		return rc.Flush()
	}

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	// The headers go out at once, with the tip the first event will apply
	// to: a client that has them is subscribed, and knows from which block
	// on to read GET /blocks so that it misses nothing.
	writeBlockEvent(&buf, "tip", sub.Tip())
	if err := send(); err != nil {
		return
	}
	keepAlive := time.NewTicker(h.eventKeepAlive)
	defer keepAlive.Stop()
	sent := 0
	for {
		select {
		case <-r.Context().Done():
			h.log.Debug("GET /events: client gone", "events_sent", sent)
			return
		case <-stop:
			return
		case <-keepAlive.C:
			buf.WriteString(": keep-alive\n\n")
		case ev, ok := <-sub.C():
			if !ok {
				if errors.Is(sub.Err(), chain.ErrLagged) {
					h.log.Info("GET /events: client fell behind; closing its stream", "events_sent", sent)
					buf.WriteString("event: lagged\ndata: " + laggedData + "\n\n")
					_ = send()
				}
				return
			}
			writeEvent(&buf, ev)
			sent++
			// Events already queued go out in the same flush. Only this
			// goroutine receives, so a non-empty channel has an event.
			for len(sub.C()) > 0 && buf.Len() < eventBurstBytes {
				writeEvent(&buf, <-sub.C())
				sent++
			}
			keepAlive.Reset(h.eventKeepAlive)
		}
		if err := send(); err != nil {
			h.log.Debug("GET /events: write failed", "events_sent", sent, "err", err)
			return
		}
	}
}

// writeEvent appends ev to buf in the text/event-stream format.
func writeEvent(buf *bytes.Buffer, ev chain.Event) { writeBlockEvent(buf, ev.Kind.String(), ev.Block) }

// writeBlockEvent appends an event of kind carrying b, in Python's
// json.dumps form as every answer.
func writeBlockEvent(buf *bytes.Buffer, kind string, b block.Block) {
	buf.WriteString("event: " + kind + "\ndata: ")
	buf.Write(b.AppendPyJSON(buf.AvailableBuffer()))
	buf.WriteString("\n\n")
}

// shutdownSignal returns a channel closed when the server that received r
// starts shutting down, or nil when r did not come through an
// *http.Server. Shutdown waits for requests to end, and an event stream
// never ends by itself, so it must hear of the shutdown.
func (h *handler) shutdownSignal(r *http.Request) <-chan struct{} {
	srv, _ := r.Context().Value(http.ServerContextKey).(*http.Server)
	if srv == nil {
		return nil
	}
	h.shutdownMu.Lock()
	defer h.shutdownMu.Unlock()
	ch, ok := h.shutdown[srv]
	if !ok {
		c := make(chan struct{})
		// Shutdown calls its hooks on every call; the channel closes once.
		srv.RegisterOnShutdown(sync.OnceFunc(func() { close(c) }))
		h.shutdown[srv], ch = c, c
	}
	return ch
}
