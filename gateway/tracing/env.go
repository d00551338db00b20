package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// DefaultServiceName is service.name unless OTEL_SERVICE_NAME (or
// OTEL_RESOURCE_ATTRIBUTES) names another.
const DefaultServiceName = "plugboard"

// Exporter is a running OTLP/HTTP trace exporter and its tracer provider.
type Exporter struct {
	provider *sdktrace.TracerProvider
	// Endpoint is the OTEL_* variable that configured it and its value
	// without password or query, for the startup log (headers, which may
	// carry credentials, are never shown).
	Endpoint string
}

// Tracer is the tracer of the gateway's spans.
func (e *Exporter) Tracer() trace.Tracer { return e.provider.Tracer(ScopeName) }

// Shutdown exports the spans still buffered and stops the exporter.
func (e *Exporter) Shutdown(ctx context.Context) error { return e.provider.Shutdown(ctx) }

// FromEnv starts an exporter when the standard OpenTelemetry environment
// asks for one, and returns nil (tracing off) otherwise:
//
//   - OTEL_SDK_DISABLED=true, or OTEL_TRACES_EXPORTER=none: off.
//   - OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT set:
//     on, by OTLP over HTTP (protobuf); every other OTEL_EXPORTER_OTLP_*
//     variable (headers, timeout, compression, certificates) and
//     OTEL_BSP_*, OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG,
//     OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES apply as the SDK reads
//     them.
//   - neither: off. No exporter runs, no connection is made.
//
// A protocol other than http/protobuf, or an exporter other than otlp,
// is an error: the operator asked for something this binary does not do.
// getenv is os.Getenv in the binary; the SDK reads the variables it
// applies from the process environment itself.
func FromEnv(ctx context.Context, getenv func(string) string, version string) (*Exporter, error) {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return nil, nil
	}
	switch exp := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); exp {
	case "", "otlp":
	case "none":
		return nil, nil
	default:
		return nil, fmt.Errorf("OTEL_TRACES_EXPORTER=%s: plugboard exports traces by otlp only (or none)", exp)
	}
	endpoint := ""
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			if u, err := url.Parse(v); err == nil {
				u.RawQuery, u.Fragment = "", ""
				v = u.Redacted()
			}
			endpoint = name + "=" + v
			break
		}
	}
	if endpoint == "" {
		return nil, nil
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			if v != "http/protobuf" {
				return nil, fmt.Errorf("%s=%s: plugboard exports traces by OTLP over HTTP only (http/protobuf)", name, v)
			}
			break
		}
	}
	exporter, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceNameKey.String(DefaultServiceName), semconv.ServiceVersionKey.String(version)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(), // last: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		_ = exporter.Shutdown(ctx)
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res))
	return &Exporter{provider: tp, Endpoint: endpoint}, nil
}
