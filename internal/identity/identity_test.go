package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func mustKey(t testing.TB) tlsKey {
	t.Helper()
	priv, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := Certificate(priv)
	if err != nil {
		t.Fatal(err)
	}
	return tlsKey{id: IDFromKey(Public(priv)), cert: cert}
}

type tlsKey struct {
	id   string
	cert tls.Certificate
}

func TestIDFromKey(t *testing.T) {
	a, b := mustKey(t), mustKey(t)
	if a.id == b.id {
		t.Fatal("two keys, one id")
	}
	for _, id := range []string{a.id, b.id} {
		u, err := uuid.Parse(id)
		if err != nil {
			t.Fatalf("%s is not a UUID: %v", id, err)
		}
		if u.Version() != 8 || u.Variant() != uuid.RFC4122 {
			t.Fatalf("%s: version %d variant %v, want 8 and RFC 4122", id, u.Version(), u.Variant())
		}
		if !IsKeyID(id) {
			t.Fatalf("IsKeyID(%s) = false", id)
		}
	}
	if got := IDFromKey(Public(a.cert.PrivateKey.(ed25519Priv))); got != a.id {
		t.Fatalf("IDFromKey is not a function of the key: %s then %s", a.id, got)
	}
	for _, id := range []string{uuid.NewString(), strings.ToUpper(a.id), a.id[:35], "node-1", ""} {
		if IsKeyID(id) {
			t.Fatalf("IsKeyID(%q) = true", id)
		}
	}
}

func TestLoadOrCreate(t *testing.T) {
	dir := t.TempDir()
	k1, created, err := LoadOrCreate(dir)
	if err != nil || !created {
		t.Fatalf("first LoadOrCreate: created %v, err %v", created, err)
	}
	fi, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	k2, created, err := LoadOrCreate(dir)
	if err != nil || created {
		t.Fatalf("second LoadOrCreate: created %v, err %v", created, err)
	}
	if !k1.Equal(k2) {
		t.Fatal("the key changed across loads")
	}
}

func TestLoadOrCreateRefusesABadFile(t *testing.T) {
	for name, content := range map[string]string{
		"empty":     "",
		"garbage":   "not a key",
		"truncated": "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n-----END PRIVATE KEY-----\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, KeyFile)
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, _, err := LoadOrCreate(dir); !errors.Is(err, ErrBadKeyFile) {
				t.Fatalf("err %v, want ErrBadKeyFile", err)
			}
			if b, _ := os.ReadFile(path); string(b) != content {
				t.Fatal("the bad key file was changed")
			}
		})
	}
	t.Run("ecdsa", func(t *testing.T) {
		dir := t.TempDir()
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, _ := x509.MarshalPKCS8PrivateKey(k)
		pemBytes := "-----BEGIN PRIVATE KEY-----\n" + b64lines(der) + "-----END PRIVATE KEY-----\n"
		os.WriteFile(filepath.Join(dir, KeyFile), []byte(pemBytes), 0o600)
		if _, _, err := LoadOrCreate(dir); !errors.Is(err, ErrBadKeyFile) {
			t.Fatalf("err %v, want ErrBadKeyFile", err)
		}
	})
}

// handshake runs a TLS handshake between client and server configurations
// over an in-memory pipe and returns the ids each side sees proven.
func handshake(t *testing.T, client, server *tls.Config) (clientSees, serverSees string, cerr, serr error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	deadline := time.Now().Add(10 * time.Second)
	a.SetDeadline(deadline)
	b.SetDeadline(deadline)
	c, s := tls.Client(a, client), tls.Server(b, server)
	done := make(chan struct{})
	go func() {
		defer close(done)
		serr = s.Handshake()
		if serr == nil {
			serverSees, serr = ConnID(s.ConnectionState(), nil)
			_, _ = s.Read(make([]byte, 1))
		}
		if serr != nil {
			b.Close()
		}
	}()
	cerr = c.Handshake()
	if cerr == nil {
		clientSees, cerr = ConnID(c.ConnectionState(), nil)
		// TLS 1.3 clients finish before the server has checked them:
		// a read sees the server's verdict.
		if cerr == nil {
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, _ = c.Write([]byte{1})
		}
	}
	if cerr != nil {
		a.Close()
	}
	<-done
	return
}

