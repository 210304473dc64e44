package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/google/uuid"

	"naivechain/internal/logging"
	"naivechain/internal/store"
	"naivechain/internal/wire"
)

// The node's own records in the store.
const bucketNode = "node"

var (
	keyID    = []byte("id")    // the node id, created once
	keyPeers = []byte("peers") // JSON []wire.PeerInfo: known peers
)

// StoreFile is the name of the store inside a data directory.
const StoreFile = "chain.db"

// openStore opens the store in dataDir, creating the directory, or an
// in-memory store when dataDir is empty.
func openStore(dataDir string, log *slog.Logger) (store.Store, error) {
	if dataDir == "" {
		return store.NewMemory(), nil
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st, err := store.OpenLogged(filepath.Join(dataDir, StoreFile), store.LoggedOptions{BoltOptions: store.BoltOptions{Logger: logging.Actor(log, "STORE")}})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return st, nil
}

// ErrIDMismatch reports an --id that differs from the one in the data dir.
var ErrIDMismatch = errors.New("node id differs from the one kept in the data dir")

// InitID returns the node id kept in st, storing want (or a new UUID) the
// first time.
func InitID(st store.Store, want string) (string, error) {
	v, err := st.Get(bucketNode, keyID)
	switch {
	case err == nil:
		id := string(v)
		if err := wire.ValidateNodeID(id); err != nil {
			return "", fmt.Errorf("stored node id: %w", err)
		}
		if want != "" && want != id {
			return "", fmt.Errorf("%w: %s, not %s", ErrIDMismatch, id, want)
		}
		return id, nil
	case !errors.Is(err, store.ErrNotFound):
		return "", fmt.Errorf("read node id: %w", err)
	}
	id := want
	if id == "" {
		id = uuid.NewString()
	}
	if err := wire.ValidateNodeID(id); err != nil {
		return "", err
	}
	if err := st.Write(store.Batch{Puts: []store.Put{{Bucket: bucketNode, Key: keyID, Value: []byte(id)}}}); err != nil {
		return "", fmt.Errorf("store node id: %w", err)
	}
	return id, nil
}

// loadPeers returns the peers kept in the store.
func loadPeers(st store.Store) ([]wire.PeerInfo, error) {
	v, err := st.Get(bucketNode, keyPeers)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return decodePeers(v)
}

// maxStoredPeers bounds the peer list read back from disk.
const maxStoredPeers = 4096

// decodePeers decodes a stored peer list, keeping the valid entries.
func decodePeers(v []byte) ([]wire.PeerInfo, error) {
	var ps []wire.PeerInfo
	if err := json.Unmarshal(v, &ps); err != nil {
		return nil, fmt.Errorf("stored peers: %w", err)
	}
	if len(ps) > maxStoredPeers {
		ps = ps[:maxStoredPeers]
	}
	valid := ps[:0]
	for _, p := range ps {
		if wire.ValidatePeerInfo(p) == nil {
			valid = append(valid, p)
		}
	}
	return valid, nil
}

// savePeers keeps the known peers in the store.
func savePeers(st store.Store, ps []wire.PeerInfo) error {
	v, err := json.Marshal(ps)
	if err != nil {
		return err
	}
	return st.Write(store.Batch{Puts: []store.Put{{Bucket: bucketNode, Key: keyPeers, Value: v}}})
}
