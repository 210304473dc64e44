package node

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFounderTakesTheGivenToken checks that a founder given a join token
// keeps that one (so every node of a deployment can be handed the same
// secret), that a joiner with it gets in, and that a founder's data dir
// holding another token refuses the given one instead of ignoring it.
func TestFounderTakesTheGivenToken(t *testing.T) {
	const token = "a-shared-secret-for-every-node-0123456789"
	dir := t.TempDir()
	a := start(t, Config{DataDir: dir, JoinToken: token})
	if got := a.JoinToken(); got != token {
		t.Fatalf("founder's token %q, want the given %q", got, token)
	}
	b, err := os.ReadFile(filepath.Join(dir, TokenFile))
	if err != nil || strings.TrimSpace(string(b)) != token {
		t.Fatalf("token file holds %q (%v), want the given token", b, err)
	}
	j := joiner(t, a, Config{JoinToken: token})
	waitFor(t, "the joiner to become a voter", func() bool { return voters(a) == 2 && voters(j) == 2 })
	a.halt(t)
	j.halt(t)

	if _, err := founderToken(dir, false, "another-secret-for-this-node-0123456789"); !errors.Is(err, ErrBadJoinToken) {
		t.Fatalf("a data dir with another token: %v, want ErrBadJoinToken", err)
	}
	if _, err := founderToken(t.TempDir(), true, "short"); !errors.Is(err, ErrBadJoinToken) {
		t.Fatalf("an invalid given token: %v, want ErrBadJoinToken", err)
	}
	if got, err := founderToken(dir, false, token); err != nil || got != token {
		t.Fatalf("the data dir's own token given again: %q %v", got, err)
	}
}
