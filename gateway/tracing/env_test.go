package tracing

import (
	"context"
	"net/url"
	"strings"
	"testing"
)

func TestFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		on   bool
		err  string
	}{
		{"nothing set", nil, false, ""},
		{"endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, true, ""},
		{"traces endpoint", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, true, ""},
		{"disabled", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "true"}, false, ""},
		{"disabled, any case", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "TRUE"}, false, ""},
		{"not disabled", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "false"}, true, ""},
		{"exporter none", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER": "none"}, false, ""},
		{"exporter otlp", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER": "otlp"}, true, ""},
		{"exporter zipkin", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER": "zipkin"}, false, "OTEL_TRACES_EXPORTER=zipkin"},
		{"grpc", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, false, "http/protobuf"},
		{"traces protocol wins", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"}, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exp, err := FromEnv(context.Background(), func(k string) string { return tc.env[k] }, "test")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (exp != nil) != tc.on {
				t.Fatalf("exporter %v, want on=%v", exp, tc.on)
			}
			if exp != nil {
				_ = exp.Shutdown(context.Background())
			}
		})
	}
}

func TestFromEnvLogsNoPassword(t *testing.T) {
	env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://user:hunter2@otel.example:4318/?token=abc"}
	exp, err := FromEnv(context.Background(), func(k string) string { return env[k] }, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = exp.Shutdown(context.Background()) }()
	if strings.Contains(exp.Endpoint, "hunter2") || strings.Contains(exp.Endpoint, "abc") {
		t.Errorf("Endpoint %q", exp.Endpoint)
	}
}

func TestSafeURL(t *testing.T) {
	u, _ := url.Parse("https://user:pw@api.example.com:8443/v1/items?api_key=s3cret#frag")
	if got := SafeURL(u, false); got != "https://api.example.com:8443/v1/items" {
		t.Errorf("SafeURL = %q", got)
	}
	if got := SafeURL(u, true); got != "https://api.example.com:8443" {
		t.Errorf("SafeURL hiding the path = %q", got)
	}
}

func TestRoutePath(t *testing.T) {
	for pattern, want := range map[string]string{
		"GET /v1/integrations/{id}": "/v1/integrations/{id}",
		"/connect/ui":               "/connect/ui",
		"ANY /projects/{pid}/x":     "/projects/{pid}/x",
		"":                          "",
	} {
		if got := routePath(pattern); got != want {
			t.Errorf("routePath(%q) = %q, want %q", pattern, got, want)
		}
	}
}
