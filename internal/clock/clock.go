// Package clock defines Clock, the seam through which a node's runtime
// reads time and waits: Real is the system's clock; Manual is a clock that
// moves only when a test or a simulation advances it.
package clock

import "time"

// Clock tells the time and makes tickers.
type Clock interface {
	Now() time.Time
	// NewTicker returns a ticker that fires every d (d > 0).
	NewTicker(d time.Duration) Ticker
}

// Ticker delivers ticks on C until Stop.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}
