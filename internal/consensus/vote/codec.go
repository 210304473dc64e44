package vote

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/naivechain/naivechain/internal/block"
	"github.com/naivechain/naivechain/internal/chain"
	"github.com/naivechain/naivechain/internal/consensus"
	"go.etcd.io/raft/v3/raftpb"
)

// Payload kinds of the engine's messages. ONLY APPEND TO THIS LIST.
const (
	kindRaft        byte = 1  // uvarint network, a raftpb.Message
	kindJoin        byte = 2  // a JSON consensus.Member asking to be admitted
	kindJoinRefuse  byte = 3  // UTF-8 text: why a join was refused
	kindFetch       byte = 4  // uvarint from, uvarint count: send me these blocks
	kindBlocks      byte = 5  // uvarint from, uvarint count, blocks (catchup.go)
	kindRemoved     byte = 6  // uvarint raft id: that id was removed from the configuration
	kindAnnounce    byte = 7  // uvarint network, uvarint height, tip: a member's chain (merge.go)
	kindLocate      byte = 8  // uvarint n, n × (uvarint index, hash): a block locator
	kindHostRequest byte = 9  // an announce: the sender's network asks to move into ours
	kindHostAnswer  byte = 10 // byte ok, leader hint: the answer to a host request
	kindJoinDenied  byte = 11 // UTF-8 text: a join refused for its token (final)
	kindVouch       byte = 12 // the network's members, for a joiner (admission.go)
	kindConsent     byte = 13 // the receiver's join token, the sender's: consent to merge (consent.go)
)

// First bytes of the entries the engine proposes. ONLY APPEND.
const (
	batchVersion   byte = 1 // a batch of writes (data) from one proposer
	blocksVersion  byte = 2 // whole blocks taken from outside (a legacy peer)
	moveVersion    byte = 3 // this network moves to a better one (merge.go)
	hostVersion    byte = 4 // this network hosts another that moves here
	unhostVersion  byte = 5 // this network withdraws an offer to host another
	tokenVersion   byte = 6 // the network's join token (admission.go)
	consentVersion byte = 7 // consent to merge with the network of a token (consent.go)
)

// Bounds of one batch entry.
const (
	maxBatchItems = 4096
	maxBatchBytes = 1 << 20 // soft: a batch stops growing past it
)

// item is one write inside a batch: the proposer's sequence number and data.
type item struct {
	Seq  uint64
	Data string
}

// batch is the payload of one raft entry: writes from one proposer session.
//
// Session identifies one run of one proposer; Low is the smallest sequence
// number the proposer may still propose: every seq below it is resolved at
// the proposer and will never be proposed again. Together they let every
// member drop duplicates deterministically (see dedupe.go).
type batch struct {
	Session uint64
	Low     uint64
	Items   []item
}

func encodeBatch(b batch) []byte {
	n := 1 + 3*binary.MaxVarintLen64
	for _, it := range b.Items {
		n += 2*binary.MaxVarintLen64 + len(it.Data)
	}
	buf := make([]byte, 0, n)
	buf = append(buf, batchVersion)
	buf = binary.AppendUvarint(buf, b.Session)
	buf = binary.AppendUvarint(buf, b.Low)
	buf = binary.AppendUvarint(buf, uint64(len(b.Items)))
	for _, it := range b.Items {
		buf = binary.AppendUvarint(buf, it.Seq)
		buf = binary.AppendUvarint(buf, uint64(len(it.Data)))
		buf = append(buf, it.Data...)
	}
	return buf
}

func decodeBatch(buf []byte) (batch, error) { return parseBatch(buf, true) }

// checkBatch fails exactly where decodeBatch would, without building the
// batch: a follower checks every entry it receives, and decodes it again
// only to apply it.
func checkBatch(buf []byte) error {
	_, err := parseBatch(buf, false)
	return err
}

// parseBatch reads a batch, building its items only when keep is set.
func parseBatch(buf []byte, keep bool) (batch, error) {
	var b batch
	if len(buf) == 0 || buf[0] != batchVersion {
		return b, fmt.Errorf("%w: batch version", consensus.ErrMalformed)
	}
	r := reader{buf: buf[1:]}
	b.Session = r.uvarint()
	b.Low = r.uvarint()
	n := r.uvarint()
	if r.err == nil && n > maxBatchItems {
		return batch{}, fmt.Errorf("%w: batch of %d items", consensus.ErrMalformed, n)
	}
	if keep {
		b.Items = make([]item, 0, min(n, uint64(len(buf))))
	}
	for i := uint64(0); i < n && r.err == nil; i++ {
		seq := r.uvarint()
		l := r.uvarint()
		if r.err == nil && l > block.MaxDataLen {
			return batch{}, fmt.Errorf("%w: item of %d bytes", consensus.ErrMalformed, l)
		}
		data := r.bytes(l)
		if keep {
			b.Items = append(b.Items, item{Seq: seq, Data: string(data)})
		}
	}
	if r.err != nil {
		return batch{}, r.err
	}
	if len(r.buf) != 0 {
		return batch{}, fmt.Errorf("%w: %d trailing bytes", consensus.ErrMalformed, len(r.buf))
	}
	return b, nil
}

