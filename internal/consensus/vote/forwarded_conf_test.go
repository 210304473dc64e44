package vote

import (
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// TestMemberCannotProposeRemoval: only the leader proposes
// membership changes (manageMembers, joins), and the reason a removal
// carries is logged by every member as fact ("member removed ...
// reason=..."). A follower that forwards a MsgProp holding a ConfChange
// gets it appended: any member can remove any other (the leader too),
// with a reason of its choosing (here a false one, 4 KB long).
func TestMemberCannotProposeRemoval(t *testing.T) {
	n := newTrio(t)
	a, c := n.engines["a"], n.engines["c"]
	why := make([]byte, 4096)
	for i := range why {
		why[i] = 'x'
	}
	copy(why, "unreachable for 1m0s\n[INFO]: NODE-forged line")
	cc := raftpb.ConfChange{Type: raftpb.ConfChangeRemoveNode, NodeID: c.id, Context: why}
	data, err := cc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	m := raftpb.Message{Type: raftpb.MsgProp, From: n.engines["b"].id, To: a.id,
		Entries: []raftpb.Entry{{Type: raftpb.EntryConfChange, Data: data}}}
	buf, _ := m.Marshal()
	_ = a.Step("b", append([]byte{kindRaft, 0}, buf...)) // an error (refusal) is fine
	for _, ent := range a.rn.Ready().Entries {
		if ent.Type == raftpb.EntryConfChange {
			t.Fatalf("the leader appended a member's proposal to remove %s (entry %d)", "c", ent.Index)
		}
	}
}
