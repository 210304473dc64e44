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

	"github.com/naivechain/naivechain/internal/consensus"
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

// ErrBadJoinToken reports a join token a founder cannot take: not a valid
// token, or not the one its data dir already holds. The operator must give
// another or none.
var ErrBadJoinToken = errors.New("bad join token")

// founderToken returns the join token kept in dataDir, creating it (mode
// 0600) when create is set and there is none; "" when there is none and
// create is not set. A token it creates is given when given is not empty
// (a deployment that hands every node the same secret, such as
// docker-compose.yml), else a fresh random one. A node without a data dir
// gets a token for its run.
func founderToken(dataDir string, create bool, given string) (string, error) {
	if given != "" && !consensus.ValidJoinToken(given) {
		return "", fmt.Errorf("%w: --join-token must be 16 to 128 printable characters without spaces", ErrBadJoinToken)
	}
	fresh := func() string {
		if given != "" {
			return given
		}
		return newToken()
	}
	if dataDir == "" {
		if !create {
			return "", nil
		}
		return fresh(), nil
	}
	path := filepath.Join(dataDir, TokenFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		t := strings.TrimSpace(string(b))
		if !consensus.ValidJoinToken(t) {
			return "", fmt.Errorf("%s does not hold a join token (16 to 128 printable characters)", path)
		}
		if given != "" && given != t {
			return "", fmt.Errorf("%w: %s holds this network's token; give that one or none", ErrBadJoinToken, path)
		}
		return t, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("read join token: %w", err)
	case !create:
		return "", nil
	}
	t := fresh()
	if err := identity.WriteSecret(path, []byte(t+"\n")); err != nil {
		return "", err
	}
	return t, nil
}
