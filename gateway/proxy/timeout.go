package proxy

import (
	"context"
	"errors"
	"io"
	"time"
)

// timeoutError: the upstream sent no response headers within the
// integration's api.timeout.
type timeoutError struct{ after time.Duration }

func (e *timeoutError) Error() string {
	return "no response headers within " + e.after.String()
}

func (e *timeoutError) Timeout() bool { return true }

// errHeaderTimeout is the cause of an attempt's context when its timer fired.
var errHeaderTimeout = errors.New("upstream response headers timed out")

// cancelOnClose ends the attempt's context when the body is closed. The body
// of a 101 Switching Protocols stays an io.ReadWriteCloser:
// upgrade writes to it.
func cancelOnClose(body io.ReadCloser, cancel context.CancelCauseFunc) io.ReadCloser {
	if rwc, ok := body.(io.ReadWriteCloser); ok {
		return &cancelRWBody{ReadWriteCloser: rwc, cancel: cancel}
	}
	return &cancelBody{ReadCloser: body, cancel: cancel}
}

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelCauseFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel(nil)
	return err
}

type cancelRWBody struct {
	io.ReadWriteCloser
	cancel context.CancelCauseFunc
}

func (b *cancelRWBody) Close() error {
	err := b.ReadWriteCloser.Close()
	b.cancel(nil)
	return err
}
