// Package tracing makes the gateway's OpenTelemetry spans: a server span
// per request, a client span per outbound HTTP call made while serving one
// (proxied attempts, test requests, OAuth token and revocation calls), and
// internal spans such as a token refresh. Exporting is by OTLP over HTTP,
// configured by the standard OTEL_* environment (FromEnv), and off by
// default.
//
// Spans below the server span are made only inside a traced request: the
// helpers look for a recording span in the context and do nothing without
// one, so with tracing off the cost is a context lookup. Attributes hold
// routes, methods, statuses, ids, hosts and paths — never a token, a
// secret, a header value or a query string.
package tracing

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/plugboardhq/plugboard/manifest"
)

// ScopeName is the instrumentation scope of every span the gateway makes.
const ScopeName = "github.com/plugboardhq/plugboard/gateway"

// Attribute keys of the gateway's own.
const (
	ProjectKey     = attribute.Key("plugboard.project.id")
	IntegrationKey = attribute.Key("plugboard.integration.id")
	RequestIDKey   = attribute.Key("plugboard.request.id")
	ErrorCodeKey   = attribute.Key("plugboard.error.code") // a gateway-made error's X-Plugboard-Error
)

// propagator is W3C trace context only: baggage, which callers may fill
// with anything, is not read or sent by the gateway.
var propagator = propagation.TraceContext{}

// Traced reports whether ctx is inside a recording span, i.e. whether
// spans below it are made.
func Traced(ctx context.Context) bool { return trace.SpanFromContext(ctx).IsRecording() }

// Start starts a span of kind under ctx's recording span, with its tracer
// provider; without one it returns ctx and a span that does nothing.
// Callers on hot paths check Traced first, so that building attrs costs
// nothing when tracing is off.
func Start(ctx context.Context, name string, kind trace.SpanKind, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, noop.Span{}
	}
	return parent.TracerProvider().Tracer(ScopeName).Start(ctx, name, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
}

// StartServer starts the server span of a request with tracer, under ctx
// (the request's). The caller's trace is continued when header carries a
// W3C traceparent (the standard behaviour;
// whether the caller's sampling decision is followed is the sampler's
// choice: OTEL_TRACES_SAMPLER). The span's name is the method until
// EndServer names the route.
func StartServer(ctx context.Context, tracer trace.Tracer, method string, header http.Header) (context.Context, trace.Span) {
	ctx = propagator.Extract(ctx, propagation.HeaderCarrier(header))
	return tracer.Start(ctx, method, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(semconv.HTTPRequestMethodKey.String(method)))
}

// EndServer names the server span after its route pattern (net/http's,
// such as "GET /v1/integrations/{id}"; empty when no route matched),
// records the answer and ends the span. A 5xx is an error of the server.
func EndServer(span trace.Span, method, pattern string, status int, attrs ...attribute.KeyValue) {
	if path := routePath(pattern); path != "" {
		span.SetName(method + " " + path)
		span.SetAttributes(semconv.HTTPRouteKey.String(path))
	}
	span.SetAttributes(semconv.HTTPResponseStatusCodeKey.Int(status))
	span.SetAttributes(attrs...)
	if status >= 500 {
		span.SetStatus(codes.Error, strconv.Itoa(status))
	}
	span.End()
}

// routePath is a ServeMux pattern without its method ("GET /x/{id}" is
// /x/{id}; the proxy's "ANY /projects/…" too).
func routePath(pattern string) string {
	for i := 0; i < len(pattern); i++ {
		if pattern[i] == '/' {
			return pattern[i:]
		}
		if pattern[i] == ' ' {
			return pattern[i+1:]
		}
	}
	return ""
}

// StartClient starts the client span of one outbound HTTP request made
// under ctx (see Start) and writes its traceparent into header, which must
// be the request's own copy. u is recorded without its query, user info
// or fragment, and without its path when hidePath is set (the URL's
// template may put a secret there).
func StartClient(ctx context.Context, name, method string, u *url.URL, hidePath bool, header http.Header, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	if !Traced(ctx) {
		return ctx, noop.Span{}
	}
	attrs = append(attrs, semconv.HTTPRequestMethodKey.String(method),
		semconv.ServerAddressKey.String(u.Hostname()), semconv.URLFullKey.String(SafeURL(u, hidePath)))
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err == nil {
			attrs = append(attrs, semconv.ServerPortKey.Int(n))
		}
	}
	ctx, span := Start(ctx, name, trace.SpanKindClient, attrs...)
	propagator.Inject(ctx, propagation.HeaderCarrier(header))
	return ctx, span
}

// EndClient records a client span's outcome and ends it: the status, or
// the kind of failure. A status of 400 or more is an error of the call.
// err's text is not recorded: it may quote a URL with its query.
func EndClient(span trace.Span, status int, err error, failure string) {
	switch {
	case err != nil:
		if failure == "" {
			failure = "send"
		}
		span.SetAttributes(semconv.ErrorTypeKey.String(failure))
		span.SetStatus(codes.Error, failure)
	case status > 0:
		span.SetAttributes(semconv.HTTPResponseStatusCodeKey.Int(status))
		if status >= 400 {
			span.SetStatus(codes.Error, strconv.Itoa(status))
		}
	}
	span.End()
}

// SafeURL is u as spans record it: scheme, host and (unless hidePath)
// path; never user info, query or fragment.
func SafeURL(u *url.URL, hidePath bool) string {
	s := u.Scheme + "://" + u.Host
	if !hidePath {
		s += u.EscapedPath()
	}
	return s
}

// SecretInPath reports whether a URL template of in may put a secret into
// the URL: a reference to a secret input or to the credential.
func SecretInPath(in *manifest.Integration, t *manifest.Template) bool {
	for _, r := range t.Refs() {
		if r.Namespace != manifest.NSInputs {
			return true
		}
		for _, input := range in.Auth.Inputs {
			if input.Key == r.Key && input.Secret {
				return true
			}
		}
	}
	return false
}
