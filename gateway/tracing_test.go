package gateway

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/plugboardhq/plugboard/gateway/testfix"
)

// otlpReceiver is an OTLP/HTTP trace receiver on 127.0.0.1: it decodes
// each ExportTraceServiceRequest and keeps its spans.
type otlpReceiver struct {
	*httptest.Server
	mu        sync.Mutex
	spans     []*tracepb.Span
	resources []*commonpb.KeyValue
}

func startOTLPReceiver(t *testing.T) *otlpReceiver {
	rcv := &otlpReceiver{}
	rcv.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("OTLP receiver: %s %s %s", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
			http.Error(w, "unexpected", http.StatusBadRequest)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		b, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			t.Errorf("OTLP receiver: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rcv.mu.Lock()
		for _, rs := range req.ResourceSpans {
			rcv.resources = append(rcv.resources, rs.GetResource().GetAttributes()...)
			for _, ss := range rs.ScopeSpans {
				rcv.spans = append(rcv.spans, ss.Spans...)
			}
		}
		rcv.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(rcv.Close)
	return rcv
}

func (rcv *otlpReceiver) all() []*tracepb.Span {
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	return append([]*tracepb.Span(nil), rcv.spans...)
}

// find returns the spans named name.
func (rcv *otlpReceiver) find(name string) []*tracepb.Span {
	var out []*tracepb.Span
	for _, s := range rcv.all() {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// waitFor waits until a span named name has arrived and returns it.
func (rcv *otlpReceiver) waitFor(t *testing.T, name string) *tracepb.Span {
	t.Helper()
	testfix.EventuallySaw(t, "a span named "+name, func() (bool, string) {
		return len(rcv.find(name)) > 0, fmt.Sprint(spanNames(rcv.all()))
	})
	return rcv.find(name)[0]
}

func spanNames(spans []*tracepb.Span) []string {
	var names []string
	for _, s := range spans {
		names = append(names, s.Name)
	}
	return names
}

func attr(s *tracepb.Span, key string) string {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			return anyValue(kv.Value)
		}
	}
	return ""
}

func anyValue(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return fmt.Sprint(x.IntValue)
	case *commonpb.AnyValue_BoolValue:
		return fmt.Sprint(x.BoolValue)
	default:
		return fmt.Sprint(v)
	}
}

// traceEnv points the OpenTelemetry environment at rcv, exporting every
// 50ms, and clears what the machine might set.
func traceEnv(t *testing.T, rcv *otlpReceiver, scheduleDelay string) {
	for _, k := range []string{"OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SERVICE_NAME",
		"OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_SAMPLER", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"} {
		t.Setenv(k, "")
		_ = os.Unsetenv(k)
	}
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rcv.URL)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", scheduleDelay)
}

func withTracing(c *Config) { c.Tracing, c.AccessLog = true, true }

