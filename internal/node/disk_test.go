package node

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/naivechain/naivechain/internal/identity"
	"github.com/naivechain/naivechain/internal/store"
	"github.com/naivechain/naivechain/internal/wire"
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
	if _, _, _, err := Identity(st, "", nil); err == nil {
		t.Fatal("an invalid stored id was accepted")
	}
}

func TestIdentityIsKeptInTheDataDir(t *testing.T) {
	dir := t.TempDir()
	st := store.NewMemory()
	key, id, former, err := Identity(st, dir, nil)
	if err != nil || former != "" {
		t.Fatalf("first Identity: former %q, err %v", former, err)
	}
	if id != identity.IDFromKey(identity.Public(key)) || !identity.IsKeyID(id) {
		t.Fatalf("id %s is not the key's", id)
	}
	fi, err := os.Stat(filepath.Join(dir, identity.KeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", fi, err)
	}
	key2, id2, former, err := Identity(st, dir, nil)
	if err != nil || id2 != id || !key2.Equal(key) || former != "" {
		t.Fatalf("second Identity = %s, %q, %v; want %s", id2, former, err, id)
	}
}

func TestIdentityRefusesAnotherKey(t *testing.T) {
	dir := t.TempDir()
	st := store.NewMemory()
	_, id, _, err := Identity(st, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, identity.KeyFile)
	if err := os.Remove(keyPath); err != nil {
		t.Fatal(err)
	}
	_, _, _, err = Identity(st, dir, nil)
	if !errors.Is(err, ErrKeyMismatch) || !strings.Contains(err.Error(), id) {
		t.Fatalf("missing key file: err %v, want ErrKeyMismatch naming %s", err, id)
	}
	if _, err := os.Stat(keyPath); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a key file was created for a data dir that has one elsewhere: %v", err)
	}
	other, _ := identity.Generate()
	if _, _, _, err := Identity(st, dir, other); !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("another key: err %v, want ErrKeyMismatch", err)
	}
	if v, _ := st.Get(bucketNode, keyID); string(v) != id {
		t.Fatalf("stored id changed to %s", v)
	}
}

func TestIdentityUpgradesAnIDMadeBeforeKeys(t *testing.T) {
	dir := t.TempDir()
	st := store.NewMemory()
	old := uuid.NewString()
	if err := st.Write(store.Batch{Puts: []store.Put{{Bucket: bucketNode, Key: keyID, Value: []byte(old)}}}); err != nil {
		t.Fatal(err)
	}
	key, id, former, err := Identity(st, dir, nil)
	if err != nil || former != old || id == old || id != identity.IDFromKey(identity.Public(key)) {
		t.Fatalf("Identity = %s, former %q, %v; want a new key id and former %s", id, former, err, old)
	}
	if v, _ := st.Get(bucketNode, keyID); string(v) != id {
		t.Fatalf("stored id %s, want %s", v, id)
	}
	if _, again, former, err := Identity(st, dir, nil); err != nil || again != id || former != "" {
		t.Fatalf("after the upgrade: %s, %q, %v", again, former, err)
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
