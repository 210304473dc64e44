package consensus

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestConflict: an engine's conflict error keeps its own message and is
// ErrConflict for callers, wrapped or not.
func TestConflict(t *testing.T) {
	e := Conflict("pow: overlap")
	if e.Error() != "pow: overlap" {
		t.Fatalf("message %q", e.Error())
	}
	if !errors.Is(e, ErrConflict) || !errors.Is(fmt.Errorf("submit: %w", e), ErrConflict) {
		t.Fatal("not ErrConflict")
	}
	if errors.Is(errors.New("pow: overlap"), ErrConflict) {
		t.Fatal("any error is ErrConflict")
	}
}

// TestValidJoinToken: the bounds and the characters of a join token.
func TestValidJoinToken(t *testing.T) {
	for _, tc := range []struct {
		tok  string
		want bool
	}{
		{strings.Repeat("a", MinTokenLen), true},
		{strings.Repeat("a", MaxTokenLen), true},
		{strings.Repeat("a", MinTokenLen-1), false},
		{strings.Repeat("a", MaxTokenLen+1), false},
		{strings.Repeat("a", 20) + " b", false},
		{strings.Repeat("a", 20) + "\x7f", false},
		{strings.Repeat("é", 10), false},
	} {
		if got := ValidJoinToken(tc.tok); got != tc.want {
			t.Errorf("ValidJoinToken(%q) = %v", tc.tok, got)
		}
	}
}
