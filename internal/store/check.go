package store

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/naivechain/naivechain/internal/block"
)

// Buckets of the layers above that Check knows how to check. The names
// are those of the vote engine (consensus/vote/persist.go) and the pow
// engine (consensus/pow/engine.go); the store cannot import them.
const (
	checkRaftLog    = "raft_log"    // 8-byte big-endian raft index -> entry
	checkPowEntries = "pow_entries" // 32-byte entry id -> 8-byte index of its block
	checkPowKept    = "pow_kept"    // 32-byte entry id -> entry
)

// maxProblems bounds the problems a report lists; the rest are counted.
const maxProblems = 100

// CheckOptions tunes Check. The zero value is ready to use.
type CheckOptions struct {
	// Timeout is how long to wait for the bolt file's lock, which a
	// running node holds, before refusing with ErrLocked. Default 1s.
	Timeout time.Duration
}

// CheckReport is what Check verified of a store and every problem it
// found.
type CheckReport struct {
	Path string
	// FileBytes is the bolt file's size, UsedBytes what its pages need.
	FileBytes, UsedBytes int64
	// Blocks were checked from genesis: decoding, hash and link; PoW of
	// them are proof-of-work blocks.
	Blocks, PoW uint64
	// Buckets counts the records of each caller bucket.
	Buckets map[string]int
	// Indexed counts the pow_entries entries checked against their blocks.
	Indexed int
	// BoltRead reports that the bolt file could be read at all;
	// BoltChecked that bbolt's own consistency check ran.
	BoltRead, BoltChecked bool
	// AppliedSeq is the last write-ahead log record the bolt file holds.
	AppliedSeq uint64
	// Logged and LogFiles: the bolt file is marked as written through the
	// log, and records that both log files exist (a missing one is then
	// lost records).
	Logged, LogFiles bool
	// Segments describes each write-ahead log file.
	Segments [2]string
	// Replay counts the records (and their blocks) above AppliedSeq: the
	// next start of a node replays them into the bolt file.
	Replay, ReplayBlocks int
	// Problems lists what is wrong, at most maxProblems of them; Dropped
	// counts the others.
	Problems []string
	Dropped  int
}

// OK reports whether no problem was found.
func (r *CheckReport) OK() bool { return len(r.Problems) == 0 }

func (r *CheckReport) problem(format string, args ...any) {
	if len(r.Problems) >= maxProblems {
		r.Dropped++
		return
	}
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// WriteTo writes the report for a person to read.
func (r *CheckReport) WriteTo(w io.Writer) (int64, error) {
	var sb strings.Builder
	fmt.Fprintf(&sb, "checked %s\n", r.Path)
	fmt.Fprintf(&sb, "  bolt file: %d bytes", r.FileBytes)
	if r.BoltRead {
		fmt.Fprintf(&sb, ", its pages need %d", r.UsedBytes)
	} else {
		sb.WriteString(", not readable")
	}
	if r.BoltChecked {
		sb.WriteString("; bbolt's consistency check ran")
	}
	sb.WriteString("\n")
	fmt.Fprintf(&sb, "  blocks: %d checked from genesis (decoding, hash, link), %d of them proof-of-work\n", r.Blocks, r.PoW)
	names := make([]string, 0, len(r.Buckets))
	for name := range r.Buckets {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		fmt.Fprintf(&sb, "  bucket %s: %d records\n", name, r.Buckets[name])
	}
	if r.Indexed > 0 {
		fmt.Fprintf(&sb, "  pow_entries: %d entries matched to their blocks\n", r.Indexed)
	}
	if r.BoltRead {
		fmt.Fprintf(&sb, "  write-ahead log: the bolt file holds records up to %d\n", r.AppliedSeq)
	} else {
		sb.WriteString("  write-ahead log: the bolt file's last record is unknown; records above 0 counted\n")
	}
	for _, s := range r.Segments {
		fmt.Fprintf(&sb, "    %s\n", s)
	}
	fmt.Fprintf(&sb, "    %d records (%d blocks) would be replayed at the next start\n", r.Replay, r.ReplayBlocks)
	if r.OK() {
		sb.WriteString("no problems found\n")
	} else {
		fmt.Fprintf(&sb, "problems found: %d\n", len(r.Problems)+r.Dropped)
		for _, p := range r.Problems {
			fmt.Fprintf(&sb, "  %s\n", p)
		}
		if r.Dropped > 0 {
			fmt.Fprintf(&sb, "  ... and %d more\n", r.Dropped)
		}
	}
	n, err := io.WriteString(w, sb.String())
	return int64(n), err
}

// Check verifies the store at path (the bolt file) and its write-ahead
// log, offline and read-only: it never writes to either and never replays
// the log. It checks the bolt file's size against its meta page, every
// block from genesis (decoding, hash, link), the caller buckets it knows
// (raft_log keys consecutive, pow_entries pointing at blocks that hold
// their entries, pow_kept ids matching their entries), bbolt's own
// consistency check, and the log's records (decoding, the records the
// next start would replay, no gap after the bolt file's seq).
//
// Problems go in the report. The error is for a store Check cannot look
// at: a missing file, one that is not a naivechain store (ErrNotAStore),
// or one a running node holds (ErrLocked).
func Check(path string, opts CheckOptions) (*CheckReport, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = time.Second
	}
	r := &CheckReport{Path: path, Buckets: map[string]int{}}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	r.FileBytes = fi.Size()
	if err := checkSize(path); err != nil {
		r.problem("%v", trimAdvice(err))
	} else if err := r.checkBolt(path, opts.Timeout); err != nil {
		return nil, err
	}
	r.checkLog(path)
	return r, nil
}

