package node

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/naivechain/naivechain/internal/identity"
	"github.com/naivechain/naivechain/internal/logging"
	"github.com/naivechain/naivechain/internal/store"
	"github.com/naivechain/naivechain/internal/wire"
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
// in-memory store when dataDir is empty. flushDelay slows every flush of
// its log (a slow disk, for tests); onFlush, if not nil, hears of every
// flush (store.LoggedOptions.OnFlush).
func openStore(dataDir string, log *slog.Logger, flushDelay time.Duration, onFlush func(time.Duration, int)) (store.Store, error) {
	if dataDir == "" {
		return store.NewMemory(), nil
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st, err := store.OpenLogged(filepath.Join(dataDir, StoreFile), store.LoggedOptions{FlushDelay: flushDelay, OnFlush: onFlush, BoltOptions: store.BoltOptions{Logger: logging.Actor(log, "STORE")}})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return st, nil
}

// ErrKeyMismatch reports a node key that does not derive the id kept in
// the data dir: the key file was replaced or lost.
var ErrKeyMismatch = errors.New("node key does not match the data dir")

// Identity returns the node's key and the id it derives. The key is key
// when given (tests), else the one kept in dataDir (created the first
// time), else, for a node without a data dir, a new one. The id is recorded
// in st. A store whose id was made before node keys is upgraded: Identity
// returns that old id in formerID and records the new one; the caller
// wipes what was bound to the old id. A store whose key-derived id the key
// does not derive is refused with ErrKeyMismatch, and nothing is written.
func Identity(st store.Store, dataDir string, key ed25519.PrivateKey) (_ ed25519.PrivateKey, id, formerID string, err error) {
	stored := ""
	switch v, err := st.Get(bucketNode, keyID); {
	case err == nil:
		stored = string(v)
		if err := wire.ValidateNodeID(stored); err != nil {
			return nil, "", "", fmt.Errorf("stored node id: %w", err)
		}
	case !errors.Is(err, store.ErrNotFound):
		return nil, "", "", fmt.Errorf("read node id: %w", err)
	}
	keyPath := filepath.Join(dataDir, identity.KeyFile)
	if key == nil && dataDir != "" && identity.IsKeyID(stored) {
		if _, err := os.Stat(keyPath); errors.Is(err, fs.ErrNotExist) {
			return nil, "", "", fmt.Errorf("%w: %s is missing; this data dir belongs to node %s, whose key it was: restore that file", ErrKeyMismatch, keyPath, stored)
		}
	}
	switch {
	case key != nil:
	case dataDir != "":
		if key, _, err = identity.LoadOrCreate(dataDir); err != nil {
			return nil, "", "", err
		}
	default:
		if key, err = identity.Generate(); err != nil {
			return nil, "", "", err
		}
	}
	id = identity.IDFromKey(identity.Public(key))
	switch {
	case stored == id:
		return key, id, "", nil
	case identity.IsKeyID(stored):
		return nil, "", "", fmt.Errorf("%w: %s derives id %s, but this data dir belongs to node %s: restore that node's %s", ErrKeyMismatch, keyPath, id, stored, identity.KeyFile)
	}
	if err := st.Write(store.Batch{Puts: []store.Put{{Bucket: bucketNode, Key: keyID, Value: []byte(id)}}}); err != nil {
		return nil, "", "", fmt.Errorf("store node id: %w", err)
	}
	return key, id, stored, nil
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
