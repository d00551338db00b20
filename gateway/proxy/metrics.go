package proxy

import (
	"bufio"
	"net"
	"net/http"

	"github.com/plugboardhq/plugboard/manifest"
)

var knownMethods = map[string]bool{"GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "HEAD": true, "OPTIONS": true}

// countRequest counts a proxied request by its answer's status
// (plugboard_proxy_requests_total); 499 when the caller went away before
// there was one.
func (h *Handler) countRequest(in *manifest.Integration, method string, w *statusWriter) {
	if h.Metrics == nil {
		return
	}
	if !knownMethods[method] {
		method = "OTHER"
	}
	status := w.status
	if status == 0 {
		status = 499
	}
	h.Metrics.ProxyRequest(in.ID, method, status).Inc()
}

// statusWriter remembers the status of the answer: the final one (not a
// 1xx passed on), or 101 when upgrade takes the connection over for
// an upgrade.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	return conn, brw, err
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