func TestTracesOfAProxiedCallWithARefresh(t *testing.T) {
	rcv := startOTLPReceiver(t)
	traceEnv(t, rcv, "50")
	e := startProxyEnvWith(t, withTracing)
	if e.srv.exporter == nil {
		t.Fatal("no exporter although OTEL_EXPORTER_OTLP_ENDPOINT is set")
	}
	old := e.connectOAuth("alice", -time.Minute) // expired: the proxy refreshes first
	tok := e.token("alice")
	const callerTrace, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	r := e.do("POST", "/projects/dev/sdk/proxy/custom/fakeoauth/echo?q=query-secret-value", tok,
		strings.NewReader(`{"note":"body-secret-value"}`), map[string]string{
			"Content-Type": "application/json", "X-Request-Id": "req-traced",
			"Traceparent": "00-" + callerTrace + "-" + callerSpan + "-01",
		})
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	got := echoed(t, r)
	newToken := strings.TrimPrefix(got.Headers.Get("Authorization"), "Bearer ")

	server := rcv.waitFor(t, "POST /projects/{pid}/sdk/proxy/custom/{integration}/{path...}")
	upstream := rcv.waitFor(t, "POST")
	refresh := rcv.waitFor(t, "refresh token")
	token := rcv.waitFor(t, "oauth token")

	// The server span continues the caller's trace.
	if hex.EncodeToString(server.TraceId) != callerTrace || hex.EncodeToString(server.ParentSpanId) != callerSpan {
		t.Errorf("server span in trace %x under %x, want the caller's", server.TraceId, server.ParentSpanId)
	}
	if server.Kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("server span kind %v", server.Kind)
	}
	for k, want := range map[string]string{"http.route": "/projects/{pid}/sdk/proxy/custom/{integration}/{path...}", "http.request.method": "POST",
		"http.response.status_code": "200", "plugboard.integration.id": "fakeoauth", "plugboard.project.id": "dev", "plugboard.request.id": "req-traced"} {
		if v := attr(server, k); v != want {
			t.Errorf("server span %s = %q, want %q", k, v, want)
		}
	}
	// The upstream attempt: a client span under the server span, whose
	// traceparent the upstream received.
	if upstream.Kind != tracepb.Span_SPAN_KIND_CLIENT || !bytes.Equal(upstream.ParentSpanId, server.SpanId) || !bytes.Equal(upstream.TraceId, server.TraceId) {
		t.Errorf("upstream span kind %v parent %x, want a client span under %x", upstream.Kind, upstream.ParentSpanId, server.SpanId)
	}
	for k, want := range map[string]string{"url.full": e.provider.URL + "/api/echo", "http.request.method": "POST",
		"http.response.status_code": "200", "plugboard.integration.id": "fakeoauth", "server.address": "127.0.0.1"} {
		if v := attr(upstream, k); v != want {
			t.Errorf("upstream span %s = %q, want %q", k, v, want)
		}
	}
	wantParent := fmt.Sprintf("00-%s-%x-01", callerTrace, upstream.SpanId)
	if tp := got.Headers.Values("Traceparent"); len(tp) != 1 || tp[0] != wantParent {
		t.Errorf("the upstream received traceparent %q, want %q", tp, wantParent)
	}
	// The refresh, and the token endpoint call inside it.
	if !bytes.Equal(refresh.ParentSpanId, server.SpanId) || attr(refresh, "plugboard.refresh.result") != "success" {
		t.Errorf("refresh span under %x with result %q", refresh.ParentSpanId, attr(refresh, "plugboard.refresh.result"))
	}
	if token.Kind != tracepb.Span_SPAN_KIND_CLIENT || !bytes.Equal(token.ParentSpanId, refresh.SpanId) {
		t.Errorf("token span kind %v under %x, want a client span under the refresh %x", token.Kind, token.ParentSpanId, refresh.SpanId)
	}
	if v := attr(token, "url.full"); v != e.provider.URL+"/oauth/token" {
		t.Errorf("token span url.full %q", v)
	}
	if v := attr(token, "http.response.status_code"); v != "200" {
		t.Errorf("token span status %q", v)
	}
	// The access log names the trace.
	if rec := accessLine(t, e.logs.String(), "req-traced"); rec["trace_id"] != callerTrace {
		t.Errorf("access line trace_id %v", rec["trace_id"])
	}
	// No secret in any span or resource attribute, name or event.
	secrets := []string{tok, old.Credential.AccessToken, old.Credential.RefreshToken, newToken, e.provider.ClientSecret,
		"query-secret-value", "q=", "body-secret-value"}
	for _, s := range rcv.all() {
		texts := []string{s.Name}
		for _, kv := range s.Attributes {
			texts = append(texts, kv.Key+"="+anyValue(kv.Value))
		}
		for _, ev := range s.Events {
			texts = append(texts, ev.Name)
			for _, kv := range ev.Attributes {
				texts = append(texts, anyValue(kv.Value))
			}
		}
		texts = append(texts, s.Status.GetMessage())
		for _, text := range texts {
			for _, secret := range secrets {
				if secret != "" && strings.Contains(text, secret) {
					t.Errorf("span %q carries %q", s.Name, secret)
				}
			}
		}
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	service := ""
	for _, kv := range rcv.resources {
		if kv.Key == "service.name" {
			service = anyValue(kv.Value)
		}
	}
	if service != "plugboard" {
		t.Errorf("service.name %q", service)
	}
}

