// Package block defines the naivechain block, its hash, its JSON form and
// the stateless rules a block and a chain of blocks must satisfy.
//
// The format is PyNaive Chain's: four fields, hashed as
// sha256(previous_hash || data). Proof-of-work blocks add a timestamp, a
// nonce and a difficulty and hash a header that commits to their entries
// (pow.go). Everything here is pure: the package never
// touches a disk, a clock or a network.
package block
