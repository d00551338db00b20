package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/webhook"
)

// BenchmarkProxyGET is one proxied GET through the whole gateway (user
// token, connection cache, credential injection, response wrapping, the
// access log line) to a local upstream, over keep-alive connections. The
// client and the upstream run in the same process, so their allocations
// count too.
func BenchmarkProxyGET(b *testing.B) {
	e := startProxyEnvWith(b, withAccessLog)
	e.connectOAuth("alice", time.Hour)
	benchmarkProxy(b, e, "GET", "/projects/dev/sdk/proxy/custom/fakeoauth/me", "")
}

// BenchmarkProxyGETWebhooks is BenchmarkProxyGET with webhook delivery
// running (River started, the store's outbox installed): the proxy path
// writes nothing, so it must cost the same.
func BenchmarkProxyGETWebhooks(b *testing.B) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	b.Cleanup(sink.Close)
	e := startProxyEnvWith(b, func(c *Config) {
		withAccessLog(c)
		c.Webhooks = &webhook.Config{Endpoints: []webhook.Endpoint{{ProjectID: "dev", URL: sink.URL, Secret: []byte("bench-secret-0123456789abcdef")}}}
	})
	e.connectOAuth("alice", time.Hour)
	benchmarkProxy(b, e, "GET", "/projects/dev/sdk/proxy/custom/fakeoauth/me", "")
}

// BenchmarkProxyPOST is BenchmarkProxyGET with a small JSON body (kept in
// memory for a replay after a refresh).
func BenchmarkProxyPOST(b *testing.B) {
	e := startProxyEnvWith(b, withAccessLog)
	e.connectOAuth("alice", time.Hour)
	benchmarkProxy(b, e, "POST", "/projects/dev/sdk/proxy/custom/fakeoauth/upload", `{"title":"hello","body":"a small JSON document"}`)
}

func benchmarkProxy(b *testing.B, e *proxyEnv, method, path, body string) {
	tok := e.token("alice")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	b.Cleanup(client.CloseIdleConnections)
	send := func() {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, e.base+path, rd)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "auto")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	send() // warm the token cache and the connections
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		send()
	}
}
