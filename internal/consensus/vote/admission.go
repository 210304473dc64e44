package vote

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"

	"github.com/naivechain/naivechain/internal/consensus"
	"github.com/naivechain/naivechain/internal/identity"
	"github.com/naivechain/naivechain/internal/store"
)

// Admission. A vote network admits a node only with its consent: the join
// token. The founder records the token in the network's replicated state
// (a token entry, then every snapshot), so every member can check the
// token a joiner presents, and a member removed while away can enter again
// with it. A member that admits a join vouches for the network's members
// to the joiner (kindVouch): until the joiner has applied its own
// admission, it takes raft messages only from those. Every raft message is
// believed only from the member whose raft id it carries (checked against
// the authenticated link it came on).

// Bounds of the admission messages.
const (
	maxTokenLen   = consensus.MaxTokenLen
	maxVouched    = 1024
	maxDeniedText = 512
)

// joinRequest is the body of a kindJoin: the member asking and the token
// it presents.
type joinRequest struct {
	consensus.Member
	Token string `json:"token"`
}

// ValidToken reports whether s can be a join token: 16 to 128 printable
// ASCII bytes without spaces.
func ValidToken(s string) bool { return consensus.ValidJoinToken(s) }

// tokenMatches compares a presented token with the network's in constant
// time (of their hashes, so lengths leak nothing either).
func tokenMatches(presented, network string) bool {
	if network == "" || presented == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(presented)), sha256.Sum256([]byte(network))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// applyToken records the network's token; the first one committed stays.
func (e *Engine) applyToken(ent []byte) {
	t, err := decodeTokenEntry(ent)
	if err != nil {
		e.log.Error("skipping an undecodable token entry", "err", err)
		return
	}
	if e.token == "" {
		e.token = t
		e.log.Debug("the network's join token is recorded")
	}
}

// proposeToken runs on the leader of a network with no token yet, its
// founder: the founder's token is proposed, again each election timeout
// until it is applied.
func (e *Engine) proposeToken() {
	if e.token != "" || e.cfg.JoinToken == "" || e.now-e.tokenAt < e.cfg.ElectionTicks && e.tokenAt != 0 {
		return
	}
	e.tokenAt = e.now
	_ = e.rn.Propose(encodeTokenEntry(e.cfg.JoinToken))
}

// presentedToken is the token this node presents when it asks to enter a
// network: that of the network it is moving to, else the one its operator
// gave it, else the one of the network it was a member of (entering it
// again after a removal).
func (e *Engine) presentedToken() string {
	switch {
	case e.moveToken != "":
		return e.moveToken
	case e.cfg.JoinToken != "":
		return e.cfg.JoinToken
	}
	return e.token
}

// stepVouch takes the members a member of the network lists: from the node
// this one is joining through (or entering again through), or from a
// member of its own network.
func (e *Engine) stepVouch(from string, body []byte) error {
	ms, err := decodeVouch(body)
	if err != nil {
		return err
	}
	if from != e.joinVia && from != e.mem.rejoinVia && !e.isMemberID(from) {
		return nil
	}
	if len(e.vouched)+len(ms) > maxVouched {
		clear(e.vouched)
	}
	for id, n := range ms {
		if id != e.id {
			e.vouched[id] = n
		}
	}
	e.admitted = true
	return nil
}

// stepDenied takes the refusal of a join: final for the token presented.
func (e *Engine) stepDenied(from string, body []byte) error {
	if len(body) > maxDeniedText {
		return fmt.Errorf("%w: denial too long", consensus.ErrMalformed)
	}
	if from != e.joinVia && from != e.mem.rejoinVia {
		return nil
	}
	e.denied = fmt.Sprintf("%s refused to admit this node: %s", from, body)
	e.log.Warn("join refused", "by", from, "reason", string(body))
	return nil
}

// raftOwner returns the node id a raft message's sender must come from: a
// member's, or, before this node has applied its admission, one vouched by
// a member.
func (e *Engine) raftOwner(id uint64) (string, bool) {
	if m, ok := e.mem.members[id]; ok {
		return m.ID, true
	}
	n, ok := e.vouched[id]
	return n, ok
}

// raftIDOf returns the raft id of the member, or node vouched for, whose
// node id is node. A vouched id since removed is not one: a node that
// entered again is vouched for under its old id and its new one.
func (e *Engine) raftIDOf(node string) (uint64, bool) {
	for id, m := range e.mem.members {
		if m.ID == node {
			return id, true
		}
	}
	for id, n := range e.vouched {
		if n == node && !e.mem.gone[id] {
			return id, true
		}
	}
	return 0, false
}

// JoinState reports whether a join asked by Join was accepted by the member
// asked (it vouched for its network) or refused (denied says why, and
// asking again with the same token is pointless).
func (e *Engine) JoinState() (admitted bool, denied string) {
	return e.admitted || e.isMember(), e.denied
}

// memberKey checks that a member's recorded key, when it has one, derives
// its id: a member record names the key that proves it.
func memberKey(m consensus.Member) error {
	if m.Key == "" {
		return nil
	}
	pub, err := base64.StdEncoding.DecodeString(m.Key)
	if err != nil || len(pub) != 32 {
		return fmt.Errorf("%w: member %s key", consensus.ErrMalformed, m.ID)
	}
	if id := identity.IDFromKey(pub); id != m.ID {
		return fmt.Errorf("%w: member %s: its key derives id %s", consensus.ErrMalformed, m.ID, id)
	}
	return nil
}

// HasNetwork reports whether st holds a vote engine's membership of a
// network (or a join under way): a node whose store does not is founding
// one, or joining.
func HasNetwork(st store.Store) (bool, error) {
	l, err := load(st)
	if err != nil {
		return false, err
	}
	return l.hasRaftState() || l.joining != "", nil
}

// Token returns the network's join token, "" until this node has applied
// it.
func (e *Engine) Token() string { return e.token }

// UseToken implements consensus.Admission.
func (e *Engine) UseToken(token string) { e.cfg.JoinToken = token }

// askVouch asks a member of this node's network, another each time and at
// most once per JoinRetryTicks, for the list of members: a join that is a
// no-op for a member, answered with a vouch. A member that missed a
// configuration change learns so of members it cannot hear from otherwise.
func (e *Engine) askVouch() {
	if !e.isMember() || e.now-e.vouchAt < e.cfg.JoinRetryTicks && e.vouchAt != 0 {
		return
	}
	e.vouchAt = e.now
	ids := e.mem.others(e.id)
	if len(ids) == 0 {
		return
	}
	e.vouchAsks++
	e.send(ids[e.vouchAsks%len(ids)], kindJoin, encodeJoin(e.cfg.Self, e.presentedToken()))
}