// reader decodes varints and byte strings, remembering the first error.
type reader struct {
	buf []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.buf)
	if n <= 0 {
		r.err = fmt.Errorf("%w: bad varint", consensus.ErrMalformed)
		return 0
	}
	r.buf = r.buf[n:]
	return v
}

// string reads a length-prefixed string of at most limit bytes.
func (r *reader) string(limit uint64) string {
	l := r.uvarint()
	if r.err == nil && l > limit {
		r.err = fmt.Errorf("%w: field of %d bytes", consensus.ErrMalformed, l)
	}
	return string(r.bytes(l))
}

// ErrPoWBlock reports a proof-of-work block handed to the engine's block
// codec. A vote chain holds classic blocks only, and the codec carries
// their four fields: encoding a proof-of-work block would drop its
// timestamp, nonce and difficulty and send a different block, so it is
// refused instead.
var ErrPoWBlock = errors.New("vote: proof-of-work blocks cannot be carried (a vote chain holds classic blocks)")

// appendBlock and readBlock encode a classic block without its index:
// previous_hash, data and curr_hash, each length-prefixed. appendBlock
// refuses a proof-of-work block (ErrPoWBlock) and leaves buf as it was.
func appendBlock(buf []byte, b block.Block) ([]byte, error) {
	if b.IsPoW() {
		return buf, fmt.Errorf("%w: block %d", ErrPoWBlock, b.Index)
	}
	buf = appendString(buf, b.PreviousHash)
	buf = appendString(buf, b.Data)
	return appendString(buf, b.CurrHash), nil
}

func (r *reader) block(index uint64) block.Block {
	return block.Block{Index: index, PreviousHash: r.string(256), Data: r.string(block.MaxDataLen), CurrHash: r.string(256)}
}

func (r *reader) bytes(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.buf)) {
		r.err = fmt.Errorf("%w: truncated", consensus.ErrMalformed)
		return nil
	}
	b := r.buf[:n]
	r.buf = r.buf[n:]
	return b
}

// encodeMember and decodeMember carry member addresses in join requests
// and raft configuration-change contexts.
func encodeMember(m consensus.Member) []byte {
	b, _ := json.Marshal(m) // a struct of strings always encodes
	return b
}

func decodeMember(b []byte) (consensus.Member, error) {
	var m consensus.Member
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%w: member: %v", consensus.ErrMalformed, err)
	}
	if err := ValidateMember(m); err != nil {
		return m, err
	}
	return m, nil
}

// ValidateMember checks the fields of a member record from outside.
func ValidateMember(m consensus.Member) error {
	if !validID(m.ID) {
		return fmt.Errorf("%w: member id %q", consensus.ErrMalformed, m.ID)
	}
	if len(m.Host) == 0 || len(m.Host) > 253 || !validPort(m.Port) || (m.HTTPPort != "" && !validPort(m.HTTPPort)) {
		return fmt.Errorf("%w: member address %q:%q", consensus.ErrMalformed, m.Host, m.Port)
	}
	for i := 0; i < len(m.Host); i++ {
		if c := m.Host[i]; c <= ' ' || c >= 0x7f || c == '/' {
			return fmt.Errorf("%w: member host %q", consensus.ErrMalformed, m.Host)
		}
	}
	return memberKey(m)
}

func validID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func validPort(s string) bool {
	if len(s) == 0 || len(s) > 5 {
		return false
	}
	v := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
		v = v*10 + int(s[i]-'0')
	}
	return v >= 1 && v <= 65535
}

// maxEntryBlocks bounds the blocks of one blocks entry.
const maxEntryBlocks = 4096

// encodeBlocks encodes a blocks entry: blocks that must be appended as
// they are, and only if the first links to the tip when applied. It
// refuses an entry holding a proof-of-work block (ErrPoWBlock).
func encodeBlocks(blocks []block.Block) ([]byte, error) {
	buf := binary.AppendUvarint([]byte{blocksVersion}, uint64(len(blocks)))
	for _, b := range blocks {
		var err error
		if buf, err = appendBlock(buf, b); err != nil {
			return nil, err
		}
	}
	return buf, nil
}

