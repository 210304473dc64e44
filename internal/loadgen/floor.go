package loadgen

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"
)

// FloorHandler is the bare-HTTP floor: it decodes a POST's JSON body and
// answers as a node would, doing nothing else: {"data": value} to POST
// /data gets {"status": "OK", "data": true}, an array of values to POST
// /entries gets {"status": "OK", "data": {"first": 1, "count": n}}. A body
// that does not decode gets 400.
func FloorHandler() http.Handler {
	ok := []byte(`{"status": "OK", "data": true}` + "\n")
	bad := []byte(`{"status": "ERROR", "error": "bad body"}` + "\n")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
		if r.Method == http.MethodPost && r.URL.Path == "/entries" {
			var values []json.RawMessage
			if dec.Decode(&values) != nil || len(values) == 0 {
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write(bad)
				return
			}
			_, _ = fmt.Fprintf(w, `{"status": "OK", "data": {"first": 1, "count": %d}}`+"\n", len(values))
			return
		}
		var body struct {
			Data json.RawMessage `json:"data"`
		}
		if r.Method != http.MethodPost || dec.Decode(&body) != nil || body.Data == nil {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write(bad)
			return
		}
		_, _ = w.Write(ok)
	})
}

// StartFloor serves FloorHandler on 127.0.0.1:port (0: a free port) and
// returns its base URL and a function that stops it.
func StartFloor(port int) (url string, stop func() error, err error) {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: FloorHandler(), ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() error {
		err := srv.Close()
		if serr := <-done; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
		return err
	}, nil
}
