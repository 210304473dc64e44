package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/naivechain/naivechain/internal/block"
)

// A write-ahead log segment is a file of records, written from offset 0:
//
//	u32 length of body (big-endian) | u32 CRC-32C of body | body
//	body = u64 seq (big-endian) | batch
//
// A segment's records are the longest run from offset 0 whose lengths are
// in range, whose checksums match and whose seqs count up by one. What
// ends the run must be one of:
//
//   - zeros: the segment's end (past its records a segment holds zeros:
//     the file grows by zeros written ahead of the records, and a reused
//     segment's old records are overwritten with zeros before its first
//     new record);
//   - a record with a matching checksum and a lower seq, of an older use
//     of the file by a build that did not zero it;
//   - a torn record, the one being written when the node crashed (its
//     fdatasync never returned, so it was never acknowledged): it reaches
//     past the file's end (a grow of the file cut short: then it began at
//     or before the last whole 1 MiB step), or one of its 512-byte sectors is still all
//     zeros, as etcd's WAL tells a torn write from a damaged one (a
//     sector is written whole or not at all); a header's last two bytes
//     of a sector, the length's high bytes, are zero either way and do
//     not count.
//
// Anything else is damage to what was written and acknowledged: a record
// whose checksum fails with no sector of zeros, a length out of range, or
// any record with a matching checksum and a seq above the run's found
// past its end (a record lost from the middle), or a file whose size is
// not a whole number of 1 MiB steps while its records run past the last
// whole step (the file was cut). Damage is ErrCorrupt: the
// store is refused, never opened without the records it lost.
//
// A batch is
//
//	uvarint detach | uvarint n | [uvarint index of the first block]
//	| n × (uvarint len | encoded block, as in the blocks bucket)
//	| uvarint deletes | deletes × (str bucket | str from | flag | [str to])
//	| uvarint puts | puts × (str bucket | str key | flag | [str value])
//
// where str is uvarint len | bytes and flag is 0 for a nil field, 1 for a
// present one. A record may hold the merge of consecutive batches (see
// appendRecord); it is replayed as that one batch.
//
// Records are written one at a time: a record's write starts only once the
// fdatasync of the one before it has returned, so that a torn record is
// always the last one.
const (
	walHeaderLen = 8
	// walSeqLen is the seq at the start of a record's body.
	walSeqLen = 8
	// walMaxBody bounds a record's body. A batch whose encoding is larger
	// goes to the bolt file directly.
	walMaxBody = 1 << 20
	// walGrow is the step by which a segment file is extended, with
	// zeros written ahead of the records, so that most record writes
	// overwrite allocated blocks and their fdatasync has no size to
	// record.
	walGrow = 1 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// errWALRecord reports a record body that passed its checksum and still
// does not decode: written by another build, or a bug.
var errWALRecord = errors.New("store: undecodable write-ahead log record")

// damage is damage found in the store's files: it is ErrCorrupt and
// kind, and its text says only what is wrong.
type damage struct {
	msg  string
	kind error
}

func (e *damage) Error() string   { return e.msg }
func (e *damage) Unwrap() []error { return []error{ErrCorrupt, e.kind} }

// damagedf reports damage to a segment's records.
func damagedf(format string, args ...any) error {
	return &damage{msg: "write-ahead log damaged: " + fmt.Sprintf(format, args...), kind: errWALRecord}
}

// appendRecord appends to dst the record with seq of the batch that
// merges bs: their blocks, then their deletes, then their puts, each in
// the order of bs. Only bs[0] may detach. A record decodes as that one
// batch, which applies as bs one after the other do as long as no delete
// of a batch covers a put of an earlier one (see mergeable).
func appendRecord(dst []byte, seq uint64, bs ...Batch) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, walHeaderLen)...)
	dst = binary.BigEndian.AppendUint64(dst, seq)
	dst = appendBatches(dst, bs)
	body := dst[start+walHeaderLen:]
	binary.BigEndian.PutUint32(dst[start:], uint32(len(body)))
	binary.BigEndian.PutUint32(dst[start+4:], crc32.Checksum(body, crcTable))
	return dst
}

// appendBatch appends the encoding of b to dst.
func appendBatch(dst []byte, b Batch) []byte { return appendBatches(dst, []Batch{b}) }

