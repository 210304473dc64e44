//go:build !unix

package loadgen

import "time"

// ProcessCPU reports that this platform's CPU time is not read.
func ProcessCPU() (time.Duration, bool) { return 0, false }
