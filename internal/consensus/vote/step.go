package vote

import (
	"encoding/binary"
	"errors"
	"fmt"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/naivechain/naivechain/internal/consensus"
)

// stepRaftMessage takes in a kindRaft body from the node from: checked
// against what raft would choke on, then against who may say it, then
// stepped into raft.
func (e *Engine) stepRaftMessage(from string, body []byte) error {
	if e.merge.leave != nil {
		return nil // leaving this network: its raft is over for us
	}
	network, m, err := decodeRaft(body)
	if err != nil {
		return err
	}
	if m.Type != raftpb.MsgProp || !e.windowsFull() {
		e.prop.stirred = true // see windowsFull
	}
	if m.Type == raftpb.MsgApp && len(m.Entries) > 0 {
		e.prop.forwarding = false
	}
	if network != 0 && e.mem.cluster != 0 && network != e.mem.cluster {
		// Another network's raft (a peer that moved, or one that
		// thinks we are in its network): never ours to step.
		return nil
	}
	if err := checkRaftMessage(m); err != nil {
		return err
	}
	if m.Type == raftpb.MsgProp && !forwardableConf(m.Entries) {
		// Not an offence: a leader that lost its leadership with a
		// removal or promotion in flight forwards it to the new
		// leader as raft does with any proposal. Dropped; the new
		// leader decides on the membership itself.
		e.log.Debug("dropped a forwarded membership change: only the leader proposes one", "from", from)
		return nil
	}
	if m.To != e.id {
		// Meant for an earlier incarnation of this node, or another.
		return nil
	}
	return e.stepFromPeer(from, m)
}

// checkRaftMessage rejects a peer's raft message that raft must never
// see: an unknown or local type, or entries the engine could not apply.
func checkRaftMessage(m raftpb.Message) error {
	if _, known := raftpb.MessageType_name[int32(m.Type)]; !known {
		// raft indexes tables by the type: an unknown one panics it.
		return fmt.Errorf("%w: raft message type %d", consensus.ErrMalformed, m.Type)
	}
	if raft.IsLocalMsg(m.Type) {
		return fmt.Errorf("%w: raft message type %v from a peer", consensus.ErrMalformed, m.Type)
	}
	if m.Type == raftpb.MsgReadIndex || m.Type == raftpb.MsgReadIndexResp {
		// Their one entry is a read's context, never stored.
		return checkReadMessage(m)
	}
	return checkEntries(m.Entries)
}

// stepFromPeer steps a checked raft message addressed to this node, once
// its sender is known to own the raft id it speaks for.
func (e *Engine) stepFromPeer(from string, m raftpb.Message) error {
	if m.Type == raftpb.MsgProp || m.Type == raftpb.MsgReadIndex {
		// A follower forwards a proposal or a read to its leader as
		// it got it, with its originator's raft id (raft keeps
		// From): the sender is the link's node, and any member may
		// propose or read. (A read forwarded for a third member is
		// then answered to the forwarder, which drops it; the
		// reader's wait times out.) The removed ids are checked
		// after: a removed node must not pass by claiming another.
		if id, ok := e.raftIDOf(from); ok {
			m.From = id
		}
	}
	if e.mem.gone[m.From] {
		e.send(from, kindRemoved, binary.AppendUvarint(nil, m.From))
		return nil
	}
	owner, known := e.raftOwner(m.From)
	if known && owner != from {
		return fmt.Errorf("%w: raft message from %s's raft id on the link from %s", consensus.ErrMalformed, owner, from)
	}
	if !known {
		// Not a member, nor vouched for by one: raft must never
		// hear it (a stranger's append would make this node follow
		// it). It may be a member admitted by an entry not applied
		// here: a member of ours vouches for it if so.
		e.log.Debug("raft message from a non-member dropped", "from", from, "raft_id", fmt.Sprintf("%x", m.From), "type", m.Type.String())
		e.askVouch()
		return nil
	}
	e.mem.lastHeard[m.From] = e.now
	e.mem.contacts[m.From] = from
	if m.From == e.rn.BasicStatus().Lead || m.Type == raftpb.MsgApp || m.Type == raftpb.MsgHeartbeat || m.Type == raftpb.MsgSnap {
		e.leaderHeard = e.now
	}
	if m.Type == raftpb.MsgSnap {
		return e.stepSnapshot(from, m)
	}
	if !e.admitRead(m) {
		return nil
	}
	return e.stepRaft(m)
}

// stepRaft hands a checked message to raft.
func (e *Engine) stepRaft(m raftpb.Message) (err error) {
	defer func() {
		// raft panics on messages that break its invariants; a peer must
		// not be able to crash the node with one.
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: raft rejected message %v from %s: %v", consensus.ErrMalformed, m.Type, e.raftIDText(m.From), r)
		}
	}()
	if err := e.rn.Step(m); err != nil && !errors.Is(err, raft.ErrStepPeerNotFound) {
		return fmt.Errorf("vote: step: %w", err)
	}
	return nil
}

// stepJoin takes in a node's request to join.
func (e *Engine) stepJoin(from string, body []byte) error {
	j, err := decodeJoin(body)
	if err != nil {
		return err
	}
	if j.ID != from {
		return fmt.Errorf("%w: join for %s sent by %s", consensus.ErrMalformed, j.ID, from)
	}
	e.handleJoin(j.Member, j.Token)
	return nil
}

// stepRefuse logs a member's refusal of our join.
func (e *Engine) stepRefuse(from string, body []byte) error {
	if len(body) > 1024 {
		return fmt.Errorf("%w: refusal too long", consensus.ErrMalformed)
	}
	e.log.Warn("join refused", "by", from, "reason", string(body))
	return nil
}
