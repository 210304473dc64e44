package loadgen

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// ProgressLine renders the progress bar: the fraction of the run done
// (the larger of writes sent / count and time / duration), the writes
// sent, and the acknowledged writes per second so far.
func ProgressLine(sent, count int64, elapsed, duration time.Duration, rate float64, width int) string {
	frac := 0.0
	if count > 0 {
		frac = float64(sent) / float64(count)
	}
	if duration > 0 {
		frac = max(frac, float64(elapsed)/float64(duration))
	}
	frac = min(max(frac, 0), 1)
	full := int(frac * float64(width))
	return fmt.Sprintf("[%s%s] %d/%d writes %.0f/s", strings.Repeat("#", full), strings.Repeat("-", width-full), sent, count, rate)
}

// progress redraws the bar on cfg.Progress until the returned function is
// called, which draws it a last time and ends the line.
func (r *run) progress() (stop func()) {
	every := max(r.cfg.ProgressEvery, 100*time.Millisecond)
	quit, done := make(chan struct{}), make(chan struct{})
	draw := func(w io.Writer) {
		elapsed := r.now().Sub(r.start)
		rate := 0.0
		if elapsed > 0 {
			rate = float64(r.nacked.Load()) / elapsed.Seconds()
		}
		fmt.Fprintf(w, "\r%s\033[K", ProgressLine(r.done.Load(), int64(r.cfg.Count), elapsed, r.cfg.Duration, rate, 30))
	}
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				draw(r.cfg.Progress)
			}
		}
	}()
	return func() {
		close(quit)
		<-done
		draw(r.cfg.Progress)
		fmt.Fprintln(r.cfg.Progress)
	}
}
