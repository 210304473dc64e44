// Package chain owns the best chain of a node: it checks every block against
// the rules of package block before it reaches the store, builds the next
// block from agreed data, and re-validates what is stored for health.
//
// The chain never calls the network and never decides what is agreed: the
// consensus engine hands it data that is already final.
package chain
