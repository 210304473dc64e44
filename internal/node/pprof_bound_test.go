package node

import (
	"errors"
	"net"
	"testing"
)

// TestPprofBoundAddress: "localhost" passes checkPprofAddr, but the
// system resolves it (/etc/hosts, then DNS) and the listener may get any
// interface; the address it got is checked again.
func TestPprofBoundAddress(t *testing.T) {
	public := &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 6060}
	if err := checkPprofBound(public, false); !errors.Is(err, ErrPprofAddr) {
		t.Errorf("listening on %v: %v, want ErrPprofAddr", public, err)
	}
	if err := checkPprofBound(public, true); err != nil {
		t.Errorf("allowed public, refused: %v", err)
	}
	for _, ip := range []string{"127.0.0.1", "::1", "127.0.0.2", "::ffff:127.0.0.1"} {
		if err := checkPprofBound(&net.TCPAddr{IP: net.ParseIP(ip), Port: 6060}, false); err != nil {
			t.Errorf("%s refused: %v", ip, err)
		}
	}
}
