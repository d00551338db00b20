package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plugboardhq/plugboard/gateway/accesslog"
)

// syncWriter is stderr as the tests see it.
type syncWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes++
	return w.buf.Write(p)
}

func (w *syncWriter) lines() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Split(strings.TrimSuffix(w.buf.String(), "\n"), "\n")
}

func batchingLogger(t *testing.T) (*slog.Logger, *logBuffer, *syncWriter) {
	t.Helper()
	w := &syncWriter{}
	b := &logBuffer{w: w}
	l, err := newLogger(b, "text", "debug")
	if err != nil {
		t.Fatal(err)
	}
	return slog.New(batchingHandler{Handler: l.Handler(), buf: b}), b, w
}

// TestAccessLinesWaitOthersFlush: access lines wait for their batch; any
// other record, or an access record at warn level, is written at once,
// after the access lines before it, in the order they were logged.
func TestAccessLinesWaitOthersFlush(t *testing.T) {
	log, b, w := batchingLogger(t)
	ctx := context.Background()
	log.Info(accesslog.Message, "n", 1)
	log.With("component", "x").Info(accesslog.Message, "n", 2)
	if got := w.lines(); len(got) != 1 || got[0] != "" {
		t.Fatalf("access lines were written before their batch: %q", got)
	}
	log.Info("listening")
	log.LogAttrs(ctx, slog.LevelDebug, accesslog.Message, slog.Int("n", 3))
	log.LogAttrs(ctx, slog.LevelWarn, accesslog.Message, slog.Int("n", 4))
	log.Info(accesslog.Message, "n", 5)
	got := w.lines()
	want := []string{"msg=access n=1", "msg=access component=x n=2", "msg=listening", "msg=access n=3", "msg=access n=4"}
	if len(got) != len(want) {
		t.Fatalf("written %q, want lines ending %q", got, want)
	}
	for i := range want {
		if !strings.HasSuffix(got[i], want[i]) {
			t.Errorf("line %d = %q, want it to end %q", i, got[i], want[i])
		}
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := w.lines(); len(got) != 6 || !strings.HasSuffix(got[5], "msg=access n=5") {
		t.Errorf("after Flush: %q, want the last access line too", got)
	}
}

// TestLogBufferBounds: 64 KiB waiting are written without a flush, in
// one write per batch, not one per line.
func TestLogBufferBounds(t *testing.T) {
	log, _, w := batchingLogger(t)
	line := strings.Repeat("x", 1000)
	for range 200 { // about 200 KiB
		log.Info(accesslog.Message, "pad", line)
	}
	w.mu.Lock()
	written, writes := w.buf.Len(), w.writes
	w.mu.Unlock()
	if written < 128<<10 || written > 200<<10 || writes < 2 || writes > 4 {
		t.Errorf("%d bytes in %d writes; want the full 64 KiB batches written, a few writes", written, writes)
	}
}

// TestLogBufferFlushesOnStop: what waits is written when serve stops, and
// by the interval before that.
func TestLogBufferFlushesOnStop(t *testing.T) {
	log, b, w := batchingLogger(t)
	stop := b.flushEvery(time.Hour)
	log.Info(accesslog.Message, "n", 1)
	stop()
	if got := w.lines(); len(got) != 1 || !strings.HasSuffix(got[0], "msg=access n=1") {
		t.Errorf("after stop: %q, want the access line", got)
	}
	stop = b.flushEvery(time.Millisecond)
	defer stop()
	log.Info(accesslog.Message, "n", 2)
	deadline := time.Now().Add(10 * time.Second) // a bound for a stuck flusher, not a speed check
	for len(w.lines()) < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := w.lines(); len(got) != 2 {
		t.Errorf("the interval flush did not write the access line: %q", got)
	}
}

// failingOnce fails its first write after n bytes, then works.
type failingOnce struct {
	n      int
	failed bool
	got    bytes.Buffer
}

func (f *failingOnce) Write(p []byte) (int, error) {
	if !f.failed {
		f.failed = true
		f.got.Write(p[:f.n])
		return f.n, errors.New("disk full")
	}
	return f.got.Write(p)
}

// A flush that fails part-way keeps the lines not yet written for the
// next one: nothing is lost or written twice.
func TestLogBufferKeepsWhatAFailedWriteLeft(t *testing.T) {
	w := &failingOnce{n: 5}
	b := &logBuffer{w: w}
	_, _ = b.Write([]byte("line one\n"))
	_, _ = b.Write([]byte("line two\n"))
	if err := b.Flush(); err == nil {
		t.Fatal("the failed write was not reported")
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := w.got.String(); got != "line one\nline two\n" {
		t.Errorf("written %q", got)
	}
}

// TestAccessJSONIsSlogsBytes: the access lines the batching handler writes
// itself are byte for byte what slog.JSONHandler writes, and a record it
// cannot write that way (escapes, other kinds, exponent floats, With
// attributes) goes to slog.
func TestAccessJSONIsSlogsBytes(t *testing.T) {
	at := time.Date(2026, 12, 7, 20, 1, 2, 345678900, time.UTC)
	records := [][]slog.Attr{
		{slog.String("request_id", "01J9ZK"), slog.String("method", "GET"), slog.String("route", "ANY /projects/{pid}/sdk/proxy/custom/{integration}/{path...}"),
			slog.Int("status", 200), slog.String("project", "dev"), slog.String("integration", "bench"), slog.String("user", "bench-user"),
			slog.Int("upstream_status", 200), slog.Float64("duration_ms", 0.412), slog.Float64("upstream_ms", 0.2)},
		{slog.Int("status", 502), slog.Float64("duration_ms", 0), slog.Float64("upstream_ms", 1234567.125)},
		{slog.String("user", `quote"d`)},                     // escaped
		{slog.String("user", "tab\there")},                   // escaped
		{slog.String("user", "ünïcode")},                     // left to slog
		{slog.Float64("duration_ms", 1e-9)},                  // exponent form
		{slog.Float64("duration_ms", 3e21)},                  // exponent form
		{slog.Bool("probe", true)},                           // another kind
		{slog.Any("err", errors.New("x")), slog.Int("n", 1)}, // another kind
		{},
	}
	for i, attrs := range records {
		var want, got bytes.Buffer
		r := slog.NewRecord(at, slog.LevelInfo, accesslog.Message, 0)
		r.AddAttrs(attrs...)
		if err := slog.NewJSONHandler(&want, nil).Handle(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		b := &logBuffer{w: &got}
		h := batchingHandler{Handler: slog.NewJSONHandler(b, nil), buf: b, fastJSON: true}
		if err := h.Handle(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		if err := b.Flush(); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("record %d:\n got %s\nwant %s", i, got.String(), want.String())
		}
		if _, ok := appendAccessJSON(nil, r); i < 2 && !ok {
			t.Errorf("record %d went to slog, want the fast path", i)
		}
	}
	// With attributes: the handler no longer writes them itself.
	var want, got bytes.Buffer
	r := slog.NewRecord(at, slog.LevelInfo, accesslog.Message, 0)
	r.AddAttrs(slog.Int("status", 200))
	_ = slog.NewJSONHandler(&want, nil).WithAttrs([]slog.Attr{slog.String("component", "x")}).Handle(context.Background(), r)
	b := &logBuffer{w: &got}
	h := batchingHandler{Handler: slog.NewJSONHandler(b, nil), buf: b, fastJSON: true}.WithAttrs([]slog.Attr{slog.String("component", "x")})
	_ = h.Handle(context.Background(), r)
	_ = b.Flush()
	if got.String() != want.String() {
		t.Errorf("with attributes:\n got %s\nwant %s", got.String(), want.String())
	}
}
