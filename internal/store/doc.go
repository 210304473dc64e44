// Package store keeps blocks. Store is the interface every node writes
// through; Memory is the in-memory implementation used by tests and by nodes
// that need no durability.
//
// A store never validates the rules of the chain (package chain does) and
// never talks to the network.
package store
