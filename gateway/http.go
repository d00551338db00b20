package gateway

import (
	"net/http"
	"strconv"
	"time"

	"github.com/plugboardhq/plugboard/gateway/apierror"
)

// notFoundAsJSON serves with mux, turning the mux's own plain-text 404 and
// 405 answers into the gateway's JSON errors (a 405 keeps its Allow
// header). where is added to the 404's message.
func notFoundAsJSON(mux *http.ServeMux, where string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		rec := &headerRecorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		switch {
		case rec.status == http.StatusMethodNotAllowed:
			allow := rec.header.Get("Allow")
			w.Header().Set("Allow", allow)
			apierror.Write(w, apierror.New(http.StatusMethodNotAllowed, apierror.MethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path+"; allowed: "+allow))
		case rec.status >= 300 && rec.status < 400:
			w.Header().Set("Location", rec.header.Get("Location"))
			w.WriteHeader(rec.status)
		default:
			apierror.Write(w, apierror.New(http.StatusNotFound, apierror.NotFound, "no route for "+r.Method+" "+r.URL.Path+where))
		}
	})
}

// headerRecorder keeps the status and headers a handler writes, not its body.
type headerRecorder struct {
	header http.Header
	status int
}

func (h *headerRecorder) Header() http.Header { return h.header }
func (h *headerRecorder) Write(b []byte) (int, error) {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	return len(b), nil
}
func (h *headerRecorder) WriteHeader(code int) {
	if h.status == 0 {
		h.status = code
	}
}

// instrument records metrics per route pattern and logs each request at
// debug level. It never logs query strings or headers, which may hold tokens.
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" || route == "/" {
			route = "unmatched"
		}
		elapsed := time.Since(start)
		s.metrics.HTTPRequests.WithLabelValues(route, r.Method, strconv.Itoa(sw.status)).Inc()
		s.metrics.HTTPDuration.WithLabelValues(route).Observe(elapsed.Seconds())
		s.log.Debug("request", "method", r.Method, "route", route, "status", sw.status, "duration_ms", float64(elapsed.Microseconds())/1000)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
