// Package wire defines the messages of naivechain's native peer protocol
// (version 1) and their binary encoding.
//
// Every message travels as one WebSocket binary message: the first byte is
// the message Type, the rest is the payload (JSON for most types, raw bytes
// for Consensus, nothing for Ping). Decode validates every field, so a value
// it returns can be used without further checks.
//
// The package is pure: it never does I/O, never starts goroutines and never
// imports the network, chain or consensus packages.
package wire
