// Package logging builds the node's *slog.Logger.
//
// The default "text" format prints PyNaive Chain's log lines, so that an
// operator used to the original reads the same thing:
//
//	2026-12-05 12:00:00,123 [INFO]: BLOCKCHAIN-Node 7a02e5b3 live on 0.0.0.0:15001
//
// The time (local, Python logging's asctime) is ours: the original prints
// none, and everything after it is the original's shape.
// The part before the dash is the actor, taken from the attribute named
// AttrActor (see Actor); other attributes follow as key=value pairs. The
// "json" format is slog's own JSON handler, for machines.
//
// The package only formats and writes records. It must never decide what is
// logged, never buffer records across calls (a line is written whole, or not
// at all, by one Write), and never import another naivechain package.
package logging
