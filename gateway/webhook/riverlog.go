package webhook

import (
	"context"
	"log/slog"
)

// riverLogger is the logger River and its migrator are given: their info
// records (each migration applied, client started and stopped, producer
// job counts) are the gateway's machinery, not the operator's business,
// so they are logged at debug; warnings and errors keep their level.
func riverLogger(log *slog.Logger) *slog.Logger {
	return slog.New(riverHandler{log.Handler()}).With("component", "river")
}

// riverLevel is the level a River record of level l is logged at.
func riverLevel(l slog.Level) slog.Level {
	if l < slog.LevelWarn {
		return slog.LevelDebug
	}
	return l
}

// riverHandler logs River's records at riverLevel.
type riverHandler struct{ h slog.Handler }

func (r riverHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return r.h.Enabled(ctx, riverLevel(l))
}

func (r riverHandler) Handle(ctx context.Context, rec slog.Record) error {
	rec.Level = riverLevel(rec.Level)
	if !r.h.Enabled(ctx, rec.Level) {
		return nil
	}
	return r.h.Handle(ctx, rec)
}

func (r riverHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return riverHandler{r.h.WithAttrs(attrs)}
}

func (r riverHandler) WithGroup(name string) slog.Handler { return riverHandler{r.h.WithGroup(name)} }