// trimAdvice drops damageAdvice from an error's text: a report says what
// is wrong, the advice is for a node's refusal.
func trimAdvice(err error) string {
	return strings.TrimSuffix(strings.TrimSuffix(err.Error(), damageAdvice), "; ")
}

// checkBolt checks the bolt file, opened read-only.
func (r *CheckReport) checkBolt(path string, timeout time.Duration) error {
	var db *bolt.DB
	err := onDamagedPages(func() (err error) {
		// The free-page list is loaded here, where a damaged one is
		// recovered, not by bbolt's check on a goroutine of its own.
		db, err = bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: timeout, PreLoadFreelist: true})
		return err
	})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return fmt.Errorf("store: %s: %w (stop the node first: check reads a stopped node's store)", path, ErrLocked)
	case errors.Is(err, ErrCorrupt):
		r.problem("bolt file: %v", err)
		return nil
	case err != nil:
		return fmt.Errorf("store: %s is %w: %v", path, ErrNotAStore, err)
	}
	defer db.Close()
	if err := onDamagedPages(func() error { return db.View(checkLayout(path)) }); err != nil {
		if errors.Is(err, ErrNotAStore) {
			return err
		}
		r.problem("bolt file: %v", err)
		return nil
	}
	walked := true
	err = onDamagedPages(func() error {
		return db.View(func(tx *bolt.Tx) error {
			r.BoltRead = true
			r.UsedBytes = tx.Size()
			r.checkMeta(tx)
			r.checkBlocks(tx)
			r.checkBuckets(tx)
			return nil
		})
	})
	if err != nil {
		// A panic: bbolt's own check, which runs on a goroutine of its
		// own where it cannot be recovered, would meet the same page.
		r.problem("bolt file: %v (bbolt's consistency check skipped)", err)
		walked = false
	}
	if walked {
		var txid uint64
		_ = db.View(func(tx *bolt.Tx) error { txid = uint64(tx.ID()); return nil })
		if err := checkFixedPages(path, txid); err != nil {
			r.problem("bolt file: %v (bbolt's consistency check skipped)", err)
			walked = false
		}
	}
	if walked {
		_ = db.View(func(tx *bolt.Tx) error {
			for err := range tx.Check() {
				r.problem("bolt file: bbolt's consistency check: %v", err)
			}
			return nil
		})
		r.BoltChecked = true
	}
	return nil
}

// checkMeta reads the seq of the last log record the file holds and the
// marks of its log.
func (r *CheckReport) checkMeta(tx *bolt.Tx) {
	switch v := tx.Bucket(bucketMeta).Get(keyWALSeq); {
	case v == nil:
	case len(v) != 8:
		r.problem("bolt file: %s/%s is %d bytes, want 8", bucketMeta, keyWALSeq, len(v))
	default:
		r.AppliedSeq = binary.BigEndian.Uint64(v)
	}
	meta := tx.Bucket(bucketMeta)
	r.Logged = string(meta.Get(keyMagic)) == storeMagicLogged
	r.LogFiles = meta.Get(keyWALFiles) != nil
	if tx.Bucket(bucketKV) == nil {
		r.problem("bolt file: no bucket %s", bucketKV)
	}
}

