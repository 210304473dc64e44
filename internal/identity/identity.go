package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// KeyFile is the name of the private key's file in a data directory.
const KeyFile = "node.key"

// idDomain separates the hash of a node id from any other hash of a key.
const idDomain = "naivechain node id v1\x00"

// ErrBadKeyFile reports a key file that cannot be used.
var ErrBadKeyFile = errors.New("identity: bad key file")

// IDFromKey derives the node id of a public key: the first 16 bytes of
// sha256(domain ‖ key) as a UUID of version 8 and the RFC 9562 variant.
// 122 bits of the hash remain, so finding a second key with the id of a
// given one costs about 2^122 hashes.
func IDFromKey(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(append([]byte(idDomain), pub...))
	u := sum[:16]
	u[6] = u[6]&0x0f | 0x80 // version 8
	u[8] = u[8]&0x3f | 0x80 // variant 10xx
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:16])
	return string(b[:])
}

// IsKeyID reports whether id has the form of a key-derived id (a lower-case
// UUID of version 8). It says nothing of which key: only a handshake proves
// that.
func IsKeyID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := id[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	return id[14] == '8' && (id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b')
}

// Generate returns a new key pair.
func Generate() (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("identity: generate key: %w", err)
	}
	return priv, nil
}

// Public returns the public half of priv.
func Public(priv ed25519.PrivateKey) ed25519.PublicKey {
	return priv.Public().(ed25519.PublicKey)
}

// LoadOrCreate returns the key kept in dir/KeyFile, creating it (mode
// 0600, PKCS #8 in PEM) the first time; created reports that it did. A file
// that exists but does not hold an ed25519 private key is refused with
// ErrBadKeyFile, never replaced.
func LoadOrCreate(dir string) (priv ed25519.PrivateKey, created bool, err error) {
	path := filepath.Join(dir, KeyFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		priv, err := parseKey(b)
		if err != nil {
			return nil, false, fmt.Errorf("%w %s: %v", ErrBadKeyFile, path, err)
		}
		return priv, false, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, false, fmt.Errorf("identity: read key: %w", err)
	}
	if priv, err = Generate(); err != nil {
		return nil, false, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, false, fmt.Errorf("identity: encode key: %w", err)
	}
	if err := writeNew(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
		return nil, false, err
	}
	return priv, true, nil
}

func parseKey(b []byte) (ed25519.PrivateKey, error) {
	blk, rest := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, errors.New("no PEM PRIVATE KEY block")
	}
	if len(rest) != 0 && len(trimSpace(rest)) != 0 {
		return nil, errors.New("trailing data after the key")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T, not an ed25519 key", k)
	}
	return priv, nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\n' || b[0] == '\r' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

// writeNew writes a file that must not exist yet, mode 0600, durably: the
// data and the directory entry are synced before it returns.
func writeNew(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("identity: create %s: %w", tmp, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// Link rather than rename: it fails if path appeared meanwhile,
		// so an existing key is never replaced.
		err = os.Link(tmp, path)
	}
	os.Remove(tmp)
	if err != nil {
		return fmt.Errorf("identity: write %s: %w", path, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// WriteSecret writes a small secret file (mode 0600) that must not exist
// yet, durably; the join token uses it.
func WriteSecret(path string, data []byte) error { return writeNew(path, data) }
