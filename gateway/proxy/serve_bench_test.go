package proxy_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/connection"
	"github.com/plugboardhq/plugboard/gateway/egress"
	"github.com/plugboardhq/plugboard/gateway/metrics"
	"github.com/plugboardhq/plugboard/gateway/proxy"
	"github.com/plugboardhq/plugboard/manifest"
)

// oneConnection is a connection store holding one connection.
type oneConnection struct{ conn *connection.Connection }

func (s oneConnection) Default(ctx context.Context, projectID, userID, integrationID string) (*connection.Connection, error) {
	return s.conn, nil
}

func (s oneConnection) WithLock(ctx context.Context, id string, fn func(*connection.Connection) (*connection.Connection, error)) (*connection.Connection, error) {
	return fn(s.conn)
}

type cannedUpstream struct{}

func (cannedUpstream) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{StatusCode: 200, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, ContentLength: 24,
		Header: http.Header{"Content-Type": {"application/json"}, "Content-Length": {"24"}},
		Body:   io.NopCloser(strings.NewReader(`{"login":"octo","id":42}`)), Request: r}, nil
}

// BenchmarkServe is the proxy's own work for one call (Handler.Serve with a
// cached connection and an upstream that answers at once, in memory).
func BenchmarkServeGET(b *testing.B) { benchmarkServe(b, "GET", "") }
func BenchmarkServePOST(b *testing.B) {
	benchmarkServe(b, "POST", `{"title":"hello","body":"a small JSON document"}`)
}

func benchmarkServe(b *testing.B, method, body string) {
	in, probs := manifest.Parse("bench.yaml", []byte(`id: tok
name: Token API
description: An API with OAuth tokens.
auth:
  type: oauth2_client_credentials
  clientCredentials:
    tokenUrl: https://auth.example/token
api:
  baseUrl: https://api.example/v1
  headers:
    X-Static: static
`), manifest.Options{})
	if probs.HasErrors(false) {
		b.Fatal(probs)
	}
	conn := &connection.Connection{ID: "c1", ProjectID: "p", UserID: "u", IntegrationID: "tok", IsDefault: true,
		Credential: connection.Credential{AccessToken: "tok", TokenType: "Bearer"}, ExpiresAt: time.Now().Add(time.Hour)}
	creds := &connection.Refresher{Store: oneConnection{conn}}
	h := &proxy.Handler{Credentials: creds, Transport: cannedUpstream{}, Metrics: metrics.New(), Log: slog.New(slog.DiscardHandler), UserAgent: "bench"}
	h.Init()
	req := proxy.Request{ProjectID: "p", UserID: "u", Integration: in, Path: "/users/me"}
	b.ReportAllocs()
	for b.Loop() {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		r := httptest.NewRequest(method, "http://gw/projects/p/sdk/proxy/custom/tok/users/me?page=2", rd)
		r.Header.Set("Authorization", "Bearer user-token")
		r.Header.Set("Content-Type", "auto")
		r.Header.Set("Accept", "application/json")
		r = r.WithContext(egress.WithIntegration(r.Context(), in.ID))
		w := httptest.NewRecorder()
		h.Serve(w, r, req)
		if w.Code != 200 {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}

// BenchmarkReverseProxyGET is the floor BenchmarkServeGET is weighed
// against: a bare httputil.ReverseProxy with pooled copy buffers setting the
// credential header, on the same in-memory upstream and request. The
// difference is what the proxy's own work costs (plan, filters, credential
// rendering, wrapping, metrics, timeout).
func BenchmarkReverseProxyGET(b *testing.B) { benchmarkReverseProxy(b, "GET", "") }
func BenchmarkReverseProxyPOST(b *testing.B) {
	benchmarkReverseProxy(b, "POST", `{"title":"hello","body":"a small JSON document"}`)
}

func benchmarkReverseProxy(b *testing.B, method, body string) {
	target, _ := url.Parse("https://api.example/v1")
	cred := []string{"Bearer tok"}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Header["Authorization"] = cred
		},
		Transport:  cannedUpstream{},
		BufferPool: pooledBuffers{},
	}
	b.ReportAllocs()
	for b.Loop() {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		r := httptest.NewRequest(method, "http://gw/users/me?page=2", rd)
		r.Header.Set("Authorization", "Bearer user-token")
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Accept", "application/json")
		w := httptest.NewRecorder()
		rp.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}

type pooledBuffers struct{}

var benchBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (pooledBuffers) Get() []byte  { return *benchBuffers.Get().(*[]byte) }
func (pooledBuffers) Put(b []byte) { benchBuffers.Put(&b) }