// checkBlocks checks every block from genesis, and that every entry of a
// proof-of-work block is in pow_entries under its block's index.
func (r *CheckReport) checkBlocks(tx *bolt.Tx) {
	var index *bolt.Bucket
	if kv := tx.Bucket(bucketKV); kv != nil {
		index = kv.Bucket([]byte(checkPowEntries))
	}
	var prev block.Block
	havePrev := false
	want := uint64(0)
	c := tx.Bucket(bucketBlocks).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(k) != 8 {
			r.problem("block key %x is not 8 bytes", k)
			havePrev = false
			continue
		}
		i := keyIndex(k)
		if i != want {
			r.problem("blocks %d to %d are missing", want, i-1)
			havePrev = false
		}
		want = i + 1
		r.Blocks++
		blk, err := decodeBlock(i, v)
		if err != nil {
			r.problem("block %d: %v", i, err)
			havePrev = false
			continue
		}
		if blk.IsPoW() {
			r.PoW++
		}
		switch {
		case i == 0:
			if err := block.CheckGenesis(blk); err != nil {
				r.problem("block 0 is not the genesis block")
			}
		default:
			if err := checkStored(blk); err != nil {
				r.problem("%v", err)
			}
			if havePrev {
				if err := checkLink(prev, blk); err != nil {
					r.problem("%v", err)
				}
			}
		}
		if blk.IsPoW() && index != nil {
			r.checkIndexed(index, blk)
		}
		prev, havePrev = blk, true
	}
	if r.Blocks == 0 {
		r.problem("no blocks: not even the genesis block")
	}
}

// checkIndexed checks that every entry of blk is in pow_entries under
// blk's index.
func (r *CheckReport) checkIndexed(index *bolt.Bucket, blk block.Block) {
	entries, err := block.DecodeEntries(blk.Data)
	if err != nil {
		return // checkStored reported it
	}
	for _, e := range entries {
		id, _ := hex.DecodeString(block.EntryID(e))
		v := index.Get(id)
		switch {
		case v == nil:
			r.problem("%s: entry %x of block %d is not indexed", checkPowEntries, id, blk.Index)
		case len(v) != 8 || binary.BigEndian.Uint64(v) != blk.Index:
			r.problem("%s: entry %x of block %d is indexed under %x", checkPowEntries, id, blk.Index, v)
		default:
			r.Indexed++
		}
	}
}

// checkBuckets counts the caller buckets' records and checks those whose
// layout it knows.
func (r *CheckReport) checkBuckets(tx *bolt.Tx) {
	kv := tx.Bucket(bucketKV)
	if kv == nil {
		return
	}
	_ = kv.ForEach(func(name, v []byte) error {
		bk := kv.Bucket(name)
		if bk == nil {
			r.problem("%s holds a record %q outside of any bucket", bucketKV, name)
			return nil
		}
		n := bk.Stats().KeyN
		r.Buckets[string(name)] = n
		switch string(name) {
		case checkRaftLog:
			r.checkRaftLog(bk)
		case checkPowEntries:
			if n != r.Indexed {
				r.problem("%s: %d entries, but the chain's blocks hold %d", checkPowEntries, n, r.Indexed)
			}
		case checkPowKept:
			r.checkKept(bk)
		}
		return nil
	})
}

// checkRaftLog checks that the raft log's keys are consecutive indexes.
func (r *CheckReport) checkRaftLog(bk *bolt.Bucket) {
	var prev uint64
	first := true
	_ = bk.ForEach(func(k, v []byte) error {
		if len(k) != 8 {
			r.problem("%s: key %x is not 8 bytes", checkRaftLog, k)
			return nil
		}
		i := binary.BigEndian.Uint64(k)
		if !first && i != prev+1 {
			r.problem("%s: entries %d to %d are missing", checkRaftLog, prev+1, i-1)
		}
		if len(v) == 0 {
			r.problem("%s: entry %d is empty", checkRaftLog, i)
		}
		prev, first = i, false
		return nil
	})
}

// checkKept checks that each kept entry is stored under its id.
func (r *CheckReport) checkKept(bk *bolt.Bucket) {
	_ = bk.ForEach(func(k, v []byte) error {
		id, _ := hex.DecodeString(block.EntryID(string(v)))
		if !bytes.Equal(k, id) {
			r.problem("%s: the entry under %x has id %x", checkPowKept, k, id)
		}
		return nil
	})
}

