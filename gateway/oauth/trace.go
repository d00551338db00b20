package oauth

import (
	"context"
	"net/http"

	"github.com/plugboardhq/plugboard/gateway/tracing"
	"github.com/plugboardhq/plugboard/manifest"
)

// Span names of the calls, for tracedTransport.
const (
	spanToken  = "oauth token"
	spanRevoke = "oauth revoke"
)

// call is what tracedTransport records of a token or revocation call: the
// span's name, the integration, and whether the endpoint's URL template
// may put a secret input into the path (which the span then leaves out).
type call struct {
	name        string
	integration string
	hidePath    bool
}

type callKey struct{}

// withCall marks ctx's next call for tracedTransport, in a traced request.
func withCall(ctx context.Context, name string, in *manifest.Integration, endpoint *manifest.Template) context.Context {
	if !tracing.Traced(ctx) {
		return ctx
	}
	return context.WithValue(ctx, callKey{}, call{name: name, integration: in.ID, hidePath: tracing.SecretInPath(in, endpoint)})
}

// tracedTransport makes a client span for each call made in a traced
// request and sends its traceparent to the endpoint. It never records
// the form, headers or query: they carry the client secret, codes and
// tokens.
type tracedTransport struct{ next http.RoundTripper }

func (t tracedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	c, ok := ctx.Value(callKey{}).(call)
	if !ok || !tracing.Traced(ctx) {
		return t.next.RoundTrip(req)
	}
	out := req.Clone(ctx) // RoundTrip must not change req
	ctx, span := tracing.StartClient(ctx, c.name, req.Method, req.URL, c.hidePath, out.Header,
		tracing.IntegrationKey.String(c.integration))
	resp, err := t.next.RoundTrip(out.WithContext(ctx))
	status := 0
	if err == nil {
		status = resp.StatusCode
	}
	tracing.EndClient(span, status, err, "send")
	return resp, err
}

func transportOf(hc *http.Client) http.RoundTripper {
	if hc.Transport == nil {
		return http.DefaultTransport
	}
	return hc.Transport
}
