package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// ErrPeerCert reports a peer certificate that proves no node id, or proves
// another id than the one expected.
var ErrPeerCert = errors.New("identity: peer certificate")

// ALPN is the TLS application protocol of native peer links: HTTP/1.1,
// which carries the WebSocket upgrade.
const ALPN = "http/1.1"

// Certificate returns a self-signed certificate for priv. Its key is the
// node key itself, so the TLS handshake's signature proves that the peer
// holds the key its id derives from. The validity period is not checked by
// peers (node clocks may disagree); it spans a century as libp2p's does.
func Certificate(priv ed25519.PrivateKey) (tls.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("identity: certificate serial: %w", err)
	}
	id := IDFromKey(Public(priv))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: id},
		NotBefore:             time.Unix(0, 0),
		NotAfter:              time.Date(2125, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, Public(priv), priv)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("identity: create certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("identity: parse certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv, Leaf: leaf}, nil
}

// PeerID returns the node id and key that a peer's certificate chain
// proves: exactly one certificate, self-signed, with an ed25519 key. The TLS
// 1.3 handshake has already checked that the peer holds that key.
func PeerID(rawCerts [][]byte) (string, ed25519.PublicKey, error) {
	if len(rawCerts) != 1 {
		return "", nil, fmt.Errorf("%w: %d certificates, want 1", ErrPeerCert, len(rawCerts))
	}
	c, err := x509.ParseCertificate(rawCerts[0])
	if err != nil {
		return "", nil, fmt.Errorf("%w: %v", ErrPeerCert, err)
	}
	pub, ok := c.PublicKey.(ed25519.PublicKey)
	if !ok {
		return "", nil, fmt.Errorf("%w: a %T key, want ed25519", ErrPeerCert, c.PublicKey)
	}
	if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
		return "", nil, fmt.Errorf("%w: not self-signed: %v", ErrPeerCert, err)
	}
	return IDFromKey(pub), pub, nil
}

// IDMismatchError reports a peer whose certificate proves another id than
// the one expected. It matches ErrPeerCert with errors.Is.
type IDMismatchError struct {
	Proven, Want string
}

func (e *IDMismatchError) Error() string {
	return fmt.Sprintf("%v: proves id %s, not %s", ErrPeerCert, e.Proven, e.Want)
}

// Is makes errors.Is(err, ErrPeerCert) hold.
func (e *IDMismatchError) Is(target error) bool { return target == ErrPeerCert }

// IDFunc derives a node id from a public key. IDFromKey is the one nodes
// use; tests of other packages may give keys readable names.
type IDFunc func(ed25519.PublicKey) string

// verifier checks a peer's certificate chain, and its id when expect is
// not empty.
func verifier(idOf IDFunc, expect string) func([][]byte, [][]*x509.Certificate) error {
	if idOf == nil {
		idOf = IDFromKey
	}
	return func(raw [][]byte, _ [][]*x509.Certificate) error {
		_, pub, err := PeerID(raw)
		if err != nil {
			return err
		}
		if id := idOf(pub); expect != "" && id != expect {
			return &IDMismatchError{Proven: id, Want: expect}
		}
		return nil
	}
}

// ServerConfig is the TLS configuration of a node accepting peer links:
// TLS 1.3 only, a client certificate required and checked by PeerID. The
// caller reads the peer's id from the connection state once the handshake
// is done.
func ServerConfig(cert tls.Certificate, idOf IDFunc) *tls.Config {
	return &tls.Config{
		MinVersion:            tls.VersionTLS13,
		Certificates:          []tls.Certificate{cert},
		ClientAuth:            tls.RequireAnyClientCert,
		VerifyPeerCertificate: verifier(idOf, ""),
		NextProtos:            []string{ALPN},
	}
}

// ClientConfig is the TLS configuration of a node dialing a peer: TLS 1.3
// only, our certificate offered, the peer's checked by PeerID and, when
// expect is not empty, required to prove that id. The usual chain and host
// name checks are replaced by that check (InsecureSkipVerify only turns off
// the web PKI's rules, which do not apply to self-certified keys).
func ClientConfig(cert tls.Certificate, expect string, idOf IDFunc) *tls.Config {
	return &tls.Config{
		MinVersion:            tls.VersionTLS13,
		Certificates:          []tls.Certificate{cert},
		InsecureSkipVerify:    true,
		VerifyPeerCertificate: verifier(idOf, expect),
		NextProtos:            []string{ALPN},
	}
}

// ConnID returns the id proven by the peer of a completed handshake, as
// idOf (nil: IDFromKey) derives it.
func ConnID(st tls.ConnectionState, idOf IDFunc) (string, error) {
	if !st.HandshakeComplete || st.Version != tls.VersionTLS13 {
		return "", fmt.Errorf("%w: no completed TLS 1.3 handshake", ErrPeerCert)
	}
	raw := make([][]byte, len(st.PeerCertificates))
	for i, c := range st.PeerCertificates {
		raw[i] = c.Raw
	}
	_, pub, err := PeerID(raw)
	if err != nil {
		return "", err
	}
	if idOf == nil {
		idOf = IDFromKey
	}
	return idOf(pub), nil
}
