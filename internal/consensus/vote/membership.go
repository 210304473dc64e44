package vote

import "github.com/naivechain/naivechain/internal/consensus"

// membership is who is in this node's network: the members as of the last
// applied configuration change, the joins waiting to be admitted, the
// incarnations removed, when each member was last heard from, and the
// configuration change of ours in flight.
type membership struct {
	members map[uint64]consensus.Member
	removed bool
	// cluster identifies the network this node is a member of: the raft
	// id of its founder (the member added by raft entry 1). 0 until known.
	cluster uint64
	// gone remembers the raft ids removed from the configuration, so that
	// a removed node that talks again is told (kindRemoved); bounded.
	gone      map[uint64]bool
	goneOrder []uint64
	// rejoinVia is the member a removed node asks to admit it anew.
	rejoinVia string
	contacts  map[uint64]string           // raft id -> node id of every node heard from
	joins     map[uint64]consensus.Member // join requests not yet admitted
	lastHeard map[uint64]int
	confAt    int  // tick of the last conf change we proposed
	confWait  bool // a conf change we proposed is not applied yet
	// memberVer counts the changes of members; memberSeen is its value
	// reported in the last Ready.
	memberSeen, memberVer int
	// replayedConfs counts the configuration changes replayed since the
	// restart, for the one line that sums them up.
	replayedConfs int
}

func newMembership() membership {
	return membership{
		members:   make(map[uint64]consensus.Member),
		gone:      make(map[uint64]bool),
		contacts:  make(map[uint64]string),
		joins:     make(map[uint64]consensus.Member),
		lastHeard: make(map[uint64]int),
	}
}
