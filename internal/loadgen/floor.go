package loadgen

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"
)

// FloorHandler is the bare-HTTP floor: it decodes a POST's JSON body
// {"data": value} and answers {"status": "OK", "data": true}, doing
// nothing else; a body that does not decode gets 400.
func FloorHandler() http.Handler {
	ok := []byte(`{"status": "OK", "data": true}` + "\n")
	bad := []byte(`{"status": "ERROR", "error": "bad body"}` + "\n")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Data json.RawMessage `json:"data"`
		}
		w.Header().Set("Content-Type", "application/json")
		if r.Method != http.MethodPost || json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&body) != nil || body.Data == nil {
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
