package block

import (
	"errors"
	"slices"
	"testing"
)

// TestCheckHash: CheckHash accepts valid classic and proof-of-work
// blocks and refuses each with a flipped bit in any hashed field.
func TestCheckHash(t *testing.T) {
	classic := Next(Genesis(), `"hello"`)
	pow, err := Mine(NewPoW(Genesis(), []string{`"a"`, `"b \"q\" \\"`, `"c"`}, 1234, MinDifficulty), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []Block{Genesis(), classic, pow} {
		if err := CheckHash(b); err != nil {
			t.Fatalf("CheckHash(%+v) = %v", b, err)
		}
	}
	flip := func(s string, i int) string { r := []byte(s); r[i] ^= 1; return string(r) }
	for name, b := range map[string]Block{
		"classic data":     {Index: 1, PreviousHash: classic.PreviousHash, Data: flip(classic.Data, 2), CurrHash: classic.CurrHash},
		"classic previous": {Index: 1, PreviousHash: flip(classic.PreviousHash, 0), Data: classic.Data, CurrHash: classic.CurrHash},
		"pow data":         func() Block { b := pow; b.Data = flip(b.Data, 3); return b }(),
		"pow data escape":  func() Block { b := pow; b.Data = flip(b.Data, 11); return b }(),
		"pow nonce":        func() Block { b := pow; b.Nonce ^= 1; return b }(),
		"pow timestamp":    func() Block { b := pow; b.Timestamp ^= 1; return b }(),
		"pow difficulty":   func() Block { b := pow; b.Difficulty ^= 1; return b }(),
		"pow index":        func() Block { b := pow; b.Index ^= 2; return b }(),
	} {
		if err := CheckHash(b); err == nil {
			t.Errorf("%s: CheckHash accepted a damaged block", name)
		} else if !errors.Is(err, ErrBadHash) && !errors.Is(err, ErrBadEntries) && !errors.Is(err, ErrInsufficient) && !errors.Is(err, ErrLowDifficulty) {
			t.Errorf("%s: CheckHash = %v", name, err)
		}
	}
}

// FuzzSplitEntries: splitEntries accepts exactly what EncodeEntries
// writes, and returns the entries it was given.
func FuzzSplitEntries(f *testing.F) {
	for _, d := range []string{`["a"]`, `["a","b"]`, `["\"x\\"]`, `[]`, `["a",]`, `["a\n"]`, `["\u0041"]`} {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, data string) {
		entries, ok := splitEntries(data)
		if !ok {
			return
		}
		if got := EncodeEntries(entries); got != data {
			t.Fatalf("splitEntries(%q) = %q, which encodes as %q", data, entries, got)
		}
		if again, ok := splitEntries(EncodeEntries(entries)); !ok || !slices.Equal(again, entries) {
			t.Fatalf("round trip of %q: %q, %v", entries, again, ok)
		}
	})
}