// decodeBlocksEntry decodes a blocks entry. Indexes are left 0: they come
// from the chain when the entry is applied.
func decodeBlocksEntry(buf []byte) ([]block.Block, error) {
	if len(buf) == 0 || buf[0] != blocksVersion {
		return nil, fmt.Errorf("%w: blocks entry version", consensus.ErrMalformed)
	}
	r := reader{buf: buf[1:]}
	n := r.uvarint()
	if r.err == nil && (n == 0 || n > maxEntryBlocks) {
		return nil, fmt.Errorf("%w: blocks entry of %d blocks", consensus.ErrMalformed, n)
	}
	blocks := make([]block.Block, 0, min(n, uint64(len(buf))))
	for i := uint64(0); i < n && r.err == nil; i++ {
		blocks = append(blocks, r.block(0))
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.buf) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", consensus.ErrMalformed, len(r.buf))
	}
	return blocks, nil
}

// checkEntryData decodes a normal entry of either kind.
func checkEntryData(data []byte) error {
	if len(data) > 0 && data[0] == blocksVersion {
		_, err := decodeBlocksEntry(data)
		return err
	}
	if len(data) > 0 && data[0] == moveVersion {
		_, err := decodeMove(data)
		return err
	}
	if len(data) > 0 && (data[0] == hostVersion || data[0] == unhostVersion) {
		_, _, err := decodeHost(data)
		return err
	}
	if len(data) > 0 && data[0] == tokenVersion {
		_, err := decodeTokenEntry(data)
		return err
	}
	if len(data) > 0 && data[0] == consentVersion {
		_, err := decodeConsentEntry(data)
		return err
	}
	return checkBatch(data)
}

func encodeJoin(m consensus.Member, token string) []byte {
	b, _ := json.Marshal(joinRequest{Member: m, Token: token}) // strings always encode
	return b
}

func decodeJoin(b []byte) (joinRequest, error) {
	var j joinRequest
	if err := json.Unmarshal(b, &j); err != nil {
		return j, fmt.Errorf("%w: join: %v", consensus.ErrMalformed, err)
	}
	if err := ValidateMember(j.Member); err != nil {
		return j, err
	}
	if len(j.Token) > maxTokenLen {
		return j, fmt.Errorf("%w: join token of %d bytes", consensus.ErrMalformed, len(j.Token))
	}
	return j, nil
}

func encodeTokenEntry(token string) []byte { return append([]byte{tokenVersion}, token...) }

func decodeTokenEntry(buf []byte) (string, error) { return decodeTokenOf(tokenVersion, "token", buf) }

// decodeTokenOf reads an entry of version that holds a join token: the
// network's (token entry) or another network's (consent entry).
func decodeTokenOf(version byte, what string, buf []byte) (string, error) {
	if len(buf) == 0 || buf[0] != version || !ValidToken(string(buf[1:])) {
		return "", fmt.Errorf("%w: %s entry", consensus.ErrMalformed, what)
	}
	return string(buf[1:]), nil
}

