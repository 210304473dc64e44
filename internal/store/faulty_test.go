package store

import (
	"errors"
	"slices"
	"syscall"
	"testing"

	"github.com/naivechain/naivechain/internal/block"
)

func TestFaulty(t *testing.T) {
	c := chain(6)
	put := Put{Bucket: "log", Key: []byte("k"), Value: []byte("v")}
	for _, tc := range []struct {
		name    string
		fail    func(f *Faulty)
		want    error // errors.Is
		applied bool
	}{
		{"FailWrites", func(f *Faulty) { f.FailWrites(syscall.EIO) }, syscall.EIO, false},
		{"Fill", (*Faulty).Fill, ErrDiskFull, false},
		{"FillIsENOSPC", (*Faulty).Fill, syscall.ENOSPC, false},
		{"FailSync", (*Faulty).FailSync, ErrSyncFailed, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for name, inner := range map[string]Store{"Memory": NewMemory(), "Bolt": openBolt(t)} {
				f := NewFaulty(inner)
				if err := f.Append(c[:2]...); err != nil {
					t.Fatal(err)
				}
				tc.fail(f)
				err := f.Write(Batch{Blocks: c[2:4], Puts: []Put{put}})
				if !errors.Is(err, tc.want) {
					t.Fatalf("%s: Write = %v, want %v", name, err, tc.want)
				}
				_, getErr := inner.Get("log", []byte("k"))
				if applied := inner.Len() == 4 && getErr == nil; applied != tc.applied {
					t.Fatalf("%s: batch applied = %t, want %t (Len %d, Get %v)", name, applied, tc.applied, inner.Len(), getErr)
				}
				// Reads pass through whatever the mode.
				if f.Len() != inner.Len() {
					t.Fatalf("%s: Len %d, inner %d", name, f.Len(), inner.Len())
				}
				if got := collect(t, f, 0); !slices.Equal(got, c[:f.Len()]) {
					t.Fatalf("%s: Blocks = %v", name, got)
				}
				if b, err := f.Block(1); err != nil || b != c[1] {
					t.Fatalf("%s: Block(1) = %v, %v", name, b, err)
				}
				// A batch the inner store refuses is refused as such under FailSync.
				if tc.applied {
					if err := f.Append(c[1]); !errors.Is(err, ErrGap) {
						t.Fatalf("%s: a gap under FailSync: %v", name, err)
					}
				}

				f.Heal()
				next := c[f.Len()]
				if err := f.Append(next); err != nil {
					t.Fatalf("%s: after Heal: %v", name, err)
				}
				if b, err := inner.Block(next.Index); err != nil || b != next {
					t.Fatalf("%s: healed write not applied: %v", name, err)
				}
				wantWrites := 3
				if tc.applied {
					wantWrites = 4
				}
				if n := f.Writes(); n != wantWrites {
					t.Fatalf("%s: Writes = %d, want %d", name, n, wantWrites)
				}
				if err := f.Close(); err != nil {
					t.Fatal(err)
				}
				if _, err := f.Get("log", []byte("k")); !errors.Is(err, ErrClosed) {
					t.Fatalf("%s: Get after Close: %v", name, err)
				}
			}
		})
	}
}

func TestFaultyIsAStore(t *testing.T) {
	var _ Store = NewFaulty(NewMemory())
	f := NewFaulty(NewMemory())
	f.FailWrites(errors.New("boom"))
	if err := f.Append(block.Genesis()); err == nil || err.Error() != "boom" {
		t.Fatalf("FailWrites: %v", err)
	}
}
