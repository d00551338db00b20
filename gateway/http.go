package gateway

import (
	"log/slog"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/plugboardhq/plugboard/gateway/accesslog"
	"github.com/plugboardhq/plugboard/gateway/apierror"
	"github.com/plugboardhq/plugboard/gateway/tracing"
)

// notFoundAsJSON serves with mux, turning the mux's own plain-text 404 and
// 405 answers into the gateway's JSON errors (a 405 keeps its Allow
// header). where is added to the 404's message.
func notFoundAsJSON(mux *http.ServeMux, where string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		rec := &headerRecorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		switch {
		case rec.status == http.StatusMethodNotAllowed:
			allow := rec.header.Get("Allow")
			w.Header().Set("Allow", allow)
			apierror.Write(w, apierror.New(http.StatusMethodNotAllowed, apierror.MethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path+"; allowed: "+allow))
		case rec.status >= 300 && rec.status < 400:
			w.Header().Set("Location", rec.header.Get("Location"))
			w.WriteHeader(rec.status)
		default:
			apierror.Write(w, apierror.New(http.StatusNotFound, apierror.NotFound, "no route for "+r.Method+" "+r.URL.Path+where))
		}
	})
}

// headerRecorder keeps the status and headers a handler writes, not its body.
type headerRecorder struct {
	header http.Header
	status int
}

func (h *headerRecorder) Header() http.Header { return h.header }
func (h *headerRecorder) Write(b []byte) (int, error) {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	return len(b), nil
}
func (h *headerRecorder) WriteHeader(code int) {
	if h.status == 0 {
		h.status = code
	}
}

// instrument records metrics per route pattern, gives the request its id
// (X-Request-Id, echoed in the answer), makes its server span when
// tracing is on, and writes its access log line (info level) or, with the
// access log off, a debug line. It never logs query strings or header
// values (but the request id), which may hold tokens.
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &requestRecord{statusWriter: statusWriter{ResponseWriter: w, status: http.StatusOK}}
		rec.entry.RequestID = accesslog.RequestID(r.Header.Get(accesslog.RequestIDHeader))
		rec.entry.SetRequestIDHeader(w.Header())
		ctx := accesslog.NewContext(r.Context(), &rec.entry)
		var span trace.Span
		if s.tracer != nil {
			ctx, span = tracing.StartServer(ctx, s.tracer, r.Method, r.Header)
		}
		r = r.WithContext(ctx)
		next.ServeHTTP(&rec.statusWriter, r)
		route := r.Pattern
		if route == "" || route == "/" {
			route = "unmatched"
		}
		elapsed := time.Since(start)
		status := rec.status
		s.metrics.HTTPRequest(route, r.Method, status).Inc()
		s.metrics.HTTPTime(route).Observe(elapsed.Seconds())
		// X-Plugboard-Error marks the gateway's own answers: the proxy
		// drops it from upstream ones.
		code := rec.Header().Get("X-Plugboard-Error")
		e := &rec.entry
		if code != "" {
			s.recentErrors.Add(accesslog.GatewayError{Time: start, Method: r.Method, Route: route, Status: status, Code: code,
				Project: e.Project, Integration: e.Integration, RequestID: e.RequestID})
		}
		if span != nil {
			tracing.EndServer(span, r.Method, r.Pattern, status, serverAttrs(e, code)...)
		}
		if !s.cfg.AccessLog {
			s.log.Debug("request", "method", r.Method, "route", route, "status", status, "duration_ms", millis(elapsed))
			return
		}
		level := slog.LevelInfo
		if isProbe(r.Pattern) && status < 300 {
			level = slog.LevelDebug // a load balancer's every few seconds
		}
		var buf [12]slog.Attr
		attrs := append(buf[:0], slog.String("request_id", e.RequestID), slog.String("method", r.Method), slog.String("route", route), slog.Int("status", status))
		if e.Project != "" {
			attrs = append(attrs, slog.String("project", e.Project))
		}
		if e.Integration != "" {
			attrs = append(attrs, slog.String("integration", e.Integration))
		}
		if e.User != "" {
			attrs = append(attrs, slog.String("user", e.User))
		}
		if code != "" {
			attrs = append(attrs, slog.String("error", code))
		}
		if e.UpstreamStatus != 0 {
			attrs = append(attrs, slog.Int("upstream_status", e.UpstreamStatus))
		}
		attrs = append(attrs, slog.Float64("duration_ms", millis(elapsed)))
		if e.Upstream > 0 {
			attrs = append(attrs, slog.Float64("upstream_ms", millis(e.Upstream)))
		}
		if span != nil {
			attrs = append(attrs, slog.String("trace_id", span.SpanContext().TraceID().String()))
		}
		// As s.log.LogAttrs would, but without capturing the caller's
		// program counter for every line (no handler here shows it).
		if h := s.log.Handler(); h.Enabled(ctx, level) {
			rec := slog.NewRecord(start.Add(elapsed), level, accesslog.Message, 0)
			rec.AddAttrs(attrs...)
			_ = h.Handle(ctx, rec)
		}
	})
}

// requestRecord is what instrument keeps of one request, in one allocation.
type requestRecord struct {
	statusWriter
	entry accesslog.Entry
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func isProbe(pattern string) bool {
	return pattern == "GET /healthz" || pattern == "GET /readyz"
}

func serverAttrs(e *accesslog.Entry, code string) []attribute.KeyValue {
	attrs := []attribute.KeyValue{tracing.RequestIDKey.String(e.RequestID)}
	if e.Project != "" {
		attrs = append(attrs, tracing.ProjectKey.String(e.Project))
	}
	if e.Integration != "" {
		attrs = append(attrs, tracing.IntegrationKey.String(e.Integration))
	}
	if code != "" {
		attrs = append(attrs, tracing.ErrorCodeKey.String(code))
	}
	return attrs
}

type statusWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
