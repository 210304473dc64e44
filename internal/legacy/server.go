package legacy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Defaults of Limits.
const (
	// DefaultMemory is the default Limits.Memory: room for the largest
	// upload a frame can hold (about 56 MiB with its decoding) and some
	// small messages beside it.
	DefaultMemory = 64 << 20
	// DefaultConns is the default Limits.Conns. A Python node opens one
	// connection per message and sends one message at a time to each
	// peer.
	DefaultConns = 64
)

// Limits bound what the legacy connections served by one Server may cost
// at once, whoever opens them. A zero field takes its default.
type Limits struct {
	// MaxFrame bounds one received frame, in bytes; 0 or more than
	// MaxFrame means MaxFrame.
	MaxFrame int
	// Memory bounds the bytes held at once by all the frames being read
	// (their buffers, as they grow) and by the messages being decoded and
	// handled (DecodeCost of each frame); 0 means DefaultMemory. A frame
	// that would go over it is refused.
	Memory int64
	// Conns bounds the connections served at once; 0 means DefaultConns.
	// One more is answered 503 before any WebSocket is accepted.
	Conns int
}

func (l Limits) withDefaults() Limits {
	if l.MaxFrame <= 0 || l.MaxFrame > MaxFrame {
		l.MaxFrame = MaxFrame
	}
	if l.Memory <= 0 {
		l.Memory = DefaultMemory
	}
	if l.Conns <= 0 {
		l.Conns = DefaultConns
	}
	return l
}

// Stats counts what a Server's limits did, for tests and logs.
type Stats struct {
	// Memory is the bytes held now against Limits.Memory, and PeakMemory
	// the most ever held at once.
	Memory, PeakMemory int64
	// Conns is the connections served now, and PeakConns the most ever
	// served at once.
	Conns, PeakConns int
	// RefusedMemory counts frames refused for the memory bound; Busy
	// counts connections turned away at Limits.Conns.
	RefusedMemory, Busy uint64
}

// Server answers exchanges of the protocol as the original's server does,
// within Limits shared by all its connections: it accepts a WebSocket
// without a subprotocol, reads one text frame within Timeout, decodes it
// and replies with its handler's text, then closes. A frame that Decode
// refuses, a binary frame, or a frame whose decoding does not fit in the
// memory bound is answered ReplyKCA without calling the handler; a frame
// that grows past the memory bound while it is read, or past MaxFrame, ends
// the connection with no reply. A Server is safe for concurrent use.
type Server struct {
	limits  Limits
	handle  func(remoteHost string, m Message) string
	onFrame func([]byte) // when set, sees every frame read, as received
	// readTimeout bounds the wait for the frame: Timeout, or longer in
	// tests that must tell an exchange ended by its context from one
	// that timed out.
	readTimeout time.Duration

	mu    sync.Mutex
	stats Stats
}

// NewServer returns a Server within limits that answers each decoded
// message with handle's reply. handle gets the host of the TCP peer (from
// the request's RemoteAddr), for the caller to use in place of the "0.0.0.0"
// the original announces.
func NewServer(limits Limits, handle func(remoteHost string, m Message) string) *Server {
	return &Server{limits: limits.withDefaults(), handle: handle, readTimeout: Timeout}
}

// Limits returns the server's limits, defaults filled in.
func (s *Server) Limits() Limits { return s.limits }

// Stats returns what the server's limits did so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// errMemory reports a frame refused for the memory bound.
var errMemory = errors.New("legacy: memory bound reached")

