package node

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/naivechain/naivechain/internal/consensus/vote"
	"github.com/naivechain/naivechain/internal/identity"
)

// TokenFile is the name of the join token's file in a founder's data dir.
const TokenFile = "join-token"

// ErrJoinRefused reports a join the network refused for its token: the
// operator must give the right one (--join-token).
var ErrJoinRefused = errors.New("join refused")

// newToken returns a fresh join token: 32 random bytes, URL-safe base64.
func newToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// founderToken returns the join token kept in dataDir, creating it (mode
// 0600) when create is set and there is none; "" when there is none and
// create is not set. A node without a data dir gets a token for its run.
func founderToken(dataDir string, create bool) (string, error) {
	if dataDir == "" {
		if !create {
			return "", nil
		}
		return newToken(), nil
	}
	path := filepath.Join(dataDir, TokenFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		t := strings.TrimSpace(string(b))
		if !vote.ValidToken(t) {
			return "", fmt.Errorf("%s does not hold a join token (16 to 128 printable characters)", path)
		}
		return t, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("read join token: %w", err)
	case !create:
		return "", nil
	}
	t := newToken()
	if err := identity.WriteSecret(path, []byte(t+"\n")); err != nil {
		return "", err
	}
	return t, nil
}