// appendBatches appends the encoding of the batch that merges bs (see
// appendRecord); no bs encodes an empty batch.
func appendBatches(dst []byte, bs []Batch) []byte {
	var detach uint64
	if len(bs) > 0 {
		detach = bs[0].Detach
	}
	var blocks, deletes, puts int
	var first uint64
	for _, b := range bs {
		if blocks == 0 && len(b.Blocks) > 0 {
			first = b.Blocks[0].Index
		}
		blocks += len(b.Blocks)
		deletes += len(b.Deletes)
		puts += len(b.Puts)
	}
	dst = binary.AppendUvarint(dst, detach)
	dst = binary.AppendUvarint(dst, uint64(blocks))
	if blocks > 0 {
		dst = binary.AppendUvarint(dst, first)
	}
	for _, b := range bs {
		for _, blk := range b.Blocks {
			dst = binary.AppendUvarint(dst, uint64(encodedLen(blk)))
			dst = appendBlock(dst, blk)
		}
	}
	str := func(s []byte) {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	opt := func(s []byte) {
		if s == nil {
			dst = append(dst, 0)
			return
		}
		dst = append(dst, 1)
		str(s)
	}
	dst = binary.AppendUvarint(dst, uint64(deletes))
	for _, b := range bs {
		for _, d := range b.Deletes {
			str([]byte(d.Bucket))
			str(d.From)
			opt(d.To)
		}
	}
	dst = binary.AppendUvarint(dst, uint64(puts))
	for _, b := range bs {
		for _, p := range b.Puts {
			str([]byte(p.Bucket))
			str(p.Key)
			opt(p.Value)
		}
	}
	return dst
}

// batchLen is len(appendBatch(nil, b)). The encoding of a merge of
// batches is never longer than the sum of theirs: its counts and first
// index take no more bytes than theirs together.
func batchLen(b Batch) int {
	str := func(n int) int { return varintLen(uint64(n)) + n }
	opt := func(s []byte) int {
		if s == nil {
			return 1
		}
		return 1 + str(len(s))
	}
	n := varintLen(b.Detach) + varintLen(uint64(len(b.Blocks)))
	if len(b.Blocks) > 0 {
		n += varintLen(b.Blocks[0].Index)
	}
	for _, blk := range b.Blocks {
		n += str(encodedLen(blk))
	}
	n += varintLen(uint64(len(b.Deletes)))
	for _, d := range b.Deletes {
		n += str(len(d.Bucket)) + str(len(d.From)) + opt(d.To)
	}
	n += varintLen(uint64(len(b.Puts)))
	for _, p := range b.Puts {
		n += str(len(p.Bucket)) + str(len(p.Key)) + opt(p.Value)
	}
	return n
}

// batchReader decodes a batch; the first error sticks.
type batchReader struct {
	buf []byte
	err error
}

func (r *batchReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", errWALRecord, fmt.Sprintf(format, args...))
	}
}

func (r *batchReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.buf)
	if n <= 0 || n != varintLen(v) {
		r.fail("bad varint")
		return 0
	}
	r.buf = r.buf[n:]
	return v
}

// count reads a count of items of at least one byte each.
func (r *batchReader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.buf)) {
		r.fail("count %d over the %d bytes left", n, len(r.buf))
		return 0
	}
	return int(n)
}

func (r *batchReader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.buf)) {
		r.fail("field of %d bytes, %d left", n, len(r.buf))
		return nil
	}
	v := make([]byte, n)
	copy(v, r.buf)
	r.buf = r.buf[n:]
	return v
}

func (r *batchReader) opt() []byte {
	if r.err != nil {
		return nil
	}
	if len(r.buf) == 0 || r.buf[0] > 1 {
		r.fail("bad presence flag")
		return nil
	}
	present := r.buf[0] == 1
	r.buf = r.buf[1:]
	if !present {
		return nil
	}
	return r.bytes()
}

// decodeBatch decodes what appendBatch wrote, and only that.
func decodeBatch(v []byte) (Batch, error) {
	r := &batchReader{buf: v}
	var b Batch
	b.Detach = r.uvarint()
	if n := r.count(); n > 0 {
		first := r.uvarint()
		b.Blocks = make([]block.Block, 0, n)
		for i := 0; i < n && r.err == nil; i++ {
			raw := r.bytes()
			if r.err != nil {
				break
			}
			blk, err := decodeBlock(first+uint64(i), raw)
			if err != nil {
				r.fail("%v", err)
				break
			}
			b.Blocks = append(b.Blocks, blk)
		}
	}
	if n := r.count(); n > 0 {
		b.Deletes = make([]DeleteRange, 0, n)
		for i := 0; i < n && r.err == nil; i++ {
			b.Deletes = append(b.Deletes, DeleteRange{Bucket: string(r.bytes()), From: r.bytes(), To: r.opt()})
		}
	}
	if n := r.count(); n > 0 {
		b.Puts = make([]Put, 0, n)
		for i := 0; i < n && r.err == nil; i++ {
			b.Puts = append(b.Puts, Put{Bucket: string(r.bytes()), Key: r.bytes(), Value: r.opt()})
		}
	}
	if r.err == nil && len(r.buf) != 0 {
		r.fail("%d trailing bytes", len(r.buf))
	}
	if r.err != nil {
		return Batch{}, r.err
	}
	return b, nil
}

// walRecord is one decoded record.
type walRecord struct {
	seq   uint64
	batch Batch
}

// walSector is the unit a disk writes whole: a torn record has a sector
// of zeros where its write did not reach.
const walSector = 512

// readSegment returns the records of a segment's contents (see above).
// floor is the last seq the bolt file holds: a record above it and above
// the run, found past the run's end, means records were lost. Damage is
// an error wrapping ErrCorrupt and errWALRecord, as is a record whose
// checksum matches and whose body does not decode.
func readSegment(data []byte, floor uint64) ([]walRecord, error) {
	var out []walRecord
	off := 0
	for len(data)-off >= walHeaderLen {
		n := int(binary.BigEndian.Uint32(data[off:]))
		sum := binary.BigEndian.Uint32(data[off+4:])
		if n == 0 && sum == 0 {
			break // zeros: the end
		}
		if err := tornOrDamaged(data, off, n); err != nil {
			return nil, err
		}
		if n < 8 || n > len(data)-off-walHeaderLen {
			break // torn
		}
		body := data[off+walHeaderLen : off+walHeaderLen+n]
		if crc32.Checksum(body, crcTable) != sum {
			break // torn: tornOrDamaged found its sector of zeros
		}
		seq := binary.BigEndian.Uint64(body)
		if len(out) > 0 && seq != out[len(out)-1].seq+1 {
			break // an older use of the file
		}
		b, err := decodeBatch(body[8:])
		if err != nil {
			return nil, damagedf("record %d at offset %d: %v", seq, off, err)
		}
		out = append(out, walRecord{seq: seq, batch: b})
		off += walHeaderLen + n
	}
	// The file grows in whole walGrow steps, written before the record
	// that needs them is: a size between steps is a grow that a crash
	// cut short, and the record that asked for it (the torn one) began
	// at or before the last whole step. Records running past that step
	// mean the file was cut after they were written.
	if size := len(data); size%walGrow != 0 && off > size/walGrow*walGrow {
		return nil, damagedf("the file is %d bytes, not a whole number of %d-byte steps, and its records run to offset %d: "+
			"it was cut short, and records past the cut may be lost", size, walGrow, off)
	}
	after := floor
	if len(out) > 0 {
		after = max(after, out[len(out)-1].seq)
	}
	if seq, at, ok := laterRecord(data, off, after); ok {
		return nil, damagedf("the records end at offset %d and record %d follows at offset %d: records were lost", off, seq, at)
	}
	return out, nil
}

// tornOrDamaged judges the record whose header at off gives body length n
// and is not all zeros. It returns nil when the record is whole (in range,
// within the file; its checksum is the caller's to check) or may be torn,
// and an error wrapping ErrCorrupt when it is neither.
func tornOrDamaged(data []byte, off, n int) error {
	damaged := func(why string) error {
		return damagedf("the record at offset %d %s", off, why)
	}
	switch {
	case n > walMaxBody:
		// A record's length is below 2^24: a torn header (a sector of
		// zeros in its first bytes) reads shorter, never longer.
		return damaged(fmt.Sprintf("has length %d, above the limit %d", n, walMaxBody))
	case n < 8:
		if zeroSector(data, off, off+walHeaderLen) {
			return nil
		}
		return damaged(fmt.Sprintf("has length %d, below a record's least", n))
	case n > len(data)-off-walHeaderLen:
		// It reaches past the file's end: its write grew the file and the
		// new size was never made durable, so neither was the record.
		return nil
	}
	end := off + walHeaderLen + n
	if crc32.Checksum(data[off+walHeaderLen:end], crcTable) == binary.BigEndian.Uint32(data[off+4:]) {
		return nil
	}
	// A piece of the header in the last two bytes of a sector holds only
	// the length's high bytes: zero whether written or not for a record
	// below 64 KiB, and n was read from it. It is no evidence of a torn
	// write (a torn larger record has other sectors of zeros, as a rule).
	from := off
	if next := (off/walSector + 1) * walSector; next-off <= 2 {
		from = next
	}
	if zeroSector(data, from, end) {
		return nil
	}
	return damaged(fmt.Sprintf("fails its checksum (%d bytes, no sector of zeros: not a torn write)", n))
}