func TestMutualHandshake(t *testing.T) {
	cli, srv := mustKey(t), mustKey(t)
	cs, ss, cerr, serr := handshake(t, ClientConfig(cli.cert, srv.id, nil), ServerConfig(srv.cert, nil))
	if cerr != nil || serr != nil {
		t.Fatalf("handshake: client %v, server %v", cerr, serr)
	}
	if cs != srv.id || ss != cli.id {
		t.Fatalf("client sees %s (want %s), server sees %s (want %s)", cs, srv.id, ss, cli.id)
	}
}

func TestHandshakeRefuses(t *testing.T) {
	cli, srv, other := mustKey(t), mustKey(t), mustKey(t)
	t.Run("server proves another id", func(t *testing.T) {
		_, _, cerr, _ := handshake(t, ClientConfig(cli.cert, other.id, nil), ServerConfig(srv.cert, nil))
		if cerr == nil || !strings.Contains(cerr.Error(), "proves id "+srv.id+", not "+other.id) {
			t.Fatalf("client err %v", cerr)
		}
	})
	t.Run("client without certificate", func(t *testing.T) {
		c := ClientConfig(cli.cert, srv.id, nil)
		c.Certificates = nil
		_, _, _, serr := handshake(t, c, ServerConfig(srv.cert, nil))
		if serr == nil {
			t.Fatal("server accepted a client with no certificate")
		}
	})
	t.Run("client with an ECDSA certificate", func(t *testing.T) {
		c := ClientConfig(cli.cert, srv.id, nil)
		c.Certificates = []tls.Certificate{ecdsaCert(t)}
		_, _, _, serr := handshake(t, c, ServerConfig(srv.cert, nil))
		if serr == nil || !errors.Is(serr, ErrPeerCert) && !strings.Contains(serr.Error(), "want ed25519") {
			t.Fatalf("server err %v", serr)
		}
	})
	t.Run("TLS 1.2 client", func(t *testing.T) {
		c := ClientConfig(cli.cert, srv.id, nil)
		c.MinVersion, c.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
		_, _, cerr, serr := handshake(t, c, ServerConfig(srv.cert, nil))
		if cerr == nil || serr == nil {
			t.Fatalf("TLS 1.2 accepted: client %v, server %v", cerr, serr)
		}
	})
}

func TestPeerIDRefuses(t *testing.T) {
	k := mustKey(t)
	if id, _, err := PeerID(k.cert.Certificate); err != nil || id != k.id {
		t.Fatalf("PeerID of a good certificate: %s, %v", id, err)
	}
	bad := append([]byte(nil), k.cert.Certificate[0]...)
	bad[len(bad)-1] ^= 1 // the signature
	for name, raw := range map[string][][]byte{
		"none":          nil,
		"two":           {k.cert.Certificate[0], k.cert.Certificate[0]},
		"garbage":       {[]byte("x")},
		"bad signature": {bad},
		"ecdsa":         ecdsaCert(t).Certificate,
	} {
		if _, _, err := PeerID(raw); !errors.Is(err, ErrPeerCert) {
			t.Errorf("%s: err %v, want ErrPeerCert", name, err)
		}
	}
}

func ecdsaCert(t *testing.T) tls.Certificate {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "x"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k}
}

func FuzzPeerID(f *testing.F) {
	k := mustKey(f)
	f.Add(k.cert.Certificate[0])
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, pub, err := PeerID([][]byte{b})
		if err == nil && (id != IDFromKey(pub) || !IsKeyID(id)) {
			t.Fatalf("PeerID accepted %x with id %s", b, id)
		}
	})
}

func FuzzParseKey(f *testing.F) {
	priv, _ := Generate()
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\n" + b64lines(der) + "-----END PRIVATE KEY-----\n"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := parseKey(b)
		if err == nil && len(k) != 64 {
			t.Fatalf("parseKey returned a key of %d bytes", len(k))
		}
	})
}
