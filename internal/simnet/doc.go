// Package simnet is a deterministic in-memory network for multi-node tests.
//
// It runs many consensus engines in one goroutine on a manual clock: every
// tick, every live node ticks (and a proof-of-work node tries a budget of
// nonces on its next block), and the messages due are delivered in an
// order drawn from a seeded random source. Tests can partition, delay,
// drop, crash and add nodes. The same seed always gives the same run, so a
// failing schedule is reproduced by its seed alone.
//
// Each node's engine is driven by internal/driver, as in a real node: its
// writes, reads, messages, greetings (Config.GreetEvery, and when the
// peers it can reach change), mining work and store writes go through the
// same code; simnet supplies only the links (delays, drops, cuts) and the
// clock.
package simnet
