package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"runtime/debug"

	"github.com/naivechain/naivechain/internal/block"
)

// What to do about a damaged store, said in every refusal, so that an
// operator reading one line knows the next step.
const damageAdvice = "run `naivechain check --data-dir DIR` on the stopped node for the full list, " +
	"then restore the data dir from a backup, or move it away and let the node fetch the chain from its network again"

// Layout of a bbolt meta page (bbolt's format version 2): a 16-byte page
// header, then magic, version, page size and flags (4 bytes each), the
// root bucket (root page, sequence), the freelist page, pgid (the
// high-water mark: the pages in use), txid and a checksum (8 bytes each),
// in the machine's byte order. The checksum is FNV-64a of the meta before
// it.
const (
	boltPageHeaderLen = 16
	boltMetaLen       = 4*4 + 8*6
	boltMagic         = 0xED0CDAED
	boltVersion       = 2
)

// boltMeta is what checkSize reads of a bolt meta page.
type boltMeta struct {
	pageSize   uint32
	freelist   uint64
	pgid, txid uint64
}

// parseBoltMeta decodes the meta page at the start of p. ok is false
// unless the page holds a meta of bbolt's version 2 whose checksum
// matches, as bbolt itself would accept.
func parseBoltMeta(p []byte) (m boltMeta, ok bool) {
	if len(p) < boltPageHeaderLen+boltMetaLen {
		return m, false
	}
	meta := p[boltPageHeaderLen : boltPageHeaderLen+boltMetaLen]
	ne := binary.NativeEndian
	if ne.Uint32(meta[0:]) != boltMagic || ne.Uint32(meta[4:]) != boltVersion {
		return m, false
	}
	h := fnv.New64a()
	h.Write(meta[:boltMetaLen-8])
	if h.Sum64() != ne.Uint64(meta[boltMetaLen-8:]) {
		return m, false
	}
	m = boltMeta{pageSize: ne.Uint32(meta[8:]), freelist: ne.Uint64(meta[32:]), pgid: ne.Uint64(meta[40:]), txid: ne.Uint64(meta[48:])}
	// A page size bbolt would never write: not a meta to trust.
	if m.pageSize < 512 || m.pageSize > 1<<20 || m.pageSize&(m.pageSize-1) != 0 || m.pgid < 2 {
		return boltMeta{}, false
	}
	return m, true
}

// checkSize refuses a bolt file that is empty, or shorter than the pages
// its newest valid meta page says are in use: bbolt would map those
// missing pages and fault on them, or panic on what it finds there. A
// file without a valid meta page is left to bbolt, which refuses it.
func checkSize(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	size := fi.Size()
	if size == 0 {
		return fmt.Errorf("store: %s: %w: the file is empty (0 bytes), but a store is never empty once created; "+
			"if this node never held a chain (a crash while the file was created), remove the file; otherwise %s",
			path, ErrCorrupt, damageAdvice)
	}
	buf := make([]byte, boltPageHeaderLen+boltMetaLen)
	read := func(off int64) (boltMeta, bool) {
		if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
			return boltMeta{}, false
		}
		return parseBoltMeta(buf)
	}
	m0, ok0 := read(0)
	ps := int64(os.Getpagesize())
	if ok0 {
		ps = int64(m0.pageSize)
	}
	clear(buf)
	m1, ok1 := read(ps)
	m := m0
	switch {
	case !ok0 && !ok1:
		return nil
	case !ok0 || ok1 && m1.txid > m0.txid:
		m = m1
	}
	if need := int64(m.pgid) * int64(m.pageSize); size < need {
		return fmt.Errorf("store: %s: %w: the file is truncated: %d bytes, its pages need %d (%d pages of %d bytes); %s",
			path, ErrCorrupt, size, need, m.pgid, m.pageSize, damageAdvice)
	}
	return nil
}

// guard turns a panic inside a bbolt call into an ErrCorrupt error in
// *err: bbolt asserts the pages it reads ("Page expected to be ..."), and
// a damaged page must fail the call, not the node. Deferred together with
// debug.SetPanicOnFault(true), a fault on the file's mapping (it shrank
// under the node) is such a panic too.
func guard(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: bbolt failed on a damaged page: %v", ErrCorrupt, r)
	}
}

// onDamagedPages runs fn (a bbolt call) so that a panic or a memory fault
// inside it returns an ErrCorrupt error instead.
func onDamagedPages(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer guard(&err)
	return fn()
}

// checkStored checks a block read from disk: its hash (block.CheckHash).
// The link to the block before it is the caller's to check where it reads
// both.
func checkStored(b block.Block) error {
	if err := block.CheckHash(b); err != nil {
		var re *block.RuleError
		if errors.As(err, &re) {
			err = re.Err
		}
		return fmt.Errorf("%w: block %d as read from disk fails its hash: %v", ErrCorrupt, b.Index, err)
	}
	return nil
}

// checkLink checks that b, read from disk, links to prev, the block read
// before it.
func checkLink(prev, b block.Block) error {
	if b.Index != prev.Index+1 || b.PreviousHash != prev.CurrHash {
		return fmt.Errorf("%w: block %d as read from disk does not link to block %d: %v",
			ErrCorrupt, b.Index, prev.Index, block.ErrBrokenLink)
	}
	return nil
}

// Damaged is implemented by a store that checks what it reads from disk
// (Bolt, Logged). Damage returns the first corruption it found, nil if
// none; from then on the store refuses every write, so that a node stops
// adding to a chain it can no longer read whole.
type Damaged interface {
	Damage() error
}

// Damage returns st's Damage when st implements Damaged, else nil.
func Damage(st Store) error {
	if d, ok := st.(Damaged); ok {
		return d.Damage()
	}
	return nil
}
