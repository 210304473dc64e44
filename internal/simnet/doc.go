// Package simnet is a deterministic in-memory network for multi-node tests.
//
// It runs many consensus engines in one goroutine on a manual clock: every
// tick, every live node ticks (and a proof-of-work node tries a budget of
// nonces on its next block), and the messages due are delivered in an
// order drawn from a seeded random source. Tests can partition, delay,
// drop, crash and add nodes. The same seed always gives the same run, so a
// failing schedule is reproduced by its seed alone.
package simnet
