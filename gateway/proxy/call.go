package proxy

import (
	"bytes"
	"context"
	"net/http"

	"github.com/plugboardhq/plugboard/gateway/egress"
)

// Call is a request the gateway makes itself through the proxy (an action
// run by the SDK API or an agent): it passes the same pipeline as a
// caller's request (credential injection, refresh and replay, egress
// guard, body limit, api.timeout, metrics).
type Call struct {
	Method string
	Path   string // escaped API path, e.g. /repos/o/r/issues
	Query  string // encoded query, without "?"
	Header http.Header
	Body   []byte // nil: no body
}

// Result is what the proxy answered a Call: the upstream's answer as is
// (never wrapped as {"output": …}), or the gateway's own error.
type Result struct {
	Status int
	Header http.Header
	Body   []byte
	// GatewayError: the gateway answered (X-Plugboard-Error), not the API;
	// Body is then {"code", "message"}.
	GatewayError bool
	// Truncated: the body was longer than Do's limit and was cut there.
	Truncated bool
}

// Do sends call for req and returns the answer, keeping at most maxBody
// bytes of its body. ctx carries the caller's request id and cancellation.
func (h *Handler) Do(ctx context.Context, req Request, call Call, maxBody int64) *Result {
	var body *bytes.Reader
	if call.Body != nil {
		body = bytes.NewReader(call.Body)
	}
	target := "http://plugboard.internal" + call.Path
	if call.Query != "" {
		target += "?" + call.Query
	}
	ctx = egress.WithIntegration(ctx, req.Integration.ID)
	var r *http.Request
	var err error
	if body != nil {
		r, err = http.NewRequestWithContext(ctx, call.Method, target, body)
	} else {
		r, err = http.NewRequestWithContext(ctx, call.Method, target, nil)
	}
	if err != nil {
		return &Result{Status: http.StatusBadRequest, GatewayError: true, Body: []byte(`{"code":"bad_request","message":"the action's request could not be built"}`)}
	}
	if call.Header != nil {
		r.Header = call.Header.Clone()
	}
	r.Header.Set(RawResponseHeader, "1")
	req.Path = call.Path
	rec := &recorder{header: http.Header{}, limit: maxBody}
	h.Serve(rec, r, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return &Result{Status: rec.status, Header: rec.header, Body: rec.body.Bytes(),
		GatewayError: rec.header.Get("X-Plugboard-Error") != "", Truncated: rec.truncated}
}

// recorder is the ResponseWriter of a Call. It never fails a write (a
// failed write would end the copy and cut the answer short):
// beyond limit it drops the rest and says so.
type recorder struct {
	header    http.Header
	status    int
	body      bytes.Buffer
	limit     int64
	truncated bool
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(status int) {
	if w.status == 0 && status >= 200 {
		w.status = status
	}
}

func (w *recorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	room := w.limit - int64(w.body.Len())
	if int64(len(p)) > room {
		w.truncated = true
		w.body.Write(p[:max(room, 0)])
		return len(p), nil
	}
	w.body.Write(p)
	return len(p), nil
}

func (w *recorder) Flush() {}
