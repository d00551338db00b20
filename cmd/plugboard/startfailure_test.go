package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/plugboardhq/plugboard/gateway/accesslog"
)

// serve's failure comes after the access lines logged before it, which may
// still wait in their batch when it is reported: as a JSON record, and as
// the text run prints once runServe has returned.
func TestStartFailureComesAfterBufferedAccessLines(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			var stderr bytes.Buffer
			logs := &logBuffer{w: &stderr}
			// An access line as the batching handler leaves it in logs.
			if _, err := logs.Write([]byte(`{"level":"INFO","msg":"` + accesslog.Message + `","route":"GET /healthz","status":200}` + "\n")); err != nil {
				t.Fatal(err)
			}
			if stderr.Len() != 0 {
				t.Fatalf("the access line was not batched: %q", stderr.String())
			}
			err := serveOptions{logFormat: format}.startFailure(&stderr, logs, errors.New("listen tcp 127.0.0.1:8080: address already in use"))
			if format == "text" {
				if err == nil || !strings.Contains(stderr.String(), `"route":"GET /healthz"`) {
					t.Errorf("the access line must be written before run prints the error (%v):\n%s", err, stderr.String())
				}
				return
			}
			var ee exitError
			if !errors.As(err, &ee) {
				t.Errorf("want an exit status, got %v", err)
			}
			out := stderr.String()
			access, failure := strings.Index(out, `"route":"GET /healthz"`), strings.Index(out, "address already in use")
			if access < 0 || failure < 0 || failure < access {
				t.Errorf("want the access line, then the failure:\n%s", out)
			}
		})
	}
}
