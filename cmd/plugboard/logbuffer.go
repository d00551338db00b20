package main

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/plugboardhq/plugboard/gateway/accesslog"
)

// maxBufferedLog is how many bytes of access lines wait at most: beyond,
// they are written at once.
const maxBufferedLog = 64 << 10

// logBuffer batches access log lines on their way to w (stderr): one
// write(2) per line cost the proxy a tenth of its throughput. Every other
// record is written when it is logged, after the access lines before it,
// so the order is kept; the access lines are written at the latest every
// flush interval, when 64 KiB are waiting, and when serve stops. A crash
// loses at most one interval of access lines.
type logBuffer struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf)+len(p) > maxBufferedLog {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// Flush writes what waits.
func (b *logBuffer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

func (b *logBuffer) flushLocked() error {
	if len(b.buf) == 0 {
		return nil
	}
	n, err := b.w.Write(b.buf)
	if err != nil && n < len(b.buf) {
		// Keep what was not written for the next flush (the buffer stays
		// bounded: Write adds nothing while a flush fails).
		b.buf = b.buf[:copy(b.buf, b.buf[n:])]
		return err
	}
	b.buf = b.buf[:0]
	return err
}

// flushEvery flushes every interval until the returned stop is called,
// which flushes a last time.
func (b *logBuffer) flushEvery(interval time.Duration) (stop func()) {
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = b.Flush() // as a direct write's error, nowhere to report it
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
		_ = b.Flush()
	}
}

// batchingHandler leaves access lines (info level and below) in its
// logBuffer and flushes it after any other record.
type batchingHandler struct {
	slog.Handler
	buf *logBuffer
}

func (h batchingHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn || r.Message != accesslog.Message {
		if ferr := h.buf.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (h batchingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return batchingHandler{h.Handler.WithAttrs(attrs), h.buf}
}

func (h batchingHandler) WithGroup(name string) slog.Handler {
	return batchingHandler{h.Handler.WithGroup(name), h.buf}
}
