package webhook

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// River's info records are logged at debug; its warnings and errors reach
// the operator at their level.
func TestRiverLoggerLevels(t *testing.T) {
	var buf bytes.Buffer
	log := riverLogger(slog.New(slog.NewTextHandler(&buf, nil))) // the default level: info
	log.Info("rivermigrate.Migrator[*sql.Tx]: Applied migration", "version", 1)
	log.Debug("a debug record")
	log.Warn("producer: queue paused")
	log.Error("jobExecutor: Job errored", "error", errors.New("boom"))
	out := buf.String()
	if strings.Contains(out, "Applied migration") || strings.Contains(out, "a debug record") {
		t.Errorf("River's info and debug records reached an info-level log:\n%s", out)
	}
	for _, want := range []string{`level=WARN msg="producer: queue paused" component=river`, `level=ERROR msg="jobExecutor: Job errored" component=river error=boom`} {
		if !strings.Contains(out, want) {
			t.Errorf("want %q in the log, got:\n%s", want, out)
		}
	}

	buf.Reset()
	log = riverLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	log.Info("River client started")
	if !strings.Contains(buf.String(), `level=DEBUG msg="River client started" component=river`) {
		t.Errorf("at --log-level debug, River's info records are logged at debug; got:\n%s", buf.String())
	}
}
