package p2p

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/coder/websocket"
)

func TestLeaveReason(t *testing.T) {
	closed := func(code websocket.StatusCode, reason string) error {
		// As the library returns it: wrapped in its read context.
		return fmt.Errorf("failed to get reader: received close frame: %w", websocket.CloseError{Code: code, Reason: reason})
	}
	tests := []struct {
		err  error
		want string
	}{
		{closed(websocket.StatusGoingAway, "going away"), "closed by peer"},
		{closed(websocket.StatusNormalClosure, "duplicate connection"), "closed by peer: duplicate connection"},
		{closed(websocket.StatusNormalClosure, ""), "closed by peer"},
		{closed(websocket.StatusPolicyViolation, "protocol violation"), "protocol error: protocol violation"},
		{closed(websocket.StatusUnsupportedData, "binary messages only"), "protocol error: binary messages only"},
		{closed(websocket.StatusMessageTooBig, ""), "protocol error: StatusMessageTooBig"},
		{closed(websocket.StatusInternalError, "x"), "closed by peer: StatusInternalError: x"},
		{fmt.Errorf("failed to read frame header: %w", context.DeadlineExceeded), "timed out"},
		{fmt.Errorf("read: %w", os.ErrDeadlineExceeded), "timed out"},
		{&net.OpError{Op: "read", Err: timeoutError{}}, "timed out"},
		{fmt.Errorf("failed to read frame header: %w", io.EOF), "closed by peer without a goodbye"},
		{fmt.Errorf("failed to read frame header: %w", io.ErrUnexpectedEOF), "closed by peer without a goodbye"},
		{&net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, "connection reset by peer"},
		{errors.New("something else"), "connection lost: something else"},
	}
	for _, tt := range tests {
		if got := leaveReason(tt.err); got != tt.want {
			t.Errorf("leaveReason(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }
