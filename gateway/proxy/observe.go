package proxy

import (
	"errors"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/plugboardhq/plugboard/gateway/accesslog"
	"github.com/plugboardhq/plugboard/gateway/tracing"
	"github.com/plugboardhq/plugboard/manifest"
)

// UpstreamRequestIDHeader is where the caller finds an upstream's own
// X-Request-Id: the gateway's request id takes that name in answers.
const UpstreamRequestIDHeader = "X-Upstream-Request-Id"

// observeTransport records each attempt for the access log (the
// upstream's status, its time to response headers) and, in a traced
// request, makes the attempt's client span and sends its traceparent.
// It sits right after injectTransport, whose request is its own copy, so
// it may set a header on it.
type observeTransport struct{ next http.RoundTripper }

func (t observeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	var span trace.Span
	if tracing.Traced(ctx) {
		in := planFrom(ctx).Integration
		ctx, span = tracing.StartClient(ctx, req.Method, req.Method, req.URL, baseURLHidesSecret(in), req.Header,
			tracing.IntegrationKey.String(in.ID))
		req = req.WithContext(ctx)
	}
	sent := time.Now()
	resp, err := t.next.RoundTrip(req)
	took := time.Since(sent)
	if e := accesslog.From(ctx); e != nil {
		if err == nil {
			e.AddUpstream(resp.StatusCode, took)
		} else {
			e.Upstream += took
		}
	}
	if span != nil {
		status := 0
		if err == nil {
			status = resp.StatusCode
		}
		tracing.EndClient(span, status, err, failureKind(err))
	}
	return resp, err
}

// baseURLHidesSecret reports whether in's base URL may put a secret input
// into the path, which spans then leave out.
func baseURLHidesSecret(in *manifest.Integration) bool {
	return tracing.SecretInPath(in, in.API.BaseURL)
}

// failureKind names an attempt's failure for a span's error.type.
func failureKind(err error) string {
	var te *timeoutError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &te):
		return "timeout"
	default:
		return "send"
	}
}