// zeroSector reports whether some piece of data[from:to] that lies in one
// 512-byte sector of the file is all zeros: the part of a torn write that
// never reached the disk.
func zeroSector(data []byte, from, to int) bool {
	for lo := from; lo < to; {
		hi := min((lo/walSector+1)*walSector, to)
		zero := true
		for _, c := range data[lo:hi] {
			if c != 0 {
				zero = false
				break
			}
		}
		if zero {
			return true
		}
		lo = hi
	}
	return false
}

// laterRecord looks in data from offset from on for a record whose
// checksum matches and whose seq is above after, and returns the first.
func laterRecord(data []byte, from int, after uint64) (seq uint64, at int, ok bool) {
	for p := from; len(data)-p >= walHeaderLen+walSeqLen; p++ {
		n := int(binary.BigEndian.Uint32(data[p:]))
		if n < walSeqLen || n > walMaxBody || n > len(data)-p-walHeaderLen {
			continue
		}
		body := data[p+walHeaderLen : p+walHeaderLen+n]
		s := binary.BigEndian.Uint64(body)
		if s <= after || crc32.Checksum(body, crcTable) != binary.BigEndian.Uint32(data[p+4:]) {
			continue
		}
		return s, p, true
	}
	return 0, 0, false
}

// segment is one write-ahead log file, created by its first write.
type segment struct {
	path string
	f    *os.File // nil until the file exists
	off  int64    // where the next record goes
	size int64    // the file's size; past off it holds zeros or stale bytes
	// dirty is how far the file may hold bytes other than zeros: records
	// of an earlier use, overwritten with zeros before the first record
	// of the next one (see readSegment).
	dirty int64
	// first and last are the seqs of the records written since off was
	// last set to 0; records counts them, and blocks and batches count the
	// blocks and the (non-empty) batches they hold: a record holds one
	// batch or the merge of several.
	first, last uint64
	records     int
	blocks      int
	batches     int
}

// openSegment opens the segment at path if it exists and reads it whole.
func openSegment(path string) (*segment, []byte, error) {
	s := &segment{path: path}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	s.f, s.size, s.dirty = f, int64(len(data)), int64(len(data))
	return s, data, nil
}

// create makes the segment's file, and makes its name durable.
func (s *segment) create() error {
	f, err := os.OpenFile(s.path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if err := syncDir(filepath.Dir(s.path)); err != nil {
		f.Close()
		return err
	}
	s.f = f
	return nil
}

// close closes the file if there is one.
func (s *segment) close() error {
	if s.f == nil {
		return nil
	}
	return s.f.Close()
}

// reset makes the segment empty: the next record goes at offset 0. Its
// old records stay in the file until overwritten; they are all applied to
// the bolt file already, and their seqs are lower than any new one.
func (s *segment) reset() {
	s.off, s.first, s.last, s.records, s.blocks, s.batches = 0, 0, 0, 0, 0, 0
}

// append writes rec (holding the given numbers of blocks and batches) at
// the segment's end and fdatasyncs it. A write that would pass the file's
// end first extends the file with zeros.
func (s *segment) append(rec []byte, seq uint64, blocks, batches int) error {
	if s.f == nil {
		if err := s.create(); err != nil {
			return err
		}
	}
	if s.off == 0 && s.dirty > 0 {
		// The records of the segment's last use are in the bolt file:
		// zeros over them, flushed with this record, so that what follows
		// the new records is zeros.
		if err := s.zero(s.dirty); err != nil {
			return err
		}
		s.dirty = 0
	}
	end := s.off + int64(len(rec))
	if end > s.size {
		grown := (end + walGrow - 1) / walGrow * walGrow
		if _, err := s.f.WriteAt(make([]byte, grown-s.size), s.size); err != nil {
			return err
		}
		s.size = grown
	}
	if _, err := s.f.WriteAt(rec, s.off); err != nil {
		return err
	}
	if err := fdatasync(s.f); err != nil {
		return err
	}
	if s.records == 0 {
		s.first = seq
	}
	s.off, s.last = end, seq
	s.dirty = max(s.dirty, end)
	s.records++
	s.blocks += blocks
	s.batches += batches
	return nil
}

// zeroChunk is what segment.zero writes at a time.
var zeroChunk = make([]byte, 64<<10)

// zero overwrites the file's first n bytes with zeros.
func (s *segment) zero(n int64) error {
	for off := int64(0); off < n; {
		c := min(n-off, int64(len(zeroChunk)))
		if _, err := s.f.WriteAt(zeroChunk[:c], off); err != nil {
			return err
		}
		off += c
	}
	return nil
}
