package api

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/naivechain/naivechain/internal/block"
)

// flushEvery is how many blocks GET /data writes between flushes, so that
// a client sees a long chain arrive instead of waiting for the end.
const flushEvery = 512

// getData streams the whole chain as {"status": "OK", "data": [...]}, in
// Python's json.dumps spacing as every answer, without holding it in memory. The status line goes out with the first block: an
// error before it is an ordinary 500, an error after it aborts the
// connection so that the client sees a broken body, never a valid but
// truncated chain.
func (h *handler) getData(w http.ResponseWriter, r *http.Request) {
	if !h.barrier(w, r) {
		return
	}
	rc := http.NewResponseController(w)
	var buf []byte // the blocks since the last write, as JSON
	started := false
	start := func() {
		started = true
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"status": "OK", "data": [`))
	}
	var n int
	var iterErr, writeErr error
	for b, err := range h.b.Blocks(0) {
		if err != nil {
			iterErr = err
			break
		}
		if !started {
			start()
		} else {
			buf = append(buf, ',', ' ')
		}
		buf = b.AppendPyJSON(buf)
		if n++; n%flushEvery == 0 || len(buf) >= 64<<10 {
			// A long chain may take a while to send: each chunk gets the
			// time a whole answer gets.
			_ = rc.SetWriteDeadline(time.Now().Add(h.respTimeout))
			if _, writeErr = w.Write(buf); writeErr != nil {
				break
			}
			buf = buf[:0]
		}
		if n%flushEvery == 0 {
			if writeErr = rc.Flush(); writeErr != nil {
				break
			}
		}
	}
	if writeErr == nil && iterErr == nil && len(buf) > 0 {
		_, writeErr = w.Write(buf)
	}
	switch {
	case writeErr != nil:
		h.log.Debug("GET /data: client gone", "blocks_sent", n, "err", writeErr)
	case iterErr != nil && !started:
		h.log.Error("GET /data: reading the chain", "err", iterErr)
		writeError(w, http.StatusInternalServerError, "reading the chain: "+iterErr.Error())
	case iterErr != nil:
		h.log.Error("GET /data: reading the chain failed mid-stream; aborting the response", "blocks_sent", n, "err", iterErr)
		panic(http.ErrAbortHandler)
	default:
		if !started {
			start() // no genesis yet: an empty chain
		}
		_, _ = w.Write([]byte("]}\n"))
	}
}

// getBlocks answers GET /blocks?from=N&limit=M with at most M blocks from
// index N, oldest first.
func (h *handler) getBlocks(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	from, err := parseQueryUint(q.Get("from"), 0)
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("from: %v", err))
		return
	}
	limit, err := parseQueryUint(q.Get("limit"), DefaultPageSize)
	if err != nil || limit == 0 {
		writeError(w, http.StatusBadRequest, "limit: want a whole number from 1 (default 100; above 1000 means 1000)")
		return
	}
	limit = min(limit, MaxPageSize)
	if !h.barrier(w, r) {
		return
	}
	page := make([]block.Block, 0, min(limit, 64))
	for b, err := range h.b.Blocks(from) {
		if err != nil {
			h.log.Error("GET /blocks: reading the chain", "from", from, "err", err)
			writeError(w, http.StatusInternalServerError, "reading the chain: "+err.Error())
			return
		}
		page = append(page, b)
		if uint64(len(page)) == limit {
			break
		}
	}
	writeOK(w, page)
}

// getBlock answers GET /blocks/{index} with one block.
func (h *handler) getBlock(w http.ResponseWriter, r *http.Request) {
	index, err := strconv.ParseUint(r.PathValue("index"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("block index %q: want a whole number", r.PathValue("index")))
		return
	}
	if !h.barrier(w, r) {
		return
	}
	for b, err := range h.b.Blocks(index) {
		if err != nil {
			h.log.Error("GET /blocks/{index}: reading the chain", "index", index, "err", err)
			writeError(w, http.StatusInternalServerError, "reading the chain: "+err.Error())
			return
		}
		writeOK(w, b)
		return
	}
	writeError(w, http.StatusNotFound, fmt.Sprintf("block %d not found", index))
}

// parseQueryUint parses a query value, def when it is absent.
func parseQueryUint(s string, def uint64) (uint64, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a whole number", s)
	}
	return n, nil
}
