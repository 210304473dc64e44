package api

import (
	"net/http"
)

// counted calls observe with each request's route and status code once it
// is answered. The route is the pattern of the mux that matched the
// request ("/blocks/{index}", "/" for an unknown path), never its raw
// path: a metric labelled by path would grow a series for every path a
// client invents.
func counted(next http.Handler, observe func(route string, code int)) http.Handler {
	if observe == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		// The mux sets r.Pattern on the request it was given.
		observe(r.Pattern, sw.code())
	})
}

// statusWriter remembers the status code of an answer. It unwraps for
// http.ResponseController, which the handlers use for deadlines and
// flushes.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// code is the status the client got: net/http answers 200 for a handler
// that wrote nothing.
func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}
