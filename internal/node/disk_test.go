package node

import (
	"encoding/json"
	"errors"
	"testing"

	"naivechain/internal/store"
	"naivechain/internal/wire"
)

func TestPeersRoundTrip(t *testing.T) {
	st := store.NewMemory()
	ps := []wire.PeerInfo{{ID: "a", Host: "node1.example.org", Port: "15001"}, {ID: "b", Host: "::1", Port: "15003", HTTPPort: "15004"}}
	if err := savePeers(st, ps); err != nil {
		t.Fatal(err)
	}
	got, err := loadPeers(st)
	if err != nil || len(got) != 2 || got[0] != ps[0] || got[1] != ps[1] {
		t.Fatalf("loadPeers = %v, %v", got, err)
	}
}

func TestStoredIDIsValidated(t *testing.T) {
	st := store.NewMemory()
	if err := st.Write(store.Batch{Puts: []store.Put{{Bucket: bucketNode, Key: keyID, Value: []byte("bad id\n")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := InitID(st, ""); err == nil {
		t.Fatal("an invalid stored id was accepted")
	}
	st2 := store.NewMemory()
	id, err := InitID(st2, "")
	if err != nil {
		t.Fatal(err)
	}
	if again, err := InitID(st2, ""); err != nil || again != id {
		t.Fatalf("second InitID = %q, %v; want %q", again, err, id)
	}
	if _, err := InitID(st2, "other"); !errors.Is(err, ErrIDMismatch) {
		t.Fatalf("another id: %v", err)
	}
}

// FuzzDecodePeers: the stored peer list never panics the decoder, and what
// it returns is valid.
func FuzzDecodePeers(f *testing.F) {
	b, _ := json.Marshal([]wire.PeerInfo{{ID: "a", Host: "h", Port: "1"}})
	f.Add(b)
	f.Add([]byte(`[{"id":"x y"}]`))
	f.Fuzz(func(t *testing.T, in []byte) {
		ps, err := decodePeers(in)
		if err != nil {
			return
		}
		for _, p := range ps {
			if err := wire.ValidatePeerInfo(p); err != nil {
				t.Fatalf("invalid peer returned: %+v: %v", p, err)
			}
		}
	})
}
