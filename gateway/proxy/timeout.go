package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
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

// timeoutTransport bounds each attempt by the integration's api.timeout,
// up to its response headers: a stream or a websocket may then last as long
// as it needs. The attempt's context ends when the body is closed.
type timeoutTransport struct{ next http.RoundTripper }

func (t timeoutTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	after := planFrom(req.Context()).Integration.API.Timeout
	ctx, cancel := context.WithCancelCause(req.Context())
	timer := time.AfterFunc(after, func() { cancel(errHeaderTimeout) })
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if !timer.Stop() {
		// The timer fired: the attempt's context is cancelled, a body that
		// came at that moment cut off.
		if err == nil {
			resp.Body.Close()
		}
		cancel(nil)
		return nil, &timeoutError{after: after}
	}
	if err != nil {
		cancel(nil)
		return nil, err
	}
	resp.Body = cancelOnClose(resp.Body, cancel)
	return resp, nil
}

// cancelOnClose ends the attempt's context when the body is closed. The body
// of a 101 Switching Protocols stays an io.ReadWriteCloser:
// ReverseProxy's upgrade handling writes to it.
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
