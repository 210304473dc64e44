package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"naivechain/internal/block"
)

// A write-ahead log segment is a file of records, written from offset 0:
//
//	u32 length of body (big-endian) | u32 CRC-32C of body | body
//	body = u64 seq (big-endian) | batch
//
// A segment's records are the longest run from offset 0 whose lengths are
// in range, whose checksums match and whose seqs count up by one. The
// first record that breaks the run ends the segment: what follows is
// zeros, a torn record that was never acknowledged (its fsync did not
// return), or records of an older use of the file, whose seqs are lower.
// A record whose checksum fails while the next record of the run follows
// it was damaged after it was written: that is an error, not an end.
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

// readSegment returns the records of a segment's contents (see above).
// A record whose checksum matches but whose body does not decode is an
// error.
func readSegment(data []byte) ([]walRecord, error) {
	var out []walRecord
	for off := 0; len(data)-off >= walHeaderLen; {
		n := int(binary.BigEndian.Uint32(data[off:]))
		if n < 8 || n > walMaxBody || n > len(data)-off-walHeaderLen {
			break
		}
		body := data[off+walHeaderLen : off+walHeaderLen+n]
		if crc32.Checksum(body, crcTable) != binary.BigEndian.Uint32(data[off+4:]) {
			// A torn last record is followed by zeros or by older
			// records, never by the next one: if that follows, this
			// record was written whole and damaged since.
			if len(out) > 0 {
				if next, ok := recordAt(data, off+walHeaderLen+n); ok && next == out[len(out)-1].seq+2 {
					return nil, fmt.Errorf("%w: %w: record %d at offset %d fails its checksum and record %d follows it",
						ErrCorrupt, errWALRecord, next-1, off, next)
				}
			}
			break
		}
		seq := binary.BigEndian.Uint64(body)
		if len(out) > 0 && seq != out[len(out)-1].seq+1 {
			break
		}
		b, err := decodeBatch(body[8:])
		if err != nil {
			return nil, fmt.Errorf("record %d at offset %d: %w", seq, off, err)
		}
		out = append(out, walRecord{seq: seq, batch: b})
		off += walHeaderLen + n
	}
	return out, nil
}

// recordAt returns the seq of the record at off if one with a matching
// checksum is there.
func recordAt(data []byte, off int) (uint64, bool) {
	if off < 0 || len(data)-off < walHeaderLen {
		return 0, false
	}
	n := int(binary.BigEndian.Uint32(data[off:]))
	if n < 8 || n > walMaxBody || n > len(data)-off-walHeaderLen {
		return 0, false
	}
	body := data[off+walHeaderLen : off+walHeaderLen+n]
	if crc32.Checksum(body, crcTable) != binary.BigEndian.Uint32(data[off+4:]) {
		return 0, false
	}
	return binary.BigEndian.Uint64(body), true
}

// segment is one write-ahead log file, created by its first write.
type segment struct {
	path string
	f    *os.File // nil until the file exists
	off  int64    // where the next record goes
	size int64    // the file's size; past off it holds zeros or stale bytes
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
	s.f, s.size = f, int64(len(data))
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
	s.records++
	s.blocks += blocks
	s.batches += batches
	return nil
}
