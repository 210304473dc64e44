package identity

import (
	"crypto/ed25519"
	"encoding/base64"
)

type ed25519Priv = ed25519.PrivateKey

// b64lines is the body of a PEM block.
func b64lines(der []byte) string {
	s := base64.StdEncoding.EncodeToString(der)
	out := ""
	for len(s) > 64 {
		out += s[:64] + "\n"
		s = s[64:]
	}
	return out + s + "\n"
}