// A gateway error is a server span with the error code; the upstream's own
// error status is its client span's.
func TestTracesOfErrors(t *testing.T) {
	rcv := startOTLPReceiver(t)
	traceEnv(t, rcv, "50")
	t.Setenv("OTEL_SERVICE_NAME", "gw-test")
	e := startProxyEnvWith(t, withTracing)
	e.connectKey("bob", "fakekey", "key-bob-secret")
	tok := e.token("bob")
	if r := e.do("GET", "/projects/dev/sdk/proxy/custom/fakeoauth/me", tok, nil, nil); r.status != 404 {
		t.Fatalf("status %d", r.status)
	}
	if r := e.do("GET", "/projects/dev/sdk/proxy/custom/fakekey/status?code=503", tok, nil, nil); r.status != 503 {
		t.Fatalf("status %d", r.status)
	}
	testfix.EventuallySaw(t, "two server spans and one client span", func() (bool, string) {
		return len(rcv.find("GET /projects/{pid}/sdk/proxy/custom/{integration}/{path...}")) == 2 && len(rcv.find("GET")) == 1, fmt.Sprint(spanNames(rcv.all()))
	})
	var codes []string
	for _, s := range rcv.find("GET /projects/{pid}/sdk/proxy/custom/{integration}/{path...}") {
		codes = append(codes, attr(s, "http.response.status_code")+" "+attr(s, "plugboard.error.code"))
		if status := attr(s, "http.response.status_code"); status == "503" && s.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR {
			t.Errorf("a 503 server span with status %v", s.Status)
		}
	}
	if strings.Join(codes, ",") != "404 not_connected,503 " {
		t.Errorf("server spans: %q", codes)
	}
	client := rcv.find("GET")[0]
	if attr(client, "http.response.status_code") != "503" || client.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("client span status %q %v", attr(client, "http.response.status_code"), client.Status)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	for _, kv := range rcv.resources {
		if kv.Key == "service.name" && anyValue(kv.Value) != "gw-test" {
			t.Errorf("service.name %q, want OTEL_SERVICE_NAME's", anyValue(kv.Value))
		}
	}
}

// Spans still buffered when the gateway stops are exported before Serve
// returns.
func TestTracesFlushedOnShutdown(t *testing.T) {
	rcv := startOTLPReceiver(t)
	traceEnv(t, rcv, "600000") // ten minutes: only shutdown exports
	e := startProxyEnvWith(t, withTracing)
	e.do("GET", "/v1/integrations", "", nil, nil)
	time.Sleep(100 * time.Millisecond)
	if n := len(rcv.all()); n != 0 {
		t.Fatalf("%d spans exported before shutdown", n)
	}
	e.stop()
	if len(rcv.find("GET /v1/integrations")) != 1 {
		t.Errorf("after shutdown: %v", spanNames(rcv.all()))
	}
}

// Without an OTLP endpoint in the environment, no exporter runs, and the
// caller's traceparent reaches the upstream as any header would.
func TestNoTracingWithoutEnv(t *testing.T) {
	rcv := startOTLPReceiver(t)
	traceEnv(t, rcv, "50")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	e := startProxyEnvWith(t, withTracing)
	if e.srv.exporter != nil || e.srv.tracer != nil {
		t.Fatal("an exporter runs without OTEL_EXPORTER_OTLP_ENDPOINT")
	}
	e.connectKey("carl", "fakekey", "key-carl")
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	r := e.do("GET", "/projects/dev/sdk/proxy/custom/fakekey/echo", e.token("carl"), nil, map[string]string{"Traceparent": tp})
	if got := echoed(t, r).Headers.Get("Traceparent"); got != tp {
		t.Errorf("the upstream received traceparent %q", got)
	}
	if strings.Contains(e.logs.String(), "trace_id") || strings.Contains(e.logs.String(), "tracing:") {
		t.Error("tracing appears in the logs")
	}
}
