package p2p

import (
	"crypto/ed25519"
	"crypto/tls"
	"sync"
	"testing"

	"github.com/naivechain/naivechain/internal/identity"
)

// Tests name their nodes "a", "b", ...: testIDOf derives those names from
// the keys registered here, and identity.IDFromKey's id from any other key.
// The handshake checks are the same either way.
var testKeys struct {
	sync.Mutex
	names map[string]string // public key -> name
}

// keyFor returns a new key whose id, as testIDOf derives it, is name.
func keyFor(t testing.TB, name string) ed25519.PrivateKey {
	t.Helper()
	k, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	nameKey(k, name)
	return k
}

// nameKey makes testIDOf derive name from k.
func nameKey(k ed25519.PrivateKey, name string) {
	testKeys.Lock()
	defer testKeys.Unlock()
	if testKeys.names == nil {
		testKeys.names = make(map[string]string)
	}
	testKeys.names[string(identity.Public(k))] = name
}

func testIDOf(pub ed25519.PublicKey) string {
	testKeys.Lock()
	defer testKeys.Unlock()
	if n, ok := testKeys.names[string(pub)]; ok {
		return n
	}
	return identity.IDFromKey(pub)
}

// clientTLS is the TLS configuration of a hand-made peer holding k.
func clientTLS(t testing.TB, k ed25519.PrivateKey) *tls.Config {
	t.Helper()
	cert, err := identity.Certificate(k)
	if err != nil {
		t.Fatal(err)
	}
	return identity.ClientConfig(cert, "", testIDOf)
}