// ServeHTTP answers one exchange. It ends when r's context ends.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.enter() {
		http.Error(w, "too many legacy connections", http.StatusServiceUnavailable)
		return
	}
	defer s.leave()
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer ws.CloseNow()
	ws.SetReadLimit(int64(s.limits.MaxFrame))
	readCtx, cancel := context.WithTimeout(r.Context(), s.readTimeout)
	typ, frame, held, err := s.readFrame(readCtx, ws)
	cancel()
	defer func() { s.release(held) }()
	if err != nil {
		if errors.Is(err, errMemory) {
			s.refused()
			_ = ws.Close(websocket.StatusTryAgainLater, "legacy frames hold too much memory; try again")
		}
		return
	}
	if s.onFrame != nil {
		s.onFrame(frame)
	}
	reply := ReplyKCA
	if typ == websocket.MessageText {
		if cost := DecodeCost(frame); s.acquire(cost) {
			held += cost
			if m, err := Decode(frame); err == nil {
				reply = s.handle(remoteHostOf(r), m)
			}
		} else {
			s.refused()
		}
	}
	writeCtx, cancel := context.WithTimeout(r.Context(), Timeout)
	defer cancel()
	if err := ws.Write(writeCtx, websocket.MessageText, []byte(reply)); err != nil {
		return
	}
	_ = ws.Close(websocket.StatusNormalClosure, "")
}

// readFrame reads one message into a buffer it grows itself, so that every
// byte of it is charged to the memory bound before it is allocated. It
// returns the bytes charged, to release once the frame is no longer used.
func (s *Server) readFrame(ctx context.Context, ws *websocket.Conn) (websocket.MessageType, []byte, int64, error) {
	typ, rd, err := ws.Reader(ctx)
	if err != nil {
		return 0, nil, 0, err
	}
	var buf []byte
	var held int64
	for {
		if len(buf) == cap(buf) {
			// The read limit stops the reader at MaxFrame+1 bytes at most.
			size := min(max(2*cap(buf), 4<<10), s.limits.MaxFrame+1)
			if size <= cap(buf) {
				return 0, nil, held, fmt.Errorf("%w: frame larger than %d bytes", ErrMalformed, s.limits.MaxFrame)
			}
			if !s.acquire(int64(size)) {
				return 0, nil, held, errMemory
			}
			grown := make([]byte, len(buf), size)
			copy(grown, buf)
			s.release(held)
			buf, held = grown, int64(size)
		}
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return typ, buf, held, nil
		}
		if err != nil {
			// Past the read limit (the connection is closed with
			// StatusMessageTooBig), a broken frame or a gone peer.
			return 0, nil, held, err
		}
	}
}

func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stats.Conns >= s.limits.Conns {
		s.stats.Busy++
		return false
	}
	s.stats.Conns++
	s.stats.PeakConns = max(s.stats.PeakConns, s.stats.Conns)
	return true
}

func (s *Server) leave() {
	s.mu.Lock()
	s.stats.Conns--
	s.mu.Unlock()
}

// acquire charges n bytes to the memory bound, or reports that they do not
// fit. It never waits: a connection that waited while holding part of the
// bound could wait for the others forever.
func (s *Server) acquire(n int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n > s.limits.Memory-s.stats.Memory {
		return false
	}
	s.stats.Memory += n
	s.stats.PeakMemory = max(s.stats.PeakMemory, s.stats.Memory)
	return true
}

func (s *Server) release(n int64) {
	if n == 0 {
		return
	}
	s.mu.Lock()
	s.stats.Memory -= n
	s.mu.Unlock()
}

func (s *Server) refused() {
	s.mu.Lock()
	s.stats.RefusedMemory++
	s.mu.Unlock()
}

// Charges of DecodeCost, measured on frames built to cost Decode the most
// per byte (TestDecodeCostBoundsAllocations): the copies of the frame Decode
// makes (the object's values, an array's elements, the decoded strings),
// and the maps, slice headers and tokens it builds per JSON value.
const (
	decodeBytesFactor = 4
	decodeValueCost   = 192
)

// DecodeCost returns an upper bound on the bytes Decode allocates for
// frame: four times its length and 192 bytes per JSON value in it (counted
// as each '{', '[', ',' and ':' outside strings, plus one). A Server charges
// it to its memory bound before it decodes frame, so that a frame of many
// tiny values, which costs Decode far more than its length, is charged what
// it costs.
func DecodeCost(frame []byte) int64 {
	values := int64(1)
	inString, escaped := false, false
	for _, c := range frame {
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case !inString && (c == '{' || c == '[' || c == ',' || c == ':'):
			values++
		}
	}
	return decodeBytesFactor*int64(len(frame)) + decodeValueCost*values
}
