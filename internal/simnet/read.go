package simnet

import (
	"errors"
	"fmt"
	"slices"
)

// Read is a client's consistent read and what it was answered. When the
// engine releases it, the node's chain is checked to hold every write
// acknowledged (by any node) before the read started: Missing lists
// those it lacked, which breaks linearizability.
type Read struct {
	Node    string
	Done    bool
	OK      bool
	Err     error
	Missing []string
	// before holds the data of the writes acknowledged when the read
	// started.
	before []string
}

// Read starts a consistent read on node id (its engine must be a
// consensus.Reader).
func (n *Network) Read(id string) *Read {
	nd := n.byID[id]
	r := &Read{Node: id}
	n.reads = append(n.reads, r)
	for _, w := range n.writes {
		if w.OK {
			r.before = append(r.before, w.Data)
		}
	}
	if !nd.up {
		r.finish(errors.New("simnet: node is down"))
		return r
	}
	if err := nd.drv.ReadIndex(func(err error) { n.release(nd, r, err) }); err != nil {
		r.finish(err)
		return r
	}
	n.drain(nd)
	return r
}

// Reads returns every read started so far.
func (n *Network) Reads() []*Read { return n.reads }

func (r *Read) finish(err error) { r.Done, r.OK, r.Err = true, err == nil, err }

// release resolves a read r of nd: on success, its chain must hold every
// write acknowledged before the read started.
func (n *Network) release(nd *Node, r *Read, err error) {
	r.finish(err)
	if err != nil || len(r.before) == 0 {
		return
	}
	var held []string
	for b, err := range nd.Chain.Blocks(0) {
		if err != nil {
			r.Missing = []string{fmt.Sprintf("reading the chain: %v", err)}
			return
		}
		held = append(held, b.Data)
	}
	slices.Sort(held)
	for _, d := range r.before {
		if _, found := slices.BinarySearch(held, d); !found {
			r.Missing = append(r.Missing, d)
		}
	}
}
