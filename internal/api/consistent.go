package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Consistent reads. GET /data, /blocks, /blocks/{index} and /node serve this
// node's chain as it stands (the original's behaviour, and the cheapest: no
// message leaves the node). With ?consistent=true (or 1) they first wait for
// a read barrier (Backend.ReadBarrier): on a vote node the answer then holds
// every write acknowledged by any member before the request arrived. The
// default stays local because a consistent read costs a round of
// heartbeats to a majority and fails without one, where a local read is
// always answered; docs/PROTOCOL.md, "Read guarantees", says how far a
// local read may lag.

// ErrNoConsistentRead is ReadBarrier's answer on a node whose engine has no
// linearizable read (pow).
var ErrNoConsistentRead = errors.New("consistent reads need the vote engine (--consensus vote): a proof-of-work chain has no linearizable read, its blocks are final only with confirmations (GET /entries/{id}); read without consistent=true")

// consistent parses ?consistent=: absent, "false" or "0" is a local read,
// "true" or "1" a consistent one; anything else (an empty value, a repeat)
// is an error.
func consistent(r *http.Request) (bool, error) {
	vs, ok := r.URL.Query()["consistent"]
	if !ok {
		return false, nil
	}
	if len(vs) == 1 {
		switch vs[0] {
		case "true", "1":
			return true, nil
		case "false", "0":
			return false, nil
		}
	}
	return false, fmt.Errorf("consistent: want true, 1, false or 0 (once), got %q", vs)
}

// barrier answers an error and returns false unless r may be served: a
// local read, or a consistent one whose barrier was released.
func (h *handler) barrier(w http.ResponseWriter, r *http.Request) bool {
	want, err := consistent(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return false
	}
	if !want {
		return true
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.writeTimeout)
	defer cancel()
	err = h.b.ReadBarrier(ctx)
	switch {
	case err == nil:
		return true
	case errors.Is(err, ErrNoConsistentRead):
		writeError(w, http.StatusBadRequest, err.Error())
	case clientGone(r):
	case errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("consistent read not confirmed by a majority within %v (no quorum?); try again, or read without consistent=true", h.writeTimeout))
	default:
		h.log.Debug("consistent read failed", "err", err)
		writeError(w, http.StatusServiceUnavailable, err.Error())
	}
	return false
}