// encodeVouch lists the network's members for a joiner: uvarint count, then
// uvarint raft id and node id of each.
func encodeVouch(ms map[uint64]consensus.Member) []byte {
	ids := make([]uint64, 0, len(ms))
	for id := range ms {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	buf := binary.AppendUvarint(nil, uint64(len(ids)))
	for _, id := range ids {
		buf = binary.AppendUvarint(buf, id)
		buf = appendString(buf, ms[id].ID)
	}
	return buf
}

func decodeVouch(body []byte) (map[uint64]string, error) {
	r := reader{buf: body}
	n := r.uvarint()
	if r.err == nil && n > maxVouched {
		return nil, fmt.Errorf("%w: %d members vouched", consensus.ErrMalformed, n)
	}
	out := make(map[uint64]string, min(n, maxVouched))
	for i := uint64(0); i < n && r.err == nil; i++ {
		id := r.uvarint()
		node := r.string(64)
		if r.err == nil && (id == 0 || !validID(node)) {
			return nil, fmt.Errorf("%w: vouched member", consensus.ErrMalformed)
		}
		out[id] = node
	}
	if r.err != nil || len(r.buf) != 0 {
		return nil, fmt.Errorf("%w: vouch", consensus.ErrMalformed)
	}
	return out, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decodeBlocks decodes a kindBlocks body.
func decodeBlocks(body []byte) (uint64, []block.Block, error) {
	r := reader{buf: body}
	start, n := r.uvarint(), r.uvarint()
	if r.err == nil && n > maxFetchBlocks {
		return 0, nil, fmt.Errorf("%w: %d blocks in one answer", consensus.ErrMalformed, n)
	}
	blocks := make([]block.Block, 0, min(n, uint64(len(body))))
	for i := uint64(0); i < n && r.err == nil; i++ {
		blocks = append(blocks, r.block(start+i))
	}
	if r.err != nil {
		return 0, nil, r.err
	}
	if len(r.buf) != 0 {
		return 0, nil, fmt.Errorf("%w: %d trailing bytes", consensus.ErrMalformed, len(r.buf))
	}
	return start, blocks, nil
}

func encodeConsentEntry(c consent) []byte {
	return appendString(appendString([]byte{consentVersion}, c.Token), c.Peer)
}

func decodeConsentEntry(buf []byte) (consent, error) {
	if len(buf) == 0 || buf[0] != consentVersion {
		return consent{}, fmt.Errorf("%w: consent entry", consensus.ErrMalformed)
	}
	r := reader{buf: buf[1:]}
	c := consent{Token: r.string(maxTokenLen), Peer: r.string(64)}
	if r.err != nil || len(r.buf) != 0 || !validConsent(c) {
		return consent{}, fmt.Errorf("%w: consent entry", consensus.ErrMalformed)
	}
	return c, nil
}

// encodeConsent is a kindConsent: the receiver's network token, then the
// sender's.
func encodeConsent(yours, mine string) []byte {
	return appendString(appendString(nil, yours), mine)
}

func decodeConsent(body []byte) (yours, mine string, err error) {
	r := reader{buf: body}
	yours, mine = r.string(maxTokenLen), r.string(maxTokenLen)
	if r.err != nil || len(r.buf) != 0 || !ValidToken(yours) || !ValidToken(mine) {
		return "", "", fmt.Errorf("%w: consent", consensus.ErrMalformed)
	}
	return yours, mine, nil
}

// checkEntries rejects entries the engine could never apply, before raft
// stores them.
func checkEntries(ents []raftpb.Entry) error {
	for _, ent := range ents {
		switch ent.Type {
		case raftpb.EntryNormal:
			if len(ent.Data) == 0 {
				continue
			}
			if err := checkEntryData(ent.Data); err != nil {
				return err
			}
		case raftpb.EntryConfChange:
			var cc raftpb.ConfChange
			if err := cc.Unmarshal(ent.Data); err != nil {
				return fmt.Errorf("%w: conf change: %v", consensus.ErrMalformed, err)
			}
		default:
			return fmt.Errorf("%w: entry type %v", consensus.ErrMalformed, ent.Type)
		}
	}
	return nil
}

// forwardableConf reports whether a forwarded proposal changes the
// membership at most by adding learners (joins, which any member admits).
// Only the leader removes or promotes members: a member proposing that
// could remove any other, with a reason every member logs as fact.
func forwardableConf(ents []raftpb.Entry) bool {
	for _, ent := range ents {
		if ent.Type != raftpb.EntryConfChange {
			continue
		}
		var cc raftpb.ConfChange
		if err := cc.Unmarshal(ent.Data); err != nil || cc.Type != raftpb.ConfChangeAddLearnerNode {
			return false
		}
	}
	return true
}

func encodeAnnounce(a announce) []byte {
	b := binary.AppendUvarint(nil, a.Cluster)
	b = binary.AppendUvarint(b, a.Height)
	b = appendString(b, a.Tip)
	flag := byte(0)
	if a.Moving {
		flag = 1
	}
	return append(append(b, flag), a.TokenHash[:]...)
}

func decodeAnnounce(body []byte) (announce, error) {
	r := reader{buf: body}
	a, err := readAnnounce(&r)
	if err == nil && len(r.buf) != 0 {
		err = fmt.Errorf("%w: announce: %d trailing bytes", consensus.ErrMalformed, len(r.buf))
	}
	return a, err
}

// readAnnounce reads an announce from r.
func readAnnounce(r *reader) (announce, error) {
	a := announce{Cluster: r.uvarint(), Height: r.uvarint(), Tip: r.string(64)}
	flag := r.bytes(1)
	h := r.bytes(32)
	if r.err != nil || a.Cluster == 0 || a.Height == 0 || len(a.Tip) != 64 || flag[0] > 1 {
		return a, fmt.Errorf("%w: announce", consensus.ErrMalformed)
	}
	a.Moving = flag[0] == 1
	copy(a.TokenHash[:], h)
	return a, nil
}

// encodeHostRequest is a host request: an announce of the asking
// network, the host network's join token, which the asking network was
// given, and the asking network's own, with which its members will enter.
func encodeHostRequest(a announce, hostToken, ownToken string) []byte {
	return appendString(appendString(encodeAnnounce(a), hostToken), ownToken)
}

func decodeHostRequest(body []byte) (a announce, hostToken, ownToken string, err error) {
	r := reader{buf: body}
	if a, err = readAnnounce(&r); err != nil {
		return a, "", "", err
	}
	hostToken, ownToken = r.string(maxTokenLen), r.string(maxTokenLen)
	if r.err != nil || len(r.buf) != 0 || (ownToken != "" && !ValidToken(ownToken)) {
		return a, "", "", fmt.Errorf("%w: host request", consensus.ErrMalformed)
	}
	return a, hostToken, ownToken, nil
}

func encodeLocator(loc []chain.LocatorEntry) []byte {
	b := binary.AppendUvarint(nil, uint64(len(loc)))
	for _, l := range loc {
		b = binary.AppendUvarint(b, l.Index)
		b = appendString(b, l.Hash)
	}
	return b
}

func decodeLocator(body []byte) ([]chain.LocatorEntry, error) {
	r := reader{buf: body}
	n := r.uvarint()
	if r.err == nil && (n == 0 || n > chain.MaxLocatorEntries) {
		return nil, fmt.Errorf("%w: locator of %d entries", consensus.ErrMalformed, n)
	}
	loc := make([]chain.LocatorEntry, 0, min(n, chain.MaxLocatorEntries))
	for i := uint64(0); i < n && r.err == nil; i++ {
		loc = append(loc, chain.LocatorEntry{Index: r.uvarint(), Hash: r.string(64)})
	}
	if r.err != nil || len(r.buf) != 0 {
		return nil, fmt.Errorf("%w: locator", consensus.ErrMalformed)
	}
	return loc, nil
}

func encodeMove(m moveTarget) []byte {
	b := binary.AppendUvarint([]byte{moveVersion}, m.Cluster)
	b = appendString(b, m.Peer)
	b = binary.AppendUvarint(b, m.Height)
	b = appendString(b, m.Tip)
	return appendString(b, m.Token)
}

func decodeMove(buf []byte) (moveTarget, error) {
	if len(buf) == 0 || buf[0] != moveVersion {
		return moveTarget{}, fmt.Errorf("%w: move entry version", consensus.ErrMalformed)
	}
	r := reader{buf: buf[1:]}
	m := moveTarget{Cluster: r.uvarint(), Peer: r.string(64), Height: r.uvarint(), Tip: r.string(64), Token: r.string(maxTokenLen)}
	if r.err != nil || len(r.buf) != 0 || m.Cluster == 0 || !validID(m.Peer) || m.Height == 0 || len(m.Tip) != 64 || (m.Token != "" && !ValidToken(m.Token)) {
		return m, fmt.Errorf("%w: move entry", consensus.ErrMalformed)
	}
	return m, nil
}

// encodeHost encodes a host entry (version hostVersion) with the hosted
// network's join token, or the withdrawal of one (unhostVersion, no
// token).
func encodeHost(version byte, cluster uint64, token string) []byte {
	return appendString(binary.AppendUvarint([]byte{version}, cluster), token)
}

func decodeHost(buf []byte) (uint64, string, error) {
	if len(buf) == 0 || (buf[0] != hostVersion && buf[0] != unhostVersion) {
		return 0, "", fmt.Errorf("%w: host entry version", consensus.ErrMalformed)
	}
	r := reader{buf: buf[1:]}
	c := r.uvarint()
	token := r.string(maxTokenLen)
	if r.err != nil || len(r.buf) != 0 || c == 0 || (token != "" && !ValidToken(token)) {
		return 0, "", fmt.Errorf("%w: host entry", consensus.ErrMalformed)
	}
	return c, token, nil
}

// decodeRaft decodes a kindRaft body: the sender's network and the raft
// message.
func decodeRaft(body []byte) (network uint64, m raftpb.Message, err error) {
	r := reader{buf: body}
	network = r.uvarint()
	if r.err != nil {
		return 0, m, fmt.Errorf("%w: raft message network", consensus.ErrMalformed)
	}
	if err := m.Unmarshal(r.buf); err != nil {
		return 0, m, fmt.Errorf("%w: raft message: %v", consensus.ErrMalformed, err)
	}
	return network, m, nil
}
