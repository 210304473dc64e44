package vote

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"

	"github.com/naivechain/naivechain/internal/consensus"
)

// Merge consent. Two vote networks merge only with both operators'
// consent: the operator of one gives the other's join token to a node of
// theirs (AllowMerge, from POST /peers). The token is recorded in the
// network's log (a consent entry), so its leader, whichever node it is,
// holds it:
//
//   - if the other network is better, the leader asks it to host this one
//     with that token (kindHostRequest), which the host checks against its
//     own, and the move entry carries it: the members join there with it;
//   - if this network is better, the leader proves the consent to the
//     other (kindConsent: its token, which it holds only if its operator
//     gave it, and this network's own), which records this network's
//     token in its log and then asks to be hosted with it.
//
// An announce carries the sha256 of its network's token, so a leader
// tells which consent, if any, names a network it meets. The hash is
// public (anyone connected hears announces), so a consent is bound to the
// peer the operator's request connected to, whose id the TLS handshake
// proved: a token is only ever sent to that peer, or to the leader it
// names, never to whoever announces the same hash.

// maxConsents bounds the networks a network consents to merge with.
const maxConsents = 16

// ErrNoConsent reports a merge token that cannot be recorded.
var ErrNoConsent = errors.New("vote: merge refused")

// tokenHash is what an announce says of a network's token: its sha256, or
// zeros when the network has none yet.
func tokenHash(token string) [32]byte {
	if token == "" {
		return [32]byte{}
	}
	return sha256.Sum256([]byte(token))
}

// consent is this network's consent to merge with the network of Token,
// reached through Peer, a node of it.
type consent struct {
	Token string `json:"token"`
	Peer  string `json:"peer"`
}

// consentFor returns the token this network holds for the network whose
// token hashes to h, if from is the peer the consent was given through.
func (e *Engine) consentFor(h [32]byte, from string) (string, bool) {
	if h == ([32]byte{}) {
		return "", false
	}
	for _, c := range e.consents {
		if c.Peer == from && tokenHash(c.Token) == h {
			return c.Token, true
		}
	}
	return "", false
}

// AllowMerge records the operator's consent to merge with the network
// whose join token is token, of which peer (authenticated) is a node: a
// consent entry in this network's log.
func (e *Engine) AllowMerge(token, peer string) error {
	e.prop.stirred = true
	if !ValidToken(token) || !validID(peer) {
		return fmt.Errorf("%w: not a join token and a node id", ErrNoConsent)
	}
	if !e.isMember() || e.mem.removed {
		return fmt.Errorf("%w: %w", ErrNoConsent, consensus.ErrNotMember)
	}
	if e.Consented(token, peer) {
		return nil
	}
	if err := e.rn.Propose(encodeConsentEntry(consent{Token: token, Peer: peer})); err != nil {
		return fmt.Errorf("%w: %v", ErrNoConsent, err)
	}
	return nil
}

// MergeTokenCheck reports whether peer has announced its network (known),
// whether token is that network's, as far as its announce says (ok), and
// whether that network is this node's own (same).
func (e *Engine) MergeTokenCheck(peer, token string) (known, ok, same bool) {
	a, known := e.heard[peer]
	if !known {
		return false, false, false
	}
	same = e.mem.cluster != 0 && a.Cluster == e.mem.cluster
	return true, token != "" && a.TokenHash == tokenHash(token) && a.TokenHash != [32]byte{}, same
}

func validConsent(c consent) bool { return ValidToken(c.Token) && validID(c.Peer) }

// applyConsent records a committed consent; the oldest is forgotten past
// maxConsents.
func (e *Engine) applyConsent(ent []byte) {
	c, err := decodeConsentEntry(ent)
	if err != nil {
		e.log.Error("skipping an undecodable consent entry", "err", err)
		return
	}
	if slices.Contains(e.consents, c) {
		return
	}
	if len(e.consents) >= maxConsents {
		e.consents = e.consents[1:]
	}
	e.consents = append(e.consents, c)
	e.log.Info("this network consents to merge with another", "through", c.Peer, "network_token_sha256", fmt.Sprintf("%x", tokenHash(c.Token)))
}

// stepConsent takes another network's proof of consent: our own token,
// which its operator was given, and its token, which this network records
// so that it can ask to be hosted there.
func (e *Engine) stepConsent(from string, body []byte) error {
	yours, mine, err := decodeConsent(body)
	if err != nil {
		return err
	}
	if !e.isMember() || e.mem.removed || !tokenMatches(yours, e.token) || e.Consented(mine, from) {
		return nil
	}
	// from proved it was given our token, which only our operator gives.
	e.log.Info("another network holds our join token: consenting to merge", "peer", from)
	_ = e.rn.Propose(encodeConsentEntry(consent{Token: mine, Peer: from}))
	return nil
}

// proveConsent runs on the leader of the better network of two that met:
// when this network consents to merge with the other, it tells the other
// so, at most once per leave timeout for each network.
func (e *Engine) proveConsent(from string, a announce) {
	t, ok := e.consentFor(a.TokenHash, from)
	if !ok || e.token == "" {
		return
	}
	if at, sent := e.consentSent[a.Cluster]; sent && e.now-at < e.leaveTimeoutTicks() {
		return
	}
	if len(e.consentSent) >= maxHosting {
		clear(e.consentSent)
	}
	e.consentSent[a.Cluster] = e.now
	e.send(from, kindConsent, encodeConsent(t, e.token))
}

// Consented reports whether this network's applied state holds a consent
// to merge with the network of token, reached through peer.
func (e *Engine) Consented(token, peer string) bool {
	return slices.Contains(e.consents, consent{Token: token, Peer: peer})
}

// hostToken is the join token of a network this one hosts: its members,
// those away during the move included, enter with it.
type hostToken struct {
	Cluster uint64 `json:"cluster"`
	Token   string `json:"token"`
}

// hostedToken reports whether token is that of a network this one hosts.
func (e *Engine) hostedToken(token string) bool {
	for _, t := range e.merge.hostTokens {
		if tokenMatches(token, t) {
			return true
		}
	}
	return false
}
