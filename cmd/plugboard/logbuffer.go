package main

import (
	"context"
	"io"
	"log/slog"
	"math"
	"strconv"
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
// logBuffer and flushes it after any other record. With fastJSON (the
// root of a JSON handler) it writes access lines itself, the bytes
// slog.JSONHandler would write: they are most of what the gateway logs.
type batchingHandler struct {
	slog.Handler
	buf      *logBuffer
	fastJSON bool
}

var lineBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func (h batchingHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.fastJSON && r.Message == accesslog.Message && r.Level < slog.LevelWarn {
		bp := lineBuffers.Get().(*[]byte)
		line, ok := appendAccessJSON((*bp)[:0], r)
		if ok {
			_, err := h.buf.Write(line)
			*bp = line
			lineBuffers.Put(bp)
			return err
		}
		lineBuffers.Put(bp)
	}
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn || r.Message != accesslog.Message {
		if ferr := h.buf.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (h batchingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return batchingHandler{Handler: h.Handler.WithAttrs(attrs), buf: h.buf}
}

func (h batchingHandler) WithGroup(name string) slog.Handler {
	return batchingHandler{Handler: h.Handler.WithGroup(name), buf: h.buf}
}

// appendAccessJSON appends r as slog.JSONHandler writes it, with no
// ReplaceAttr, groups or attributes added by With: ok is false when r has
// a value it leaves to slog (other kinds, strings that need escaping,
// floats that encoding/json would write in exponent form).
func appendAccessJSON(b []byte, r slog.Record) (_ []byte, ok bool) {
	if y := r.Time.Year(); r.Time.IsZero() || y < 0 || y >= 10000 {
		return b, false
	}
	b = append(b, `{"time":"`...)
	b = r.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"`...)
	b = append(b, r.Level.String()...)
	b = append(b, `","msg":"`...)
	b = append(b, r.Message...)
	b = append(b, '"')
	ok = true
	r.Attrs(func(a slog.Attr) bool {
		if !plainJSON(a.Key) {
			ok = false
			return false
		}
		b = append(b, ',', '"')
		b = append(b, a.Key...)
		b = append(b, '"', ':')
		switch v := a.Value; v.Kind() {
		case slog.KindString:
			s := v.String()
			if !plainJSON(s) {
				ok = false
				return false
			}
			b = append(b, '"')
			b = append(b, s...)
			b = append(b, '"')
		case slog.KindInt64:
			b = strconv.AppendInt(b, v.Int64(), 10)
		case slog.KindFloat64:
			// encoding/json's form for this range; others go to slog.
			f := v.Float64()
			if a := math.Abs(f); f != 0 && (a < 1e-6 || a >= 1e21) || math.IsNaN(f) || math.IsInf(f, 0) {
				ok = false
				return false
			}
			b = strconv.AppendFloat(b, f, 'f', -1, 64)
		default:
			ok = false
			return false
		}
		return true
	})
	return append(b, '}', '\n'), ok
}

// plainJSON reports whether s is written in JSON as it is: printable ASCII
// but the quote and the backslash.
func plainJSON(s string) bool {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
