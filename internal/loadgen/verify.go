package loadgen

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// Check is what the targets' chains held after the load: whether they are
// one chain, and whether every acknowledged value is on it exactly once.
type Check struct {
	// ChainsEqual: every target answered GET /data with the same blocks.
	ChainsEqual bool `json:"chains_equal"`
	// Blocks is the length of the first target's chain, genesis included.
	Blocks uint64 `json:"blocks"`
	// Found counts the acknowledged values found on that chain exactly
	// once, Missing those not found, Duplicated the values of this run
	// (acknowledged or not) found more than once.
	Found      int64 `json:"found"`
	Missing    int64 `json:"missing"`
	Duplicated int64 `json:"duplicated"`
	// Error says why the check could not be made.
	Error string `json:"error,omitempty"`
}

// OK reports whether the check was made and found one chain holding every
// acknowledged value once.
func (c *Check) OK() bool {
	return c.Error == "" && c.ChainsEqual && c.Missing == 0 && c.Duplicated == 0
}

// maxChecked bounds the values Verify keeps a count of (one byte each).
const maxChecked = 64 << 20

// maxChainBody bounds the GET /data answer Verify reads from one target.
const maxChainBody = 4 << 30

// Verify reads every target's chain (GET /data) and checks r's run against
// it: the chains must be equal, and every value r acknowledged must be on
// the chain once. Values of writes that failed may be there once or not at
// all. With upTo above 0 only the first upTo blocks of each chain count:
// the length they all reported once the load was over (MeasureLag), so
// that blocks other clients add meanwhile do not make equal chains differ.
func Verify(ctx context.Context, client *http.Client, targets []string, r *Result, upTo uint64) *Check {
	c := &Check{}
	if r == nil || r.run == nil {
		c.Error = "no run to check"
		return c
	}
	if len(r.run.acked)*r.run.per() > maxChecked {
		c.Error = fmt.Sprintf("more than %d values to check", maxChecked)
		return c
	}
	counts := make([]uint8, len(r.run.acked)*r.run.per())
	digests := make([][32]byte, len(targets))
	lens := make([]uint64, len(targets))
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() {
			var count func(string)
			if i == 0 {
				count = func(data string) { r.run.count(data, counts) }
			}
			digests[i], lens[i], errs[i] = readChain(ctx, client, t, upTo, count)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		c.Error = err.Error()
		return c
	}
	c.Blocks, c.ChainsEqual = lens[0], true
	for i := range targets {
		if digests[i] != digests[0] || lens[i] != lens[0] {
			c.ChainsEqual = false
		}
	}
	for k, n := range counts {
		acked := r.run.acked[k/r.run.per()]
		switch {
		case n > 1:
			c.Duplicated++
		case n == 1 && acked:
			c.Found++
		case n == 0 && acked:
			c.Missing++
		}
	}
	return c
}

// readChain streams target's GET /data and returns a digest of its blocks'
// hashes and its length, calling count (if set) with every block's data.
func readChain(ctx context.Context, client *http.Client, target string, upTo uint64, count func(string)) ([32]byte, uint64, error) {
	var digest [32]byte
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target+"/data", nil)
	if err != nil {
		return digest, 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return digest, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return digest, 0, fmt.Errorf("GET %s/data: %d", target, resp.StatusCode)
	}
	digest, n, err := decodeChain(&limited{r: resp.Body, n: maxChainBody}, upTo, count)
	if err != nil {
		return digest, 0, fmt.Errorf("GET %s/data: %w", target, err)
	}
	return digest, n, nil
}

// decodeChain reads a GET /data answer from r and returns a digest of its
// blocks' hashes and its length, calling count (if set) with every block's
// data. With upTo above 0 it stops after upTo blocks.
func decodeChain(r io.Reader, upTo uint64, count func(string)) ([32]byte, uint64, error) {
	var digest [32]byte
	dec := json.NewDecoder(r)
	// {"status": "OK", "data": [block, ...]}, keys in any order.
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return digest, 0, errors.New("not a JSON object")
	}
	h := sha256.New()
	var n uint64
	sawData := false
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return digest, 0, err
		}
		if key != "data" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return digest, 0, err
			}
			continue
		}
		sawData = true
		if t, err := dec.Token(); err != nil || t != json.Delim('[') {
			return digest, 0, errors.New("data is not an array")
		}
		for dec.More() {
			var b struct {
				Data     string `json:"data"`
				CurrHash string `json:"curr_hash"`
			}
			if err := dec.Decode(&b); err != nil {
				return digest, 0, err
			}
			h.Write([]byte(b.CurrHash))
			h.Write([]byte{0})
			n++
			if count != nil {
				count(b.Data)
			}
			if n == upTo {
				h.Sum(digest[:0])
				return digest, n, nil
			}
		}
		if _, err := dec.Token(); err != nil {
			return digest, 0, err
		}
	}
	if !sawData {
		return digest, 0, errors.New("no data")
	}
	h.Sum(digest[:0])
	return digest, n, nil
}

// limited is io.LimitReader that fails, rather than ends, past its limit.
type limited struct {
	r io.Reader
	n int64
}

func (l *limited) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errors.New("answer too large")
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// per is the number of values per request.
func (r *run) per() int { return max(1, r.cfg.Batch) }

// count adds to counts every value of this run in a block's data: the
// prefix, then the request index, then (with Batch) "-" and the value's
// place, then the padding dots. It does not depend on how the engine
// wraps values in a block (one per block, or an array of entries).
func (r *run) count(data string, counts []uint8) {
	prefix := []byte(r.prefix)
	b := []byte(data)
	for {
		k := bytes.Index(b, prefix)
		if k < 0 {
			return
		}
		b = b[k+len(prefix):]
		i, rest, ok := digits(b)
		if !ok || i < 1 || i > int64(len(r.acked)) {
			continue
		}
		j := int64(0)
		if r.cfg.Batch > 0 {
			if len(rest) == 0 || rest[0] != '-' {
				continue
			}
			if j, rest, ok = digits(rest[1:]); !ok || j >= int64(r.cfg.Batch) {
				continue
			}
		}
		if len(rest) > 0 && rest[0] != '.' && rest[0] != '"' && rest[0] != '\\' {
			continue
		}
		slot := (i-1)*int64(r.per()) + j
		if counts[slot] < 255 {
			counts[slot]++
		}
		b = rest
	}
}

// digits reads a decimal number at the start of b.
func digits(b []byte) (int64, []byte, bool) {
	n, k := int64(0), 0
	for k < len(b) && k < 18 && b[k] >= '0' && b[k] <= '9' {
		n = n*10 + int64(b[k]-'0')
		k++
	}
	return n, b[k:], k > 0
}