// checkLog decodes both log segments and checks the records a start
// would replay: each decodes, their seqs follow the bolt file's without a
// gap, and their blocks' hashes hold.
func (r *CheckReport) checkLog(path string) {
	var recs []walRecord
	for i, p := range WALPaths(path) {
		name := filepath.Base(p)
		data, err := os.ReadFile(p)
		switch {
		case errors.Is(err, os.ErrNotExist):
			r.Segments[i] = name + ": absent"
			if r.LogFiles || r.Logged && i == 0 {
				r.problem("write-ahead log %s is missing: the bolt file says it was written, and it may hold acknowledged writes", name)
			}
			continue
		case err != nil:
			r.Segments[i] = name + ": unreadable"
			r.problem("write-ahead log %s: %v", name, err)
			continue
		}
		got, err := readSegment(data, r.AppliedSeq)
		if err != nil {
			r.Segments[i] = fmt.Sprintf("%s: %d bytes, damaged", name, len(data))
			r.problem("write-ahead log %s: damaged record: %v", name, err)
			continue
		}
		desc := fmt.Sprintf("%s: %d bytes, %d records", name, len(data), len(got))
		if len(got) > 0 {
			desc += fmt.Sprintf(" (seq %d to %d)", got[0].seq, got[len(got)-1].seq)
		}
		r.Segments[i] = desc
		for _, rec := range got {
			if rec.seq > r.AppliedSeq {
				recs = append(recs, rec)
			}
		}
	}
	slices.SortFunc(recs, func(a, b walRecord) int { return cmp.Compare(a.seq, b.seq) })
	base := r.AppliedSeq
	if !r.BoltRead && len(recs) > 0 {
		base = recs[0].seq - 1 // unknown: judge the log's records among themselves
	}
	for i, rec := range recs {
		if want := base + 1 + uint64(i); rec.seq != want {
			r.problem("write-ahead log: record %d is missing: the bolt file holds records up to %d and the log resumes at %d",
				want, r.AppliedSeq, rec.seq)
			break
		}
		r.Replay++
		r.ReplayBlocks += len(rec.batch.Blocks)
		for _, blk := range rec.batch.Blocks {
			if err := block.CheckHash(blk); err != nil && blk.Index > 0 {
				r.problem("write-ahead log record %d: block %d fails its hash: %v", rec.seq, blk.Index, err)
			}
		}
	}
}

// bbolt's page header: id, then flags (in the machine's byte order).
const (
	boltMetaPageFlag     = 0x04
	boltFreelistPageFlag = 0x10
	boltNoFreelist       = ^uint64(0)
)

// checkFixedPages checks the headers of the pages bbolt's consistency
// check asserts without the walk having read them: the two meta pages and
// the free-page list of the meta of transaction txid. That check runs on
// a goroutine of its own, where a failed assertion ("Page expected to be
// ...") ends the process instead of reporting the damage.
func checkFixedPages(path string, txid uint64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, boltPageHeaderLen+boltMetaLen)
	read := func(off int64) bool {
		clear(buf)
		_, err := f.ReadAt(buf, off)
		return err == nil || errors.Is(err, io.EOF)
	}
	ps := int64(os.Getpagesize())
	var metas []boltMeta
	if read(0) {
		if m, ok := parseBoltMeta(buf); ok {
			ps = int64(m.pageSize)
			metas = append(metas, m)
		}
	}
	if read(ps) {
		if m, ok := parseBoltMeta(buf); ok {
			metas = append(metas, m)
		}
	}
	header := func(id uint64, flags uint16, what string) error {
		if !read(int64(id) * ps) {
			return fmt.Errorf("%w: page %d (%s) cannot be read", ErrCorrupt, id, what)
		}
		ne := binary.NativeEndian
		if got, gotFlags := ne.Uint64(buf), ne.Uint16(buf[8:]); got != id || gotFlags != flags {
			return fmt.Errorf("%w: page %d (%s) has the header of page %d, flags %#x", ErrCorrupt, id, what, got, gotFlags)
		}
		return nil
	}
	if err := header(0, boltMetaPageFlag, "meta"); err != nil {
		return err
	}
	if err := header(1, boltMetaPageFlag, "meta"); err != nil {
		return err
	}
	for _, m := range metas {
		if m.txid == txid && m.freelist != boltNoFreelist {
			return header(m.freelist, boltFreelistPageFlag, "free-page list")
		}
	}
	return nil
}
