package legacy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/coder/websocket"
)

// MaxReply bounds a reply frame: "ACK", "KCA" or a small JSON object.
const MaxReply = 1 << 10

// ErrReply reports a reply that is not a text frame.
var ErrReply = errors.New("legacy: reply is not a text frame")

// Send runs one exchange with the node at host:port as the original's client
// does: it dials ws://host:port/ without a subprotocol, sends Encode(m) as one
// text frame, reads one text reply of at most MaxReply bytes and closes. The
// exchange ends by ctx or after Timeout, whichever comes first. The reply is
// returned as sent ("ACK", "KCA" or a JSON text); Send does not judge it.
// A message holding a proof-of-work block is refused with ErrPoWBlock
// before anything is dialled.
func Send(ctx context.Context, host, port string, m Message) (reply string, err error) {
	if err := checkClassic(m); err != nil {
		return "", err
	}
	addr := net.JoinHostPort(host, port)
	frame := Encode(m)
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+addr+"/", nil)
	if err != nil {
		return "", fmt.Errorf("legacy: dial %s: %w", addr, ended(ctx, err))
	}
	defer ws.CloseNow()
	ws.SetReadLimit(MaxReply)
	if err := ws.Write(ctx, websocket.MessageText, frame); err != nil {
		return "", fmt.Errorf("legacy: send %s to %s: %w", commandName(m), addr, ended(ctx, err))
	}
	typ, data, err := ws.Read(ctx)
	if err != nil {
		return "", fmt.Errorf("legacy: reply to %s from %s: %w", commandName(m), addr, ended(ctx, err))
	}
	if typ != websocket.MessageText {
		return "", fmt.Errorf("%w: %s answered %s with a %v frame", ErrReply, addr, commandName(m), typ)
	}
	// The exchange is complete; a failed close handshake changes nothing.
	_ = ws.Close(websocket.StatusNormalClosure, "")
	return string(data), nil
}

// ended returns ctx's error when ctx has ended: the websocket library closes
// the connection when a context ends, and its error then names the closed
// connection rather than the cancellation or the timeout that caused it.
func ended(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	return err
}

func commandName(m Message) string {
	if c := m.Command(); c != "" {
		return c
	}
	return "a message without CMD"
}

func remoteHostOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
