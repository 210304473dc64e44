package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Lag is how far the targets' chains were apart after the load.
type Lag struct {
	MaxDiffAtEnd uint64   `json:"max_diff_at_end"`
	ConvergeMs   float64  `json:"converge_ms"`
	Converged    bool     `json:"converged"`
	DataCounts   []uint64 `json:"data_counts"`
	Error        string   `json:"error,omitempty"`
}

// MeasureLag polls GET /node on every target every poll until all report
// the same data_count or deadline passes. MaxDiffAtEnd is the spread of
// the first poll, taken right away; ConvergeMs is the time until the
// poll that found them equal.
func MeasureLag(ctx context.Context, client *http.Client, targets []string, poll, deadline time.Duration) *Lag {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	t := time.NewTicker(poll)
	defer t.Stop()
	l := &Lag{}
	for first := true; ; first = false {
		counts, err := dataCounts(ctx, client, targets)
		if err == nil {
			l.DataCounts, l.Error = counts, ""
			spread := slices.Max(counts) - slices.Min(counts)
			if first {
				l.MaxDiffAtEnd = spread
			}
			if spread == 0 {
				l.Converged = true
			}
		} else if ctx.Err() == nil {
			l.Error = err.Error()
		}
		if l.Converged || ctx.Err() != nil || (first && err != nil) {
			l.ConvergeMs = ms(time.Since(start))
			return l
		}
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
}

// dataCounts asks every target for its data_count, in parallel.
func dataCounts(ctx context.Context, client *http.Client, targets []string) ([]uint64, error) {
	counts := make([]uint64, len(targets))
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() { counts[i], errs[i] = dataCount(ctx, client, t) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return counts, nil
}

func dataCount(ctx context.Context, client *http.Client, target string) (uint64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target+"/node", nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return 0, fmt.Errorf("GET %s/node: %w", target, err)
	}
	var body struct {
		Status string `json:"status"`
		Data   struct {
			DataCount *uint64 `json:"data_count"`
		} `json:"data"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &body) != nil || body.Data.DataCount == nil {
		return 0, fmt.Errorf("GET %s/node: %d %.200s", target, resp.StatusCode, b)
	}
	return *body.Data.DataCount, nil
}
