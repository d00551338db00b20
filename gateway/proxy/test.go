package proxy

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/plugboardhq/plugboard/gateway/accesslog"
	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/egress"
	"github.com/plugboardhq/plugboard/gateway/tracing"
	"github.com/plugboardhq/plugboard/manifest"
)

// TestResult is the outcome of an integration's test request.
type TestResult struct {
	Status   int
	Duration time.Duration
	Method   string // GET or POST (api.testMethod)
	Endpoint string // scheme://host/path of the request, without the query (which may carry a key)
	Excerpt  string // the start of the response body
}

// OK reports whether the test passed (2xx).
func (t *TestResult) OK() bool { return t.Status >= 200 && t.Status < 300 }

const excerptBytes = 2 << 10

// Test calls the integration's test endpoint with conn's credential, as a
// proxied call would be made: a GET, or the manifest's testMethod and
// testBody. It returns nil, nil when the manifest declares
// no test endpoint.
func (h *Handler) Test(ctx context.Context, in *manifest.Integration, conn *connection.Connection) (_ *TestResult, err error) {
	if in.API.TestEndpoint == nil {
		return nil, nil
	}
	status := 0 // for the span
	vars := manifest.Vars{Inputs: conn.Credential.Inputs}
	rendered, err := in.API.TestEndpoint.Render(vars)
	if err != nil {
		return nil, err
	}
	var d destination
	if !in.API.TestIsPath {
		// An absolute test URL on the API's host: its path is from the
		// host's root, as with the proxy's X-Paragon-Proxy-Url.
		u, err := url.Parse(rendered)
		if err != nil {
			return nil, err
		}
		d = destination{path: u.EscapedPath(), query: u.RawQuery, absolute: u}
	} else {
		d.path, d.query, _ = strings.Cut(rendered, "?")
	}
	header := http.Header{}
	target, err := render(in, conn, d, header)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(egress.WithIntegration(ctx, in.ID), in.API.Timeout)
	defer cancel()
	method := in.API.TestMethod
	if method == "" {
		method = http.MethodGet
	}
	var reqBody io.Reader
	if in.API.TestBody != nil {
		reqBody = bytes.NewReader(in.API.TestBody)
	}
	req, err := http.NewRequestWithContext(ctx, method, target.String(), reqBody)
	if err != nil {
		return nil, err
	}
	req.Header = header
	req.Header.Set("User-Agent", h.UserAgent)
	req.Header.Set("Accept", "application/json")
	if reqBody != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if e := accesslog.From(ctx); e != nil {
		e.SetRequestIDHeader(req.Header)
	}
	if tracing.Traced(ctx) {
		var span trace.Span
		ctx, span = tracing.StartClient(ctx, method, method, target, baseURLHidesSecret(in) || tracing.SecretInPath(in, in.API.TestEndpoint), req.Header,
			tracing.IntegrationKey.String(in.ID))
		req = req.WithContext(ctx)
		defer func() { tracing.EndClient(span, status, err, "send") }()
	}
	start := time.Now()
	resp, err := h.Transport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	status = resp.StatusCode
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, excerptBytes))
	endpoint := *target
	endpoint.RawQuery = ""
	return &TestResult{Method: method, Status: resp.StatusCode, Duration: time.Since(start), Endpoint: endpoint.String(), Excerpt: string(body)}, nil
}
