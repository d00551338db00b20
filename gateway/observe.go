package gateway

import (
	"context"
	"os"
	"time"

	"github.com/plugboardhq/plugboard/gateway/tracing"
)

// startTracing starts the OTLP exporter when Config.Tracing is set and the
// environment configures one (tracing.FromEnv). Spans of outbound calls
// and refreshes find the tracer in their request's context, so nothing
// else is wired.
func (s *Server) startTracing() error {
	if !s.cfg.Tracing {
		return nil
	}
	exp, err := tracing.FromEnv(context.Background(), os.Getenv, s.cfg.Version)
	if err != nil || exp == nil {
		return err
	}
	s.exporter, s.tracer = exp, exp.Tracer()
	s.log.Info("tracing: exporting spans by OTLP/HTTP", "endpoint", exp.Endpoint)
	return nil
}

// stopTracing exports the spans still buffered, waiting up to 5 seconds.
func (s *Server) stopTracing() {
	if s.exporter == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.exporter.Shutdown(ctx); err != nil {
		s.log.Warn("tracing: could not export the last spans", "error", err.Error())
	}
}
